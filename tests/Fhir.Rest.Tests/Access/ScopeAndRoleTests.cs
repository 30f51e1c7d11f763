using System.Net;
using FhirArchive.Rest.Access;
using Xunit;
using static FhirArchive.Tests.Support.Http;

namespace FhirArchive.Rest.Tests.Access;

/// <summary>Scopes, roles, the patient compartment, granular scopes and jurisdictions, for each interaction type: refusals are 403 outcomes (404 when a resource is refused for its content).</summary>
public abstract class ScopeAndRoleTestsBase<TFixture>(TFixture fx) where TFixture : SecurityFixture
{
    private const string ObservationJson = """{"resourceType":"Observation","status":"final","code":{"text":"体温"},"subject":{"reference":"Patient/li-na"}}""";

    /// <summary>A resource refused for its content looks missing: 404 with the outcome a missing id gets.</summary>
    private static async Task Hidden(HttpResponseMessage r)
    {
        Assert.Equal(HttpStatusCode.NotFound, r.StatusCode);
        var issue = (await r.JsonAsync()).GetProperty("issue")[0];
        Assert.Equal("not-found", issue.GetProperty("code").GetString());
        Assert.EndsWith("is not known.", issue.GetProperty("diagnostics").GetString());
    }

    /// <summary>Each interaction needs its own letter of cruds.</summary>
    [FhirFact]
    public async Task Each_interaction_type_needs_its_permission_in_the_scope()
    {
        var id = await fx.Client.CreateAsync(ObservationJson);
        HttpClient With(string scope) => fx.With(fx.Mint([Roles.SystemClient], [scope]));
        async Task<HttpStatusCode> Create(HttpClient c) => (await c.PostAsync("/Observation", Body(ObservationJson))).StatusCode;
        async Task<HttpStatusCode> Read(HttpClient c) => (await c.GetAsync($"/Observation/{id}")).StatusCode;
        async Task<HttpStatusCode> VRead(HttpClient c) => (await c.GetAsync($"/Observation/{id}/_history/1")).StatusCode;
        async Task<HttpStatusCode> Update(HttpClient c) => (await c.PutAsync($"/Observation/{id}", Body(ObservationJson.Replace("{\"resourceType\":\"Observation\",", $"{{\"resourceType\":\"Observation\",\"id\":\"{id}\",")))).StatusCode;
        async Task<HttpStatusCode> Patch(HttpClient c) => (await c.SendAsync(new HttpRequestMessage(HttpMethod.Patch, $"/Observation/{id}")
            { Content = new StringContent("""[{"op":"replace","path":"/status","value":"amended"}]""", System.Text.Encoding.UTF8, "application/json-patch+json") })).StatusCode;
        async Task<HttpStatusCode> Search(HttpClient c) => (await c.GetAsync("/Observation?subject=Patient/li-na")).StatusCode;
        async Task<HttpStatusCode> History(HttpClient c) => (await c.GetAsync($"/Observation/{id}/_history")).StatusCode;
        async Task<HttpStatusCode> Operation(HttpClient c) => (await c.PostAsync("/Observation/$validate", Body(ObservationJson))).StatusCode;

        var none = With("system/Patient.cruds");
        foreach (var call in new[] { Create, Read, VRead, Update, Patch, Search, History, Operation })
            Assert.Equal(HttpStatusCode.Forbidden, await call(none));

        var read = With("system/Observation.r");
        Assert.Equal(HttpStatusCode.OK, await Read(read));
        Assert.Equal(HttpStatusCode.OK, await VRead(read));
        Assert.Equal(HttpStatusCode.OK, await Operation(read));
        foreach (var call in new[] { Create, Update, Patch, Search, History })
            Assert.Equal(HttpStatusCode.Forbidden, await call(read));

        var search = With("system/Observation.s");
        Assert.Equal(HttpStatusCode.OK, await Search(search));
        Assert.Equal(HttpStatusCode.OK, await History(search));
        Assert.Equal(HttpStatusCode.Forbidden, await Read(search));

        var write = With("system/Observation.cu");
        Assert.Equal(HttpStatusCode.Created, await Create(write));
        Assert.Equal(HttpStatusCode.OK, await Update(write));
        Assert.Equal(HttpStatusCode.OK, await Patch(write));
        Assert.Equal(HttpStatusCode.Forbidden, await Read(write));
        await Forbidden(await write.DeleteAsync($"/Observation/{id}"), "delete");

        // v1 spelling: .write is c, u and d.
        var v1 = With("system/Observation.write");
        Assert.True((await v1.DeleteAsync($"/Observation/{id}")).IsSuccessStatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, await Read(v1));
    }

