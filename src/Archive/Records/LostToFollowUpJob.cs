using FhirArchive.Fhir.Model;
using FhirArchive.Rest.Access;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Rest.Resources;
using FhirArchive.Rest.Search;
using FhirArchive.Storage;
using FhirArchive.Storage.Indexing;

namespace FhirArchive.Archive.Records;

/// <summary>
/// Daily: active records without any service record entered for longer than the configured period (one year,
/// Chongqing rules 六(一)1) — and not themselves written in it — are marked lost to follow-up (inactive-lost).
/// Idempotent: only active records are looked at. Driven by the TimeProvider, so a test runs it with a fake clock.
/// </summary>
public sealed class LostToFollowUpJob(IResourceStore store, ResourceWriter writer, SearchParser parser, RecordScope scope,
    TimeProvider clock, ILogger<LostToFollowUpJob> log) : ClockJob(clock, log)
{
    protected override TimeSpan Interval => TimeSpan.FromDays(1);
    protected override string Name => "lost-to-follow-up";

    /// <summary>One run: the ids of the records it marked.</summary>
    public override async Task<IReadOnlyList<string>> RunOnceAsync(CancellationToken ct = default)
    {
        var now = Clock.GetUtcNow();
        var cutoff = FhirInstant.ToSecond(now - TimeSpan.FromDays(scope.Options.LostToFollowUpDays));
        var candidates = new List<string>();
        await foreach (var p in parser.AllMatchesAsync(store, "Patient", [new("_tag", $"{RecordStatus.System}|{RecordStatus.Active}"), new("_lastUpdated", "lt" + cutoff)], ct))
            if (!await HasRecentServiceAsync(p.Id, cutoff, ct)) candidates.Add(p.Id);
        var marked = new List<string>();
        foreach (var id in candidates)
        {
            await using var s = await store.BeginWriteAsync(ct);
            // Looked at again in the write session: a write since the search may have changed it.
            var patient = RecordScope.Parse(await s.ReadAsync("Patient", id, ct));
            if (patient is null || RecordStatus.Get(patient) != RecordStatus.Active) continue;
            RecordStatus.Set(patient, RecordStatus.Lost);
            await LifecycleEndpoints.WriteAsync(s, writer, Caller.Server, patient, id, RecordStatus.Lost, now.ToString("yyyy-MM-dd"),
                $"no service record since {cutoff[..10]} / 超过{scope.Options.LostToFollowUpDays}天无服务记录", ct);
            await s.CommitAsync(ct);
            marked.Add(id);
        }
        return marked;
    }

    private async Task<bool> HasRecentServiceAsync(string patientId, string cutoff, CancellationToken ct)
    {
        foreach (var type in scope.Options.ServiceRecordTypes)
        {
            var param = SearchParameterRegistry.R4.Get(type, "subject") is not null ? "subject" : SearchParameterRegistry.R4.Get(type, "patient") is not null ? "patient" : null;
            if (param is null) continue;
            var (query, _) = await parser.ParseAsync(type, [new(param, "Patient/" + patientId), new("_lastUpdated", "ge" + cutoff)], strict: true, ct);
            query.Count = 1;
            query.IncludeTotal = false;
            if ((await store.SearchAsync(query, ct)).Matches.Count > 0) return true;
        }
        return false;
    }
}
