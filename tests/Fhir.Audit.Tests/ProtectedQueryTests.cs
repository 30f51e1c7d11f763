using FhirArchive.Storage.Encryption;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace FhirArchive.Audit.Tests;

/// <summary>Under field encryption the audited query keeps searched identifiers as their blind index.</summary>
public sealed class ProtectedQueryTests(EncryptedServerFixture fx) : IClassFixture<EncryptedServerFixture>
{
    private FieldEncryption Encryption => fx.Factory.Services.GetRequiredService<FieldEncryption>();

    /// <summary>The masked query, decoded (the masked values are sent escaped, as query values are).</summary>
    private static string Masked(string query, string type, FieldEncryption e) => Uri.UnescapeDataString(ProtectedQuery.Mask(query, type, e));

    [Fact]
    public void Identifiers_phones_and_addresses_are_masked_the_rest_is_kept()
    {
        var e = Encryption;
        Assert.Equal($"?identifier=urn:oid:2.16.156.10011.1.3|{e.Blind("Patient.identifier", "110105199003071234")}&_count=5",
            Masked("?identifier=urn:oid:2.16.156.10011.1.3%7C110105199003071234&_count=5", "Patient", e));
        Assert.Equal($"?phone={e.Blind("Patient.phone", "13912345678")},{e.Blind("Patient.phone", "13800000000")}", Masked("?phone=13912345678,13800000000", "Patient", e));
        Assert.Equal($"?address={e.Blind("Patient.address", "建国路88号")}", Masked($"?address={Uri.EscapeDataString("建国路88号")}", "Patient", e));
        // An address is normalised as the index normalises it (case ignored): the recorded tag is the index row's.
        Assert.Equal($"?address={e.Blind("Patient.address", "jianguo road 88")}", Masked("?address=Jianguo%20Road%2088", "Patient", e));
        // Chained from another type, and PIXm's sourceIdentifier.
        Assert.Equal($"?subject:Patient.identifier={e.Blind("Patient.identifier", "110105199003071234")}", Masked("?subject:Patient.identifier=110105199003071234", "Observation", e));
        Assert.Equal($"?sourceIdentifier=urn:x|{e.Blind("Patient.identifier", "A1")}", Masked("?sourceIdentifier=urn:x|A1", "Patient", e));
        // What protects nothing stays as it was: other parameters, and identifiers of types stored in clear.
        Assert.Equal("?name=%E5%BC%A0&birthdate=1990", ProtectedQuery.Mask("?name=%E5%BC%A0&birthdate=1990", "Patient", e));
        Assert.Equal("?identifier=OBS-1", ProtectedQuery.Mask("?identifier=OBS-1", "Observation", e));
        Assert.Equal("?identifier=110105199003071234", ProtectedQuery.Mask("?identifier=110105199003071234", "Patient", FieldEncryption.Off));
    }

    [Fact]
    public async Task The_stored_audit_event_of_a_search_holds_the_blind_index_not_the_number()
    {
        var number = "1101051990" + Random.Shared.Next(10_000_000, 99_999_999);
        Assert.Empty(await fx.Client.SearchIdsAsync($"/Patient?identifier={number}"));
        var (rows, _) = await fx.Factory.Services.GetRequiredService<Store.AuditStore>().SearchAsync(new Store.AuditQuery(Subtype: "search-type", Count: 20));
        var queries = rows.Select(r => AuditRecordCodec.Decode(r.Data, r.Id).Query).OfType<string>().ToList();
        Assert.Contains(queries, q => Uri.UnescapeDataString(q).Contains(Encryption.Blind("Patient.identifier", number), StringComparison.Ordinal));
        Assert.DoesNotContain(queries, q => q.Contains(number, StringComparison.Ordinal));
    }
}
