using FhirArchive.Archive.Consent;
using FhirArchive.Archive.Records;
using FhirArchive.Rest.Search;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Rest.Resources;
using FhirArchive.Rest.Writing;
using FhirArchive.Storage;

namespace FhirArchive.Archive.Transfer;

/// <summary>
/// Hourly: a transfer request its holder has not answered by the end of its due day (authored day + ResponseDays,
/// China calendar) is marked escalated (Task.businessStatus), and the city platform may then decide it. Idempotent;
/// driven by the server's TimeProvider, so a test runs it with a manual clock.
/// </summary>
public sealed class TransferEscalationJob(IResourceStore store, ResourceWriter writer, SearchParser parser, TransferOptions options,
    TimeProvider clock, ILogger<TransferEscalationJob> log) : ClockJob(clock, log)
{
    protected override TimeSpan Interval => TimeSpan.FromHours(1);
    protected override string Name => "transfer escalation";

    /// <summary>One run: the ids of the Tasks it escalated.</summary>
    public override async Task<IReadOnlyList<string>> RunOnceAsync(CancellationToken ct = default)
    {
        var now = Clock.GetUtcNow();
        // Authored on or before this China day → its due day has passed.
        var lastDay = ConsentDecision.ChinaDate(now).AddDays(-options.ResponseDays - 1);
        var before = TransferTerms.Date(lastDay.AddDays(1)) + "T00:00:00+08:00";
        var candidates = new List<string>();
        await foreach (var t in parser.AllMatchesAsync(store, "Task",
            [new("code", TransferTerms.CodeToken), new("status", "requested"), new("authored-on", "lt" + before)], ct))
            if (RecordScope.Parse(t) is { } n && !TransferTerms.IsEscalated(n)) candidates.Add(t.Id);
        var escalated = new List<string>();
        foreach (var id in candidates)
        {
            await using var s = await store.BeginWriteAsync(ct);
            // Looked at again in the write session: it may have been decided since the search.
            var task = RecordScope.Parse(await s.ReadAsync("Task", id, ct));
            if (task is null || task.Child("status")?.Value != "requested" || TransferTerms.IsEscalated(task)) continue;
            task.RemoveAll("businessStatus");
            var status = task.Add("businessStatus");
            var coding = status.Add("coding");
            coding.Add("system", TransferTerms.BusinessStatusSystem);
            coding.Add("code", TransferTerms.Escalated);
            coding.Add("display", "超期未确认，已提交市级平台");
            status.Add("text", $"not answered in {options.ResponseDays} days: escalated to the city platform / 超过{options.ResponseDays}个自然日未确认，已提交市级平台");
            task.RemoveAll("lastModified");
            task.Add("lastModified", Fhir.Model.FhirInstant.Of(now));
            await writer.UpdateAsync(s, task, "Task", id, null, ct, WriteIntent.Update.For(RecordProcedure.Transfer));
            await s.CommitAsync(ct);
            escalated.Add(id);
        }
        return escalated;
    }
}
