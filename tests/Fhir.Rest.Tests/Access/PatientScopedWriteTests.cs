using System.Net;
using System.Text;
using FhirArchive.Rest.Access;
using Xunit;
using static FhirArchive.Tests.Support.Http;

namespace FhirArchive.Rest.Tests.Access;

/// <summary>
/// SMART v2 patient/ scopes write exactly within the launch patient's compartment: create, update, patch, delete,
/// conditional and batch/transaction entries; the resource before and after the write must be the launch
/// patient's, anything else is a 403 OperationOutcome and nothing is written. Residents and guardians stay read-only.
/// </summary>
public abstract class PatientScopedWriteTestsBase<TFixture>(TFixture fx) where TFixture : SecurityFixture
{
    private const string Launch = "li-na", Other = "zhang-wei";
    private const string IdSystem = "http://example.org/test-obs";

    private static string Obs(string patient, string? id = null, string? identifier = null, string category = "vital-signs")
    {
        var idPart = id is null ? "" : $"\"id\":\"{id}\",";
        var identifierPart = identifier is null ? "" : "\"identifier\":[{\"system\":\"" + IdSystem + "\",\"value\":\"" + identifier + "\"}],";
        return "{\"resourceType\":\"Observation\"," + idPart + identifierPart + "\"status\":\"final\"," +
            "\"category\":[{\"coding\":[{\"system\":\"http://terminology.hl7.org/CodeSystem/observation-category\",\"code\":\"" + category + "\"}]}]," +
            "\"code\":{\"text\":\"体温\"},\"subject\":{\"reference\":\"Patient/" + patient + "\"}}";
    }

    /// <summary>A clinician's EHR-launch app with the launch patient li-na.</summary>
    private HttpClient Clinician(params string[] scopes) => fx.With(fx.Mint([Roles.Clinician], scopes, patient: "Patient/" + Launch, person: true));

