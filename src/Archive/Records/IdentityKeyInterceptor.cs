using FhirArchive.Fhir.Model;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Rest.Writing;

namespace FhirArchive.Archive.Records;

/// <summary>
/// One person, one record (一人一档): a record Patient claims its identity keys in the database's UNIQUE key table
/// inside the write transaction, so of concurrent writers for the same person exactly one wins; the others get 409
/// naming the existing record. An update that changes the keys (a newborn gains an ID number) claims the new ones
/// and releases those it no longer carries. After $merge the duplicate's keys are the survivor's: a merged record
/// holds none, and a record also holds the keys of the records it replaces (its link "replaces", which ordinary
/// updates keep) — all in the merge's transaction.
/// </summary>
public sealed class IdentityKeyInterceptor(RecordScope scope, Rest.Access.ReadGuard guard) : IWriteInterceptor
{
    public const string KeyScope = "patient-identity";
    private const int MaxMergeDepth = 16;

    public WriteStage Stage => WriteStage.Rules;

    /// <summary>The replaces links are written by $merge only: an update that leaves them out keeps them.</summary>
    public ValueTask BeforeWriteAsync(WriteContext context)
    {
        if (context.Resource is not { } patient || context.CreatesResource || !scope.IsRecordPatient(patient)) return ValueTask.CompletedTask;
        var current = RecordScope.Parse(context.Current);
        if (current is null) return ValueTask.CompletedTask;
        var kept = ReplacedIds(patient).ToHashSet(StringComparer.Ordinal);
        foreach (var link in current.ChildrenNamed("link").Where(l => l.Child("type")?.Value == "replaces"))
            if (link.Child("other")?.Child("reference")?.Value is { } other && kept.Add(other))
            {
                var copy = patient.Add("link");
                copy.Add("other").Add("reference", other);
                copy.Add("type", "replaces");
            }
        return ValueTask.CompletedTask;
    }

    /// <summary>After the write (so that an invalid resource is told why it is invalid first), in its transaction.</summary>
    public async ValueTask AfterWriteAsync(WriteContext context)
    {
        if (context.Resource is not { } patient || !scope.IsRecordPatient(patient)) return;
        var owner = "Patient/" + context.Id;
        if (RecordStatus.Get(patient) == RecordStatus.Merged)
        {
            await context.Session.ReleaseUniqueAsync(KeyScope, owner, [], context.CancellationToken);
            return;
        }
        var keys = IdentityKeys.Of(patient);
        if (keys.Count == 0)
            throw FhirException.Unprocessable(
                "A resident record needs the person's identity: a resident ID card number, a birth medical certificate number, " +
                $"or (for an undocumented infant) the mother's ID card number ({IdentityKeys.MotherIdCardSystem}) / 档案须有身份证号、出生医学证明编号或母亲身份证号");
        keys.AddRange(await InheritedKeysAsync(context, patient));
        keys = keys.Distinct().ToList();
        foreach (var key in keys)
        {
            var holder = await context.Session.ClaimUniqueAsync(KeyScope, key, owner, context.CancellationToken);
            if (holder != owner)
            {
                // The record is named only to a caller who may see it; to others a duplicate is all there is to say.
                var named = await MayNameAsync(context, holder) ? holder : "";
                throw new FhirException(409, "duplicate",
                    $"This person already has a record{(named.Length > 0 ? ": " + named : "")} (key {key.Split('|')[0]}). One person, one record / 一人一档: 该居民已建档 {named}".TrimEnd());
            }
        }
        await context.Session.ReleaseUniqueAsync(KeyScope, owner, keys, context.CancellationToken);
    }

    private async ValueTask<bool> MayNameAsync(WriteContext context, string holder) =>
        context.Http is not { } http
        || await context.Session.ReadAsync("Patient", holder["Patient/".Length..], context.CancellationToken) is { } stored
           && await guard.MayKnowAsync(http, "read", stored);

    /// <summary>The keys of the merged records this one replaces, and of those they replaced in turn.</summary>
    private async Task<List<string>> InheritedKeysAsync(WriteContext context, ElementNode patient)
    {
        var keys = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal) { "Patient/" + context.Id };
        var queue = new Queue<string>(ReplacedIds(patient));
        while (queue.TryDequeue(out var reference) && seen.Count <= MaxMergeDepth)
        {
            if (!seen.Add(reference)) continue;
            var replaced = await scope.RecordPatientAsync(context.Session, reference["Patient/".Length..], context.CancellationToken);
            if (replaced is null || RecordStatus.Get(replaced) != RecordStatus.Merged) continue;
            keys.AddRange(IdentityKeys.Of(replaced));
            foreach (var next in ReplacedIds(replaced)) queue.Enqueue(next);
        }
        return keys;
    }

    private static IEnumerable<string> ReplacedIds(ElementNode patient) =>
        patient.ChildrenNamed("link").Where(l => l.Child("type")?.Value == "replaces")
            .Select(l => l.Child("other")?.Child("reference")?.Value).OfType<string>()
            .Where(r => r.StartsWith("Patient/", StringComparison.Ordinal));
}
