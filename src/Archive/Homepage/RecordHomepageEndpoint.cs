using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using FhirArchive.Archive.HealthTags;
using FhirArchive.Fhir.Model;
using FhirArchive.Rest.Access;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Rest.Metadata;
using FhirArchive.Rest.Search;
using FhirArchive.Storage;
using FhirArchive.Storage.Indexing;
using FhirArchive.Terminology.Sources;

namespace FhirArchive.Archive.Homepage;

/// <summary>
/// Patient/[id]/$summary (档案首页, annex 1 一(二)): the record homepage as a FHIR document Bundle — a Composition
/// (profile cn-record-homepage) with the personal health tags, the basic health information and the service timeline
/// (newest first, paged), then every resource it refers to. Generated on request for the caller: each resource passes
/// the consent decision as on a read (<see cref="ReadGuard"/>), the tags are derived from what the caller may see, and
/// a Bundle from which anything was withheld or cut carries the DS4P REDACTED label. A caller who may not see the
/// Patient gets the read's 404.
/// </summary>
/// <remarks>
/// One pass: the record's resources are fetched by type (one query each), decided once, and the institutions and
/// practitioners they name are read together (one query). A tag is a generated Flag (urn:uuid, not stored): its code
/// is the health-tag code, its evidence the standard flag-detail extension, one per resource it was derived from.
/// </remarks>
public static class RecordHomepageEndpoint
{
    public const string Profile = CnTerminology.Canonical + "/StructureDefinition/cn-record-homepage";
    public const string TimelineOffset = "timelineOffset";
    public const int DefaultCount = 50;
    private const string Loinc = "http://loinc.org";
    private const string FlagDetail = "http://hl7.org/fhir/StructureDefinition/flag-detail";

    /// <summary>The record's types the homepage reads (beside those the tag rules read).</summary>
    private static readonly string[] HomepageTypes = ["AllergyIntolerance", "Condition", "FamilyMemberHistory", "Encounter"];

    public static void Map(IEndpointRouteBuilder app) =>
        app.MapOperation(FhirOperation.Local(typeof(RecordHomepageEndpoint).Assembly, "Patient-summary"), OperationLevel.Instance, Handle)
            .WithTags("Homepage").WithSummary("the record homepage (档案首页) as a document Bundle, as the caller may see it (_count, timelineOffset)")
            .WithMetadata(new DecidesOwnVisibility());

