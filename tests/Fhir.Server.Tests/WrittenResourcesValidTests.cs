using System.Net;
using System.Text;
using System.Text.Json;
using FhirArchive.Archive.Notifications;
using FhirArchive.Rest.Validation;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Storage;
using Xunit;
using static FhirArchive.Tests.Support.Http;

namespace FhirArchive.Server.Tests;

/// <summary>
/// What the server writes is valid FHIR: every resource the sample data loads, and every resource each write
/// operation puts on file (Consent, Provenance, Task, Communication, the corrected and closed records) and every
/// AuditEvent, validated with the server's own validator against base R4, their claimed profiles and the record
/// profile of their type (as $validate does): zero errors.
/// </summary>
public sealed class WrittenResourcesValidTests(WrittenResourcesValidTests.DemoServer fx) : IClassFixture<WrittenResourcesValidTests.DemoServer>
{
    /// <summary>The server as `dotnet run` starts it: sample data, demo accounts, consent rules and record profiles on.</summary>
    public sealed class DemoServer() : SecurityFixture(new Dictionary<string, string> { ["Consent:Enabled"] = "true" }, shippedRecordProfiles: true);

    private async Task<HttpClient> As(string user, string scope) => fx.With(await fx.DemoTokenAsync(user, scope));

    [Fact]
    public async Task The_sample_data_and_everything_the_operations_write_validate_without_errors()
    {
        var (sample, _) = await StoreErrorsAsync();
        Assert.True(sample.Count == 0, "the sample data:\n" + string.Join("\n", sample));

        var doctor = await As("drwu", "user/*.cruds");
        var resident = await As("zhangwei", "launch/patient patient/*.rs");
        var familyDoctor = await As("drchen", "user/*.cruds");
        var clinician = await As("drzhao", "user/*.cruds");
        var admin = await As("recadmin", "user/*.cruds");

        // $request-access + $grant-access (a record-access Consent), then the resident revokes it (a new version, a Provenance).
        var asked = await Ok(doctor, "/Patient/zhang-wei/$request-access", Params(("purpose", "Code", "TREAT"), ("days", "Integer", "3")));
        var consent = await Ok(doctor, "/Patient/$grant-access",
            Params(("request", "String", Param(asked, "request")!), ("code", "String", LastCode())), HttpStatusCode.Created);
        await Ok(resident, $"/Consent/{consent.GetProperty("id").GetString()}/$revoke", Params(("reason", "String", "不再需要")));
        // $break-glass (a Consent, a Communication to the responsible institution).
        await Ok(doctor, "/Patient/wang-fang/$break-glass", Params(("reason", "String", "昏迷送急诊")), HttpStatusCode.Created);
        // $open-record: a new opening, and the one in force again.
        await Ok(familyDoctor, "/Patient/wang-fang/$open-record", null, HttpStatusCode.Created);
        await Ok(familyDoctor, "/Patient/wang-fang/$open-record", null);
        // A correction Task approved by the responsible institution (a new Observation version, a Provenance).
        var obs = (await Ok(clinician, "/Observation?subject=Patient/li-na&_count=1", null, method: HttpMethod.Get)).GetProperty("entry")[0].GetProperty("resource");
        var corrected = obs.GetRawText().Replace("\"status\":\"final\"", "\"status\":\"amended\"");
        var task = await Ok(clinician, "/Task", CorrectionTask(obs.GetProperty("id").GetString()!, "li-na", corrected), HttpStatusCode.Created);
        await Ok(admin, $"/Task/{task.GetProperty("id").GetString()}/$approve", null);
        // The record closed and reactivated.
        await Ok(admin, "/Patient/li-na/$close", Params(("reason", "Code", "inactive-moved"), ("date", "Date", "2026-11-30")));
        await Ok(admin, "/Patient/li-na/$reactivate", null);

        var (errors, types) = await StoreErrorsAsync();
        Assert.Subset(types, new HashSet<string> { "Consent", "Provenance", "Task", "Communication", "Observation", "Patient" });
        errors.AddRange(await AuditErrorsAsync());
        Assert.True(errors.Count == 0, "after the operations:\n" + string.Join("\n", errors));
    }

