using FhirArchive.Archive.Records;
using FhirArchive.Fhir.Model;
using FhirArchive.Rest.Access;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Rest.Search;
using FhirArchive.Rest.Writing;

namespace FhirArchive.Archive.PatientIdentity;

/// <summary>
/// IHE PIXm [ITI-104] Patient Identity Feed on the records: a hospital's conditional update
/// (<c>PUT Patient?identifier=[its MRN system]|[MRN]</c>, REST or a batch/transaction entry) passes every record rule
/// like any write (a second record for an ID card number already on file is the one-person-one-record 409), and
/// these rules of the identifier domains (<see cref="IdentifierDomains"/>), on every Patient write:
/// <list type="bullet">
/// <item>an identifier of an institution's domain is written only by that institution (its one Patient Identity
/// Source; IHE ITI-104 2:3.104.5): anyone else adding or changing one gets 403; the institution's identifiers get
/// <c>assigner</c> = it (IHE ITI TF-2 E.3);</item>
/// <item>an update by someone else keeps them (a maintainer's update that leaves them out does not drop the
/// hospital's cross-reference);</item>
/// <item>an institution that does not maintain the record (a hospital feeding a record the community health centre
/// holds) adds or replaces only its own identifiers: the rest of its feed (its demographics) is not taken — the
/// record stays as its maintainer keeps it, and the record rule <see cref="RecordMaintainer.OnlyOwnIdentifiers"/>
/// lets exactly that through;</item>
/// <item>a merge in the source domain (ITI-104 Resolve Duplicate: <c>link</c> replaced-by whose <c>other.identifier</c>
/// is the surviving identifier) keeps the subsumed identifier on the record as <c>use</c> old and cross-references the
/// surviving one to the same record; when another record carries it, the two records are for a record
/// administrator's Patient/$merge (409): a feed never merges records.</item>
/// </list>
/// Runs in the Rules stage before the Records module's rules (the module is registered first).
/// </summary>
public sealed class IdentityFeedInterceptor(IdentifierDomains domains, RecordScope scope, SearchParser parser, TimeProvider clock) : IWriteInterceptor
{
    public WriteStage Stage => WriteStage.Rules;

    public async ValueTask BeforeWriteAsync(WriteContext context)
    {
        if (context.ResourceType != "Patient" || context.Resource is not { } patient || context.Http is null || context.Interaction == WriteInteraction.Delete) return;
        var caller = context.Http.GetCaller();
        if (caller.HasRole(Roles.Server) || RecordProcedure.Includes(context.Intent.Procedure)) return;
        var ct = context.CancellationToken;
        var known = new Dictionary<string, IdentifierDomain?>(StringComparer.Ordinal);
        async Task<string?> InstitutionOf(string system)
        {
            if (!known.TryGetValue(system, out var domain)) known[system] = domain = await domains.FindAsync(system, ct);
            return domain?.Institution;
        }
        var current = context.CreatesResource ? null : RecordScope.Parse(context.Current);
        var before = (current?.ChildrenNamed("identifier") ?? []).Select(Key).OfType<(string, string)>().ToHashSet();

        var maintainer = current is null || !scope.IsRecordPatient(current) || RecordMaintainer.Refusal(context, current, clock.GetUtcNow()) is null;

        await ResolveMergeAsync(context, patient, caller, InstitutionOf);

        var own = new List<ElementNode>();
        foreach (var identifier in patient.ChildrenNamed("identifier").ToList())
        {
            if (Key(identifier) is not { } key) continue;
            if (await InstitutionOf(key.System) is not { } institution)
            {
                // Someone who does not maintain the record brings only the identifiers of its own registered domain.
                if (!maintainer && !before.Contains(key))
                    throw new FhirException(403, "forbidden",
                        $"{caller.Organization ?? caller.Subject} does not maintain Patient/{context.Id}: it may add only the identifiers of its own registered identifier domain, not {key.System} / 非档案管理机构只能添加本机构标识");
                continue;
            }
            if (institution == caller.Organization)
            {
                if (identifier.Child("assigner") is null) identifier.Add("assigner").Add("reference", institution);
                own.Add(identifier);
            }
            else if (!before.Contains(key))
                throw new FhirException(403, "forbidden",
                    $"Identifiers of {key.System} are assigned by {institution}, its one Patient Identity Source: {caller.Organization ?? caller.Subject} may not add or change them / 该标识体系由 {institution} 分配");
        }
        // Another institution's identifiers stay unless it changes them itself.
        foreach (var identifier in current?.ChildrenNamed("identifier") ?? [])
            if (Key(identifier) is { } key && await InstitutionOf(key.System) is { } institution && institution != caller.Organization
                && !patient.ChildrenNamed("identifier").Any(i => Key(i) == key))
                patient.InsertInOrder(identifier.DeepCopy());

        if (!maintainer && own.Count > 0 && current is not null)
            await KeepOnlyOwnIdentifiersAsync(patient, current, own, caller.Organization!, InstitutionOf);
    }

