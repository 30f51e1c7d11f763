using System.Net;
using System.Text;
using System.Text.Json;
using FhirArchive.Storage;
using Xunit;
using static FhirArchive.Tests.Support.Http;

namespace FhirArchive.Storage.Tests;

/// <summary>
/// The buffered write path: transaction entries are written in bulk (flushed every 1,000 versions and at commit)
/// and reads by id go through prepared, reused statements. Both must behave exactly like one write at a time.
/// </summary>
public abstract class BulkWriteTestsBase<TFixture>(TFixture fx) where TFixture : ServerFixture
{
    private readonly HttpClient _c = fx.Client;

    private static string Entry(string fullUrl, string resource, string type) =>
        $$$"""{"fullUrl":"{{{fullUrl}}}","resource":{{{resource}}},"request":{"method":"POST","url":"{{{type}}}"}}""";

    [FhirFact]
    public async Task A_transaction_larger_than_one_flush_is_stored_and_indexed_entry_by_entry()
    {
        var family = "Bulk" + Unique();
        var patientUrl = $"urn:uuid:{Guid.NewGuid()}";
        var entries = new List<string> { Entry(patientUrl, $$$"""{"resourceType":"Patient","name":[{"family":"{{{family}}}"}]}""", "Patient") };
        for (var i = 0; i < 1100; i++)
        {
            var code = i % 10 == 0 ? "8310-5" : "8867-4";
            entries.Add(Entry($"urn:uuid:{Guid.NewGuid()}", $$$"""
                {"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"{{{code}}}"}]},
                 "subject":{"reference":"{{{patientUrl}}}"},"valueQuantity":{"value":{{{i}}},"unit":"/min"}}
                """, "Observation"));
        }
        var r = await _c.PostAsync("/", Body($$"""{"resourceType":"Bundle","type":"transaction","entry":[{{string.Join(",", entries)}}]}"""));
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        var response = (await r.JsonAsync()).GetProperty("entry").EnumerateArray().ToList();
        Assert.Equal(1101, response.Count);
        Assert.All(response, e => Assert.Equal("201 Created", e.GetProperty("response").GetProperty("status").GetString()));
        var pid = response[0].GetProperty("resource").GetProperty("id").GetString();

        Assert.Equal(1100, await _c.TotalAsync($"/Observation?subject=Patient/{pid}&_summary=count"));
        Assert.Equal(110, await _c.TotalAsync($"/Observation?subject=Patient/{pid}&code=http://loinc.org|8310-5&_summary=count"));
        // Index rows point at their own version row: the value searched for is the value of the resource found.
        var found = await _c.SearchIdsAsync($"/Observation?subject=Patient/{pid}&value-quantity=1050");
        var expected = response[1051].GetProperty("resource").GetProperty("id").GetString();
        Assert.Equal([expected!], found);
        var include = await (await _c.GetAsync($"/Observation?_id={expected}&_include=Observation:subject")).JsonAsync();
        Assert.Contains(include.GetProperty("entry").EnumerateArray(), e => e.GetProperty("resource").GetProperty("id").GetString() == pid);

        var read = await (await _c.GetAsync($"/Observation/{expected}")).JsonAsync();
        Assert.Equal(1050, read.GetProperty("valueQuantity").GetProperty("value").GetInt32());
        Assert.Equal($"Patient/{pid}", read.GetProperty("subject").GetProperty("reference").GetString());
    }

    [FhirFact]
    public async Task A_transaction_failing_after_a_flush_leaves_nothing_behind()
    {
        var family = "Flushed" + Unique();
        var entries = Enumerable.Range(0, 1050)
            .Select(_ => Entry($"urn:uuid:{Guid.NewGuid()}", $$$"""{"resourceType":"Patient","name":[{"family":"{{{family}}}"}]}""", "Patient"))
            .ToList();
        // PUTs are processed after POSTs: this one fails once more than 1,000 creates have been flushed.
        entries.Add("""{"resource":{"resourceType":"Patient","id":"a"},"request":{"method":"PUT","url":"Patient/b"}}""");
        var r = await _c.PostAsync("/", Body($$"""{"resourceType":"Bundle","type":"transaction","entry":[{{string.Join(",", entries)}}]}"""));
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        Assert.Equal(0, await _c.TotalAsync($"/Patient?family={family}&_summary=count"));
        // The next write after the rollback is numbered and stored normally.
        var id = await _c.CreateAsync($$$"""{"resourceType":"Patient","name":[{"family":"{{{family}}}"}]}""");
        Assert.Equal([id], await _c.SearchIdsAsync($"/Patient?family={family}"));
    }

    [FhirFact]
    public async Task Concurrent_reads_by_id_always_see_the_current_version()
    {
        var id = await _c.CreateAsync("""{"resourceType":"Patient","name":[{"family":"甲"}]}""");
        async Task<List<(string? ETag, string Family)>> ReadMany() => (await Task.WhenAll(Enumerable.Range(0, 24).Select(async _ =>
        {
            var r = await _c.GetAsync($"/Patient/{id}");
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            var family = (await r.JsonAsync()).GetProperty("name")[0].GetProperty("family").GetString()!;
            return (r.Headers.ETag?.ToString(), family);
        }))).ToList();

        Assert.All(await ReadMany(), x => Assert.Equal(("W/\"1\"", "甲"), x));
        await _c.PutAsync($$"""{"resourceType":"Patient","id":"{{id}}","name":[{"family":"乙"}]}""");
        Assert.All(await ReadMany(), x => Assert.Equal(("W/\"2\"", "乙"), x));
        await _c.DeleteAsync($"/Patient/{id}");
        Assert.Equal(HttpStatusCode.Gone, (await _c.GetAsync($"/Patient/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _c.GetAsync($"/Patient/{Unique()}")).StatusCode);
    }
}

public sealed class BulkWriteTests(ServerFixture fx) : BulkWriteTestsBase<ServerFixture>(fx), IClassFixture<ServerFixture>;

public sealed class PostgresBulkWriteTests(PostgresServerFixture fx) : BulkWriteTestsBase<PostgresServerFixture>(fx), IClassFixture<PostgresServerFixture>;

public sealed class CompressionTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(3_000)]
    [InlineData(2_000_000)] // compresses far more than 8:1, so decoding must grow its buffer
    public void Stored_bytes_round_trip(int length)
    {
        var json = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new { resourceType = "Basic", text = new string('档', length / 3) }));
        var packed = Compression.Compress(json);
        Assert.Equal(json, Compression.Decompress(packed));
    }
}
