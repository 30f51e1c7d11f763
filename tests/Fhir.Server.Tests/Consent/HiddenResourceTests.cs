using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using FhirArchive.Storage;
using Xunit;
using Xunit.Abstractions;

namespace FhirArchive.Server.Tests.Consent;

/// <summary>The sample data and demo accounts with the shipped defaults (consent on, no update-as-create for restricted callers).</summary>
public sealed class HiddenFixture() : SecurityFixture(new Dictionary<string, string>
{
    ["Consent:Enabled"] = "true",
    ["Consent:UpdateCreateForAll"] = "false",
})
{
    private readonly SemaphoreSlim _once = new(1, 1);
    private bool _done;

    /// <summary>
    /// Restricted data with what points at it, written as the holder's clinician would: a severe-mental-disorder
    /// diagnosis of 刘洋 (its Provenance names it), a Communication about it and a List holding it.
    /// </summary>
    public async Task EnsureProvenanceOfRestrictedDataAsync()
    {
        await _once.WaitAsync();
        try
        {
            if (_done) return;
            var doctor = With(await DemoTokenAsync("drzhao", "user/*.cruds"));
            var id = await doctor.CreateAsync("""
                {"resourceType":"Condition","code":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10","code":"F20.0","display":"偏执型精神分裂症"}]},
                 "subject":{"reference":"Patient/liu-yang"},"recordedDate":"2026-11-30"}
                """);
            await doctor.CreateAsync($$"""
                {"resourceType":"Communication","status":"completed","subject":{"reference":"Patient/liu-yang"},
                 "about":[{"reference":"Condition/{{id}}"}],"payload":[{"contentString":"随访提醒"}]}
                """);
            await doctor.CreateAsync($$$"""
                {"resourceType":"List","status":"current","mode":"working","subject":{"reference":"Patient/liu-yang"},
                 "entry":[{"item":{"reference":"Condition/{{{id}}}"}}]}
                """);
            _done = true;
        }
        finally
        {
            _once.Release();
        }
    }
}

/// <summary>
/// Hidden looks missing, on every path, by construction: for each demo role and each interaction and operation the
/// CapabilityStatement offers (read at test time, so a new type, interaction or operation is covered without editing
/// this test), the answer about a resource the role may not see equals the answer about an id that does not exist,
/// after normalising ids and times; and no answer of any listing (searches, histories, includes, $everything, the
/// access log) contains a protected id, identifier or name.
/// </summary>
public sealed class HiddenResourceTests(HiddenFixture fx, ITestOutputHelper output) : IClassFixture<HiddenFixture>
{
    private const string Missing = "zz-missing-id";

    /// <summary>
    /// Operations that exist for records the caller cannot see yet and answer for themselves, uniformly for missing,
    /// classified and unreachable records ($request-access sends the resident a code; $break-glass opens an emergency;
    /// $offsite-summary shows a key-population resident's summary to another institution): their refusals are tested in
    /// AccessRequestTests, ConsentOperationTests and OffSiteTests.
    /// </summary>
    private static readonly string[] ReachHiddenRecords = ["request-access", "break-glass", "offsite-summary"];

    /// <summary>The demo roles (README's table), with the scopes scripts/get-token.sh asks for.</summary>
    private static readonly (string User, string Scope)[] Roles =
    [
        ("drwu", "user/*.cruds"), ("drzhao", "user/*.cruds"), ("recadmin", "user/*.cruds"), ("liuqiang", "launch/patient patient/*.rs"),
        ("zhangwei", "launch/patient patient/*.rs"), ("researcher", "user/*.rs"), ("cdc-chaoyang", "user/*.rs"), ("mh-wuhou", "user/*.rs"),
    ];

    public static IEnumerable<object[]> RoleNames() => Roles.Select(r => new object[] { r.User });

