using System.Net;
using System.Text;
using System.Text.Json;
using FhirArchive.Storage;
using Microsoft.Extensions.DependencyInjection;
using Xunit;
using static FhirArchive.Tests.Support.Http;

namespace FhirArchive.Rest.Tests;

/// <summary>The write-side hook: every write path calls the interceptors, which can change, refuse and add to a write.</summary>
public abstract class WriteInterceptorTestsBase<TFixture>(TFixture fx) where TFixture : ServerFixture
{
    private const string JsonPatch = "application/json-patch+json";
    private readonly HttpClient _c = fx.Client;
    private WriteLog Log => fx.Factory.Services.GetRequiredService<WriteLog>();

    private static string Patient(string family, string given, string extra = "") =>
        $$"""{"resourceType":"Patient"{{extra}},"name":[{"family":"{{family}}","given":["{{given}}"]}]}""";

    private Task<HttpResponseMessage> PatchAsync(string url, string body)
    {
        var req = new HttpRequestMessage(HttpMethod.Patch, url) { Content = new StringContent(body, Encoding.UTF8, JsonPatch) };
        return _c.SendAsync(req);
    }

    private Task<HttpResponseMessage> PostBundleAsync(string type, params string[] entries) =>
        _c.PostAsync("/", Body($$"""{"resourceType":"Bundle","type":"{{type}}","entry":[{{string.Join(",", entries)}}]}"""));

    private static string Entry(string method, string url, string? resource = null) =>
        resource is null
            ? $$$"""{"request":{"method":"{{{method}}}","url":"{{{url}}}"}}"""
            : $$$"""{"resource":{{{resource}}},"request":{"method":"{{{method}}}","url":"{{{url}}}"}}""";

    [FhirFact]
    public async Task Changes_made_before_the_write_are_indexed_and_stored()
    {
        var given = Unique();
        var id = await _c.CreateAsync(Patient("Stamp", given));
        var read = await (await _c.GetAsync($"/Patient/{id}")).JsonAsync();
        var meta = read.GetProperty("meta");
        Assert.Equal(StampingInterceptor.Source, meta.GetProperty("source").GetString());
        Assert.Contains("stamped", meta.GetProperty("security").EnumerateArray().Select(l => l.GetProperty("code").GetString()));
        Assert.Equal([id], await _c.SearchIdsAsync($"/Patient?given={given}&_security={StampingInterceptor.LabelSystem}|stamped"));
        Assert.Equal([id], await _c.SearchIdsAsync($"/Patient?given={given}&_source={StampingInterceptor.Source}"));

        // A patch that removes the label gets it back: every write path is stamped.
        var patched = await PatchAsync($"/Patient/{id}", """[{"op":"remove","path":"/meta/security"}]""");
        Assert.Equal(HttpStatusCode.OK, patched.StatusCode);
        Assert.Contains("stamped", (await patched.JsonAsync()).GetProperty("meta").GetProperty("security").EnumerateArray().Select(l => l.GetProperty("code").GetString()));
        Assert.Equal([id], await _c.SearchIdsAsync($"/Patient?given={given}&_security={StampingInterceptor.LabelSystem}|stamped"));
    }

