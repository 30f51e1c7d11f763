using System.Net;
using System.Text;
using System.Text.Json;
using FhirArchive.Crypto;
using FhirArchive.Rest.Access;
using FhirArchive.Storage;
using FhirArchive.Audit.Store;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Xunit;
using static FhirArchive.Tests.Support.Http;

namespace FhirArchive.Audit.Tests;

public class AuditFixture() : ServerFixtureWith(AuditSettings.DemoAccounts, TestCallers.Register);

public static class AuditSettings
{
    public static readonly Dictionary<string, string> DemoAccounts = new() { ["Security:DemoAccounts"] = "true" };
}
public sealed class PostgresAuditFixture() : PostgresServerFixture(AuditSettings.DemoAccounts, TestCallers.Register);

public abstract class AuditTestsBase<TFixture>(TFixture fx) where TFixture : ServerFixture
{
    private readonly TFixture fx = fx;
    private readonly HttpClient _c = fx.Client;

    private async Task<JsonElement> AuditSearch(string query, params (string, string)[] headers)
    {
        var r = await _c.SendAsync(HttpMethod.Get, "/AuditEvent?" + query, null, headers.Length > 0 ? headers : [TestCallers.Auditor]);
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        return await r.JsonAsync();
    }

    private static List<JsonElement> Events(JsonElement bundle) =>
        bundle.TryGetProperty("entry", out var e) ? e.EnumerateArray().Select(x => x.GetProperty("resource")).ToList() : [];

    private static IEnumerable<string> EntityRefs(JsonElement ev, string role) =>
        ev.TryGetProperty("entity", out var es)
            ? es.EnumerateArray().Where(e => e.GetProperty("role").GetProperty("code").GetString() == role && e.TryGetProperty("what", out _))
                .Select(e => e.GetProperty("what").GetProperty("reference").GetString()!)
            : [];

    [FhirFact]
    public async Task A_read_is_audited_with_agent_patient_resource_and_outcome_before_the_response_returns()
    {
        // The clinician works at the record's responsible institution.
        var patient = await _c.CreateAsync($$$"""{"resourceType":"Patient","name":[{"family":"审计{{{Unique()}}}"}],"managingOrganization":{"reference":"Organization/hospital-a"}}""");
        var obs = await _c.CreateAsync($$$"""{"resourceType":"Observation","status":"final","code":{"text":"体重"},"subject":{"reference":"Patient/{{{patient}}}"}}""");
        var clinician = TestCallers.As("dr-" + Unique(), Roles.Clinician, org: "Organization/hospital-a");

        Assert.Equal(HttpStatusCode.OK, (await _c.SendAsync(HttpMethod.Get, $"/Observation/{obs}", null, clinician)).StatusCode);

        // No wait: the event is stored before the response was sent.
        var events = Events(await AuditSearch($"agent={clinician.Item2.Split(';')[0]}"));
        var ev = Assert.Single(events);
        Assert.Equal("R", ev.GetProperty("action").GetString());
        Assert.Equal("0", ev.GetProperty("outcome").GetString());
        Assert.Equal("read", ev.GetProperty("subtype")[0].GetProperty("code").GetString());
        Assert.Equal("rest", ev.GetProperty("type").GetProperty("code").GetString());
        Assert.Contains($"Patient/{patient}", EntityRefs(ev, "1"));
        Assert.Contains($"Observation/{obs}/_history/1", EntityRefs(ev, "4"));
        var agents = ev.GetProperty("agent").EnumerateArray().ToList();
        Assert.True(agents[0].GetProperty("requestor").GetBoolean());
        Assert.Equal("clinician", agents[0].GetProperty("role")[0].GetProperty("coding")[0].GetProperty("code").GetString());
        Assert.Equal("TREAT", ev.GetProperty("purposeOfEvent")[0].GetProperty("coding")[0].GetProperty("code").GetString());
        Assert.Contains(agents, a => a.GetProperty("who").TryGetProperty("reference", out var w) && w.GetString() == "Organization/hospital-a");

        // Found by patient too.
        Assert.Contains(Events(await AuditSearch($"patient={patient}&subtype=read")), e => e.GetProperty("id").GetString() == ev.GetProperty("id").GetString());
    }

