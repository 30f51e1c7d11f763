using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using FhirArchive.Archive.HealthTags;
using FhirArchive.Archive.Signatures;
using FhirArchive.Fhir.Model;
using FhirArchive.Profiles.Identifiers;
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
    private static readonly HashSet<string> HomepageTypes = ["AllergyIntolerance", "Condition", "FamilyMemberHistory", "Encounter", "Coverage", "Provenance"];

    /// <summary>Social history Observations by LOINC: occupation, highest level of education.</summary>
    private static readonly string[] SocialHistoryCodes = ["11341-5", "82589-3"];
    private static readonly string SocialHistorySearch = string.Join(",", SocialHistoryCodes.Select(c => $"{Loinc}|{c}"));

    public static void Map(IEndpointRouteBuilder app) =>
        app.MapOperation(FhirOperation.Local(typeof(RecordHomepageEndpoint).Assembly, "Patient-summary"), OperationLevel.Instance, Handle)
            .WithTags("Homepage").WithSummary("the record homepage (档案首页) as a document Bundle, as the caller may see it (_count, timelineOffset)")
            .WithMetadata(new DecidesOwnVisibility());

    private static async Task Handle(HttpContext ctx, string id, IResourceStore store, ReadGuard guard, HealthTagRules rules, HealthTagReader tagData,
        SearchParser search, DocumentSigner signer, StorageOptions storage, TimeProvider clock)
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

            // The record, decided once and quietly: what is shown is recorded when it goes into the Bundle. Read are the
            // types the homepage lists whole; of the rest only what a part needs — the tag rules' candidates (their
            // searches: an index probe, not a record's thousands of Observations), the social history, and below the
            // reports and charges of the timeline's page.
            var visible = new Dictionary<string, StoredResource>();
            var nodes = new Dictionary<string, ElementNode>();
            var withheld = false;
            async Task Decide(IEnumerable<StoredResource> found)
            {
                var fresh = found.Where(r => !r.IsDeleted && r.Json is not null).DistinctBy(r => $"{r.ResourceType}/{r.Id}")
                    .Where(r => !visible.ContainsKey($"{r.ResourceType}/{r.Id}")).ToList();
                var shown = (await guard.VisibleAsync(access, fresh)).ToDictionary(r => $"{r.ResourceType}/{r.Id}");
                // What is withheld is decided again aloud (it shows nothing): the audit names it, with the reason.
                foreach (var r in fresh.Where(r => !shown.ContainsKey($"{r.ResourceType}/{r.Id}")))
                {
                    withheld = true;
                    await guard.ShowAsync(access, r);
                }
                foreach (var (key, r) in shown)
                {
                    visible[key] = r;
                    nodes[key] = FhirFormats.ParseStored(r.Json!);
                }
            }
            var found = new List<StoredResource>();
            foreach (var type in HomepageTypes)
                found.AddRange(await store.RevIncludesAsync(type, "patient", "Patient", [id], ct));
            found.AddRange(await tagData.CandidatesAsync(id, HomepageTypes, ct));
            await foreach (var r in search.AllMatchesAsync(store, "Observation", [new("patient", $"Patient/{id}"), new("code", SocialHistorySearch)], ct))
                found.Add(r);
            await Decide(found);
            List<string> OfType(string type) => [.. nodes.Where(kv => kv.Value.Type == type).Select(kv => kv.Key)];

            var tags = rules.Derive(patientNode, nodes.Values, now);
            var encounters = OfType("Encounter").OrderByDescending(k => Sortable(nodes[k], storage.LocalTimeZone))
                .ThenByDescending(k => visible[k].LastUpdated).ThenBy(k => k, StringComparer.Ordinal).ToList();
            var page = encounters.Skip(offset).Take(count).ToList();

            // The record resources in the Bundle: shown (recorded, possibly redacted) as a read shows them.
            var shown = new Dictionary<string, StoredResource> { [$"Patient/{id}"] = patient };
            // What the basic information names beside the lists: how the record was created (told from the Provenance of
            // the Patient's first version, which is not put in the document: it names a version the Bundle may not hold),
            // the social history, the payers; per visit of the page its reports and charges.
            var creation = OfType("Provenance").Where(k => IsCreationOf(nodes[k], id))
                .OrderBy(k => nodes[k].Child("recorded")?.Value, StringComparer.Ordinal).Take(1).ToList();
            // What the narrative tells of it is shown as any entry is: decided aloud (recorded, or redacted).
            foreach (var key in creation.ToList())
                if (await guard.ShowAsync(access, visible[key]) is { } s) nodes[key] = FhirFormats.ParseStored(s.Json!);
                else creation.Remove(key);
            var social = OfType("Observation").Where(k => nodes[k].ChildrenNamed("code").SelectMany(c => c.ChildrenNamed("coding"))
                .Any(c => c.Child("system")?.Value == Loinc && SocialHistoryCodes.Contains(c.Child("code")?.Value))).ToList();
            var coverages = OfType("Coverage");
            var onPage = page.ToHashSet();
            var pageIds = page.Select(k => k["Encounter/".Length..]).ToList();
            if (pageIds.Count > 0)
                await Decide((await store.RevIncludesAsync("DiagnosticReport", "encounter", "Encounter", pageIds, ct))
                    .Concat(await store.RevIncludesAsync("ChargeItem", "context", "Encounter", pageIds, ct)));
            var reports = OfType("DiagnosticReport").Where(k => Ref(nodes[k].Child("encounter")) is { } e && onPage.Contains(e))
                .GroupBy(k => Ref(nodes[k].Child("encounter"))!).ToDictionary(g => g.Key, g => g.ToList());
            var charges = OfType("ChargeItem").Where(k => Ref(nodes[k].Child("context")) is { } e && onPage.Contains(e))
                .GroupBy(k => Ref(nodes[k].Child("context"))!).ToDictionary(g => g.Key, g => g.ToList());
            var wanted = OfType("AllergyIntolerance").Concat(OfType("Condition")).Concat(OfType("FamilyMemberHistory"))
                .Concat(tags.SelectMany(t => t.Evidence)).Concat(page).Concat(social).Concat(coverages)
                .Concat(reports.Values.SelectMany(v => v)).Concat(charges.Values.SelectMany(v => v)).Distinct();
            foreach (var key in wanted)
                if (!shown.ContainsKey(key) && visible.TryGetValue(key, out var r) && await guard.ShowAsync(access, r) is { } s) shown[key] = s;

            // The institutions and practitioners named: the holder, the family doctors, the timeline's institutions.
            var holder = Ref(patientNode.Child("managingOrganization"));
            var doctors = patientNode.ChildrenNamed("generalPractitioner").Select(Ref).OfType<string>().ToList();
            var institutions = page.ToDictionary(k => k, k => Ref(nodes[k].Child("serviceProvider")) ?? nodes[k].Child("meta")?.Child("source")?.Value);
            var named = new HashSet<(string, string)>();
            var creators = creation.SelectMany(k => nodes[k].ChildrenNamed("agent"))
                .SelectMany(a => new[] { Ref(a.Child("who")), Ref(a.Child("onBehalfOf")) }).OfType<string>().ToList();
            foreach (var reference in doctors.Append(holder).Concat(institutions.Values).Concat(creators))
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
                $"<p>{Html(Name($"Patient/{id}") ?? id)}; {Html(Demographics(patientNode))}; 责任机构 / record holder: {Html(Name(holder) ?? holder ?? "-")}</p>",
                new[] { $"Patient/{id}", holder }.Select(Absolute).OfType<string>().Distinct());
            var sub = new JsonArray
            {
                RecordCreation(),
                Section(Local("family-doctor-contract", "家庭医生签约"), "家庭医生签约 / Family-doctor contract",
                    doctors.Count == 0 ? "<p>未签约 / No contract</p>" : "<ul>" + string.Concat(patientNode.ChildrenNamed("generalPractitioner")
                        .Where(g => Ref(g) is not null).Select(g => $"<li>{Html(Name(Ref(g)) ?? g.Child("display")?.Value ?? Ref(g))}" +
                            $"{(Contract(g) is { } period ? $" — 签约周期 / contract period: {Html(period)}" : "")}</li>")) + "</ul>",
                    doctors.Select(Absolute).OfType<string>().Distinct()),
                Section(Coding(Loinc, "29762-2", "Social history Narrative"), "社会经济信息 / Social and economic information",
                    $"<p>婚姻状况 / marital status: {Html(Text(patientNode.Child("maritalStatus")) is { Length: > 0 } m ? m : "-")}</p>" +
                    (social.Count == 0 ? "" : "<ul>" + string.Concat(social.Select(k => $"<li>{Html(Text(nodes[k].Child("code")))}: {Html(Value(nodes[k]))}</li>")) + "</ul>"),
                    social.Select(Absolute).OfType<string>()),
                Section(Local("emergency-contact", "紧急联系人"), "紧急联系人 / Emergency contact", EmergencyContacts(patientNode), []),
                Section(Coding(Loinc, "48768-6", "Payment sources Document"), "医疗费用支付方式 / Payment method",
                    coverages.Count == 0 ? "<p>无记录 / None recorded</p>" : "<ul>" + string.Concat(coverages.Select(k =>
                        $"<li>{Html(Text(nodes[k].Child("type")) is { Length: > 0 } t ? t : k)}{(nodes[k].Child("status")?.Value is { } st && st != "active" ? $" ({Html(st)})" : "")}</li>")) + "</ul>",
                    coverages.Select(Absolute).OfType<string>()),
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
                var reportNames = string.Join("; ", reports.GetValueOrDefault(k, []).Where(shown.ContainsKey).Select(r => Text(nodes[r].Child("code")) is { Length: > 0 } t ? t : r));
                return $"<tr><td>{Html(When(n))}</td><td>{Html(Name(institutions[k]) ?? institutions[k] ?? "-")}</td><td>{Html(types)}</td>" +
                       $"<td>{Html(problems)}</td><td>{Html(reportNames)}</td><td>{Html(Cost(charges.GetValueOrDefault(k, []).Where(shown.ContainsKey).Select(c => nodes[c])))}</td>" +
                       $"<td>{Html(source ?? "-")}</td><td>{Html(FhirInstant.Of(visible[k].LastUpdated))}</td></tr>";
            });
            var timeline = Section(Local("service-timeline", "卫生健康服务活动记录"), "卫生健康服务活动记录 / Service timeline",
                $"<p>{(page.Count == 0 ? "无 / None" : $"第 {offset + 1}–{offset + page.Count} 条，共 {encounters.Count} 条 / items {offset + 1}–{offset + page.Count} of {encounters.Count}")}</p>" +
                "<table><thead><tr><th>时间 / Time</th><th>机构 / Institution</th><th>类型 / Type</th><th>主要问题 / Main problems</th>" +
                "<th>报告 / Reports</th><th>费用 / Cost</th><th>来源 / Source</th><th>采集时间 / Collected</th></tr></thead><tbody>" + string.Concat(rows) + "</tbody></table>",
                page.SelectMany(k => reports.GetValueOrDefault(k, []).Concat(charges.GetValueOrDefault(k, [])).Prepend(k)).Select(Absolute).OfType<string>());
            composition["section"] = new JsonArray(tagSection, basic, timeline);

            var b = new BundleBuilder("document")
            {
                Identifier = ("urn:ietf:rfc:3986", $"urn:uuid:{Guid.NewGuid()}"),
                Timestamp = now,
                Redacted = withheld,
            };
            b.LabelFrom(access);
            b.Entries.Add(new BundleEntry($"urn:uuid:{Guid.NewGuid()}", FhirFormats.Utf8(composition)));
            foreach (var s in shown.Values) b.Entries.Add(new BundleEntry($"{baseUrl}/{s.ResourceType}/{s.Id}", s.Json));
            foreach (var (fullUrl, json) in flags) b.Entries.Add(new BundleEntry(fullUrl, FhirFormats.Utf8(json)));
            if (offset + page.Count < encounters.Count)
                b.Links.Add(("next", $"{baseUrl}/Patient/{id}/$summary?_count={count}&{TimelineOffset}={offset + page.Count}"));
            return b;

            JsonObject RecordCreation()
            {
                if (creation is not [var key]) return Section(Local("record-creation", "建档信息"), "建档信息 / Record creation",
                    $"<p>档案编号 / record number: {Html(RecordNumber(patientNode) ?? "-")}</p>", []);
                var agents = nodes[key].ChildrenNamed("agent").ToList();
                var person = agents.Select(a => Ref(a.Child("who"))).FirstOrDefault(r => r?.StartsWith("Practitioner/", StringComparison.Ordinal) == true);
                var institution = agents.SelectMany(a => new[] { Ref(a.Child("onBehalfOf")), Ref(a.Child("who")) })
                    .FirstOrDefault(r => r?.StartsWith("Organization/", StringComparison.Ordinal) == true);
                return Section(Local("record-creation", "建档信息"), "建档信息 / Record creation",
                    $"<p>建档机构 / institution: {Html(Name(institution) ?? institution ?? "-")}; 建档人 / created by: {Html(Name(person) ?? person ?? "-")}; " +
                    $"建档日期 / date: {Html(nodes[key].Child("recorded")?.Value ?? "-")}; 档案编号 / record number: {Html(RecordNumber(patientNode) ?? "-")}</p>",
                    new[] { institution, person }.Select(Absolute).OfType<string>().Distinct());
            }

            JsonObject List(string code, string display, string title, List<string> entries) =>
                Section(Coding(Loinc, code, display), title, entries.Count == 0 ? "<p>无记录 / None recorded</p>"
                    : "<ul>" + string.Concat(entries.Select(e => $"<li>{Html(Text(nodes[e].Child("code")) is { Length: > 0 } t ? t : e)}</li>")) + "</ul>",
                    entries.Select(Absolute).OfType<string>());
        });
        // A document is signed by the server (Signatures module): the Bundle as this caller may see it.
        await FhirFormats.WriteJsonBytesAsync(ctx, 200, signer.Sign(bundle.ToJson()));
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

    /// <summary>A reference's "Type/id" (a versioned or absolute one shortened), as the record's keys are written.</summary>
    private static string? Ref(ElementNode? reference) =>
        reference?.Child("reference")?.Value is { } r ? ReferenceParts.TryParse(r, out var type, out var id) ? $"{type}/{id}" : r : null;

    /// <summary>A Provenance that records the creation of the Patient (its first version, or activity CREATE).</summary>
    private static bool IsCreationOf(ElementNode provenance, string patientId) =>
        provenance.ChildrenNamed("target").Any(t => t.Child("reference")?.Value is { } r && ReferenceParts.TryParse(r, out var type, out var id, out var version)
            && type == "Patient" && id == patientId && (version == "1" || Activity(provenance) == "CREATE"));

    private static string? Activity(ElementNode provenance) =>
        provenance.Child("activity")?.ChildrenNamed("coding").Select(c => c.Child("code")?.Value).FirstOrDefault();

    private static string? RecordNumber(ElementNode patient) =>
        patient.ChildrenNamed("identifier").FirstOrDefault(i => i.Child("system")?.Value == HealthRecordNumber.OidSystem)?.Child("value")?.Value;

    /// <summary>Sex, birth date and ethnicity, as the homepage's first line says them.</summary>
    private static string Demographics(ElementNode patient)
    {
        var sex = patient.Child("gender")?.Value switch { "male" => "男 / male", "female" => "女 / female", "other" => "其他 / other", "unknown" => "未知 / unknown", _ => "-" };
        var ethnicity = patient.ChildrenNamed("extension").FirstOrDefault(e => e.Child("url")?.Value?.EndsWith("/cn-ethnicity", StringComparison.Ordinal) == true)
            ?.Child("value")?.Child("display")?.Value;
        return $"性别 / sex: {sex}; 出生日期 / born: {patient.Child("birthDate")?.Value ?? "-"}" + (ethnicity is null ? "" : $"; 民族 / ethnicity: {ethnicity}");
    }

    /// <summary>The contract period of a family doctor (cn-family-doctor-contract), "start – end".</summary>
    private static string? Contract(ElementNode generalPractitioner) =>
        generalPractitioner.ChildrenNamed("extension").FirstOrDefault(e => e.Child("url")?.Value == Records.RecordMaintainer.ContractExtension)
            ?.Child("value") is { Type: "Period" } p ? $"{p.Child("start")?.Value ?? "?"} – {p.Child("end")?.Value ?? "?"}" : null;

    /// <summary>The Patient's contacts of relationship C (emergency contact, HL7 v2 table 0131), else every contact.</summary>
    private static string EmergencyContacts(ElementNode patient)
    {
        var contacts = patient.ChildrenNamed("contact").ToList();
        var emergency = contacts.Where(c => c.ChildrenNamed("relationship").SelectMany(r => r.ChildrenNamed("coding")).Any(x => x.Child("code")?.Value == "C")).ToList();
        var listed = emergency.Count > 0 ? emergency : contacts;
        if (listed.Count == 0) return "<p>无记录 / None recorded</p>";
        return "<ul>" + string.Concat(listed.Select(c =>
        {
            var name = c.Child("name") is { } n ? n.Child("text")?.Value ?? string.Concat(n.ChildrenNamed("family").Concat(n.ChildrenNamed("given")).Select(x => x.Value)) : "-";
            var relation = string.Join(", ", c.ChildrenNamed("relationship").Select(Text).Where(t => t.Length > 0 && t != "C"));
            var phones = string.Join(", ", c.ChildrenNamed("telecom").Where(t => t.Child("system")?.Value == "phone").Select(t => t.Child("value")?.Value));
            return $"<li>{Html(name)}{(relation.Length > 0 ? $" ({Html(relation)})" : "")}{(phones.Length > 0 ? $": {Html(phones)}" : "")}</li>";
        })) + "</ul>";
    }

    /// <summary>An Observation's value in words (a code's display, a quantity with its unit, a string).</summary>
    private static string Value(ElementNode observation) =>
        observation.Child("value") is not { } v ? "-"
        : v.Type == "Quantity" ? $"{v.Child("value")?.Value} {v.Child("unit")?.Value}".Trim()
        : v.Type == "CodeableConcept" ? Text(v) : v.Value ?? "-";

    /// <summary>The charges of a visit added up per currency ("128.50 元"; "-" without any).</summary>
    private static string Cost(IEnumerable<ElementNode> charges)
    {
        var totals = charges.Select(c => c.Child("priceOverride")).OfType<ElementNode>()
            .Select(m => (Currency: m.Child("currency")?.Value ?? "CNY", Value: decimal.TryParse(m.Child("value")?.Value, NumberStyles.Number, CultureInfo.InvariantCulture, out var v) ? v : 0m))
            .GroupBy(m => m.Currency).Select(g => $"{g.Sum(m => m.Value).ToString("0.00", CultureInfo.InvariantCulture)} {(g.Key == "CNY" ? "元" : g.Key)}").ToList();
        return totals.Count == 0 ? "-" : string.Join(", ", totals);
    }

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
