using System.Text.Json.Nodes;
using FhirArchive.Archive.Consent;
using FhirArchive.Archive.HealthTags;
using FhirArchive.Archive.Masking;
using FhirArchive.Archive.Records;
using FhirArchive.Fhir.Model;
using FhirArchive.Fhir.Serialization.Json;
using FhirArchive.Rest.Access;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Rest.Metadata;
using FhirArchive.Storage;
using FhirArchive.Terminology;

namespace FhirArchive.Archive.OffSite;

/// <summary>
/// Patient/[id]/$offsite-summary (annex 1 五(三)): what an institution that does not hold the record may see to serve a
/// key-population resident who is temporarily elsewhere — basic information, the key-population tags with their evidence,
/// the list of past follow-ups (date, institution, type) and this year's once-a-year free services — without the
/// resident's one-time code. The consent decision's <see cref="ConsentDecision.OffSiteView"/> says whether; the request
/// is audited with the purpose of use offsite-service and the decision's reason. Data labelled sensitive (severe mental
/// disorder, HIV) is neither shown nor used. The operation decides its own visibility: every other path stays as it is.
/// The caller names the day the resident's stay began (<c>since</c>): the service is for a stay under six months (五(一)).
/// </summary>
public static class OffSiteSummaryEndpoint
{
    public static void Map(IEndpointRouteBuilder app) =>
        app.MapOperation(FhirOperation.Local(typeof(OffSiteSummaryEndpoint).Assembly, "Patient-offsite-summary"), OperationLevel.Instance, Handle)
            .WithTags("OffSite").WithSummary("an off-site institution reads a key-population resident's basic information and follow-up summary (异地服务概要)")
            .WithMetadata(new DecidesOwnVisibility());


    /// <summary>The one answer for a record that is missing, closed (classified) or not open to off-site service (no key population).</summary>
    private static FhirException NotKnown(string id) => FhirException.NotFound(
        $"Patient/{id} is not known to the caller, or not open to off-site service: that is for residents in a key population " +
        "(elderly, pregnant or postpartum, children 0-6, hypertension, diabetes); the record needs the resident's authorisation / " +
        "未找到该居民档案，或该居民不属于异地服务重点人群（老年人、孕产妇、0～6岁儿童、高血压、糖尿病患者），查看档案须经居民授权");