    [Theory]
    [MemberData(nameof(RoleNames))]
    public async Task A_hidden_resource_answers_every_interaction_as_a_missing_one(string user)
    {
        var (client, visible, hidden) = await WorldOfAsync(user);
        var markers = Markers(hidden, visible);
        var capability = await CapabilityAsync(client);
        var compared = 0;
        foreach (var group in hidden.GroupBy(h => h.ResourceType))
        {
            var type = group.Key;
            if (!capability.Types.TryGetValue(type, out var offered)) continue;
            var target = group.First();
            foreach (var (label, request) in Requests(type, offered, capability.SystemOperations, target))
            {
                var onHidden = await SendAsync(client, request(target.Id, target.Json!));
                var onMissing = await SendAsync(client, request(Missing, target.Json!));
                var (h, m) = (Normalise(onHidden, target.Id), Normalise(onMissing, Missing));
                Assert.True(h == m, $"{user}: {label} on hidden {type}/{target.Id} differs from a missing id:\nhidden:  {h}\nmissing: {m}");
                // The answer may repeat the id that was asked for, nothing else of the hidden resource.
                AssertNothingProtected(user, $"{label} {type}/{target.Id}", onHidden.Body.Replace($"{type}/{target.Id}", $"{type}/{{ID}}"), markers);
                compared++;
            }
        }
        output.WriteLine($"{user}: {hidden.Count} hidden resources, {compared} interactions compared");
        Assert.True(compared > 0 || hidden.Count == 0, $"{user}: nothing was compared");
    }

    [Theory]
    [MemberData(nameof(RoleNames))]
    public async Task No_listing_names_what_the_role_may_not_see(string user)
    {
        var (client, visible, hidden) = await WorldOfAsync(user);
        var markers = Markers(hidden, visible);
        var capability = await CapabilityAsync(client);
        var urls = new List<string> { "/_history?_count=500", "/?_count=200" };
        foreach (var (type, offered) in capability.Types)
        {
            if (offered.Interactions.Contains("search-type")) urls.Add($"/{type}?_count=200");
            if (offered.Interactions.Contains("history-type")) urls.Add($"/{type}/_history?_count=200");
        }
        urls.Add("/Patient?_revinclude=*&_count=50");
        urls.Add("/Practitioner?_revinclude=Provenance:agent&_revinclude=Task:owner&_count=50");
        foreach (var p in visible.Where(v => v.ResourceType == "Patient"))
        {
            urls.Add($"/Patient/{p.Id}/$everything?_count=200");
            urls.Add($"/Patient/{p.Id}/$access-log?_count=200");
            urls.Add($"/Patient/{p.Id}/Provenance");
        }
        foreach (var url in urls)
        {
            // Every page of the listing, following next links (bounded): pages are never empty while another follows.
            var next = url;
            for (var page = 0; next is not null && page < 20; page++)
            {
                var r = await SendAsync(client, () => new HttpRequestMessage(HttpMethod.Get, next));
                AssertNothingProtected(user, next, r.Body, markers);
                next = null;
                if (r.Status != 200 || !r.Body.StartsWith('{')) break;
                var bundle = JsonDocument.Parse(r.Body).RootElement;
                if (bundle.GetProperty("resourceType").GetString() != "Bundle") break;
                var links = bundle.TryGetProperty("link", out var ls) ? ls.EnumerateArray().ToList() : [];
                var nextUrl = links.FirstOrDefault(l => l.GetProperty("relation").GetString() == "next");
                if (nextUrl.ValueKind == JsonValueKind.Undefined) break;
                var shown = bundle.TryGetProperty("entry", out var es) ? es.EnumerateArray().Count(e => e.TryGetProperty("resource", out _)) : 0;
                Assert.True(shown > 0, $"{user}: {next ?? url} is an empty page with a next link");
                next = new Uri(nextUrl.GetProperty("url").GetString()!).PathAndQuery;
            }
        }
    }

    private sealed record Answer(int Status, string Body, string ContentType);

    private sealed record Offered(HashSet<string> Interactions, List<string> Operations);

    private sealed record Capability(Dictionary<string, Offered> Types, List<string> SystemOperations);