    [FhirFact]
    public async Task A_warning_on_an_accepted_write_reaches_the_client_on_every_write_path()
    {
        var given = Unique();
        // The resource returned: the warning travels in an HTTP Warning header (199, its English part).
        var created = await _c.PostAsync("/Patient", Body(Patient("Warned", given)));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal("199 FhirArchive \"accepted with a test warning\"", Assert.Single(created.Headers.GetValues("Warning")));
        var id = (await created.JsonAsync()).GetProperty("id").GetString()!;
        // Prefer: return=OperationOutcome: the issue is in the body, severity warning.
        var put = new HttpRequestMessage(HttpMethod.Put, $"/Patient/{id}") { Content = Body(Patient("Warned", given, $$""","id":"{{id}}" """)) };
        put.Headers.Add("Prefer", "return=OperationOutcome");
        var updated = await _c.SendAsync(put);
        Assert.Equal(HttpStatusCode.OK, updated.StatusCode);
        var outcome = await updated.JsonAsync();
        Assert.Equal("OperationOutcome", outcome.GetProperty("resourceType").GetString());
        Assert.Contains(outcome.GetProperty("issue").EnumerateArray(), i => i.GetProperty("severity").GetString() == "warning"
            && i.GetProperty("code").GetString() == "business-rule" && i.GetProperty("diagnostics").GetString() == WarningInterceptor.Message);
        // A patch too; and a write without the trigger has no Warning header.
        var patched = await PatchAsync($"/Patient/{id}", """[{"op":"add","path":"/gender","value":"female"}]""");
        Assert.Equal(HttpStatusCode.OK, patched.StatusCode);
        Assert.True(patched.Headers.Contains("Warning"));
        Assert.False((await _c.PostAsync("/Patient", Body(Patient("Plain", given)))).Headers.Contains("Warning"));
        // A batch and a transaction: entry.response.outcome of the warned entry only.
        foreach (var type in new[] { "batch", "transaction" })
        {
            var bundle = await (await PostBundleAsync(type, Entry("POST", "Patient", Patient("Warned", given)), Entry("POST", "Patient", Patient("Plain", given)))).JsonAsync();
            var entries = bundle.GetProperty("entry").EnumerateArray().Select(e => e.GetProperty("response")).ToList();
            Assert.StartsWith("201", entries[0].GetProperty("status").GetString());
            Assert.Equal(WarningInterceptor.Message, entries[0].GetProperty("outcome").GetProperty("issue")[0].GetProperty("diagnostics").GetString());
            Assert.False(entries[1].TryGetProperty("outcome", out _));
        }
    }

