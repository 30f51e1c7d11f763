using FhirArchive.Rest.Access;
using FhirArchive.Rest.Metadata;
using FhirArchive.Rest.Search;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Storage;
using FhirArchive.Audit.Store;
using FhirArchive.Storage.Indexing;

namespace FhirArchive.Audit;

/// <summary>
/// The audit trail over REST: auditors read and search AuditEvents and check the chain ($verify); a resident sees who
/// accessed their record (Patient/{id}/$access-log). The trail is append-only: no write interaction is offered.
/// </summary>
public static class AuditEndpoints
{
    private const int MaxCount = 500;
    public static readonly string[] SearchParams = ["patient", "agent", "entity", "date", "subtype", "action", "outcome", "_count", "_before", "_format", "_pretty"];

    public static void Map(IEndpointRouteBuilder app)
    {
        const string Type = "AuditEvent";
        // Not "$…": an operation reached with a method it does not take is answered as one (405), not as an unknown event.
        app.MapGet("/AuditEvent/{id:regex(^[^$])}", Read).WithInteraction(InteractionKind.Read.On(Type)).WithTags("Audit").WithSummary("read an audit event (auditors)");
        app.MapGet("/AuditEvent", (HttpContext c, AuditStore s) => Search(c, s, Pairs(c.Request.Query)))
            .WithInteraction(InteractionKind.SearchType.On(Type)).WithTags("Audit").WithSummary("search the audit trail (auditors)");
        app.MapPost("/AuditEvent/_search", async (HttpContext c, AuditStore s) => await Search(c, s, Pairs((await c.Request.ReadFormAsync()).Concat(c.Request.Query))))
            .WithInteraction(InteractionKind.SearchType.On(Type)).WithTags("Audit").WithSummary("search the audit trail (auditors)");
        var local = typeof(AuditEndpoints).Assembly;
        app.MapOperation(FhirOperation.Local(local, "AuditEvent-verify"), OperationLevel.Type, Verify).WithTags("Audit").WithSummary("check the SM3 chain of the audit trail (auditors)");
        app.MapOperation(FhirOperation.Local(local, "Patient-access-log"), OperationLevel.Instance, AccessLog)
            .WithTags("Audit").WithSummary("who accessed this record, and when (谁查看了我的档案)")
            .WithMetadata(new DecidesOwnVisibility());
        // Writes are refused, each named as the interaction it would be.
        foreach (var (method, kind) in new[] { ("POST", InteractionKind.Create), ("PUT", InteractionKind.Update), ("PATCH", InteractionKind.Patch), ("DELETE", InteractionKind.Delete) })
            app.MapMethods("/AuditEvent", [method], AppendOnly).WithInteraction(kind.On(Type)).ExcludeFromDescription();
        foreach (var (method, kind) in new[] { ("PUT", InteractionKind.Update), ("PATCH", InteractionKind.Patch), ("DELETE", InteractionKind.Delete), ("POST", InteractionKind.Other) })
            app.MapMethods("/AuditEvent/{id}", [method], AppendOnly).WithInteraction(kind.On(Type)).ExcludeFromDescription();
    }

    public static bool IsAuditor(Caller c) => c.HasRole(Roles.Auditor) || c.HasRole(Roles.Server);

    private static IResult AppendOnly() =>
        throw new FhirException(405, "not-supported", "The audit trail is append-only: audit events are recorded by the server and cannot be created, changed or deleted.");

    private static void RequireAuditor(HttpContext c)
    {
        if (!IsAuditor(c.GetCaller())) throw new FhirException(403, "forbidden", "Only auditors may read the audit trail.");
    }

    private static async Task Read(HttpContext c, string id, AuditStore store)
    {
        RequireAuditor(c);
        var row = await store.ReadAsync(id, c.RequestAborted) ?? throw FhirException.NotFound($"AuditEvent/{id} is not known.");
        await FhirFormats.WriteJsonBytesAsync(c, 200, AuditRecordCodec.ToAuditEvent(row));
    }

    private static async Task Search(HttpContext c, AuditStore store, List<KeyValuePair<string, string>> p)
    {
        var resources = c.RequestServices.GetRequiredService<IResourceStore>();
        var patients = c.RequestServices.GetRequiredService<PatientLinks>();
        RequireAuditor(c);
        var unknown = p.Select(kv => kv.Key.Split(':')[0]).Where(k => !SearchParams.Contains(k)).Distinct().ToList();
        if (unknown.Count > 0 && FhirHeaders.StrictHandling(c.Request))
            throw FhirException.BadRequest($"Unknown audit search parameter(s): {string.Join(", ", unknown)}. Known: {string.Join(", ", SearchParams[..^2])}.");
        var q = new AuditQuery(
            Patient: Reference(One(p, "patient"), "Patient"),
            Agent: One(p, "agent"),
            Entity: One(p, "entity"),
            Subtype: One(p, "subtype"),
            Action: One(p, "action"),
            Outcome: One(p, "outcome") is { } o ? (int.TryParse(o, out var oi) ? oi : throw FhirException.BadRequest($"outcome '{o}' is not 0, 4, 8 or 12.")) : null,
            BeforeSeq: One(p, "_before") is { } b ? (long.TryParse(b, out var bi) ? bi : throw FhirException.BadRequest($"_before '{b}' is not a position in the trail.")) : null,
            Count: Count(One(p, "_count")));
        foreach (var d in p.Where(kv => kv.Key == "date").Select(kv => kv.Value)) q = WithDate(q, d);
        if (q.Entity is { } entity) q = q with { EntityPatients = await PatientsOfAsync(entity, resources, patients, c.RequestAborted) };
        await WriteBundleAsync(c, store, q, "AuditEvent");
    }

