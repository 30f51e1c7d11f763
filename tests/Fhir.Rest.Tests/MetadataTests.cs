using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Xunit;
using static FhirArchive.Tests.Support.Http;

namespace FhirArchive.Rest.Tests;

public abstract class MetadataTestsBase<TFixture>(TFixture fx) where TFixture : ServerFixture
{
    private readonly HttpClient _c = fx.Client;

    [FhirFact]
    public async Task CapabilityStatement_lists_real_interactions_and_search_parameters()
    {
        var r = await _c.GetAsync("/metadata");
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        var cs = await r.JsonAsync();
        Assert.Equal("CapabilityStatement", cs.GetProperty("resourceType").GetString());
        Assert.Equal("4.0.1", cs.GetProperty("fhirVersion").GetString());
        var patient = cs.GetProperty("rest")[0].GetProperty("resource").EnumerateArray().Single(x => x.GetProperty("type").GetString() == "Patient");
        var interactions = patient.GetProperty("interaction").EnumerateArray().Select(i => i.GetProperty("code").GetString()).ToList();
        Assert.Contains("history-instance", interactions);
        Assert.Contains("patch", interactions);
        var ps = patient.GetProperty("searchParam").EnumerateArray().Select(p => p.GetProperty("name").GetString()).ToList();
        Assert.Contains("birthdate", ps);
        Assert.Contains("_lastUpdated", ps);
        Assert.Contains(patient.GetProperty("searchRevInclude").EnumerateArray(), x => x.GetString() == "Observation:subject");
        Assert.DoesNotContain(cs.GetProperty("rest")[0].GetProperty("resource").EnumerateArray(), x => x.GetProperty("type").GetString() == "DomainResource");
    }

    [FhirFact]
    public async Task Health_and_swagger()
    {
        Assert.Equal(HttpStatusCode.OK, (await _c.GetAsync("/health")).StatusCode);
        var swagger = await _c.GetAsync("/swagger/v1/swagger.json");
        Assert.Equal(HttpStatusCode.OK, swagger.StatusCode);
        var text = await swagger.Content.ReadAsStringAsync();
        Assert.Contains("/{type}/{id}/_history/{vid}", text);
        Assert.Equal(HttpStatusCode.OK, (await _c.GetAsync("/swagger/index.html")).StatusCode);
    }

    [FhirFact]
    public async Task Errors_follow_the_requested_format()
    {
        var req = new HttpRequestMessage(HttpMethod.Get, "/Patient/missing-one");
        req.Headers.Accept.Add(Accept(Xml));
        var r = await _c.SendAsync(req);
        Assert.Equal(HttpStatusCode.NotFound, r.StatusCode);
        Assert.StartsWith(Xml, r.Content.Headers.ContentType!.ToString());
        Assert.Contains("<OperationOutcome", await r.Content.ReadAsStringAsync());
    }

    [FhirFact]
    public async Task Transaction_in_xml()
    {
        var xml = """
            <Bundle xmlns="http://hl7.org/fhir"><type value="transaction"/>
              <entry><fullUrl value="urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0"/>
                <resource><Patient><name><family value="许"/></name></Patient></resource>
                <request><method value="POST"/><url value="Patient"/></request></entry>
              <entry><resource><Encounter><status value="finished"/><class><code value="AMB"/></class>
                  <subject><reference value="urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0"/></subject></Encounter></resource>
                <request><method value="POST"/><url value="Encounter"/></request></entry>
            </Bundle>
            """;
        var r = await _c.PostAsync("/?_format=xml", Body(xml, Xml));
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        var text = await r.Content.ReadAsStringAsync();
        Assert.Contains("transaction-response", text);
        Assert.Contains("<reference value=\"Patient/", text);
    }
}

public sealed class AccessPolicyTests(PolicyFixture fx) : IClassFixture<PolicyFixture>
{
    private readonly HttpClient _c = fx.Client;

    [FhirFact]
    public async Task Every_read_path_goes_through_the_policy_and_hidden_resources_stay_hidden()
    {
        var hidden = await _c.CreateAsync("""{"resourceType":"Patient","name":[{"family":"secret"}],"gender":"other"}""");
        var shown = await _c.CreateAsync("""{"resourceType":"Patient","name":[{"family":"public"}],"gender":"other"}""");
        Assert.Equal(HttpStatusCode.NotFound, (await _c.GetAsync($"/Patient/{hidden}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _c.GetAsync($"/Patient/{hidden}/_history/1")).StatusCode);
        Assert.Equal([shown], await _c.SearchIdsAsync("/Patient?gender=other"));
        var history = await (await _c.GetAsync("/Patient/_history")).JsonAsync();
        Assert.DoesNotContain(hidden, history.GetRawText());
        var policy = fx.Factory.Services.GetRequiredService<TestAccessPolicy>();
        lock (policy.Calls)
        {
            Assert.Contains("start:read", policy.Calls);
            Assert.Contains("end:read", policy.Calls);
            Assert.Contains("start:search-type", policy.Calls);
            Assert.Contains("end:history-type", policy.Calls);
        }
    }

    [FhirFact]
    public async Task Unexpected_errors_become_a_500_operation_outcome()
    {
        var r = await _c.GetAsync("/Basic/anything");
        Assert.Equal(HttpStatusCode.InternalServerError, r.StatusCode);
        AssertOutcome(await r.JsonAsync(), "unexpected");
    }
}

public sealed class MetadataTests(ServerFixture fx) : MetadataTestsBase<ServerFixture>(fx), IClassFixture<ServerFixture>;

public sealed class PostgresMetadataTests(PostgresServerFixture fx) : MetadataTestsBase<PostgresServerFixture>(fx), IClassFixture<PostgresServerFixture>;