    /// <summary>The requests to compare, each a factory of one request for an id (and the hidden resource's body, for writes).</summary>
    private static IEnumerable<(string Label, Func<string, byte[], Func<HttpRequestMessage>> Request)> Requests(
        string type, Offered offered, List<string> systemOperations, StoredResource target)
    {
        Func<HttpRequestMessage> Get(string url) => () => new HttpRequestMessage(HttpMethod.Get, url);
        Func<HttpRequestMessage> With(HttpMethod method, string url, string? body, string contentType = "application/fhir+json") => () =>
            new HttpRequestMessage(method, url) { Content = body is null ? null : new StringContent(body, Encoding.UTF8, contentType) };
        string BodyFor(string id, byte[] json) => Encoding.UTF8.GetString(json).Replace($"\"id\":\"{target.Id}\"", $"\"id\":\"{id}\"");
        const string Parameters = """{"resourceType":"Parameters"}""";
        var i = offered.Interactions;

        if (i.Contains("read"))
        {
            yield return ("read", (id, _) => Get($"/{type}/{id}"));
            yield return ("HEAD read", (id, _) => () => new HttpRequestMessage(HttpMethod.Head, $"/{type}/{id}"));
            yield return ("batch read", (id, _) => With(HttpMethod.Post, "/",
                $$$"""{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"{{{type}}}/{{{id}}}"}}]}"""));
        }
        if (i.Contains("vread")) yield return ("vread", (id, _) => Get($"/{type}/{id}/_history/1"));
        if (i.Contains("history-instance")) yield return ("history", (id, _) => Get($"/{type}/{id}/_history"));
        if (i.Contains("search-type"))
        {
            yield return ("search _id", (id, _) => Get($"/{type}?_id={id}"));
            yield return ("POST _search", (id, _) => With(HttpMethod.Post, $"/{type}/_search", $"_id={id}", "application/x-www-form-urlencoded"));
        }
        if (i.Contains("update"))
        {
            yield return ("update", (id, json) => With(HttpMethod.Put, $"/{type}/{id}", BodyFor(id, json)));
            yield return ("update If-Match", (id, json) => () =>
            {
                var r = With(HttpMethod.Put, $"/{type}/{id}", BodyFor(id, json))();
                r.Headers.TryAddWithoutValidation("If-Match", "W/\"1\"");
                return r;
            });
            yield return ("batch update", (id, json) => With(HttpMethod.Post, "/",
                $$$"""{"resourceType":"Bundle","type":"batch","entry":[{"resource":{{{BodyFor(id, json)}}},"request":{"method":"PUT","url":"{{{type}}}/{{{id}}}"}}]}"""));
        }
        if (i.Contains("patch"))
        {
            yield return ("patch", (id, _) => With(HttpMethod.Patch, $"/{type}/{id}", $$"""[{"op":"test","path":"/id","value":"{{id}}"}]""", "application/json-patch+json"));
            yield return ("conditional patch", (id, _) => With(HttpMethod.Patch, $"/{type}?_id={id}", """[{"op":"test","path":"/resourceType","value":"x"}]""", "application/json-patch+json"));
        }
        if (i.Contains("delete"))
        {
            yield return ("delete", (id, _) => With(HttpMethod.Delete, $"/{type}/{id}", null));
            yield return ("conditional delete", (id, _) => With(HttpMethod.Delete, $"/{type}?_id={id}", null));
            yield return ("batch delete", (id, _) => With(HttpMethod.Post, "/",
                $$$"""{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"DELETE","url":"{{{type}}}/{{{id}}}"}}]}"""));
        }
        foreach (var op in offered.Operations.Concat(systemOperations).Distinct().Where(o => !ReachHiddenRecords.Contains(o)))
        {
            yield return ($"POST ${op}", (id, _) => With(HttpMethod.Post, $"/{type}/{id}/${op}", Parameters));
            yield return ($"GET ${op}", (id, _) => Get($"/{type}/{id}/${op}"));
        }
    }

    private static async Task<Capability> CapabilityAsync(HttpClient client)
    {
        var cs = JsonDocument.Parse(await client.GetStringAsync("/metadata")).RootElement.GetProperty("rest")[0];
        List<string> Ops(JsonElement e) => e.TryGetProperty("operation", out var ops) ? ops.EnumerateArray().Select(o => o.GetProperty("name").GetString()!).ToList() : [];
        var types = cs.GetProperty("resource").EnumerateArray().ToDictionary(r => r.GetProperty("type").GetString()!, r => new Offered(
            r.TryGetProperty("interaction", out var ins) ? ins.EnumerateArray().Select(x => x.GetProperty("code").GetString()!).ToHashSet() : [], Ops(r)));
        return new Capability(types, Ops(cs));
    }