    [FhirFact]
    public async Task Batch_and_transaction_entries_are_checked_one_by_one()
    {
        var c = fx.With(fx.Mint([Roles.SystemClient], ["system/Patient.rs"]));
        var batch = """
            {"resourceType":"Bundle","type":"batch","entry":[
              {"request":{"method":"GET","url":"Patient/zhang-wei"}},
              {"request":{"method":"GET","url":"Observation?subject=Patient/zhang-wei"}},
              {"resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Patient"}}]}
            """;
        var r = await c.PostAsync("/", Body(batch));
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        var entries = (await r.JsonAsync()).GetProperty("entry").EnumerateArray().Select(e => e.GetProperty("response").GetProperty("status").GetString()).ToList();
        Assert.Equal(["200 OK", "403 Forbidden", "403 Forbidden"], entries);

        var transaction = batch.Replace("\"batch\"", "\"transaction\"");
        await Forbidden(await c.PostAsync("/", Body(transaction)), "entry[");
        // Nothing was written by the refused transaction.
        var before = (await (await fx.Client.GetAsync("/Patient?_summary=count")).JsonAsync()).GetProperty("total").GetInt32();
        await c.PostAsync("/", Body(transaction));
        Assert.Equal(before, (await (await fx.Client.GetAsync("/Patient?_summary=count")).JsonAsync()).GetProperty("total").GetInt32());
    }

    [FhirFact]
    public async Task Roles_bound_what_a_token_may_do()
    {
        // The auditor's role reaches the audit trail only, whatever the scopes.
        await Forbidden(await fx.With(fx.Mint([Roles.Auditor], ["user/*.cruds"])).GetAsync("/Patient/zhang-wei"), "role");
        // The researcher reads but does not write or delete.
        var researcher = fx.With(fx.Mint([Roles.Researcher], ["user/*.cruds"]));
        Assert.Equal(HttpStatusCode.OK, (await researcher.GetAsync("/Patient/zhang-wei")).StatusCode);
        await Forbidden(await researcher.PostAsync("/Observation", Body(ObservationJson)), "role");
        await Forbidden(await researcher.DeleteAsync("/Observation/obs-1"), "role");
        // patient/ scopes write only inside the launch patient's compartment (more in PatientScopedWriteTests).
        await Forbidden(await fx.With(fx.Mint([Roles.Clinician], ["patient/*.cruds"], patient: "Patient/zhang-wei", person: true)).PostAsync("/Observation", Body(ObservationJson)), "compartment");
        // No role at all: nothing.
        await Forbidden(await fx.With(fx.Mint([], ["user/*.cruds"])).GetAsync("/Patient/zhang-wei"));
        // Purpose of use: only what the role may claim.
        var doctor = fx.With(fx.Mint([Roles.Clinician], ["user/*.rs"]));
        Assert.Equal(HttpStatusCode.OK, (await doctor.SendAsync(HttpMethod.Get, "/Patient/zhang-wei", null, ("X-Purpose-Of-Use", "ETREAT"))).StatusCode);
        await Forbidden(await doctor.SendAsync(HttpMethod.Get, "/Patient/zhang-wei", null, ("X-Purpose-Of-Use", "HRESCH")), "purpose");
    }

