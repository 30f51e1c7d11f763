using FhirArchive.Rest.Access;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Rest.Search;
using FhirArchive.Rest.Subscriptions;
using FhirArchive.Storage;
using FhirArchive.Storage.Search;

namespace FhirArchive.Rest.Bulk;

/// <summary>
/// Runs the $export jobs, one at a time per instance, beside the API (a hosted service: no request waits for it).
/// Each type is read in batches of row ids under the kick-off's snapshot, through the search engine (the level's
/// compartment, _since, each _typeFilter's query), every resource decided by the access policies as a read of the
/// requester's (<see cref="ReadGuard"/>) and then shaped by the export policy, and appended as one line to the type's
/// NDJSON file. After each batch the file is flushed and the position saved: memory holds one batch, and a job cut
/// short by a stop is resumed from its last saved position (its file cut back to the saved length).
/// </summary>
public sealed class BulkExportWorker(BulkExportJobs jobs, BulkExportOptions options, IResourceStore store, SearchParser parser, ReadGuard guard,
    PatientLinks links, IBulkExportPolicy policy, IBulkExportAudit audit, IServiceProvider services, ILogger<BulkExportWorker> log) : BackgroundService
{
    private static readonly IReadOnlyDictionary<string, string[]> PatientCompartment = Compartments.Members("Patient")!;
    private readonly SemaphoreSlim _nudge = new(0);
    private readonly string _instance = Guid.NewGuid().ToString("N")[..12];

    /// <summary>A job was queued: look now rather than at the next poll.</summary>
    public void Nudge()
    {
        if (_nudge.CurrentCount == 0) _nudge.Release();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await jobs.ExpireAsync(stoppingToken);
                var claim = $"{_instance}-{Guid.NewGuid():N}";
                while (!stoppingToken.IsCancellationRequested && await jobs.ClaimNextAsync(claim, stoppingToken) is { } job)
                    await RunAsync(job, claim, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { return; }
            catch (Exception e)
            {
                log.LogError(e, "The bulk export worker's round failed; it tries again at the next poll");
            }
            try { await _nudge.WaitAsync(options.PollInterval, stoppingToken); }
            catch (OperationCanceledException) { return; }
        }
    }

    private async Task RunAsync(BulkExportJobRow job, string claim, CancellationToken ct)
    {
        var spec = BulkExportSpec.FromJson(job.Spec);
        var progress = BulkExportProgress.FromJson(job.Progress);
        var requester = SubscriberCodec.Read(job.Requester);
        var folder = jobs.FolderOf(job.Id);
        Directory.CreateDirectory(folder);
        try
        {
            for (; progress.TypeIndex < spec.Types.Count; progress.TypeIndex++, progress.After = 0)
                if (!await ExportTypeAsync(job, claim, spec, requester, progress, folder, ct))
                {
                    jobs.DeleteFiles(job.Id); // cancelled meanwhile
                    return;
                }
            foreach (var empty in progress.Files.Where(f => f.Count == 0).ToList())
            {
                File.Delete(Path.Combine(folder, empty.Name));
                progress.Files.Remove(empty);
            }
            // Cancelled after its last batch (the row is gone): its files go too.
            if (!await jobs.FinishAsync(job.Id, claim, progress, null, ct)) jobs.DeleteFiles(job.Id);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested) { throw; } // stopping: resumed by the next start
        catch (Exception e)
        {
            log.LogError(e, "Bulk export {Job} failed", job.Id);
            await jobs.FinishAsync(job.Id, claim, progress, "The export failed on the server; start a new one.", ct);
        }
    }

    /// <summary>One type, batch by batch from the saved position; false when the job was cancelled.</summary>
    private async Task<bool> ExportTypeAsync(BulkExportJobRow job, string claim, BulkExportSpec spec, Caller requester, BulkExportProgress progress,
        string folder, CancellationToken ct)
    {
        var type = spec.Types[progress.TypeIndex];
        var file = progress.Files.FirstOrDefault(f => f.Type == type);
        if (file is null) progress.Files.Add(file = new BulkExportFile { Type = type, Name = $"{type}.ndjson" });
        await using var stream = new FileStream(Path.Combine(folder, file.Name), FileMode.OpenOrCreate, FileAccess.Write, FileShare.Read);
        // What was written after the last saved position is written again: cut it off.
        stream.SetLength(file.Bytes);
        stream.Position = file.Bytes;
        while (true)
        {
            var batch = await BatchAsync(job, spec, requester, type, progress.After, stream, ct);
            await stream.FlushAsync(ct);
            file.Bytes = stream.Length;
            file.Count += batch.Written;
            if (batch.Last is { } last) progress.After = last;
            if (!await jobs.SaveProgressAsync(job.Id, claim, progress, ct)) return false;
            if (batch.Written > 0) await audit.ExportedAsync(requester, job.Id, type, batch.Written, batch.Patients);
            if (batch.Read < options.BatchSize) return true;
        }
    }

    private sealed record Batch(int Read, long? Last, int Written, IReadOnlyCollection<string> Patients);

    /// <summary>
    /// The next batch of the type's rows after <paramref name="after"/>, decided as a search of the requester's: the
    /// rows a filter leaves out, the policies hide or the export policy drops are passed over; the rest are written.
    /// </summary>
    private async Task<Batch> BatchAsync(BulkExportJobRow job, BulkExportSpec spec, Caller requester, string type, long after, Stream output, CancellationToken ct)
    {
        var http = SubscriberCodec.ContextOf(requester, services);
        try
        {
            return await guard.RunAsync(http, "search-system", type, async access =>
            {
                var query = Query(spec, type, job.Snapshot, after);
                var rows = (await store.SearchAsync(query, ct)).Matches;
                var kept = await FilteredAsync(access, spec, type, job.Snapshot, rows, ct);
                var (written, patients) = (0, new HashSet<string>());
                foreach (var row in rows)
                {
                    if (!kept.Contains(row.Id) || await guard.ShowAsync(access, row) is not { } shown) continue;
                    if (await policy.TransformAsync(requester, spec, shown, ct) is not { } line) continue;
                    await output.WriteAsync(line, ct);
                    output.WriteByte((byte)'\n');
                    written++;
                    patients.UnionWith(links.PatientsOf(shown));
                }
                return new Batch(rows.Count, rows.Count > 0 ? rows[^1].RowId : null, written, patients);
            });
        }
        catch (FhirException e)
        {
            // The requester's reach refuses the whole type (the policies' start): nothing of it is exported.
            log.LogInformation("Bulk export {Job}: {Type} left out: {Reason}", job.Id, type, e.Message);
            return new Batch(0, null, 0, []);
        }
    }

    /// <summary>The type's rows in row-id order after <paramref name="after"/>, within the level's compartment and _since.</summary>
    private SearchQuery Query(BulkExportSpec spec, string type, long snapshot, long after)
    {
        var query = new SearchQuery { ResourceType = type, Count = options.BatchSize, IncludeTotal = false, SnapshotRowId = snapshot, AfterRowId = after };
        if (spec.Since is { } since)
            query.Criteria.Add(new SearchCriterion([new LastUpdatedPredicate(Prefix.Ge, since.UtcTicks, since.UtcTicks)]));
        switch (spec.Level)
        {
            case BulkExportLevel.Patient:
                query.Criteria.Add(new SearchCriterion([new CompartmentPredicate("Patient", null, PatientCompartment)]));
                break;
            case BulkExportLevel.Group:
                var members = (spec.Patients ?? []).Select(p => (SearchPredicate)new CompartmentPredicate("Patient", p, PatientCompartment)).ToList();
                // A Group without patients exports nothing: an id no resource has.
                query.Criteria.Add(new SearchCriterion(members.Count > 0 ? members : [new IdPredicate("-")]));
                break;
        }
        return query;
    }

    /// <summary>The ids of the rows some _typeFilter query of the type matches (all of them when it has none), asked as one search per query.</summary>
    private async Task<HashSet<string>> FilteredAsync(AccessContext access, BulkExportSpec spec, string type, long snapshot, IReadOnlyList<StoredResource> rows,
        CancellationToken ct)
    {
        var ids = rows.Select(r => r.Id).ToHashSet();
        var filters = spec.FiltersOf(type);
        if (filters.Count == 0 || ids.Count == 0) return ids;
        var matched = new HashSet<string>();
        foreach (var filter in filters)
        {
            var pairs = Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery("?" + filter)
                .SelectMany(kv => kv.Value.Select(v => KeyValuePair.Create(kv.Key, v ?? "")));
            var (query, _) = await parser.ParseAsync(type, pairs, strict: true, ct, visible: rs => guard.VisibleAsync(access, rs));
            query.Criteria.Add(new SearchCriterion([new IdInPredicate(ids)]));
            (query.Count, query.IncludeTotal, query.SnapshotRowId) = (ids.Count, false, snapshot);
            matched.UnionWith((await store.SearchAsync(query, ct)).Matches.Select(m => m.Id));
        }
        return matched;
    }
}