    private static async Task Handle(HttpContext ctx, string id, IResourceStore store, ReadGuard guard, HealthTagRules rules, StorageOptions storage, TimeProvider clock)
    {
        var ct = ctx.RequestAborted;
        var input = await OperationParameters.ReadAsync(ctx);
        var count = Math.Min(input.Integer("_count", 1) ?? DefaultCount, SearchParser.MaxCount);
        var offset = input.Integer(TimelineOffset, 0) ?? 0;
        var baseUrl = FhirHeaders.BaseUrl(ctx.Request);
        var now = clock.GetUtcNow();

        var bundle = await guard.RunAsync(ctx, "operation-summary", "Patient", async access =>
        {
            var patient = await guard.ShowOrGoneAsync(access, await store.ReadAsync("Patient", id, ct));
            if (patient is null) throw FhirException.NotFound($"Patient/{id} is not known.");
            if (patient.IsDeleted) throw FhirException.Gone($"Patient/{id} has been deleted.");
            var patientNode = FhirFormats.ParseStored(patient.Json!);

            // The record, decided once and quietly: what is shown is recorded when it goes into the Bundle.
            var all = new Dictionary<string, StoredResource>();
            foreach (var type in HomepageTypes.Concat(rules.RecordTypes).Distinct())
                foreach (var r in await store.RevIncludesAsync(type, "patient", "Patient", [id], ct))
                    if (!r.IsDeleted && r.Json is not null) all.TryAdd($"{r.ResourceType}/{r.Id}", r);
            var visible = (await guard.VisibleAsync(access, all.Values)).ToDictionary(r => $"{r.ResourceType}/{r.Id}");
            var withheld = visible.Count < all.Count;
            // What is withheld is decided again aloud (it shows nothing): the audit names it, with the reason.
            foreach (var (key, r) in all)
                if (!visible.ContainsKey(key)) await guard.ShowAsync(access, r);
            var nodes = visible.ToDictionary(kv => kv.Key, kv => FhirFormats.ParseStored(kv.Value.Json!));
            List<string> OfType(string type) => [.. nodes.Where(kv => kv.Value.Type == type).Select(kv => kv.Key)];

            var tags = rules.Derive(patientNode, nodes.Values, now);
            var encounters = OfType("Encounter").OrderByDescending(k => Sortable(nodes[k], storage.LocalTimeZone))
                .ThenByDescending(k => visible[k].LastUpdated).ThenBy(k => k, StringComparer.Ordinal).ToList();
            var page = encounters.Skip(offset).Take(count).ToList();

            // The record resources in the Bundle: shown (recorded, possibly redacted) as a read shows them.
            var shown = new Dictionary<string, StoredResource> { [$"Patient/{id}"] = patient };
            var wanted = OfType("AllergyIntolerance").Concat(OfType("Condition")).Concat(OfType("FamilyMemberHistory"))
                .Concat(tags.SelectMany(t => t.Evidence)).Concat(page).Distinct();
            foreach (var key in wanted)
                if (!shown.ContainsKey(key) && visible.TryGetValue(key, out var r) && await guard.ShowAsync(access, r) is { } s) shown[key] = s;

            // The institutions and practitioners named: the holder, the family doctors, the timeline's institutions.
            var holder = Ref(patientNode.Child("managingOrganization"));
            var doctors = patientNode.ChildrenNamed("generalPractitioner").Select(Ref).OfType<string>().ToList();
            var institutions = page.ToDictionary(k => k, k => Ref(nodes[k].Child("serviceProvider")) ?? nodes[k].Child("meta")?.Child("source")?.Value);
            var named = new HashSet<(string, string)>();
            foreach (var reference in doctors.Append(holder).Concat(institutions.Values))
                if (reference is not null && ReferenceParts.TryParse(reference, out var type, out var targetId) && type != "Patient") named.Add((type, targetId));
            foreach (var r in await store.ReadManyAsync(named, ct))
                if (!r.IsDeleted && await guard.ShowAsync(access, r) is { } s) shown.TryAdd($"{r.ResourceType}/{r.Id}", s);

            string? Absolute(string? reference) => reference is not null && shown.ContainsKey(reference) ? $"{baseUrl}/{reference}" : null;
            var names = new Dictionary<string, string?>();
            string? Name(string? reference)
            {
                if (reference is null || !shown.TryGetValue(reference, out var s)) return null;
                if (!names.TryGetValue(reference, out var name))
                {
                    var n = FhirFormats.ParseStored(s.Json!).Child("name");
                    names[reference] = name = n?.Value ?? n?.Child("text")?.Value;
                }
                return name;
            }

            var flags = tags.Select(t => (FullUrl: $"urn:uuid:{Guid.NewGuid()}", Json: TagFlag(t, baseUrl, id, Absolute))).ToList();
            var composition = new JsonObject
            {
                ["resourceType"] = "Composition",
                ["meta"] = new JsonObject { ["profile"] = new JsonArray(Profile) },
                ["status"] = "final",
                ["type"] = new JsonObject
                {
                    ["coding"] = new JsonArray(
                        Coding(Loinc, "60591-5", "Patient summary Document"),
                        Coding(CnTerminology.RecordDocumentType, "homepage", "居民电子健康档案首页")),
                    ["text"] = "居民电子健康档案首页 / Record homepage",
                },
                ["subject"] = new JsonObject { ["reference"] = $"{baseUrl}/Patient/{id}" },
                ["date"] = FhirInstant.Of(now),
                ["author"] = new JsonArray(Absolute(holder) is { } h ? new JsonObject { ["reference"] = h } : new JsonObject { ["display"] = "FhirArchive" }),
                ["title"] = "居民电子健康档案首页 / Record homepage",
            };
            if (Absolute(holder) is { } custodian) composition["custodian"] = new JsonObject { ["reference"] = custodian };

            var tagSection = Section(Local("health-tags", "个人健康标识"), "个人健康标识 / Personal health tags",
                tags.Count == 0 ? "<p>无 / None</p>" : "<ul>" + string.Concat(tags.Select(t =>
                    $"<li>{Html(t.Display)} / {Html(t.DisplayEn)} — 依据 / from: {Html(string.Join(", ", t.Evidence))}</li>")) + "</ul>",
                flags.Select(f => f.FullUrl));
            var basic = Section(Local("basic-information", "个人基本健康信息"), "个人基本健康信息 / Basic health information",
                $"<p>{Html(Name($"Patient/{id}") ?? id)}; 建档机构 / record holder: {Html(Name(holder) ?? holder ?? "-")}; " +
                $"家庭医生 / family doctor: {Html(string.Join(", ", doctors.Select(d => Name(d) ?? d)))}</p>",
                new[] { $"Patient/{id}", holder }.Concat(doctors).Select(Absolute).OfType<string>().Distinct());
            var sub = new JsonArray
            {
                List("48765-2", "Allergies and adverse reactions Document", "过敏史 / Allergies", OfType("AllergyIntolerance")),
                List("11348-0", "History of Past illness Narrative", "既往史 / Past history", OfType("Condition")),
            };
            if (OfType("FamilyMemberHistory") is { Count: > 0 } family)
                sub.Add(List("10157-6", "History of family member diseases Narrative", "家族史 / Family history", family));
            basic["section"] = sub;

            var rows = page.Select(k =>
            {
                var n = nodes[k];
                var types = string.Join("; ", n.ChildrenNamed("type").Select(Text));
                var problems = string.Join("; ", n.ChildrenNamed("reasonCode").Select(Text)
                    .Concat(n.ChildrenNamed("diagnosis").Select(d => d.Child("condition")?.Child("display")?.Value ?? Text(d.Child("condition")?.Child("reference")))));
                var source = n.Child("meta")?.Child("source")?.Value;
                return $"<tr><td>{Html(When(n))}</td><td>{Html(Name(institutions[k]) ?? institutions[k] ?? "-")}</td><td>{Html(types)}</td>" +
                       $"<td>{Html(problems)}</td><td>{Html(source ?? "-")}</td><td>{Html(FhirInstant.Of(visible[k].LastUpdated))}</td></tr>";
            });
            var timeline = Section(Local("service-timeline", "卫生健康服务活动记录"), "卫生健康服务活动记录 / Service timeline",
                $"<p>{(page.Count == 0 ? "无 / None" : $"第 {offset + 1}–{offset + page.Count} 条，共 {encounters.Count} 条 / items {offset + 1}–{offset + page.Count} of {encounters.Count}")}</p>" +
                "<table><thead><tr><th>时间 / Time</th><th>机构 / Institution</th><th>类型 / Type</th><th>主要问题 / Main problems</th>" +
                "<th>来源 / Source</th><th>采集时间 / Collected</th></tr></thead><tbody>" + string.Concat(rows) + "</tbody></table>",
                page.Select(Absolute).OfType<string>());
            composition["section"] = new JsonArray(tagSection, basic, timeline);

            var b = new BundleBuilder("document")
            {
                Identifier = ("urn:ietf:rfc:3986", $"urn:uuid:{Guid.NewGuid()}"),
                Timestamp = now,
                Redacted = withheld || Redaction.Happened(access),
            };
            b.Entries.Add(new BundleEntry($"urn:uuid:{Guid.NewGuid()}", FhirFormats.Utf8(composition.ToJsonString())));
            foreach (var s in shown.Values) b.Entries.Add(new BundleEntry($"{baseUrl}/{s.ResourceType}/{s.Id}", s.Json));
            foreach (var (fullUrl, json) in flags) b.Entries.Add(new BundleEntry(fullUrl, FhirFormats.Utf8(json.ToJsonString())));
            if (offset + page.Count < encounters.Count)
                b.Links.Add(("next", $"{baseUrl}/Patient/{id}/$summary?_count={count}&{TimelineOffset}={offset + page.Count}"));
            return b;

            JsonObject List(string code, string display, string title, List<string> entries) =>
                Section(Coding(Loinc, code, display), title, entries.Count == 0 ? "<p>无记录 / None recorded</p>"
                    : "<ul>" + string.Concat(entries.Select(e => $"<li>{Html(Text(nodes[e].Child("code")) is { Length: > 0 } t ? t : e)}</li>")) + "</ul>",
                    entries.Select(Absolute).OfType<string>());
        });
        // A document is signed by the server (Signatures module): the Bundle as this caller may see it.
        await FhirFormats.WriteJsonBytesAsync(ctx, 200, ctx.RequestServices.GetRequiredService<Signatures.DocumentSigner>().Sign(bundle.ToJson()));
    }