    [FhirFact]
    public async Task Entity_searches_find_a_patients_data_through_its_patient_and_other_resources_by_themselves()
    {
        var patient = await _c.CreateAsync($$$"""{"resourceType":"Patient","name":[{"family":"实体{{{Unique()}}}"}],"managingOrganization":{"reference":"Organization/hospital-a"}}""");
        var obs = await _c.CreateAsync($$$"""{"resourceType":"Observation","status":"final","code":{"text":"血压"},"subject":{"reference":"Patient/{{{patient}}}"}}""");
        var other = await _c.CreateAsync($$$"""{"resourceType":"Observation","status":"final","code":{"text":"血压"},"subject":{"reference":"Patient/{{{patient}}}"}}""");
        var org = await _c.CreateAsync($$$"""{"resourceType":"Organization","name":"审计{{{Unique()}}}"}""");
        var who = TestCallers.As("dr-" + Unique(), Roles.Clinician, org: "Organization/hospital-a");
        foreach (var path in new[] { $"/Observation/{obs}", $"/Observation/{obs}", $"/Observation/{other}", $"/Organization/{org}" })
            Assert.Equal(HttpStatusCode.OK, (await _c.SendAsync(HttpMethod.Get, path, null, who)).StatusCode);
        var agent = who.Item2.Split(';')[0];

        // The two reads of that Observation, not the other one's (both are filed under the same patient).
        var found = Events(await AuditSearch($"entity=Observation/{obs}&agent={agent}"));
        Assert.Equal(2, found.Count);
        Assert.All(found, e => Assert.Contains($"Observation/{obs}/_history/1", EntityRefs(e, "4")));
        Assert.Single(Events(await AuditSearch($"entity=Organization/{org}&agent={agent}")));
        Assert.Equal(3, Events(await AuditSearch($"patient={patient}&agent={agent}")).Count);
        // Time narrows through the hour keys: nothing before today, everything up to now.
        Assert.Empty(Events(await AuditSearch($"entity=Observation/{obs}&date=lt2020-01-01")));
        Assert.Equal(3, Events(await AuditSearch($"agent={agent}&patient={patient}&date=ge2020-01-01")).Count);
    }

    [FhirFact]
    public async Task A_head_is_audited_as_the_read_it_stands_for_and_a_cors_preflight_is_not_audited()
    {
        var id = await _c.CreateAsync($$"""{"resourceType":"Organization","name":"头{{Unique()}}"}""");
        var who = TestCallers.As("browser-app-" + Unique(), Roles.SystemClient, kind: "system");
        var preflight = new HttpRequestMessage(HttpMethod.Options, $"/Organization/{id}");
        preflight.Headers.Add("Origin", "https://smart-app.example.cn");
        preflight.Headers.Add("Access-Control-Request-Method", "GET");
        preflight.Headers.Add(who.Item1, who.Item2); // were it audited, the event would name this caller
        Assert.Equal(HttpStatusCode.NoContent, (await _c.SendAsync(preflight)).StatusCode);
        Assert.Empty(Events(await AuditSearch($"agent={who.Item2.Split(';')[0]}")));

        var head = new HttpRequestMessage(HttpMethod.Head, $"/Organization/{id}");
        head.Headers.Add(who.Item1, who.Item2);
        Assert.Equal(HttpStatusCode.OK, (await _c.SendAsync(head)).StatusCode);
        var read = Assert.Single(Events(await AuditSearch($"agent={who.Item2.Split(';')[0]}")));
        Assert.Equal("read", read.GetProperty("subtype")[0].GetProperty("code").GetString());
        Assert.Equal("R", read.GetProperty("action").GetString());
        Assert.Contains($"Organization/{id}/_history/1", EntityRefs(read, "4"));
    }

    [FhirFact]
    public async Task Searches_carry_their_query_and_failures_and_writes_are_audited()
    {
        var who = TestCallers.As("hisclient-" + Unique(), Roles.SystemClient, kind: "system");
        var family = "查询" + Unique();
        Assert.Equal(HttpStatusCode.OK, (await _c.SendAsync(HttpMethod.Get, $"/Patient?family={Uri.EscapeDataString(family)}", null, who)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _c.SendAsync(HttpMethod.Get, "/Patient/no-such-record", null, who)).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await _c.SendAsync(HttpMethod.Post, "/Patient", $$"""{"resourceType":"Patient","name":[{"family":"{{family}}"}]}""", who)).StatusCode);