    /// <summary>Every version on file, each validated as $validate does: the errors, and the types seen.</summary>
    private async Task<(List<string> Errors, HashSet<string> Types)> StoreErrorsAsync()
    {
        var (store, validator) = (fx.Service<IResourceStore>(), fx.Service<WriteValidator>());
        var (errors, types) = (new List<string>(), new HashSet<string>());
        const int page = 200;
        for (var offset = 0; ; offset += page)
        {
            var (versions, _) = await store.HistoryAsync(new HistoryQuery(null, null, null, null, page, offset));
            foreach (var v in versions.Where(v => !v.IsDeleted && v.Json is not null))
            {
                types.Add(v.ResourceType);
                errors.AddRange(validator.Validate(FhirFormats.ParseStored(v.Json!)).Where(i => i.IsError)
                    .Select(i => $"{v.ResourceType}/{v.Id}/_history/{v.Version}: {i}"));
            }
            if (versions.Count < page) return (errors, types);
        }
    }

    /// <summary>The audit trail's events as the auditor reads them.</summary>
    private async Task<List<string>> AuditErrorsAsync()
    {
        var auditor = await As("auditor", "user/AuditEvent.rs user/Provenance.rs");
        var validator = fx.Service<WriteValidator>();
        var errors = new List<string>();
        var count = 0;
        for (var url = "/AuditEvent?_count=100"; url is not null;)
        {
            var bundle = await Ok(auditor, url, null, method: HttpMethod.Get);
            foreach (var e in bundle.TryGetProperty("entry", out var entries) ? entries.EnumerateArray() : default)
            {
                count++;
                var node = FhirFormats.Parse(Encoding.UTF8.GetBytes(e.GetProperty("resource").GetRawText()), FhirFormat.Json);
                errors.AddRange(validator.Validate(node).Where(i => i.IsError).Select(i => $"AuditEvent/{node.ResourceId}: {i}"));
            }
            url = bundle.GetProperty("link").EnumerateArray().Where(l => l.GetProperty("relation").GetString() == "next")
                .Select(l => new Uri(l.GetProperty("url").GetString()!).PathAndQuery).FirstOrDefault();
        }
        Assert.True(count > 20, $"only {count} audit events were read");
        return errors;
    }

    private static async Task<JsonElement> Ok(HttpClient c, string url, string? body, HttpStatusCode expected = HttpStatusCode.OK, HttpMethod? method = null)
    {
        using var request = new HttpRequestMessage(method ?? HttpMethod.Post, url);
        if (body is not null) request.Content = Body(body);
        var r = await c.SendAsync(request);
        var text = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == expected, $"{request.Method} {url}: {(int)r.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    private string LastCode()
    {
        var outbox = ((FileSmsSender)fx.Service<ISmsSender>()).Path;
        var last = File.ReadAllLines(outbox).Last();
        return JsonDocument.Parse(last).RootElement.GetProperty("code").GetString()!;
    }

    private static string CorrectionTask(string obs, string patient, string content) => $$$"""
        {"resourceType":"Task","status":"requested","intent":"proposal",
         "code":{"coding":[{"system":"http://fhirarchive.cn/fhir/CodeSystem/record-task-type","code":"correction"}]},
         "focus":{"reference":"Observation/{{{obs}}}"},"for":{"reference":"Patient/{{{patient}}}"},
         "authoredOn":"2026-11-30","requester":{"reference":"Practitioner/dr-zhao-lei"},"reasonCode":{"text":"录入错误 / entered wrongly"},
         "input":[{"type":{"text":"content"},"valueAttachment":{"contentType":"application/fhir+json","data":"{{{Convert.ToBase64String(Encoding.UTF8.GetBytes(content))}}}"}}]}
        """;
}
