using System.Net;
using System.Text.Json;
using Xunit;
using static FhirArchive.Archive.Tests.Consent.ConsentData;
using static FhirArchive.Tests.Support.Http;

namespace FhirArchive.Archive.Tests.Consent;

/// <summary>
/// The decision matrix through the HTTP API, cell by cell: each caller (role and relationship) × each kind of data
/// (ordinary, mental health, special disease, a classified person's record, a minor's record) × each read path.
/// A resource is shown on every path exactly when the table says the caller may see it, and looks missing otherwise.
/// </summary>
public abstract class ConsentMatrixPathTestsBase<TFixture>(TFixture fx) : IAsyncLifetime where TFixture : ServerFixture
{
    private readonly HttpClient _c = fx.Client;

    public Task InitializeAsync() => fx is IConsentWorld world ? world.SeedOnceAsync() : Task.CompletedTask;

    public Task DisposeAsync() => Task.CompletedTask;

    private static readonly Dictionary<string, (string, string)?> Callers = new()
    {
        ["holder clinician"] = HolderClinician, ["authorised doctor"] = AuthorisedDoctor, ["colleague of the authorised doctor"] = Colleague,
        ["stranger doctor"] = StrangerDoctor, ["break-glass doctor"] = EmergencyDoctor, ["adult resident"] = AdultResident,
        ["minor resident"] = MinorResident, ["statutory guardian"] = Guardian, ["researcher"] = Researcher, ["platform client"] = null,
    };

    private static readonly string[] OrdinaryAdult = ["holder clinician", "authorised doctor", "break-glass doctor", "adult resident", "statutory guardian", "platform client"];

    /// <summary>The data kinds and who may see each (the expectations, written out independently of the code).</summary>
    private static readonly (string Kind, string Type, string Id, string Patient, string[] Visible)[] Data =
    [
        ("ordinary (record)", "Patient", "adult", "adult", OrdinaryAdult),
        ("ordinary", "Observation", "obs-adult", "adult", OrdinaryAdult),
        ("mental health", "Condition", "cond-adult-psy", "adult", ["holder clinician"]),
        ("special disease", "Condition", "cond-adult-hiv", "adult", ["holder clinician"]),
        ("classified person (record)", "Patient", "classified", "classified", ["holder clinician"]),
        ("classified person", "Observation", "obs-classified", "classified", ["holder clinician"]),
        ("minor (record)", "Patient", "minor", "minor", ["holder clinician", "platform client"]),
        ("minor", "Observation", "obs-minor", "minor", ["holder clinician", "platform client"]),
    ];

    public static IEnumerable<object[]> Cells() =>
        from c in Callers.Keys from d in Data select new object[] { c, d.Id };

    [Theory]
    [MemberData(nameof(Cells))]
    public async Task Every_read_path_agrees_with_the_matrix(string callerName, string id)
    {
        var caller = Callers[callerName];
        var d = Data.Single(x => x.Id == id);
        var visible = d.Visible.Contains(callerName);
        var patientVisible = Data.Single(x => x.Type == "Patient" && x.Id == d.Patient).Visible.Contains(callerName);
        var cell = $"{callerName} × {d.Kind} ({d.Type}/{d.Id})";
        var shownAs = visible ? HttpStatusCode.OK : HttpStatusCode.NotFound;

        Assert.True(shownAs == (await Get($"/{d.Type}/{d.Id}", caller)).StatusCode, $"read: {cell}");
        Assert.True(shownAs == (await Get($"/{d.Type}/{d.Id}/_history/1", caller)).StatusCode, $"vread: {cell}");
        Assert.True(shownAs == (await Get($"/{d.Type}/{d.Id}/_history", caller)).StatusCode, $"history: {cell}");
        var search = await Json($"/{d.Type}?_id={d.Id}", caller);
        Assert.True(visible == Ids(search, "match").Contains(d.Id), $"search: {cell}");
        Assert.True((visible ? 1 : 0) == search.GetProperty("total").GetInt32(), $"search total: {cell}");
        var batch = await _c.SendAsync(HttpMethod.Post, "/", $$$"""{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"{{{d.Type}}}/{{{d.Id}}}"}}]}""",
            caller is { } bc ? new[] { bc } : Array.Empty<(string, string)>());
        var status = (await batch.JsonAsync()).GetProperty("entry")[0].GetProperty("response").GetProperty("status").GetString()!;
        Assert.True(status.StartsWith(visible ? "200" : "404", StringComparison.Ordinal), $"batch: {cell}: {status}");
        var everything = await Get($"/Patient/{d.Patient}/$everything", caller);
        Assert.True((patientVisible ? HttpStatusCode.OK : HttpStatusCode.NotFound) == everything.StatusCode, $"$everything: {cell}");
        if (patientVisible)
            Assert.True(visible == Ids(await everything.JsonAsync(), "match").Contains(d.Id), $"$everything entry: {cell}");
        if (d.Type == "Patient") return;

        Assert.True(visible == Ids(await Json($"/Patient/{d.Patient}/{d.Type}?_id={d.Id}", caller), "match").Contains(d.Id), $"compartment search: {cell}");
        var rev = await Json($"/Patient?_id={d.Patient}&_revinclude={d.Type}:subject", caller);
        Assert.True((visible && patientVisible) == Ids(rev, "include").Contains(d.Id), $"_revinclude: {cell}");
        var has = await Json($"/Patient?_id={d.Patient}&_has:{d.Type}:subject:_id={d.Id}", caller);
        Assert.True((visible && patientVisible) == Ids(has, "match").Contains(d.Patient), $"_has: {cell}");
        var chain = await Json($"/{d.Type}?_id={d.Id}&subject:Patient._id={d.Patient}", caller);
        Assert.True((visible && patientVisible) == Ids(chain, "match").Contains(d.Id), $"chained: {cell}");
        var include = await Json($"/{d.Type}?_id={d.Id}&_include={d.Type}:subject", caller);
        Assert.True((visible && patientVisible) == Ids(include, "include").Contains(d.Patient), $"_include: {cell}");
    }

    private Task<HttpResponseMessage> Get(string url, (string, string)? caller) =>
        caller is { } c ? _c.SendAsync(HttpMethod.Get, url, null, c) : _c.GetAsync(url);

    private async Task<JsonElement> Json(string url, (string, string)? caller)
    {
        var r = await Get(url, caller);
        Assert.True(r.StatusCode == HttpStatusCode.OK, $"{url}: {r.StatusCode} {await r.Content.ReadAsStringAsync()}");
        return await r.JsonAsync();
    }

    private static List<string> Ids(JsonElement bundle, string mode) =>
        bundle.TryGetProperty("entry", out var es)
            ? es.EnumerateArray().Where(e => e.TryGetProperty("search", out var s) && s.GetProperty("mode").GetString() == mode)
                .Select(e => e.GetProperty("resource").GetProperty("id").GetString()!).ToList()
            : [];
}

public sealed class ConsentMatrixPathTests(ConsentFixture fx) : ConsentMatrixPathTestsBase<ConsentFixture>(fx), IClassFixture<ConsentFixture>;

public sealed class PostgresConsentMatrixPathTests(PostgresConsentFixture fx) : ConsentMatrixPathTestsBase<PostgresConsentFixture>(fx), IClassFixture<PostgresConsentFixture>;