        var events = Events(await AuditSearch($"agent={who.Item2.Split(';')[0]}"));
        Assert.Equal(3, events.Count);
        var search = events.Single(e => e.GetProperty("subtype")[0].GetProperty("code").GetString() == "search-type");
        var query = search.GetProperty("entity").EnumerateArray().Single(e => e.GetProperty("role").GetProperty("code").GetString() == "24");
        Assert.Contains(family, Uri.UnescapeDataString(Encoding.UTF8.GetString(Convert.FromBase64String(query.GetProperty("query").GetString()!))));
        var missing = events.Single(e => e.GetProperty("subtype")[0].GetProperty("code").GetString() == "read");
        Assert.Equal("4", missing.GetProperty("outcome").GetString());
        Assert.Contains("Patient/no-such-record", EntityRefs(missing, "1"));
        var create = events.Single(e => e.GetProperty("action").GetString() == "C");
        Assert.Single(EntityRefs(create, "4"), r => r.StartsWith("Patient/") && r.EndsWith("/_history/1"));
        Assert.Equal("urn:fhirarchive:client", create.GetProperty("agent")[0].GetProperty("who").GetProperty("identifier").GetProperty("system").GetString());

        Assert.Single(Events(await AuditSearch($"agent={who.Item2.Split(';')[0]}&outcome=4")));
        Assert.Single(Events(await AuditSearch($"agent={who.Item2.Split(';')[0]}&action=C")));
    }

    [FhirFact]
    public async Task Only_auditors_read_the_trail_and_nobody_writes_it()
    {
        var clinician = TestCallers.As("dr-" + Unique(), Roles.Clinician);
        Assert.Equal(HttpStatusCode.Forbidden, (await _c.SendAsync(HttpMethod.Get, "/AuditEvent", null, clinician)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await _c.SendAsync(HttpMethod.Get, "/AuditEvent/$verify", null, clinician)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await _c.GetAsync("/AuditEvent")).StatusCode);
        var ev = """{"resourceType":"AuditEvent","type":{"code":"rest"},"recorded":"2026-01-01T00:00:00Z","agent":[{"requestor":true}],"source":{"observer":{"display":"x"}}}""";
        // Auditors may not write at all (403); even a system client with write scopes meets an append-only trail (405).
        Assert.Equal(HttpStatusCode.Forbidden, (await _c.SendAsync(HttpMethod.Post, "/AuditEvent", ev, TestCallers.Auditor)).StatusCode);
        var his = TestCallers.As("his-" + Unique(), Roles.SystemClient, kind: "system");
        var post = await _c.SendAsync(HttpMethod.Post, "/AuditEvent", ev, his);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, post.StatusCode);
        AssertOutcome(await post.JsonAsync(), "append-only");

        var events = Events(await AuditSearch("_count=1"));
        var id = events[0].GetProperty("id").GetString();
        Assert.Equal(HttpStatusCode.MethodNotAllowed, (await _c.SendAsync(HttpMethod.Delete, $"/AuditEvent/{id}", null, his)).StatusCode);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, (await _c.SendAsync(HttpMethod.Put, $"/AuditEvent/{id}", ev, his)).StatusCode);
        var entry = $$$"""{"resourceType":"Bundle","type":"batch","entry":[{"resource":{{{ev}}},"request":{"method":"POST","url":"AuditEvent"}}]}""";
        var batch = await (await _c.SendAsync(HttpMethod.Post, "/", entry, his)).JsonAsync();
        Assert.StartsWith("405", batch.GetProperty("entry")[0].GetProperty("response").GetProperty("status").GetString());
        var read = await _c.SendAsync(HttpMethod.Get, $"/AuditEvent/{id}", null, TestCallers.Auditor);
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        Assert.Equal(id, (await read.JsonAsync()).GetProperty("id").GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await _c.SendAsync(HttpMethod.Get, "/AuditEvent/not-an-event", null, TestCallers.Auditor)).StatusCode);
        var bad = await _c.SendAsync(HttpMethod.Get, "/AuditEvent?date=yesterday", null, TestCallers.Auditor);
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        AssertOutcome(await bad.JsonAsync());
    }

    [FhirFact]
    public async Task Token_grants_and_refused_tokens_are_audited_as_authentication_events()
    {
        using var bare = fx.BareClient();
        var grant = await bare.PostAsync("/auth/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials", ["client_id"] = "chaoyang-his", ["client_secret"] = "chaoyang-his-secret-2024", ["scope"] = "system/*.rs",
        }));
        Assert.Equal(HttpStatusCode.OK, grant.StatusCode);
        var forged = new HttpRequestMessage(HttpMethod.Get, "/Patient/x");
        forged.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "not-a-token-" + Unique());
        Assert.Equal(HttpStatusCode.Unauthorized, (await bare.SendAsync(forged)).StatusCode);

        var issued = Events(await AuditSearch("subtype=token-issued&agent=chaoyang-his"));
        Assert.NotEmpty(issued);
        Assert.Equal("110114", issued[0].GetProperty("type").GetProperty("code").GetString());
        Assert.Contains("client_credentials", issued[0].GetProperty("outcomeDesc").GetString());
        var rejected = Events(await AuditSearch("subtype=token-rejected"));
        Assert.Contains(rejected, e => e.GetProperty("outcome").GetString() == "4" && e.GetProperty("outcomeDesc").GetString()!.Contains("malformed"));
        // The HTTP request itself is audited too, as a refused read.
        Assert.Contains(Events(await AuditSearch("subtype=read&outcome=4")), e => EntityRefs(e, "1").Contains("Patient/x"));
    }

    [FhirFact]
    public async Task The_CapabilityStatement_offers_the_trail_read_only_with_verify()
    {
        var cs = await (await _c.GetAsync("/metadata")).JsonAsync();
        var audit = cs.GetProperty("rest")[0].GetProperty("resource").EnumerateArray().Single(r => r.GetProperty("type").GetString() == "AuditEvent");
        Assert.Equal(["read", "search-type"], audit.GetProperty("interaction").EnumerateArray().Select(i => i.GetProperty("code").GetString()));
        Assert.Equal(["action", "agent", "date", "entity", "outcome", "patient", "subtype"], audit.GetProperty("searchParam").EnumerateArray().Select(p => p.GetProperty("name").GetString()));
        Assert.Equal(["chain", "checkpoint", "sign-checkpoint", "verify"], audit.GetProperty("operation").EnumerateArray().Select(o => o.GetProperty("name").GetString()).Order());
        var patient = cs.GetProperty("rest")[0].GetProperty("resource").EnumerateArray().Single(r => r.GetProperty("type").GetString() == "Patient");
        Assert.Contains(patient.GetProperty("operation").EnumerateArray(), o => o.GetProperty("name").GetString() == "access-log");
    }

    [FhirFact]
    public async Task A_resident_sees_who_accessed_their_record_and_nobody_else_does()
    {
        var patient = await _c.CreateAsync($$"""{"resourceType":"Patient","name":[{"family":"居民{{Unique()}}"}]}""");
        var resident = TestCallers.As("resident-" + Unique(), Roles.Resident, patient: $"Patient/{patient}");
        var doctor = TestCallers.As("dr-" + Unique(), Roles.Clinician, org: "Organization/hospital-b");
        await _c.SendAsync(HttpMethod.Get, $"/Patient/{patient}", null, doctor);
        await _c.SendAsync(HttpMethod.Get, $"/Patient/{patient}", null, resident);

        var r = await _c.SendAsync(HttpMethod.Get, $"/Patient/{patient}/$access-log", null, resident);
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        var events = Events(await r.JsonAsync());
        var seen = Assert.Single(events, e => e.GetProperty("subtype")[0].GetProperty("code").GetString() == "read");
        Assert.Equal(doctor.Item2.Split(';')[0], seen.GetProperty("agent")[0].GetProperty("who").GetProperty("identifier").GetProperty("value").GetString());
        Assert.DoesNotContain(events, e => e.GetProperty("agent")[0].GetProperty("who").GetProperty("identifier").GetProperty("value").GetString() == resident.Item2.Split(';')[0]);

        var other = TestCallers.As("resident-" + Unique(), Roles.Resident, patient: "Patient/someone-else");
        Assert.Equal(HttpStatusCode.Forbidden, (await _c.SendAsync(HttpMethod.Get, $"/Patient/{patient}/$access-log", null, other)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await _c.SendAsync(HttpMethod.Get, $"/Patient/{patient}/$access-log", null, doctor)).StatusCode);
    }

    [FhirFact]
    public async Task The_access_log_and_verify_take_POST_with_Parameters_as_Firely_sends_them()
    {
        var patient = await _c.CreateAsync($$"""{"resourceType":"Patient","name":[{"family":"居民{{Unique()}}"}]}""");
        var resident = TestCallers.As("resident-" + Unique(), Roles.Resident, patient: $"Patient/{patient}");
        for (var i = 0; i < 3; i++) await _c.SendAsync(HttpMethod.Get, $"/Patient/{patient}", null, TestCallers.As("dr-" + Unique(), Roles.Clinician, org: "Organization/hospital-b"));
        var r = await _c.SendAsync(HttpMethod.Post, $"/Patient/{patient}/$access-log", """{"resourceType":"Parameters","parameter":[{"name":"_count","valueInteger":2}]}""", resident);
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal(2, Events(await r.JsonAsync()).Count());
        var verify = await _c.SendAsync(HttpMethod.Post, "/AuditEvent/$verify", """{"resourceType":"Parameters"}""", TestCallers.Auditor);
        Assert.Equal(HttpStatusCode.OK, verify.StatusCode);
        Assert.Equal("true", Param(await verify.JsonAsync(), "result"));
    }

    [FhirFact]
    public async Task Paging_walks_the_trail_newest_first_and_the_intact_chain_verifies()
    {
        var who = TestCallers.As("pager-" + Unique(), Roles.Clinician);
        for (var i = 0; i < 5; i++) await _c.SendAsync(HttpMethod.Get, $"/Patient/page-{i}", null, who);
        var page = await AuditSearch($"agent={who.Item2.Split(';')[0]}&_count=2");
        Assert.Equal(5, page.GetProperty("total").GetInt32());
        var ids = new List<string>();
        while (true)
        {
            ids.AddRange(Events(page).Select(e => e.GetProperty("entity")[0].GetProperty("what").GetProperty("reference").GetString()!));
            var next = page.GetProperty("link").EnumerateArray().FirstOrDefault(l => l.GetProperty("relation").GetString() == "next");
            if (next.ValueKind == JsonValueKind.Undefined) break;
            var r = await _c.SendAsync(HttpMethod.Get, new Uri(next.GetProperty("url").GetString()!).PathAndQuery, null, TestCallers.Auditor);
            page = await r.JsonAsync();
        }
        Assert.Equal(Enumerable.Range(0, 5).Reverse().Select(i => $"Patient/page-{i}"), ids);

        var verify = await (await _c.SendAsync(HttpMethod.Get, "/AuditEvent/$verify", null, TestCallers.Auditor)).JsonAsync();
        Assert.True(Param(verify, "result") == "true", Param(verify, "problem"));
        Assert.True(int.Parse(Param(verify, "checked")!) >= 5);
    }
}

