using System.Globalization;
using FhirArchive.Fhir.Model;
using FhirArchive.Rest.Access;
using FhirArchive.Rest.Metadata;
using FhirArchive.Rest.Resources;
using FhirArchive.Rest.Search;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Rest.Writing;
using FhirArchive.Storage;
using FhirArchive.Storage.Indexing;

namespace FhirArchive.Archive.Records;

/// <summary>
/// Patient/$merge (the Qinghai plan's clean-up of historical duplicates): a record administrator folds the duplicate
/// (source-patient) into the surviving record (target-patient) in one transaction: the duplicate's service records
/// are re-pointed to the survivor, the duplicate is marked merged with a replaced-by link (and the survivor links
/// back with replaces), and the duplicate's identity keys pass to the survivor (IdentityKeyInterceptor), so a new record
/// with one of them gets 409 naming the survivor. The request is audited by the audit trail; every re-pointed version
/// stays in the history.
/// </summary>
public static class MergeEndpoint
{
    public static void Map(IEndpointRouteBuilder app) =>
        app.MapOperation(FhirOperation.Local(typeof(MergeEndpoint).Assembly, "Patient-merge"), OperationLevel.Type, Merge).WithTags("Records").WithSummary("fold a duplicate record (source-patient) into the surviving one (target-patient)");

    private static async Task Merge(HttpContext ctx, IResourceStore store, ResourceWriter writer, RecordScope scope, SearchParser parser, TimeProvider clock,
        ReadGuard guard)
    {
        var caller = ctx.GetCaller();
        if (!caller.HasRole(Roles.RecordAdministrator)) throw new FhirException(403, "forbidden", "Only a record administrator merges records.");
        var p = await OperationParameters.ReadAsync(ctx);
        var source = PatientId(p, "source-patient");
        var target = PatientId(p, "target-patient");
        if (source == target) throw FhirException.BadRequest("A record cannot be merged into itself.");
        // A record the administrator may not see is as unknown to $merge as a missing one.
        foreach (var id in new[] { source, target })
            if (await store.ReadAsync("Patient", id, ctx.RequestAborted) is { } stored && !await guard.MayKnowAsync(ctx, "operation", stored))
                throw FhirException.NotFound($"Patient/{id} is not a resident record.");
        var (survivor, moved) = await ResourceEndpoints.InSessionAsync(ctx, store,
            s => MergeAsync(s, writer, scope, parser, caller, source, target, clock.GetUtcNow(), ctx.RequestAborted));
        var result = FhirParameters.Create();
        FhirParameters.Add(result, "target-patient", $"Patient/{target}", "string");
        FhirParameters.Add(result, "merged", $"Patient/{source}", "string");
        FhirParameters.Add(result, "repointed", moved.ToString(CultureInfo.InvariantCulture), "integer");
        FhirParameters.Add(result, "version", survivor.Version.ToString(CultureInfo.InvariantCulture), "integer");
        await FhirFormats.WriteNodeAsync(ctx, 200, result);
    }

    /// <summary>Folds Patient/{source} into Patient/{target} in the session: the survivor's new version and how many service records moved.</summary>
    public static async Task<(StoredResource Survivor, int Moved)> MergeAsync(IWriteSession s, ResourceWriter writer, RecordScope scope, SearchParser parser,
        Caller caller, string source, string target, DateTimeOffset now, CancellationToken ct)
    {
        var duplicate = await RecordAsync(s, scope, source, ct);
        var keep = await RecordAsync(s, scope, target, ct);
        if (RecordStatus.Get(duplicate) == RecordStatus.Merged) throw FhirException.Conflict($"Patient/{source} was merged already.");
        if (RecordStatus.IsSealed(RecordStatus.Get(keep))) throw FhirException.Conflict($"Patient/{target} is sealed: reactivate it before merging into it.");
        var count = await RepointAsync(s, writer, scope, parser, source, target, ct);
        var date = now.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

        RecordStatus.Set(duplicate, RecordStatus.Merged);
        AddLink(duplicate, target, "replaced-by");
        await LifecycleEndpoints.WriteAsync(s, writer, caller, duplicate, source, RecordStatus.Merged, date, $"duplicate of Patient/{target} / 重复档案合并", ct);

        AddLink(keep, source, "replaces");
        var kept = (await writer.UpdateAsync(s, keep, "Patient", target, null, ct, WriteIntent.Update.For(RecordProcedure.Lifecycle))).Stored;
        return (kept, count);
    }

    private static string PatientId(OperationParameters p, string name)
    {
        var reference = p.Required(name);
        if (reference.StartsWith("Patient/", StringComparison.Ordinal) && reference.Length > 8) return reference["Patient/".Length..];
        throw FhirException.BadRequest($"'{name}' must be a reference Patient/[id], not '{reference}'.");
    }

    private static async Task<ElementNode> RecordAsync(IWriteSession s, RecordScope scope, string id, CancellationToken ct) =>
        await scope.RecordPatientAsync(s, id, ct) ?? throw FhirException.NotFound($"Patient/{id} is not a resident record.");

    /// <summary>Every service record of the duplicate, with each reference to it pointed at the survivor.</summary>
    private static async Task<int> RepointAsync(IWriteSession s, ResourceWriter writer, RecordScope scope, SearchParser parser, string source, string target, CancellationToken ct)
    {
        var count = 0;
        foreach (var type in scope.Options.ServiceRecordTypes)
        {
            var param = SearchParameterRegistry.R4.Get(type, "subject") is not null ? "subject" : SearchParameterRegistry.R4.Get(type, "patient") is not null ? "patient" : null;
            if (param is null) continue;
            while (true)
            {
                var (query, _) = await parser.ParseAsync(type, [new(param, "Patient/" + source)], strict: true, ct, s);
                query.Count = 100;
                query.IncludeTotal = false;
                var page = (await s.SearchAsync(query, ct)).Matches;
                foreach (var r in page)
                {
                    var node = FhirFormats.ParseStored(r.Json!);
                    foreach (var reference in node.Descendants().Where(n => n.Name == "reference" && n.Value == "Patient/" + source).ToList())
                        reference.Value = "Patient/" + target;
                    await writer.UpdateAsync(s, node, r.ResourceType, r.Id, null, ct, WriteIntent.Update.For(RecordProcedure.Merge));
                    count++;
                }
                // Re-pointed ones no longer match: the next page is the first again.
                if (page.Count < query.Count) break;
            }
        }
        return count;
    }

    private static void AddLink(ElementNode patient, string other, string type)
    {
        var link = patient.Add("link");
        link.Add("other").Add("reference", "Patient/" + other);
        link.Add("type", type);
    }
}
