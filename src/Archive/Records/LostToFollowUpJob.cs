using FhirArchive.Fhir.Model;
using FhirArchive.Rest.Access;
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
    TimeProvider clock, ILogger<LostToFollowUpJob> log) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try { await Task.Delay(TimeSpan.FromDays(1), clock, stoppingToken); }
            catch (OperationCanceledException) { return; }
            try
            {
                var marked = await RunOnceAsync(stoppingToken);
                if (marked.Count > 0) log.LogInformation("Marked {Count} records lost to follow-up.", marked.Count);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                log.LogError(e, "The lost-to-follow-up job failed; it runs again tomorrow.");
            }
        }
    }

    /// <summary>One run: the ids of the records it marked.</summary>
    public async Task<IReadOnlyList<string>> RunOnceAsync(CancellationToken ct = default)
    {
        var now = clock.GetUtcNow();
        var cutoff = FhirInstant.ToSecond(now - TimeSpan.FromDays(scope.Options.LostToFollowUpDays));
        var candidates = new List<string>();
        var offset = 0;
        while (true)
        {
            var (query, _) = await parser.ParseAsync("Patient", [new("_tag", $"{RecordStatus.System}|{RecordStatus.Active}"), new("_lastUpdated", "lt" + cutoff)], strict: true, ct);
            query.Count = 200;
            query.Offset = offset;
            query.IncludeTotal = false;
            var page = (await store.SearchAsync(query, ct)).Matches;
            foreach (var p in page)
                if (!await HasRecentServiceAsync(p.Id, cutoff, ct)) candidates.Add(p.Id);
            if (page.Count < query.Count) break;
            offset += page.Count;
        }
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