public sealed class AuditTests(AuditFixture fx) : AuditTestsBase<AuditFixture>(fx), IClassFixture<AuditFixture>;
public sealed class PostgresAuditTests(PostgresAuditFixture fx) : AuditTestsBase<PostgresAuditFixture>(fx), IClassFixture<PostgresAuditFixture>;

/// <summary>Tampering with the stored trail, as someone with database access would: each kind is caught by $verify.</summary>
public abstract class AuditTamperTestsBase
{
    protected abstract ServerFixture NewServer();
    protected abstract bool Postgres { get; }

    private async Task<(ServerFixture Fx, List<long> Seqs)> ServerWithEvents(int count)
    {
        var fx = NewServer();
        for (var i = 0; i < count; i++) await fx.Client.SendAsync(HttpMethod.Get, $"/Patient/t{i}", null, TestCallers.As("u", Roles.Clinician));
        // The blocks follow the journal; tamper only once they are in the database.
        await fx.Factory.Services.GetRequiredService<AuditStore>().FlushAsync();
        // Drop the append-only triggers first, as an attacker with database rights could.
        if (Postgres) await Sql(fx, """DROP TRIGGER "AuditBlock_AppendOnly" ON "AuditBlock" """);
        else
        {
            await Sql(fx, """DROP TRIGGER "AuditBlock_NoUpdate" """);
            await Sql(fx, """DROP TRIGGER "AuditBlock_NoDelete" """);
        }
        var (_, events) = await StoredEvents(fx);
        return (fx, events.Select(e => e.Record.Seq).ToList());
    }

