using FhirArchive.Rest.Access;
using FhirArchive.Archive.Records;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Rest.Writing;

using FhirArchive.Archive.Consent;

namespace FhirArchive.Archive.Grants;

/// <summary>
/// Nobody forges an authorisation: Consents of the record-opening categories (ConsentTerms) are created, updated,
/// patched and deleted only by the authorisation operations, by the server itself (start-up data) and by a record
/// administrator of the record's responsible institution; any other write of one — or one that would turn a
/// Consent into one — is refused with 403.
/// </summary>
public sealed class ConsentGuardInterceptor : IWriteInterceptor
{
    public WriteStage Stage => WriteStage.Rules;

    public async ValueTask BeforeWriteAsync(WriteContext context)
    {
        if (context.ResourceType != "Consent" || context.Intent.Procedure == ConsentWrites.Procedure || context.Http is null) return;
        var before = context.Current is { IsDeleted: false } c ? RecordScope.Parse(c) : null;
        var category = ConsentDraft.CategoryOf(context.Resource) ?? ConsentDraft.CategoryOf(before);
        if (category is null) return;
        var caller = context.Http.GetCaller();
        if (caller.HasRole(Roles.Server)) return;
        if (caller.HasRole(Roles.RecordAdministrator) && caller.Organization is { } org)
        {
            // Every record the Consent was or becomes about must be the administrator's institution's.
            var patients = new[] { context.Resource, before }.Select(r => r?.Child("patient")?.Child("reference")?.Value).OfType<string>().Distinct().ToList();
            var all = patients.Count > 0;
            foreach (var reference in patients)
            {
                var patient = RecordScope.Parse(await context.Session.ReadAsync("Patient", reference.Split('/')[^1], context.CancellationToken));
                all &= patient is not null && RecordLookup.ResponsibleInstitution(patient) == org;
            }
            if (all) return;
        }
        throw new FhirException(403, "forbidden",
            $"A {category} Consent is put on file only through the authorisation operations ($grant-access, $open-record, $break-glass, $revoke) " +
            "or by a record administrator of the record's responsible institution / 授权记录只能通过授权流程或由档案责任机构管理员登记");
    }

    public ValueTask AfterWriteAsync(WriteContext context) => ValueTask.CompletedTask;
}