    /// <summary>A tag as a generated Flag: the health-tag code, the Patient, and a flag-detail per resource it came from.</summary>
    private static JsonObject TagFlag(HealthTag tag, string baseUrl, string patientId, Func<string?, string?> absolute)
    {
        var details = new JsonArray();
        foreach (var e in tag.Evidence)
            details.Add(new JsonObject { ["url"] = FlagDetail, ["valueReference"] = new JsonObject { ["reference"] = absolute(e) ?? e } });
        return new JsonObject
        {
            ["resourceType"] = "Flag",
            ["extension"] = details,
            ["status"] = "active",
            ["code"] = new JsonObject { ["coding"] = new JsonArray(Coding(HealthTag.System, tag.Code, tag.Display)), ["text"] = $"{tag.Display} / {tag.DisplayEn}" },
            ["subject"] = new JsonObject { ["reference"] = $"{baseUrl}/Patient/{patientId}" },
        };
    }

    private static JsonObject Section(JsonObject code, string title, string xhtml, IEnumerable<string> entries)
    {
        var section = new JsonObject
        {
            ["title"] = title,
            ["code"] = code.ContainsKey("coding") ? code : new JsonObject { ["coding"] = new JsonArray(code) },
            ["text"] = new JsonObject { ["status"] = "generated", ["div"] = $"<div xmlns=\"http://www.w3.org/1999/xhtml\">{xhtml}</div>" },
        };
        var list = new JsonArray();
        foreach (var e in entries) list.Add(new JsonObject { ["reference"] = e });
        if (list.Count > 0) section["entry"] = list;
        return section;
    }