    private static async Task<(List<AuditBlockRow> Blocks, List<AuditJournalEntry> Events)> StoredEvents(ServerFixture fx)
    {
        await using var db = await fx.Factory.Services.GetRequiredService<IDbContextFactory<FhirDbContext>>().CreateDbContextAsync();
        var blocks = await db.AuditBlocks.OrderBy(b => b.First).ToListAsync();
        var events = new List<AuditJournalEntry>();
        foreach (var b in blocks) Assert.True(AuditJournal.TryDecodeAll(b.Frames, events));
        return (blocks, events);
    }

    /// <summary>
    /// Rewrites the stored trail as an attacker who knows the format would: the events decoded, changed and encoded
    /// again as one block, with frames whose checks hold (only the SM3 chain can tell).
    /// </summary>
    private static async Task Rewrite(ServerFixture fx, Action<List<AuditJournalEntry>> change)
    {
        var (_, events) = await StoredEvents(fx);
        change(events);
        var frames = new System.Buffers.ArrayBufferWriter<byte>();
        foreach (var e in events)
        {
            var r = e.Record;
            AuditJournal.Encode(r.Seq, r.Hash, new AuditAppend(r.Recorded, r.Action, r.Subtype, r.Outcome, r.Agent, r.Organization, r.Data,
                e.Entities.Select(x => (x.Role, x.Reference)).ToList()), frames);
        }
        await Sql(fx, """DELETE FROM "AuditBlock" """);
        await using var db = await fx.Factory.Services.GetRequiredService<IDbContextFactory<FhirDbContext>>().CreateDbContextAsync();
        db.AuditBlocks.Add(new AuditBlockRow { First = events[0].Record.Seq, Last = events[^1].Record.Seq, Frames = frames.WrittenSpan.ToArray() });
        await db.SaveChangesAsync();
    }