    /// <summary>A write on a resource the token may not see: answered as for a missing id, naming nothing of it but the id asked for.</summary>
    private async Task LooksMissing(HttpResponseMessage r, HttpStatusCode status, string id)
    {
        var body = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == status, $"{r.StatusCode}: {body}");
        AssertOutcome(await r.JsonAsync());
        Assert.DoesNotContain("Patient/" + Other, body.Replace($"Patient/{id}", ""));
        Assert.DoesNotContain("compartment", body);
    }

    private static async Task Succeeds(HttpResponseMessage r, HttpStatusCode status)
    {
        Assert.True(r.StatusCode == status, $"{r.StatusCode} (expected {status}): {await r.Content.ReadAsStringAsync()}");
    }

    /// <summary>The subject as stored now (read with full access), or null when gone.</summary>
    private async Task<string?> SubjectOf(string id)
    {
        var r = await fx.Client.GetAsync($"/Observation/{id}");
        return r.StatusCode == HttpStatusCode.OK ? (await r.JsonAsync()).GetProperty("subject").GetProperty("reference").GetString() : null;
    }

    private static HttpRequestMessage JsonPatch(string url, string ops) =>
        new(HttpMethod.Patch, url) { Content = new StringContent(ops, Encoding.UTF8, "application/json-patch+json") };

    [FhirFact]
    public async Task Create_is_allowed_in_the_launch_patients_compartment_only()
    {
        var c = Clinician("patient/Observation.c");
        var created = await c.PostAsync("/Observation", Body(Obs(Launch)));
        await Succeeds(created, HttpStatusCode.Created);
        // A write-only scope is still answered what it wrote (the answer is shaped by the access policies, not decided as a read).
        var written = await created.JsonAsync();
        Assert.Equal("Observation", written.GetProperty("resourceType").GetString());
        Assert.Equal("Patient/" + Launch, written.GetProperty("subject").GetProperty("reference").GetString());
        await Forbidden(await c.PostAsync("/Observation", Body(Obs(Other))), "compartment");
        // In the launch patient's compartment but naming another patient too (performer): it would land in that
        // patient's record as well, where the token may not write.
        var both = Obs(Launch).Replace("\"subject\"", "\"performer\":[{\"reference\":\"Patient/" + Other + "\"}],\"subject\"");
        await Forbidden(await c.PostAsync("/Observation", Body(both)), "compartment");
        // A type outside the Patient compartment is no patient's data to write, and a new Patient is not the launch patient.
        await Forbidden(await Clinician("patient/*.c").PostAsync("/Organization", Body("""{"resourceType":"Organization","name":"某诊所"}""")), "compartment");
        await Forbidden(await Clinician("patient/*.c").PostAsync("/Patient", Body("""{"resourceType":"Patient","name":[{"family":"新"}]}""")), "compartment");
        // No launch patient: no patient/ write at all; and the scope's letters still count.
        await Forbidden(await fx.With(fx.Mint([Roles.Clinician], ["patient/Observation.c"], person: true)).PostAsync("/Observation", Body(Obs(Launch))), "launch patient");
        await Forbidden(await Clinician("patient/Observation.rs").PostAsync("/Observation", Body(Obs(Launch))), "scopes");
    }

    [FhirFact]
    public async Task Update_needs_the_resource_in_the_compartment_before_and_after()
    {
        var mine = await fx.Client.CreateAsync(Obs(Launch));
        var theirs = await fx.Client.CreateAsync(Obs(Other));
        var c = Clinician("patient/Observation.u");
        await Succeeds(await c.PutAsync($"/Observation/{mine}", Body(Obs(Launch, mine).Replace("\"final\"", "\"amended\""))), HttpStatusCode.OK);
        // Moving the launch patient's resource to another patient, or another patient's into the compartment: refused.
        await Forbidden(await c.PutAsync($"/Observation/{mine}", Body(Obs(Other, mine))), "compartment");
        // Another patient's resource is hidden from the token: it looks missing, and its id is not one the token may create.
        await LooksMissing(await c.PutAsync($"/Observation/{theirs}", Body(Obs(Launch, theirs))), HttpStatusCode.MethodNotAllowed, theirs);
        Assert.Equal("Patient/" + Launch, await SubjectOf(mine));
        Assert.Equal("Patient/" + Other, await SubjectOf(theirs));
        // The launch patient's own Patient resource, not another's.
        var self = await (await fx.Client.GetAsync($"/Patient/{Launch}")).Content.ReadAsStringAsync();
        await Succeeds(await Clinician("patient/Patient.ru").PutAsync($"/Patient/{Launch}", Body(self)), HttpStatusCode.OK);
        var other = await (await fx.Client.GetAsync($"/Patient/{Other}")).Content.ReadAsStringAsync();
        await LooksMissing(await Clinician("patient/Patient.ru").PutAsync($"/Patient/{Other}", Body(other)), HttpStatusCode.MethodNotAllowed, Other);
    }

    [FhirFact]
    public async Task Patch_and_delete_reach_the_compartment_only()
    {
        var mine = await fx.Client.CreateAsync(Obs(Launch));
        var theirs = await fx.Client.CreateAsync(Obs(Other));
        var c = Clinician("patient/Observation.ud");
        await Succeeds(await c.SendAsync(JsonPatch($"/Observation/{mine}", """[{"op":"replace","path":"/status","value":"amended"}]""")), HttpStatusCode.OK);
        await Forbidden(await c.SendAsync(JsonPatch($"/Observation/{mine}", $$"""[{"op":"replace","path":"/subject/reference","value":"Patient/{{Other}}"}]""")), "compartment");
        await LooksMissing(await c.SendAsync(JsonPatch($"/Observation/{theirs}", """[{"op":"replace","path":"/status","value":"amended"}]""")), HttpStatusCode.NotFound, theirs);
        Assert.Equal("Patient/" + Launch, await SubjectOf(mine));

        await LooksMissing(await c.DeleteAsync($"/Observation/{theirs}"), HttpStatusCode.NotFound, theirs);
        Assert.NotNull(await SubjectOf(theirs));
        Assert.True((await c.DeleteAsync($"/Observation/{mine}")).IsSuccessStatusCode);
        Assert.Null(await SubjectOf(mine));
    }

    [FhirFact]
    public async Task Conditional_writes_are_held_to_the_compartment()
    {
        var c = Clinician("patient/Observation.crud");
        var key = Unique();
        // Conditional create and conditional update (as create, then as update) for the launch patient.
        await Succeeds(await c.SendAsync(HttpMethod.Post, "/Observation", Obs(Launch, identifier: key), ("If-None-Exist", $"identifier={IdSystem}|{key}")), HttpStatusCode.Created);
        var other = Unique();
        await Forbidden(await c.SendAsync(HttpMethod.Post, "/Observation", Obs(Other, identifier: other), ("If-None-Exist", $"identifier={IdSystem}|{other}")), "compartment");
        await Succeeds(await c.PutAsync($"/Observation?identifier={IdSystem}|{key}", Body(Obs(Launch, identifier: key).Replace("\"final\"", "\"amended\""))), HttpStatusCode.OK);
        await Forbidden(await c.PutAsync($"/Observation?identifier={IdSystem}|{key}", Body(Obs(Other, identifier: key))), "compartment");

        // Another patient's resource is outside what the token is shown: to it, it does not exist, so the conditional
        // update creates a resource in the launch patient's record and theirs is neither updated nor deleted.
        var theirs = await fx.Client.CreateAsync(Obs(Other, identifier: other));
        await Succeeds(await c.PutAsync($"/Observation?identifier={IdSystem}|{other}", Body(Obs(Launch, identifier: other))), HttpStatusCode.Created);
        await c.DeleteAsync($"/Observation?identifier={IdSystem}|{other}"); // whatever it answers, it deletes nothing of theirs
        Assert.Equal("Patient/" + Other, await SubjectOf(theirs));
        Assert.True((await c.DeleteAsync($"/Observation?identifier={IdSystem}|{key}")).IsSuccessStatusCode);
        Assert.Empty(await fx.Client.SearchIdsAsync($"/Observation?identifier={IdSystem}|{key}"));
    }

    [FhirFact]
    public async Task Batch_and_transaction_entries_are_held_to_the_compartment()
    {
        var mine = await fx.Client.CreateAsync(Obs(Launch));
        var theirs = await fx.Client.CreateAsync(Obs(Other));
        var c = Clinician("patient/Observation.cud");
        string Entry(string method, string url, string? resource) =>
            "{" + (resource is null ? "" : "\"resource\":" + resource + ",") + $"\"request\":{{\"method\":\"{method}\",\"url\":\"{url}\"}}}}";
        string Bundle(string type, params string[] entries) => $$"""{"resourceType":"Bundle","type":"{{type}}","entry":[{{string.Join(",", entries)}}]}""";

        var batch = await c.PostAsync("/", Body(Bundle("batch",
            Entry("POST", "Observation", Obs(Launch)),
            Entry("POST", "Observation", Obs(Other)),
            Entry("PUT", $"Observation/{mine}", Obs(Launch, mine)),
            Entry("PUT", $"Observation/{theirs}", Obs(Launch, theirs)),
            Entry("DELETE", $"Observation/{theirs}", null),
            Entry("POST", "Observation", Obs(Other, identifier: "k-" + theirs)).Replace("\"url\":\"Observation\"", $"\"url\":\"Observation\",\"ifNoneExist\":\"identifier={IdSystem}|k-{theirs}\""),
            Entry("PUT", $"Observation?identifier={IdSystem}|k-{mine}", Obs(Launch, identifier: "k-" + mine)))));
        Assert.Equal(HttpStatusCode.OK, batch.StatusCode);
        var statuses = (await batch.JsonAsync()).GetProperty("entry").EnumerateArray().Select(e => e.GetProperty("response").GetProperty("status").GetString()![..3]).ToList();
        // The conditional create for the other patient is refused; the conditional update (as create) for the launch patient is not.
        // Their resource is hidden from the token: its update and delete answer as for a missing id (405: not an id the
        // token may create; a delete of nothing).
        Assert.Equal(["201", "403", "200", "405", "200", "403", "201"], statuses);
        Assert.Equal("Patient/" + Other, await SubjectOf(theirs));

        // One entry outside the compartment refuses the whole transaction; nothing of it is written.
        var key = Unique();
        await Forbidden(await c.PostAsync("/", Body(Bundle("transaction",
            Entry("POST", "Observation", Obs(Launch, identifier: key)),
            Entry("PUT", $"Observation/{mine}", Obs(Other, mine))))), "entry[1]");
        Assert.Empty(await fx.Client.SearchIdsAsync($"/Observation?identifier={IdSystem}|{key}"));
        Assert.Equal("Patient/" + Launch, await SubjectOf(mine));
        var ok = await c.PostAsync("/", Body(Bundle("transaction",
            Entry("POST", "Observation", Obs(Launch, identifier: key)),
            Entry("DELETE", $"Observation/{mine}", null))));
        await Succeeds(ok, HttpStatusCode.OK);
        Assert.Single(await fx.Client.SearchIdsAsync($"/Observation?identifier={IdSystem}|{key}"));
        Assert.Null(await SubjectOf(mine));
    }

    [FhirFact]
    public async Task Granular_patient_scopes_write_only_what_matches_their_query()
    {
        var c = Clinician("patient/Observation.cu?category=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs");
        await Succeeds(await c.PostAsync("/Observation", Body(Obs(Launch))), HttpStatusCode.Created);
        await Forbidden(await c.PostAsync("/Observation", Body(Obs(Launch, category: "laboratory"))));
        // A user/ scope for the type lifts the compartment limit (the clinician's own reach).
        await Succeeds(await Clinician("patient/Observation.c", "user/Observation.c").PostAsync("/Observation", Body(Obs(Other))), HttpStatusCode.Created);
    }

    [FhirFact]
    public async Task Residents_and_guardians_stay_read_only_in_their_own_compartment()
    {
        var resident = fx.With(fx.Mint([Roles.Resident], ["patient/*.cruds"], patient: "Patient/" + Launch, person: true));
        await Forbidden(await resident.PostAsync("/Observation", Body(Obs(Launch))), "role");
        var mine = await fx.Client.CreateAsync(Obs(Launch));
        await Forbidden(await resident.DeleteAsync($"/Observation/{mine}"), "role");
        var guardian = fx.With(fx.Mint([Roles.Guardian], ["patient/*.cruds"], patient: "Patient/" + Launch, person: true));
        await Forbidden(await guardian.PutAsync($"/Observation/{mine}", Body(Obs(Launch, mine))), "role");
        Assert.Equal(HttpStatusCode.OK, (await resident.GetAsync($"/Observation/{mine}")).StatusCode);
        // Through the real login, the resident's ceiling leaves no write scope to ask with.
        var (user, password, totp) = fx.NewUser(Roles.Resident, patient: "Patient/" + Launch);
        var json = await fx.LoginAsync(user, password, totp, "launch/patient patient/*.cruds");
        Assert.Equal("launch/patient patient/*.rs", json.GetProperty("scope").GetString());
        await Forbidden(await fx.With(json.GetProperty("access_token").GetString()!).PostAsync("/Observation", Body(Obs(Launch))));
    }
}

public sealed class PatientScopedWriteTests(SecurityFixture fx) : PatientScopedWriteTestsBase<SecurityFixture>(fx), IClassFixture<SecurityFixture>;

public sealed class PostgresPatientScopedWriteTests(PostgresSecurityFixture fx) : PatientScopedWriteTestsBase<PostgresSecurityFixture>(fx), IClassFixture<PostgresSecurityFixture>;
