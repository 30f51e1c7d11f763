using FhirArchive.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace FhirArchive.Archive.Tests.Records;

/// <summary>
/// One person, one record under field encryption at rest: the identity keys are claimed as their blind index and the
/// identifier lookups ($match, search, merge) go through the blinded index rows. The whole suites run again on an
/// encrypted store.
/// </summary>
public sealed class EncryptedRecordFixture() : ServerFixtureWith(EncryptedStorage.Settings(RecordFixture.Settings), TestCallers.Register);

public sealed class EncryptedOnePersonOneRecordTests(EncryptedRecordFixture fx) : OnePersonOneRecordTestsBase<EncryptedRecordFixture>(fx), IClassFixture<EncryptedRecordFixture>
{
    private readonly EncryptedRecordFixture _fx = fx;

    [Fact]
    public async Task The_claimed_identity_keys_are_blind_indexes_not_id_numbers()
    {
        await EnsureInstitutionAsync();
        var (json, card) = Residents.New();
        await CreateRecordAsync(json);
        await using var db = await _fx.Factory.Services.GetRequiredService<IDbContextFactory<FhirDbContext>>().CreateDbContextAsync();
        var keys = await db.Database.SqlQueryRaw<string>("""SELECT "Key" AS "Value" FROM "UniqueKey" WHERE "Scope" = 'patient-identity'""").ToListAsync();
        Assert.NotEmpty(keys);
        Assert.All(keys, k => Assert.StartsWith("bi:", k));
        Assert.DoesNotContain(keys, k => k.Contains(card, StringComparison.Ordinal));
    }
}

public sealed class EncryptedMatchAndMergeTests(EncryptedRecordFixture fx) : MatchAndMergeTestsBase<EncryptedRecordFixture>(fx), IClassFixture<EncryptedRecordFixture>;
public sealed class EncryptedMergedIdentityTests(EncryptedRecordFixture fx) : MergedIdentityTestsBase<EncryptedRecordFixture>(fx), IClassFixture<EncryptedRecordFixture>;