    private static async Task<(string Result, string? BrokenAt, string? Problem)> Verify(ServerFixture fx)
    {
        var v = await (await fx.Client.SendAsync(HttpMethod.Get, "/AuditEvent/$verify", null, TestCallers.Auditor)).JsonAsync();
        return (Param(v, "result")!, Param(v, "brokenAt"), Param(v, "problem"));
    }

    private static async Task Sql(ServerFixture fx, string sql)
    {
        await using var db = await fx.Factory.Services.GetRequiredService<IDbContextFactory<FhirDbContext>>().CreateDbContextAsync();
        await db.Database.ExecuteSqlRawAsync(sql);
    }

    [FhirFact]
    public async Task The_database_refuses_updates_and_deletes_of_audit_rows()
    {
        using var fx = NewServer();
        await fx.Client.SendAsync(HttpMethod.Get, "/Patient/x", null, TestCallers.As("u", Roles.Clinician));
        await fx.Factory.Services.GetRequiredService<AuditStore>().FlushAsync();
        await Assert.ThrowsAnyAsync<Exception>(() => Sql(fx, """UPDATE "AuditBlock" SET "Last" = "Last" + 1"""));
        await Assert.ThrowsAnyAsync<Exception>(() => Sql(fx, """DELETE FROM "AuditBlock" """));
        Assert.Equal("true", (await Verify(fx)).Result);
    }

    [FhirFact]
    public async Task Changing_one_byte_is_detected()
    {
        var (fx, seqs) = await ServerWithEvents(6);
        using var _ = fx;
        Assert.Equal("true", (await Verify(fx)).Result);
        // Re-encoded with a valid frame: the action "R" in the record becomes "D", and only the SM3 link tells.
        await Rewrite(fx, events =>
        {
            var r = events.Single(e => e.Record.Seq == seqs[3]).Record;
            var data = r.Data.ToArray();
            data[Array.IndexOf(data, (byte)'R')] = (byte)'D';
            r.Data = data;
        });
        var (result, brokenAt, problem) = await Verify(fx);
        Assert.Equal("false", result);
        Assert.Equal(seqs[3].ToString(), brokenAt);
        Assert.Contains("SM3", problem);
    }

