using System.Net;
using System.Text;
using System.Text.Json;
using FhirArchive.Storage.Encryption;
using Microsoft.Extensions.DependencyInjection;
using Xunit;
using static FhirArchive.Tests.Support.Http;

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
        // ID card and phone numbers in any other parameter are masked as free text.
        Assert.Equal("?_content=110105********1234 139****5678", Masked("?_content=110105199003071234%2013912345678", "Observation", e));
    }

    [Fact]
    public void With_encryption_off_searched_values_are_masked_as_shown_the_system_and_the_rest_kept()
    {
        var off = FieldEncryption.Off;
        Assert.Equal("?identifier=urn:oid:2.16.156.10011.1.3|110105********1234&_count=5",
            Masked("?identifier=urn:oid:2.16.156.10011.1.3%7C110105199003071234&_count=5", "Patient", off));
        Assert.Equal("?phone=139****5678,138****0000", Masked("?phone=13912345678,13800000000", "Patient", off));
        Assert.Equal("?identifier=******0317", Masked("?identifier=AZ20240317", "Patient", off));
        Assert.Equal("?address=***", Masked($"?address={Uri.EscapeDataString("建国路88号")}", "Patient", off));
        Assert.Equal("?subject:Patient.identifier=110105********1234", Masked("?subject:Patient.identifier=110105199003071234", "Observation", off));
        Assert.Equal("?sourceIdentifier=urn:x|**", Masked("?sourceIdentifier=urn:x|A1", "Patient", off)); // a short value hidden whole
        Assert.Equal("?_content=身份证110105********1234", Masked($"?_content={Uri.EscapeDataString("身份证110105199003071234")}", "Observation", off));
        Assert.Equal("?name=%E5%BC%A0&birthdate=1990", ProtectedQuery.Mask("?name=%E5%BC%A0&birthdate=1990", "Patient", off));
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

/// <summary>With field encryption off, what auditors read of a search never shows the number searched, and the chain verifies.</summary>
public sealed class ClearProtectedQueryTests(AuditFixture fx) : IClassFixture<AuditFixture>
{
    [FhirFact]
    public async Task An_auditor_reading_the_trail_never_sees_a_searched_id_card_or_phone_and_the_chain_verifies()
    {
        var c = fx.Client;
        var number = "1101051990" + Random.Shared.Next(10_000_000, 99_999_999);
        var phone = "139" + Random.Shared.Next(10_000_000, 99_999_999);
        await c.SearchIdsAsync($"/Patient?identifier=urn:oid:2.16.156.10011.1.3|{number}");
        await c.SearchIdsAsync($"/Patient?phone={phone}");
        await c.SearchIdsAsync($"/Observation?subject:Patient.identifier={number}");
        var form = new HttpRequestMessage(HttpMethod.Post, "/Patient/_search") { Content = new FormUrlEncodedContent([new("identifier", number)]) };
        Assert.Equal(HttpStatusCode.OK, (await c.SendAsync(form)).StatusCode);

        var r = await c.SendAsync(HttpMethod.Get, "/AuditEvent?subtype=search-type&_count=50", null, TestCallers.Auditor);
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        var body = await r.Content.ReadAsStringAsync();
        var queries = JsonDocument.Parse(body).RootElement.GetProperty("entry").EnumerateArray()
            .SelectMany(e => e.GetProperty("resource").TryGetProperty("entity", out var es) ? es.EnumerateArray() : [])
            .Where(e => e.TryGetProperty("query", out _))
            .Select(e => Uri.UnescapeDataString(Encoding.UTF8.GetString(Convert.FromBase64String(e.GetProperty("query").GetString()!)))).ToList();
        Assert.Contains(queries, q => q.Contains($"identifier=urn:oid:2.16.156.10011.1.3|110105********{number[^4..]}", StringComparison.Ordinal));
        Assert.Contains(queries, q => q.Contains($"phone=139****{phone[^4..]}", StringComparison.Ordinal));
        Assert.Contains(queries, q => q.StartsWith("POST /Patient/_search", StringComparison.Ordinal) && q.Contains($"110105********{number[^4..]}", StringComparison.Ordinal));
        foreach (var clear in new[] { number, phone })
        {
            Assert.DoesNotContain(clear, body);
            Assert.DoesNotContain(queries, q => q.Contains(clear, StringComparison.Ordinal));
        }

        var verify = await (await c.SendAsync(HttpMethod.Get, "/AuditEvent/$verify", null, TestCallers.Auditor)).JsonAsync();
        Assert.True(Param(verify, "result") == "true", Param(verify, "problem"));
    }
}