    private readonly record struct World(HttpClient Client, List<StoredResource> Visible, List<StoredResource> Hidden);

    /// <summary>Every current resource in the store (as the server holds it), split by what the role's plain read shows.</summary>
    private async Task<World> WorldOfAsync(string user)
    {
        await fx.EnsureProvenanceOfRestrictedDataAsync();
        var scope = Roles.Single(r => r.User == user).Scope;
        var client = fx.With(await fx.DemoTokenAsync(user, scope));
        var store = fx.Service<IResourceStore>();
        var (versions, _) = await store.HistoryAsync(new HistoryQuery(null, null, null, null, 10_000, 0), CancellationToken.None);
        var current = versions.GroupBy(v => (v.ResourceType, v.Id)).Select(g => g.MaxBy(v => v.Version)!)
            .Where(v => !v.IsDeleted && v.ResourceType is not ("AuditEvent" or "CodeSystem" or "ValueSet" or "StructureDefinition" or "SearchParameter" or "NamingSystem" or "ConceptMap"))
            .ToList();
        var (visible, hidden) = (new List<StoredResource>(), new List<StoredResource>());
        foreach (var r in current)
            ((await client.GetAsync($"/{r.ResourceType}/{r.Id}")).StatusCode == HttpStatusCode.OK ? visible : hidden).Add(r);
        return new World(client, visible, hidden);
    }

    private static async Task<Answer> SendAsync(HttpClient client, Func<HttpRequestMessage> request)
    {
        using var r = await client.SendAsync(request());
        return new Answer((int)r.StatusCode, await r.Content.ReadAsStringAsync(), r.Content.Headers.ContentType?.MediaType ?? "");
    }

    private static readonly Regex Volatile = new(
        @"\d{4}-\d{2}-\d{2}T[0-9:.]+(Z|[+-]\d{2}:\d{2})|[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|_snapshot=\d+|_after=\d+|""(versionId|total)"":""?\d+""?",
        RegexOptions.Compiled);

    /// <summary>Status, media type and body, with the id asked for, times, generated ids and paging positions normalised.</summary>
    private static string Normalise(Answer a, string id) =>
        $"{a.Status} {a.ContentType} {Volatile.Replace(a.Body.Replace(id, "{ID}"), "~")}";

    /// <summary>
    /// What must not appear in any answer to the role: each hidden resource's reference and id, and each hidden
    /// Patient's name and identifier values, unless the role is shown that same text in a resource it may see.
    /// </summary>
    private static List<(string Marker, string Of)> Markers(List<StoredResource> hidden, List<StoredResource> visible)
    {
        var seen = string.Join('\n', visible.Select(v => Encoding.UTF8.GetString(v.Json!)));
        var markers = new List<(string, string)>();
        foreach (var h in hidden)
        {
            var of = $"{h.ResourceType}/{h.Id}";
            markers.Add((of, of));
            markers.Add(($"\"id\":\"{h.Id}\"", of));
            if (h.ResourceType != "Patient") continue;
            var patient = JsonDocument.Parse(h.Json!).RootElement;
            var texts = new List<string>();
            if (patient.TryGetProperty("identifier", out var ids)) texts.AddRange(ids.EnumerateArray().Select(i => i.TryGetProperty("value", out var v) ? v.GetString()! : ""));
            if (patient.TryGetProperty("name", out var names))
                foreach (var n in names.EnumerateArray())
                    if (n.TryGetProperty("text", out var t)) texts.Add(t.GetString()!);
            markers.AddRange(texts.Where(t => t.Length >= 3 && !seen.Contains(t, StringComparison.Ordinal)).Select(t => (t, of)));
        }
        return markers;
    }

    private static void AssertNothingProtected(string user, string what, string body, List<(string Marker, string Of)> markers)
    {
        foreach (var (marker, of) in markers)
            Assert.False(body.Contains(marker, StringComparison.Ordinal), $"{user}: {what} shows '{marker}' of hidden {of}:\n{Excerpt(body, marker)}");
    }

    private static string Excerpt(string body, string marker)
    {
        var i = body.IndexOf(marker, StringComparison.Ordinal);
        return body.Substring(Math.Max(0, i - 300), Math.Min(body.Length - Math.Max(0, i - 300), 600));
    }
}