    [FhirFact]
    public async Task An_event_rewritten_after_the_last_checkpoint_is_not_signed_as_the_next_checkpoint()
    {
        var (fx, _) = await ServerWithEvents(3);
        using var server = fx;
        var first = await fx.Client.SendAsync(HttpMethod.Post, "/AuditEvent/$sign-checkpoint", null, TestCallers.Auditor);
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        var signed = long.Parse(Param(await first.JsonAsync(), "sequence")!);
        for (var i = 0; i < 3; i++) await fx.Client.SendAsync(HttpMethod.Get, $"/Patient/after{i}", null, TestCallers.As("u", Roles.Clinician));
        var store = fx.Factory.Services.GetRequiredService<AuditStore>();
        await store.FlushAsync();
        // An event after the checkpoint rewritten offline (its stored link kept): the in-memory head still holds.
        await Rewrite(fx, events =>
        {
            var r = events.First(e => e.Record.Seq > signed && Array.IndexOf(e.Record.Data, (byte)'R') >= 0).Record;
            var data = r.Data.ToArray();
            data[Array.IndexOf(data, (byte)'R')] = (byte)'D';
            r.Data = data;
        });
        var checkpoints = fx.Factory.Services.GetRequiredService<Checkpoints.AuditCheckpoints>();
        var refused = await Assert.ThrowsAsync<Checkpoints.CheckpointRefusedException>(() => checkpoints.SignAsync());
        Assert.Contains($"last checkpoint (event {signed})", refused.Message);
        var answer = await fx.Client.SendAsync(HttpMethod.Post, "/AuditEvent/$sign-checkpoint", null, TestCallers.Auditor);
        Assert.Equal(HttpStatusCode.Conflict, answer.StatusCode);
        var outcome = await answer.JsonAsync();
        Assert.Equal("OperationOutcome", outcome.GetProperty("resourceType").GetString());
        Assert.Contains("do not continue the last checkpoint", outcome.GetRawText());
        Assert.Equal(signed, (await checkpoints.LatestAsync())!.Sequence);
    }

