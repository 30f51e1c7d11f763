using System.Net;
using System.Text.Json;
using Xunit;
using static FhirArchive.Tests.Support.Http;

namespace FhirArchive.Rest.Tests;

public abstract class HistoryTestsBase<TFixture>(TFixture fx) where TFixture : ServerFixture
{
    private readonly HttpClient _c = fx.Client;

    private static List<JsonElement> Entries(JsonElement b) =>
        b.TryGetProperty("entry", out var e) ? e.EnumerateArray().ToList() : [];

    [FhirFact]
    public async Task Instance_history_lists_every_version_newest_first_with_request_and_response()
    {
        var id = await _c.CreateAsync("""{"resourceType":"Practitioner","name":[{"family":"一"}]}""");
        await _c.PutAsync($$"""{"resourceType":"Practitioner","id":"{{id}}","name":[{"family":"二"}]}""");
        await _c.DeleteAsync($"/Practitioner/{id}");
        var b = await (await _c.GetAsync($"/Practitioner/{id}/_history")).JsonAsync();
        Assert.Equal("history", b.GetProperty("type").GetString());
        Assert.Equal(3, b.GetProperty("total").GetInt32());
        var entries = Entries(b);
        Assert.Equal(["DELETE", "PUT", "POST"], entries.Select(e => e.GetProperty("request").GetProperty("method").GetString()).ToList());
        Assert.False(entries[0].TryGetProperty("resource", out _));
        Assert.Equal("二", entries[1].GetProperty("resource").GetProperty("name")[0].GetProperty("family").GetString());
        Assert.Equal("W/\"1\"", entries[2].GetProperty("response").GetProperty("etag").GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await _c.GetAsync("/Practitioner/nobody/_history")).StatusCode);
    }

    [FhirFact]
    public async Task Type_and_system_history_with_since_at_and_count()
    {
        var before = DateTimeOffset.UtcNow.AddSeconds(-1);
        var id = await _c.CreateAsync("""{"resourceType":"Device","status":"active"}""");
        await Task.Delay(20);
        var between = DateTimeOffset.UtcNow;
        await Task.Delay(20);
        await _c.PutAsync($$"""{"resourceType":"Device","id":"{{id}}","status":"inactive"}""");

        var type = await (await _c.GetAsync($"/Device/_history?_since={Uri.EscapeDataString(before.ToString("yyyy-MM-ddTHH:mm:ss.fffZ"))}")).JsonAsync();
        Assert.Equal(2, type.GetProperty("total").GetInt32());
        var system = await (await _c.GetAsync("/_history?_count=1")).JsonAsync();
        Assert.Single(Entries(system));
        Assert.Contains(system.GetProperty("link").EnumerateArray(), l => l.GetProperty("relation").GetString() == "next");
        var later = await (await _c.GetAsync($"/Device/_history?_since={Uri.EscapeDataString(between.ToString("yyyy-MM-ddTHH:mm:ss.fffZ"))}")).JsonAsync();
        Assert.Equal(1, later.GetProperty("total").GetInt32());
        // _at: the version current at that moment.
        var at = await (await _c.GetAsync($"/Device/{id}/_history?_at={Uri.EscapeDataString(between.ToString("yyyy-MM-ddTHH:mm:ss.fffZ"))}")).JsonAsync();
        var only = Assert.Single(Entries(at));
        Assert.Equal("active", only.GetProperty("resource").GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.BadRequest, (await _c.GetAsync("/Device/_history?_since=yesterday")).StatusCode);
    }
}

public sealed class HistoryTests(ServerFixture fx) : HistoryTestsBase<ServerFixture>(fx), IClassFixture<ServerFixture>;

public sealed class PostgresHistoryTests(PostgresServerFixture fx) : HistoryTestsBase<PostgresServerFixture>(fx), IClassFixture<PostgresServerFixture>;