    [FhirFact]
    public async Task A_refused_write_stores_nothing()
    {
        var given = Unique();
        var r = await _c.PostAsync("/Patient", Body(Patient("Forbidden", given)));
        Assert.Equal(HttpStatusCode.Conflict, r.StatusCode);
        AssertOutcome(await r.JsonAsync(), RejectingInterceptor.Message);
        Assert.Empty(await _c.SearchIdsAsync($"/Patient?given={given}"));

        var id = await _c.CreateAsync(Patient("Allowed", given));
        var update = await _c.PutAsync($"/Patient/{id}", Body(Patient("Forbidden", given, $",\"id\":\"{id}\"")));
        Assert.Equal(HttpStatusCode.Conflict, update.StatusCode);
        var patch = await PatchAsync($"/Patient/{id}", """[{"op":"replace","path":"/name/0/family","value":"Forbidden"}]""");
        Assert.Equal(HttpStatusCode.Conflict, patch.StatusCode);
        var read = await _c.GetAsync($"/Patient/{id}");
        Assert.Equal("W/\"1\"", read.Headers.ETag!.ToString());
        Assert.Equal("Allowed", (await read.JsonAsync()).GetProperty("name")[0].GetProperty("family").GetString());

        var keep = await _c.CreateAsync(Patient("Undeletable", given));
        var delete = await _c.DeleteAsync($"/Patient/{keep}");
        Assert.Equal(HttpStatusCode.Conflict, delete.StatusCode);
        var conditionalDelete = await _c.DeleteAsync($"/Patient?family=Undeletable&given={given}");
        Assert.Equal(HttpStatusCode.Conflict, conditionalDelete.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _c.GetAsync($"/Patient/{keep}")).StatusCode);
    }

    [FhirFact]
    public async Task A_refusal_after_the_write_rolls_the_written_version_back()
    {
        var given = Unique();
        var r = await _c.PostAsync("/Patient", Body(Patient("LateVeto", given)));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, r.StatusCode);
        AssertOutcome(await r.JsonAsync(), "After the write");
        Assert.Empty(await _c.SearchIdsAsync($"/Patient?given={given}"));
        // It was written (the first interceptor's after-write call ran) and then rolled back.
        var calls = Log.All().Where(c => c.ResourceType == "Patient").GroupBy(c => c.Id)
            .Where(g => g.Any(c => c.Line.StartsWith("A after Create", StringComparison.Ordinal)) && g.All(c => c.Interceptor != "B" || c.Phase != "after"))
            .Select(g => g.Key).ToList();
        Assert.NotEmpty(calls);
        foreach (var id in calls) Assert.Equal(HttpStatusCode.NotFound, (await _c.GetAsync($"/Patient/{id}")).StatusCode);
    }

    [FhirFact]
    public async Task A_refused_entry_rolls_the_whole_transaction_back_companions_included()
    {
        var given = Unique();
        var provenances = await _c.TotalAsync("/Provenance?_summary=count");
        var r = await PostBundleAsync("transaction",
            Entry("POST", "Patient", Patient("Allowed", given)),
            Entry("POST", "Encounter", $$"""{"resourceType":"Encounter","status":"finished","class":{"code":"AMB"},"identifier":[{"system":"urn:test:enc","value":"{{given}}"}]}"""),
            Entry("PUT", "Patient/forbidden-" + given, Patient("Forbidden", given, $",\"id\":\"forbidden-{given}\"")));
        Assert.Equal(HttpStatusCode.Conflict, r.StatusCode);
        AssertOutcome(await r.JsonAsync(), RejectingInterceptor.Message);
        Assert.Empty(await _c.SearchIdsAsync($"/Patient?given={given}"));
        Assert.Empty(await _c.SearchIdsAsync($"/Encounter?identifier=urn:test:enc|{given}"));
        Assert.Equal(provenances, await _c.TotalAsync("/Provenance?_summary=count"));
        // The Encounter and its Provenance had been written before the refusal.
        Assert.Contains(Log.All(), c => c.ResourceType == "Provenance" && c.Line.Contains("companion"));
    }

    [FhirFact]
    public async Task A_refused_entry_fails_only_itself_in_a_batch()
    {
        var given = Unique();
        var r = await PostBundleAsync("batch",
            Entry("POST", "Patient", Patient("Allowed", given)),
            Entry("POST", "Patient", Patient("Forbidden", given)));
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        var entries = (await r.JsonAsync()).GetProperty("entry").EnumerateArray().ToList();
        Assert.Equal("201 Created", entries[0].GetProperty("response").GetProperty("status").GetString());
        Assert.Equal("409 Conflict", entries[1].GetProperty("response").GetProperty("status").GetString());
        Assert.Contains(RejectingInterceptor.Message, entries[1].GetProperty("response").GetProperty("outcome").GetRawText());
        var stored = await _c.SearchIdsAsync($"/Patient?given={given}");
        Assert.Equal([entries[0].GetProperty("resource").GetProperty("id").GetString()!], stored);
    }

    [FhirFact]
    public async Task An_interceptor_writes_companion_resources_in_the_same_session()
    {
        var given = Unique();
        var encounter = $$"""{"resourceType":"Encounter","status":"finished","class":{"code":"AMB"},"identifier":[{"system":"urn:test:enc","value":"{{given}}"}]}""";
        var id = await _c.CreateAsync(encounter);
        var provenance = await (await _c.GetAsync($"/Provenance?target=Encounter/{id}")).JsonAsync();
        var entry = Assert.Single(provenance.GetProperty("entry").EnumerateArray());
        var p = entry.GetProperty("resource");
        Assert.Equal($"Encounter/{id}/_history/1", p.GetProperty("target")[0].GetProperty("reference").GetString());
        // The companion went through the interceptors too (stamped, recorded as a companion write).
        Assert.Equal(StampingInterceptor.Source, p.GetProperty("meta").GetProperty("source").GetString());
        Assert.Equal(["A before Create v1 current=- creates companion", "B before Create v1 current=- creates companion",
                      "A after Create v1 current=- creates companion", "B after Create v1 current=- creates companion"],
            Log.For("Provenance", p.GetProperty("id").GetString()!));

        await _c.PutAsync(encounter.Replace("{\"resourceType\":\"Encounter\"", $"{{\"resourceType\":\"Encounter\",\"id\":\"{id}\""));
        Assert.Equal(2, await _c.TotalAsync($"/Provenance?target=Encounter/{id}&_summary=count"));
    }

    [FhirFact]
    public async Task Every_write_path_calls_the_interceptors_in_order()
    {
        var given = Unique();
        var sys = "urn:test:paths:" + given;
        string Ident(string value) => $",\"identifier\":[{{\"system\":\"{sys}\",\"value\":\"{value}\"}}]";

        // Plain create, update, patch, delete, then update-as-create of the deleted resource.
        var id = await _c.CreateAsync(Patient("Path", given, Ident("1")));
        await _c.PutAsync(Patient("Path", given, $",\"id\":\"{id}\"" + Ident("1")));
        Assert.Equal(HttpStatusCode.OK, (await PatchAsync($"/Patient/{id}", """[{"op":"add","path":"/gender","value":"male"}]""")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _c.DeleteAsync($"/Patient/{id}")).StatusCode);
        await _c.PutAsync(Patient("Path", given, $",\"id\":\"{id}\"" + Ident("1")));
        Assert.Equal(Phases("Create v1 current=- creates", "Update v2 current=1", "Patch v3 current=2", "Delete v4 current=3", "Update v5 current=4 creates"),
            Log.For("Patient", id));

        // The conditional variants.
        var created = await _c.SendAsync(HttpMethod.Post, "/Patient", Patient("Path", given, Ident("2")), ("If-None-Exist", $"identifier={sys}|2"));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var cid = (await created.JsonAsync()).GetProperty("id").GetString()!;
        Assert.Equal(HttpStatusCode.OK, (await _c.SendAsync(HttpMethod.Post, "/Patient", Patient("Path", given, Ident("2")), ("If-None-Exist", $"identifier={sys}|2"))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _c.PutAsync($"/Patient?identifier={sys}|2", Body(Patient("Path", given, Ident("2"))))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await PatchAsync($"/Patient?identifier={sys}|2", """[{"op":"add","path":"/gender","value":"female"}]""")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _c.DeleteAsync($"/Patient?identifier={sys}|2")).StatusCode);
        Assert.Equal(Phases("Create? v1 current=- creates", "Update? v2 current=1", "Patch? v3 current=2", "Delete? v4 current=3"), Log.For("Patient", cid));

        // Batch and transaction entries.
        var batch = await PostBundleAsync("batch", Entry("PUT", $"Patient/{id}", Patient("Path", given, $",\"id\":\"{id}\"")));
        Assert.Equal("200 OK", (await batch.JsonAsync()).GetProperty("entry")[0].GetProperty("response").GetProperty("status").GetString());
        var tx = await PostBundleAsync("transaction", Entry("DELETE", $"Patient/{id}"),
            Entry("POST", "Patient", Patient("Path", given, Ident("3"))));
        Assert.Equal(HttpStatusCode.OK, tx.StatusCode);
        var txId = (await tx.JsonAsync()).GetProperty("entry")[1].GetProperty("resource").GetProperty("id").GetString()!;
        Assert.Equal(Phases("Update v6 current=5", "Delete v7 current=6"), Log.For("Patient", id)[20..]);
        Assert.Equal(Phases("Create v1 current=- creates"), Log.For("Patient", txId));

        // The sample data loader's writes have no caller.
        Assert.Equal(Phases("Update v1 current=- creates no-http"), Log.For("Patient", "zhang-wei"));
    }

    /// <summary>Each write: A then B before it, A then B after it.</summary>
    private static List<string> Phases(params string[] writes) =>
        writes.SelectMany(w => new[] { $"A before {w}", $"B before {w}", $"A after {w}", $"B after {w}" }).ToList();

    [FhirFact]
    public async Task Conditional_matching_sees_only_what_the_access_policy_shows()
    {
        var sys = "urn:test:hidden:" + Unique();
        string Hidden(string value) => $$"""{"resourceType":"Patient","identifier":[{"system":"{{sys}}","value":"{{value}}"}],"name":[{"text":"policy-hidden"}]}""";
        string Visible(string value) => $$"""{"resourceType":"Patient","identifier":[{"system":"{{sys}}","value":"{{value}}"}],"name":[{"text":"shown"}]}""";

        // Conditional create: the only match is hidden, so it creates rather than answering with the hidden resource.
        var hidden = await _c.CreateAsync(Hidden("1"));
        var created = await _c.SendAsync(HttpMethod.Post, "/Patient", Visible("1"), ("If-None-Exist", $"identifier={sys}|1"));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var visible = (await created.JsonAsync()).GetProperty("id").GetString();
        Assert.NotEqual(hidden, visible);

        // Conditional update: one hidden and one visible match is one match, not 412.
        var updated = await _c.PutAsync($"/Patient?identifier={sys}|1", Body(Visible("1")));
        Assert.Equal(HttpStatusCode.OK, updated.StatusCode);
        Assert.Equal(visible, (await updated.JsonAsync()).GetProperty("id").GetString());

        // Conditional patch: the visible match comes after two hidden ones (past the first page of matches).
        await _c.CreateAsync(Hidden("2"));
        await _c.CreateAsync(Hidden("2"));
        var target = await _c.CreateAsync(Visible("2"));
        var patched = await PatchAsync($"/Patient?identifier={sys}|2", """[{"op":"add","path":"/gender","value":"other"}]""");
        Assert.Equal(HttpStatusCode.OK, patched.StatusCode);
        Assert.Equal(target, (await patched.JsonAsync()).GetProperty("id").GetString());

        // Only hidden matches: conditional delete deletes nothing, conditional patch finds nothing, nor does a conditional reference.
        var untouchable = await _c.CreateAsync(Hidden("3"));
        Assert.Equal(HttpStatusCode.NoContent, (await _c.DeleteAsync($"/Patient?identifier={sys}|3")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await PatchAsync($"/Patient?identifier={sys}|3", """[{"op":"add","path":"/gender","value":"other"}]""")).StatusCode);
        var reference = await PostBundleAsync("transaction", Entry("POST", "Observation",
            $$$"""{"resourceType":"Observation","status":"final","code":{"text":"体温"},"subject":{"reference":"Patient?identifier={{{sys}}}|3"}}"""));
        Assert.Equal(HttpStatusCode.PreconditionFailed, reference.StatusCode);
        var store = fx.Factory.Services.GetRequiredService<IResourceStore>();
        var kept = await store.ReadAsync("Patient", untouchable);
        Assert.False(kept!.IsDeleted);
        Assert.Equal(1, kept.Version);

        var policy = fx.Factory.Services.GetRequiredService<HidingAccessPolicy>();
        lock (policy.Interactions)
            foreach (var i in new[] { "conditional-create", "conditional-update", "conditional-patch", "conditional-delete", "conditional-reference" })
                Assert.Contains(i, policy.Interactions);
    }
}

public sealed class WriteInterceptorTests(InterceptorFixture fx) : WriteInterceptorTestsBase<InterceptorFixture>(fx), IClassFixture<InterceptorFixture>;

public sealed class PostgresWriteInterceptorTests(PostgresInterceptorFixture fx) : WriteInterceptorTestsBase<PostgresInterceptorFixture>(fx), IClassFixture<PostgresInterceptorFixture>;