    [FhirFact]
    public async Task A_rewritten_event_no_longer_chains_to_the_signed_checkpoint_the_outside_verifier_checks()
    {
        var (fx, seqs) = await ServerWithEvents(6);
        using var _ = fx;
        var dir = Directory.CreateTempSubdirectory("checkpoint-").FullName;
        try
        {
            async Task<string> Save(string name, string url, HttpMethod? method = null)
            {
                var r = await fx.Client.SendAsync(method ?? HttpMethod.Get, url, null, url.StartsWith("/.well-known", StringComparison.Ordinal) ? [] : [TestCallers.Auditor]);
                Assert.Equal(HttpStatusCode.OK, r.StatusCode);
                var file = Path.Combine(dir, name);
                await File.WriteAllTextAsync(file, await r.Content.ReadAsStringAsync());
                return file;
            }
            var checkpoint = await Save("checkpoint.json", "/AuditEvent/$sign-checkpoint", HttpMethod.Post);
            var through = Param(JsonDocument.Parse(await File.ReadAllTextAsync(checkpoint)).RootElement, "sequence");
            var key = await Save("public.pem", Checkpoints.AuditCheckpoints.WellKnownPath);
            int Check() => FhirArchive.Tools.Cli.Run(["audit-checkpoint-verify", checkpoint, key, "--events", Path.Combine(dir, "chain.json")], new StringWriter(), new StringWriter());
            await Save("chain.json", $"/AuditEvent/$chain?through={through}");
            Assert.Equal(0, Check());
            // The stored event rewritten with its link kept: the exported bytes no longer reach the signed head.
            await Rewrite(fx, events =>
            {
                var r = events.Single(e => e.Record.Seq == seqs[3]).Record;
                var data = r.Data.ToArray();
                data[Array.IndexOf(data, (byte)'R')] = (byte)'D';
                r.Data = data;
            });
            await Save("chain.json", $"/AuditEvent/$chain?through={through}");
            Assert.Equal(1, Check());
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [FhirFact]
    public async Task Changing_one_byte_of_a_stored_block_is_detected()
    {
        var (fx, seqs) = await ServerWithEvents(6);
        using var _ = fx;
        // One byte of event 4's record, flipped where it lies in its block (its frame's check no longer holds).
        var (_, events) = await StoredEvents(fx);
        var data = events.Single(e => e.Record.Seq == seqs[3]).Record.Data;
        await using (var db = await fx.Factory.Services.GetRequiredService<IDbContextFactory<FhirDbContext>>().CreateDbContextAsync())
        {
            var block = await db.AuditBlocks.AsTracking().SingleAsync(b => b.First <= seqs[3] && seqs[3] <= b.Last);
            var frames = block.Frames.ToArray();
            frames[frames.AsSpan().IndexOf(data) + data.Length / 2] ^= 0x01;
            block.Frames = frames;
            await db.SaveChangesAsync();
        }
        var (result, brokenAt, problem) = await Verify(fx);
        Assert.Equal("false", result);
        Assert.Equal(seqs[3].ToString(), brokenAt);
        Assert.Contains("were changed", problem);
    }

    [FhirFact]
    public async Task Deleting_an_event_in_the_middle_or_at_the_end_is_detected()
    {
        var (fx, seqs) = await ServerWithEvents(6);
        using var _ = fx;
        await Rewrite(fx, events => events.RemoveAll(e => e.Record.Seq == seqs[2]));
        var (result, brokenAt, problem) = await Verify(fx);
        Assert.Equal("false", result);
        Assert.Equal(seqs[2].ToString(), brokenAt);
        Assert.Contains("missing", problem);

        var (fx2, seqs2) = await ServerWithEvents(4);
        using var __ = fx2;
        // $verify itself is audited: cut off everything after the first events, including the newest.
        var last = seqs2[^1];
        await Rewrite(fx2, events => events.RemoveAll(e => e.Record.Seq >= last));
        var (result2, _, problem2) = await Verify(fx2);
        Assert.Equal("false", result2);
        Assert.Contains("cut off the end", problem2);
    }

    [FhirFact]
    public async Task Swapping_two_events_is_detected()
    {
        var (fx, seqs) = await ServerWithEvents(6);
        using var _ = fx;
        // Their contents and links swapped, each keeping its place and sequence number.
        await Rewrite(fx, events =>
        {
            var (a, b) = (events.Single(e => e.Record.Seq == seqs[1]).Record, events.Single(e => e.Record.Seq == seqs[2]).Record);
            (a.Data, b.Data, a.Hash, b.Hash) = (b.Data, a.Data, b.Hash, a.Hash);
        });
        var (result, brokenAt, _) = await Verify(fx);
        Assert.Equal("false", result);
        Assert.Equal(seqs[1].ToString(), brokenAt);

        // Two whole frames swapped in their block.
        var (fx2, seqs2) = await ServerWithEvents(6);
        using var __ = fx2;
        await Rewrite(fx2, events =>
        {
            var i = events.FindIndex(e => e.Record.Seq == seqs2[1]);
            (events[i], events[i + 1]) = (events[i + 1], events[i]);
        });
        var (result2, brokenAt2, problem2) = await Verify(fx2);
        Assert.Equal("false", result2);
        Assert.Equal(seqs2[1].ToString(), brokenAt2);
        Assert.Contains("missing", problem2);
    }

    [Fact]
    public async Task Sm3_matches_the_standard_vectors()
    {
        // GB/T 32905-2016, examples A.1 and A.2.
        Assert.Equal("66C7F0F462EEEDD9D1F2D46BDC10E4E24167C4875CF2F7A2297DA02B8F4BA8E0", Convert.ToHexString(Sm3.Hash("abc"u8.ToArray())));
        Assert.Equal("DEBE9FF92275B8A138604889C18E5A4D6FDB70E5387E5765293DCBA39C0C5732",
            Convert.ToHexString(Sm3.Hash(Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("abcd", 16))))));
        var link = Sm3.ChainLink(Sm3.Genesis, 1, [1, 2, 3]);
        Assert.NotEqual(link, Sm3.ChainLink(Sm3.Genesis, 2, [1, 2, 3]));
        Assert.NotEqual(link, Sm3.ChainLink(Sm3.Genesis, 1, [1, 2, 4]));
        // The link is SM3 over previous ‖ sequence number (big-endian) ‖ data, whichever thread computes it, however often.
        Assert.Equal(Sm3.Hash([.. Sm3.Genesis, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3]), link);
        Assert.Equal(link, Sm3.ChainLink(Sm3.Genesis, 1, [1, 2, 3]));
        Assert.Equal(link, await Task.Run(() => Sm3.ChainLink(Sm3.Genesis, 1, [1, 2, 3])));
        var big = new byte[1000];
        Assert.Equal(Sm3.Hash([.. Sm3.Genesis, 0, 0, 1, 0, 0, 0, 0, 2, .. big]), Sm3.ChainLink(Sm3.Genesis, (1L << 40) + 2, big));
    }
}

public sealed class AuditTamperTests : AuditTamperTestsBase
{
    protected override ServerFixture NewServer() => new AuditFixture();
    protected override bool Postgres => false;
}

public sealed class PostgresAuditTamperTests : AuditTamperTestsBase
{
    protected override ServerFixture NewServer() => new PostgresAuditFixture();
    protected override bool Postgres => true;
}