    private static JsonObject Local(string code, string display) => Coding(CnTerminology.RecordHomepageSection, code, display);

    private static JsonObject Coding(string system, string code, string display) =>
        new() { ["system"] = system, ["code"] = code, ["display"] = display };

    private static string? Ref(ElementNode? reference) => reference?.Child("reference")?.Value;

    /// <summary>A CodeableConcept's (or Reference's) words: its text, else its codings' displays or codes.</summary>
    private static string Text(ElementNode? concept) =>
        concept is null ? "" : concept.Child("text")?.Value ?? concept.Child("display")?.Value ?? concept.Child("reference")?.Value ?? string.Join(", ",
            concept.ChildrenNamed("coding").Select(c => c.Child("display")?.Value ?? c.Child("code")?.Value).OfType<string>());

    private static string When(ElementNode encounter) => Records.RecordScope.ServiceTime(encounter) ?? "-";

    /// <summary>When the service began, for ordering (an Encounter without a time comes last).</summary>
    private static long Sortable(ElementNode encounter, TimeSpan localOffset) =>
        FhirDateRange.TryParse(Records.RecordScope.ServiceTime(encounter), localOffset, out var r) ? r.Start : long.MinValue;

    private static string Html(string? s) => WebUtility.HtmlEncode(s ?? "");
}