    /// <summary>
    /// The patients a resource belonged to in any of its versions: the trail files a patient's data under its
    /// patient, so an entity search for it reads that patient's events.
    /// </summary>
    private static async Task<IReadOnlyList<string>> PatientsOfAsync(string entity, IResourceStore resources, PatientLinks patients, CancellationToken ct)
    {
        var parts = entity.Split('/');
        if (parts.Length != 2 || !RecordData.Is(parts[0])) return [];
        if (parts[0] == "Patient") return [entity];
        var (versions, _) = await resources.HistoryAsync(new HistoryQuery(parts[0], parts[1], null, null, 1000, 0), ct);
        return versions.SelectMany(patients.PatientsOf).Distinct().ToList();
    }

    private static async Task AccessLog(HttpContext c, string id, AuditStore store)
    {
        var caller = c.GetCaller();
        var own = caller.Patient == $"Patient/{id}" && (caller.HasRole(Roles.Resident) || caller.HasRole(Roles.Guardian));
        if (!own && !IsAuditor(caller)) throw new FhirException(403, "forbidden", "Only the resident (or guardian) of this record and auditors may see its access log.");
        var p = await OperationParameters.ReadAsync(c);
        var q = new AuditQuery(Patient: $"Patient/{id}", ExcludeAgent: own ? caller.Subject : null, Count: Count(p.Value("_count")),
            BeforeSeq: long.TryParse(p.Value("_before"), out var b) ? b : null);
        if (!own || IsAuditor(caller))
        {
            await WriteBundleAsync(c, store, q, $"Patient/{id}/$access-log");
            return;
        }
        var guard = c.RequestServices.GetRequiredService<ReadGuard>();
        var resources = c.RequestServices.GetRequiredService<IResourceStore>();
        var patients = c.RequestServices.GetRequiredService<PatientLinks>();
        await guard.RunAsync(c, "access-log", "AuditEvent", async access =>
        {
            await WriteBundleAsync(c, store, q, $"Patient/{id}/$access-log",
                row => AuditRecordCodec.IsCompact(row.Data)
                    ? OwnViewAsync(AuditRecordCodec.Decode(row.Data, row.Id), $"Patient/{id}", access, guard, resources, patients)
                    : Task.FromResult(LegacyOwnView(row.Data, $"Patient/{id}")));
            return 0;
        });
    }

    /// <summary>
    /// An event as the resident (or guardian) reading their own access log may see it: who, when, what kind of
    /// access, and of this record only what the reader may see; the rest of this record it touched is a count
    /// ("2 restricted items"), never an id or a type, and other records, the query and the access decisions are left
    /// out. Another resident or guardian as the agent is not named.
    /// </summary>
    private static async Task<byte[]> OwnViewAsync(AuditDraft d, string patient, AccessContext access, ReadGuard guard, IResourceStore store, PatientLinks patients)
    {
        var shown = new List<string>();
        var restricted = 0;
        foreach (var reference in d.Resources)
        {
            if (!Fhir.Model.ReferenceParts.TryParse(reference, out var type, out var rid, out var version)) continue;
            var stored = version is not null && int.TryParse(version, out var v)
                ? await store.ReadVersionAsync(type, rid, v, access.Http.RequestAborted)
                : await store.ReadAsync(type, rid, access.Http.RequestAborted);
            if (stored is null || !patients.PatientsOf(stored).Contains(patient))
            {
                // Another record's data, or gone: a Patient named is only ever this one.
                if (stored is null && type == "Patient" && $"Patient/{rid}" == patient) shown.Add(reference);
                continue;
            }
            if ((await guard.VisibleAsync(access, [stored])).Count == 1) shown.Add(reference);
            else restricted++;
        }
        var description = restricted > 0 ? $"{restricted} restricted item(s) / {restricted} 项受限信息" : d.Status < 400 ? null : d.Description;
        // Another resident (or guardian) who tried to reach this record is not named to the reader: they are someone's record too.
        var who = d.Caller;
        var (agent, address) = (who.HasRole(Roles.Resident) || who.HasRole(Roles.Guardian)) && who.Patient != patient
            ? (new Caller(who.Kind, "resident", "其他居民 / another resident", who.Roles, [], PurposeOfUse: who.PurposeOfUse), null)
            : (who, d.Address);
        return AuditEventWriter.Write(d with
        {
            Caller = agent, Address = address, Resources = shown, Patients = [patient], Query = null, Decisions = null, Description = description,
        });
    }

