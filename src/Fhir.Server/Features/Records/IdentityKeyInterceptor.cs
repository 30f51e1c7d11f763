using FhirArchive.Server.Infrastructure;
using FhirArchive.Server.Interception;

namespace FhirArchive.Server.Features.Records;

/// <summary>
/// One person, one record (一人一档): a record Patient claims its identity keys in the database's UNIQUE key table
/// inside the write transaction, so of concurrent writers for the same person exactly one wins; the others get 409
/// naming the existing record. An update that changes the keys (a newborn gains an ID number) claims the new ones
/// and releases those it no longer carries.
/// </summary>
public sealed class IdentityKeyInterceptor(RecordScope scope) : IWriteInterceptor
{
    public const string KeyScope = "patient-identity";

    public ValueTask BeforeWriteAsync(WriteContext context) => ValueTask.CompletedTask;

    /// <summary>After the write (so that an invalid resource is told why it is invalid first), in its transaction.</summary>
    public async ValueTask AfterWriteAsync(WriteContext context)
    {
        if (context.Resource is not { } patient || !scope.IsRecordPatient(patient)) return;
        var keys = IdentityKeys.Of(patient);
        if (keys.Count == 0)
            throw FhirException.Unprocessable(
                "A resident record needs the person's identity: a resident ID card number, a birth medical certificate number, " +
                $"or (for an undocumented infant) the mother's ID card number ({IdentityKeys.MotherIdCardSystem}) / 档案须有身份证号、出生医学证明编号或母亲身份证号");
        var owner = "Patient/" + context.Id;
        foreach (var key in keys)
        {
            var holder = await context.Session.ClaimUniqueAsync(KeyScope, key, owner, context.CancellationToken);
            if (holder != owner)
                throw new FhirException(409, "duplicate",
                    $"This person already has a record: {holder} (key {key.Split('|')[0]}). One person, one record / 一人一档: 该居民已建档 {holder}");
        }
        await context.Session.ReleaseUniqueAsync(KeyScope, owner, keys, context.CancellationToken);
    }
}