    /// <summary>
    /// The stay began on <paramref name="since"/> (a date, not in the future) less than six calendar months before
    /// <paramref name="today"/>: a resident living here six months or more belongs to a local holder (常住地, 居住半年以上),
    /// and the record moves with a transfer instead (422).
    /// </summary>
    private static void StayUnderSixMonths(string since, DateOnly today)
    {
        if (!DateOnly.TryParseExact(since, "yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.None, out var began) || began > today)
            throw FhirException.BadRequest($"'since' must be the day (YYYY-MM-DD, not in the future) the resident's present stay here began, not '{since}' / since 须为本地居住起始日期");
        if (began.AddMonths(6) <= today)
            throw new FhirException(422, "business-rule",
                $"Off-site service is for a stay under six months; since {since} the resident lives here: ask for a transfer of the record (Patient/[id]/$transfer-request) / " +
                "异地服务适用于本地居住不足6个月的居民，居住满6个月应办理档案转迁");
    }

    private static async Task Handle(HttpContext ctx, string id, IResourceStore store, RecordScope scope, RecordDirectory records, HealthTagReader tags,
        OffSiteOptions options, TerminologyService terminology, MaskingRule masking, TimeProvider clock)
    {
        var caller = ctx.GetCaller();
        var ct = ctx.RequestAborted;
        if (!ConsentDecision.IsInstitutionStaff(caller))
            throw new FhirException(403, "forbidden", "Off-site service is given by the staff of an institution (clinician, family doctor, record administrator, its system) / 异地服务须由医疗卫生机构人员提供");
        var input = await OperationParameters.ReadAsync(ctx);
        // 五(一): off-site service is for a stay under six months; read before the record, so it tells nothing of it.
        StayUnderSixMonths(input.Required("since"), ConsentDecision.ChinaDate(clock.GetUtcNow()));
        var stored = await store.ReadAsync("Patient", id, ct);
        var patient = RecordScope.Parse(stored is { IsDeleted: false } ? stored : null);
        if (patient is null || !scope.IsRecordPatient(patient)) throw NotKnown(id);
        var (facts, consents) = await records.GetAsync(id, ct);
        var holding = caller.Organization is not null && caller.Organization == facts.ManagingOrganization;
        // Outside the holder, the whole request is off-site service: the audit event names that purpose.
        if (!holding && caller.Organization is not null)
            ctx.SetCaller(caller = caller with { PurposeOfUse = OffSiteTerms.PurposeOfUse });

        var keyTags = (await tags.OfRecordAsync(patient, withSensitive: false, ct)).Where(t => options.KeyPopulationTags.Contains(t.Code)).ToList();
        var decision = ConsentDecision.OffSiteView(caller, new RecordContext(facts, consents, null), keyTags.Count > 0);
        var recorder = ctx.Features.Get<IAccessRecorder>();
        recorder?.Decided(stored!, decision.Permit, decision.Reason);
        // Refused as a missing record would be (the audit keeps the reason): the answer tells nothing of the resident.
        if (!decision.Permit) throw NotKnown(id);
        var closed = AccessDecision.All.Except(decision.Cleared).ToHashSet();
        ConsentAccessPolicy.Redact(patient, closed);
        // Off-site service sees identifiers, phones and addresses masked (the holder in full): the masking rule decides.
        var masked = PersonDataMasker.Mask(patient, masking.ViewOf(caller, [facts], null)).Masked;
        if (masked) Redaction.Label(patient, Redaction.Masked);
        recorder?.Shown(stored!);

        var now = clock.GetUtcNow();
        var year = ConsentDecision.ChinaDate(now).Year;
        var encounters = new List<(StoredResource Stored, ElementNode Node)>();
        foreach (var e in await store.RevIncludesAsync("Encounter", "patient", "Patient", [id], ct))
        {
            if (e.IsDeleted || RecordScope.Parse(e) is not { } node) continue;
            var sensitive = HealthTagReader.IsSensitive(node);
            recorder?.Decided(e, !sensitive, sensitive ? "sensitive information is not in the off-site summary" : decision.Reason);
            if (sensitive) continue;
            recorder?.Shown(e);
            encounters.Add((e, node));
        }
        encounters = [.. encounters.OrderByDescending(e => RecordScope.ServiceTime(e.Node) ?? "", StringComparer.Ordinal)];

        var names = new Dictionary<string, string?>();
        async Task<JsonObject?> InstitutionAsync(ElementNode node)
        {
            var reference = node.Child("serviceProvider")?.Child("reference")?.Value ?? node.Child("meta")?.Child("source")?.Value;
            if (reference is null) return null;
            if (!names.TryGetValue(reference, out var name) && ReferenceParts.TryParse(reference, out var type, out var orgId) && type == "Organization")
                names[reference] = name = RecordScope.Parse(await store.ReadAsync("Organization", orgId, ct))?.Child("name")?.Value;
            return name is null ? new JsonObject { ["reference"] = reference } : new JsonObject { ["reference"] = reference, ["display"] = name };
        }

        var parameters = new JsonArray { new JsonObject { ["name"] = "patient", ["resource"] = JsonNode.Parse(FhirJsonSerializer.SerializeToUtf8Bytes(patient)) } };
        foreach (var t in keyTags)
        {
            var part = new JsonArray
            {
                new JsonObject { ["name"] = "code", ["valueCoding"] = new JsonObject { ["system"] = HealthTag.System, ["code"] = t.Code, ["display"] = t.Display } },
                new JsonObject { ["name"] = "display", ["valueString"] = $"{t.Display} / {t.DisplayEn}" },
            };
            foreach (var ev in t.Evidence) part.Add(new JsonObject { ["name"] = "evidence", ["valueReference"] = new JsonObject { ["reference"] = ev } });
            parameters.Add(new JsonObject { ["name"] = "tag", ["part"] = part });
        }
        foreach (var (_, node) in encounters)
        {
            var part = new JsonArray();
            if (RecordScope.ServiceTime(node) is { } when) part.Add(new JsonObject { ["name"] = "date", ["valueDateTime"] = when });
            if (await InstitutionAsync(node) is { } institution) part.Add(new JsonObject { ["name"] = "institution", ["valueReference"] = institution });
            foreach (var type in node.ChildrenNamed("type"))
                part.Add(new JsonObject { ["name"] = "type", ["valueCodeableConcept"] = JsonNode.Parse(FhirJsonSerializer.SerializeToUtf8Bytes(type)) });
            parameters.Add(new JsonObject { ["name"] = "followUp", ["part"] = part });
        }
        foreach (var code in options.AnnualFreeServices)
        {
            var given = encounters.Where(e => OffSiteTerms.ServiceCodes(e.Node).Contains(code) && OffSiteTerms.ServiceYear(e.Node) == year).ToList();
            var concept = terminology.Lookup(OffSiteTerms.ServiceSystem, code)?.Concept;
            var part = new JsonArray
            {
                new JsonObject { ["name"] = "service", ["valueCoding"] = new JsonObject { ["system"] = OffSiteTerms.ServiceSystem, ["code"] = code, ["display"] = concept?.Display ?? code } },
                new JsonObject { ["name"] = "year", ["valueInteger"] = year },
                new JsonObject { ["name"] = "given", ["valueBoolean"] = given.Count > 0 },
            };
            if (given.Count > 0)
            {
                var node = given[0].Node;
                part.Add(new JsonObject { ["name"] = "date", ["valueDateTime"] = RecordScope.ServiceTime(node) });
                if (await InstitutionAsync(node) is { } institution) part.Add(new JsonObject { ["name"] = "institution", ["valueReference"] = institution });
            }
            parameters.Add(new JsonObject { ["name"] = "freeService", ["part"] = part });
        }
        var result = new JsonObject { ["resourceType"] = "Parameters" };
        if (masked) result["meta"] = new JsonObject { ["security"] = new JsonArray(new JsonObject { ["system"] = Redaction.System, ["code"] = Redaction.Masked }) };
        result["parameter"] = parameters;
        await FhirFormats.WriteJsonBytesAsync(ctx, 200, FhirFormats.Utf8(result.ToJsonString()));
    }
}