    /// <summary>A full AuditEvent stored before the compact record: only its patient entity is kept, the others counted.</summary>
    private static byte[] LegacyOwnView(byte[] stored, string patient)
    {
        var e = System.Text.Json.Nodes.JsonNode.Parse(stored)!.AsObject();
        var entities = e["entity"]?.AsArray() ?? [];
        var kept = entities.Where(x => x?["what"]?["reference"]?.GetValue<string>() == patient).Select(x => x!.DeepClone()).ToList();
        var restricted = entities.Count(x => x?["what"] is not null) - kept.Count;
        e["entity"] = new System.Text.Json.Nodes.JsonArray([.. kept]);
        if (restricted > 0) e["outcomeDesc"] = $"{restricted} restricted item(s) / {restricted} 项受限信息";
        return System.Text.Encoding.UTF8.GetBytes(e.ToJsonString());
    }

    private static async Task Verify(HttpContext c, AuditStore store)
    {
        RequireAuditor(c);
        var report = await store.VerifyAsync(c.RequestAborted);
        var result = FhirParameters.Create();
        FhirParameters.Add(result, "result", report.Intact ? "true" : "false", "boolean");
        FhirParameters.Add(result, "checked", report.Checked.ToString(), "integer");
        if (report.BrokenAt is { } at) FhirParameters.Add(result, "brokenAt", at.ToString(), "integer");
        if (report.Problem is { } problem) FhirParameters.Add(result, "problem", problem, "string");
        await FhirFormats.WriteNodeAsync(c, 200, result);
    }

    private static async Task WriteBundleAsync(HttpContext c, AuditStore store, AuditQuery q, string path, Func<AuditRecordRow, Task<byte[]>>? view = null)
    {
        var (rows, total) = await store.SearchAsync(q, c.RequestAborted);
        var baseUrl = FhirHeaders.BaseUrl(c.Request);
        var bundle = new BundleBuilder("searchset") { Total = total };
        // The links carry the search, not the format (as every search's links: SearchService.AddLinks).
        var search = c.Request.Query.Where(kv => !FhirFormats.IsFormatting(kv.Key))
            .SelectMany(kv => kv.Value.Select(v => $"{Uri.EscapeDataString(kv.Key)}={Uri.EscapeDataString(v ?? "")}")).ToList();
        bundle.Links.Add(("self", $"{baseUrl}/{path}" + (search.Count > 0 ? "?" + string.Join('&', search) : "")));
        if (rows.Count == q.Count && rows.Count > 0)
        {
            var rest = search.Where(p => !p.StartsWith("_before=", StringComparison.Ordinal));
            bundle.Links.Add(("next", $"{baseUrl}/{path}?{string.Join('&', rest.Append($"_before={rows[^1].Seq}"))}"));
        }
        foreach (var r in rows)
            bundle.Entries.Add(new BundleEntry($"{baseUrl}/AuditEvent/{r.Id}", view is null ? AuditRecordCodec.ToAuditEvent(r) : await view(r), SearchMode: "match"));
        await FhirFormats.WriteJsonBytesAsync(c, 200, bundle.ToJson());
    }

    private static AuditQuery WithDate(AuditQuery q, string value)
    {
        var prefix = value.Length > 2 && char.IsAsciiLetterLower(value[0]) && char.IsAsciiLetterLower(value[1]) ? value[..2] : "eq";
        var text = prefix == "eq" && !value.StartsWith("eq", StringComparison.Ordinal) ? value : value[2..];
        if (!FhirDateRange.TryParse(text, TimeSpan.FromHours(8), out var range)) throw FhirException.BadRequest($"date '{value}' is not a FHIR date or dateTime.");
        return prefix switch
        {
            "eq" => q with { From = Math.Max(q.From ?? long.MinValue, range.Start), To = Math.Min(q.To ?? long.MaxValue, range.End) },
            "ge" => q with { From = Math.Max(q.From ?? long.MinValue, range.Start) },
            "gt" => q with { From = Math.Max(q.From ?? long.MinValue, range.End + 1) },
            "le" => q with { To = Math.Min(q.To ?? long.MaxValue, range.End) },
            "lt" => q with { To = Math.Min(q.To ?? long.MaxValue, range.Start - 1) },
            _ => throw FhirException.BadRequest($"The date prefix '{prefix}' is not supported on the audit trail (eq, ge, gt, le, lt)."),
        };
    }

    private static string? Reference(string? value, string type) =>
        value is null ? null : value.Contains('/') ? value : $"{type}/{value}";

    private static string? One(List<KeyValuePair<string, string>> p, string name) =>
        p.LastOrDefault(kv => kv.Key == name).Value is { Length: > 0 } v ? v : null;

    private static int Count(string? value) =>
        string.IsNullOrEmpty(value) ? 50 : int.TryParse(value, out var n) && n > 0 ? Math.Min(n, MaxCount) : throw FhirException.BadRequest($"_count '{value}' is not a positive number.");

    private static List<KeyValuePair<string, string>> Pairs(IEnumerable<KeyValuePair<string, Microsoft.Extensions.Primitives.StringValues>> q) =>
        SearchEndpoints.QueryPairs(q).ToList();
}