    [FhirFact]
    public async Task A_resident_sees_only_their_own_record()
    {
        var c = fx.With(await fx.DemoTokenAsync("zhangwei", "launch/patient patient/*.rs"));
        Assert.Equal(HttpStatusCode.OK, (await c.GetAsync("/Patient/zhang-wei")).StatusCode);
        await Hidden(await c.GetAsync("/Patient/wang-fang"));
        await Hidden(await c.GetAsync("/Observation/obs-3"));
        Assert.Equal(["zhang-wei"], await c.SearchIdsAsync("/Patient"));
        var obs = await c.SearchIdsAsync("/Observation");
        Assert.Equal(["obs-1", "obs-2"], obs.Order().ToList());
        Assert.Empty(await c.SearchIdsAsync("/Patient/wang-fang/Observation"));
        // Not patient data: the institution is readable.
        Assert.Equal(HttpStatusCode.OK, (await c.GetAsync("/Organization/bj-chaoyang-hospital")).StatusCode);
        // Included resources are filtered too.
        var b = await (await c.GetAsync("/Observation?_include=Observation:subject&subject=Patient/wang-fang")).JsonAsync();
        Assert.False(b.TryGetProperty("entry", out _));
        await Forbidden(await c.PostAsync("/Observation", Body(ObservationJson)));
        await Forbidden(await c.PutAsync("/Patient/zhang-wei", Body("""{"resourceType":"Patient","id":"zhang-wei"}""")));

        // The guardian sees the ward's record, not their own guardian's neighbours'.
        var guardian = fx.With(await fx.DemoTokenAsync("liuqiang", "launch/patient patient/*.rs"));
        Assert.Equal(HttpStatusCode.OK, (await guardian.GetAsync("/Patient/liu-yang")).StatusCode);
        await Hidden(await guardian.GetAsync("/Patient/zhang-wei"));
    }

    [FhirFact]
    public async Task Granular_scopes_show_only_what_matches_their_query()
    {
        var vital = fx.With(fx.Mint([Roles.Resident], ["patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs"], patient: "Patient/zhang-wei", person: true));
        Assert.Equal(["obs-1", "obs-2"], (await vital.SearchIdsAsync("/Observation")).Order().ToList());
        Assert.Equal(HttpStatusCode.OK, (await vital.GetAsync("/Observation/obs-1")).StatusCode);
        await Forbidden(await vital.GetAsync("/Patient/zhang-wei"));

        var lab = fx.With(fx.Mint([Roles.Resident], ["patient/Observation.rs?category=laboratory"], patient: "Patient/zhang-wei", person: true));
        Assert.Empty(await lab.SearchIdsAsync("/Observation"));
        await Hidden(await lab.GetAsync("/Observation/obs-1"));
    }

    [FhirFact]
    public async Task A_county_officer_sees_only_that_county_and_only_reads()
    {
        var c = fx.With(await fx.DemoTokenAsync("cdc-chaoyang", "user/*.rs"));
        Assert.Equal(HttpStatusCode.OK, (await c.GetAsync("/Patient/zhang-wei")).StatusCode);
        await Hidden(await c.GetAsync("/Patient/wang-fang"));
        await Hidden(await c.GetAsync("/Observation/obs-3"));
        Assert.Equal(["zhang-wei"], await c.SearchIdsAsync("/Patient"));
        Assert.Equal(["obs-1", "obs-2"], (await c.SearchIdsAsync("/Observation")).Order().ToList());
        var history = await (await c.GetAsync("/Patient/_history")).JsonAsync();
        Assert.All(history.GetProperty("entry").EnumerateArray(), e => Assert.Equal("zhang-wei", e.GetProperty("resource").GetProperty("id").GetString()));
        await Forbidden(await c.PostAsync("/Observation", Body(ObservationJson)));
        await Forbidden(await c.PutAsync("/Patient/zhang-wei", Body("""{"resourceType":"Patient","id":"zhang-wei"}""")));
        await Forbidden(await c.DeleteAsync("/Observation/obs-1"));
        await Forbidden(await c.SendAsync(HttpMethod.Get, "/Patient/zhang-wei", null, ("X-Purpose-Of-Use", "TREAT")), "purpose");
        Assert.Equal(HttpStatusCode.OK, (await c.SendAsync(HttpMethod.Get, "/Patient/zhang-wei", null, ("X-Purpose-Of-Use", "PUBHLTH"))).StatusCode);

        // A province-level officer (310000) sees the whole province.
        var sh = fx.With(await fx.DemoTokenAsync("hc-shanghai", "user/*.rs"));
        Assert.Equal(["wang-fang"], await sh.SearchIdsAsync("/Patient"));
        Assert.Equal(["obs-3", "obs-4"], (await sh.SearchIdsAsync("/Observation")).Order().ToList());
    }
}

public sealed class ScopeAndRoleTests(SecurityFixture fx) : ScopeAndRoleTestsBase<SecurityFixture>(fx), IClassFixture<SecurityFixture>;

public sealed class PostgresScopeAndRoleTests(PostgresSecurityFixture fx) : ScopeAndRoleTestsBase<PostgresSecurityFixture>(fx), IClassFixture<PostgresSecurityFixture>;
