using System.Text.Json.Nodes;
using FhirArchive.Fhir.Model;
using FhirArchive.Rest.Infrastructure;

namespace FhirArchive.Archive.OffSite;

/// <summary>The push of an off-site service record to the record's holder (五(三)): a Communication in the holder's work list.</summary>
public static class OffSitePush
{
    /// <summary>
    /// The push of <paramref name="written"/> ("Encounter/1"): status in-progress (the holder acknowledges it by setting
    /// completed), category off-site-service, recipient the holder, sender the serving institution, about and payload the record.
    /// </summary>
    public static ElementNode Build(string written, string patientId, string holder, string sender, string? practitioner, DateTimeOffset now)
    {
        var json = new JsonObject
        {
            ["resourceType"] = "Communication",
            ["status"] = "in-progress",
            ["category"] = new JsonArray(new JsonObject
            {
                ["coding"] = new JsonArray(new JsonObject { ["system"] = OffSiteTerms.CategorySystem, ["code"] = OffSiteTerms.Category, ["display"] = "异地服务回传" }),
                ["text"] = "异地服务回传 / Off-site service pushed back to the holding institution",
            }),
            ["subject"] = new JsonObject { ["reference"] = "Patient/" + patientId },
            ["about"] = new JsonArray(new JsonObject { ["reference"] = written }),
            ["sent"] = FhirInstant.ToSecond(now),
            ["recipient"] = new JsonArray(new JsonObject { ["reference"] = holder }),
            ["sender"] = new JsonObject { ["reference"] = sender },
            ["payload"] = new JsonArray(
                new JsonObject { ["contentReference"] = new JsonObject { ["reference"] = written } },
                new JsonObject { ["contentString"] = $"{sender} 为 Patient/{patientId} 提供了异地服务（{written}），请查阅 / {sender} served Patient/{patientId} off-site ({written}): please review" }),
        };
        if (practitioner is not null)
            json["note"] = new JsonArray(new JsonObject { ["authorReference"] = new JsonObject { ["reference"] = practitioner }, ["text"] = "服务人员 / served by" });
        return FhirFormats.Parse(FhirFormats.Utf8(json.ToJsonString()), FhirFormat.Json);
    }
}