    public ValueTask AfterWriteAsync(WriteContext context) => ValueTask.CompletedTask;

    /// <summary>
    /// The record as it stands, with the feeding institution's identifiers replaced by those of its feed; the feed's
    /// meta.source (the write's source label) is kept.
    /// </summary>
    private static async Task KeepOnlyOwnIdentifiersAsync(ElementNode patient, ElementNode current, List<ElementNode> own, string institution, Func<string, Task<string?>> institutionOf)
    {
        var source = patient.Child("meta")?.Child("source")?.Value;
        var kept = new List<ElementNode>();
        foreach (var child in current.Children)
            if (child.Name != "identifier" || Key(child) is not { } key || await institutionOf(key.System) != institution) kept.Add(child.DeepCopy());
        var fed = own.Select(i => i.DeepCopy()).ToList();
        foreach (var child in patient.Children.ToList()) patient.Remove(child);
        foreach (var child in kept) patient.Add(child);
        foreach (var identifier in fed) patient.InsertInOrder(identifier);
        if (source is not null)
        {
            var meta = patient.Child("meta") ?? patient.Add("meta");
            meta.RemoveAll("source");
            meta.Add("source", source);
        }
    }

    /// <summary>ITI-104 Resolve Duplicate: the subsumed identifier becomes "old", the surviving one joins this record.</summary>
    private async Task ResolveMergeAsync(WriteContext context, ElementNode patient, Caller caller, Func<string, Task<string?>> institutionOf)
    {
        foreach (var link in patient.ChildrenNamed("link").ToList())
        {
            if (link.Child("type")?.Value != "replaced-by" || link.Child("other") is not { } other || other.Child("reference") is not null
                || other.Child("identifier") is not { } survivor || Key(survivor) is not { } key) continue;
            if (await institutionOf(key.System) != caller.Organization || caller.Organization is null)
                throw new FhirException(403, "forbidden", $"Only the source of {key.System} resolves its duplicates / 仅标识分配机构可合并其标识");
            patient.Remove(link);
            foreach (var identifier in patient.ChildrenNamed("identifier").Where(i => Key(i) is { } k && k.System == key.System && k.Value != key.Value))
            {
                identifier.RemoveAll("use");
                identifier.Add("use", "old");
            }
            var (query, _) = await parser.ParseAsync("Patient", [new("identifier", $"{key.System}|{key.Value}")], strict: true, context.CancellationToken, context.Session);
            query.Count = 2;
            query.IncludeTotal = false;
            var elsewhere = (await context.Session.SearchAsync(query, context.CancellationToken)).Matches.Where(r => r.Id != context.Id && !r.IsDeleted).ToList();
            if (elsewhere.Count > 0)
                throw FhirException.Conflict(
                    $"The surviving identifier {key.System}|{key.Value} is on another record: two records of one person are merged by a record administrator with Patient/$merge, not by a feed / 两份档案须由档案管理员合并");
            if (!patient.ChildrenNamed("identifier").Any(i => Key(i) == key))
            {
                var identifier = patient.Add("identifier");
                foreach (var part in survivor.Children) identifier.Add(part.DeepCopy());
            }
        }
    }

    private static (string System, string Value)? Key(ElementNode identifier) =>
        identifier.Child("system")?.Value is { Length: > 0 } s && identifier.Child("value")?.Value is { Length: > 0 } v ? (s, v.Trim()) : null;
}
