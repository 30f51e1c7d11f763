using System.Net;
using System.Text.Json;
using Xunit;
using static FhirArchive.Tests.Support.Http;

namespace FhirArchive.Rest.Tests;

public abstract class BatchTestsBase<TFixture>(TFixture fx) where TFixture : ServerFixture
{
    private readonly HttpClient _c = fx.Client;

    [FhirFact]
    public async Task Transaction_rewrites_urn_uuid_references_and_resolves_conditional_ones()
    {
        var org = "urn:org:" + Unique();
        await _c.CreateAsync($$$"""{"resourceType":"Organization","name":"社区卫生服务中心","identifier":[{"system":"{{{org}}}","value":"1"}]}""");
        var bundle = $$$"""
            {"resourceType":"Bundle","type":"transaction","entry":[
              {"fullUrl":"urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a","resource":{"resourceType":"Patient","name":[{"family":"林"}],
                 "managingOrganization":{"reference":"Organization?identifier={{{org}}}|1"}},
               "request":{"method":"POST","url":"Patient"}},
              {"fullUrl":"urn:uuid:88f151c0-a954-468a-88cd-39cc5d4d9f00","resource":{"resourceType":"Observation","status":"final","code":{"text":"体温"},
                 "subject":{"reference":"urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a"}},
               "request":{"method":"POST","url":"Observation"}},
              {"request":{"method":"GET","url":"Observation?subject:Patient.family=林"}}
            ]}
            """;
        var r = await _c.PostAsync("/", Body(bundle));
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        var b = await r.JsonAsync();
        Assert.Equal("transaction-response", b.GetProperty("type").GetString());
        var entries = b.GetProperty("entry").EnumerateArray().ToList();
        Assert.Equal("201 Created", entries[0].GetProperty("response").GetProperty("status").GetString());
        var patientId = entries[0].GetProperty("resource").GetProperty("id").GetString();
        var obs = entries[1].GetProperty("resource");
        Assert.Equal($"Patient/{patientId}", obs.GetProperty("subject").GetProperty("reference").GetString());
        var orgRef = entries[0].GetProperty("resource").GetProperty("managingOrganization").GetProperty("reference").GetString();
        Assert.StartsWith("Organization/", orgRef);
        Assert.DoesNotContain("?", orgRef);
        // The GET runs after the writes and sees them.
        Assert.Equal(1, entries[2].GetProperty("resource").GetProperty("total").GetInt32());
    }

    [FhirFact]
    public async Task Transaction_is_all_or_nothing()
    {
        var family = "Rollback" + Unique();
        var bundle = $$$"""
            {"resourceType":"Bundle","type":"transaction","entry":[
              {"resource":{"resourceType":"Patient","name":[{"family":"{{{family}}}"}]},"request":{"method":"POST","url":"Patient"}},
              {"resource":{"resourceType":"Patient","id":"a","name":[{"family":"x"}]},"request":{"method":"PUT","url":"Patient/b"}}
            ]}
            """;
        var r = await _c.PostAsync("/", Body(bundle));
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        AssertOutcome(await r.JsonAsync(), "entry[1]");
        Assert.Empty(await _c.SearchIdsAsync($"/Patient?family={family}"));
    }

    [FhirFact]
    public async Task Transaction_processes_deletes_before_creates_and_fails_412_on_ambiguous_conditional_reference()
    {
        var id = await _c.CreateAsync("""{"resourceType":"Patient","name":[{"family":"欧阳"}]}""");
        var bundle = $$$"""
            {"resourceType":"Bundle","type":"transaction","entry":[
              {"resource":{"resourceType":"Patient","id":"{{{id}}}","name":[{"family":"欧阳"}]},"request":{"method":"PUT","url":"Patient/{{{id}}}"}},
              {"request":{"method":"DELETE","url":"Patient/{{{id}}}"}}
            ]}
            """;
        var r = await _c.PostAsync("/", Body(bundle));
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        // DELETE ran first, then PUT brought it back as version 3.
        var read = await _c.GetAsync($"/Patient/{id}");
        Assert.Equal("W/\"3\"", read.Headers.ETag!.ToString());

        var sys = "urn:dup:" + Unique();
        await _c.CreateAsync($$$"""{"resourceType":"Patient","identifier":[{"system":"{{{sys}}}","value":"1"}]}""");
        await _c.CreateAsync($$$"""{"resourceType":"Patient","identifier":[{"system":"{{{sys}}}","value":"1"}]}""");
        var ambiguous = $$$"""
            {"resourceType":"Bundle","type":"transaction","entry":[
              {"resource":{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient?identifier={{{sys}}}|1"}},
               "request":{"method":"POST","url":"Observation"}}]}
            """;
        Assert.Equal(HttpStatusCode.PreconditionFailed, (await _c.PostAsync("/", Body(ambiguous))).StatusCode);
    }

    [FhirFact]
    public async Task Batch_entries_succeed_or_fail_independently()
    {
        var bundle = """
            {"resourceType":"Bundle","type":"batch","entry":[
              {"resource":{"resourceType":"Patient","name":[{"family":"独立"}]},"request":{"method":"POST","url":"Patient"}},
              {"request":{"method":"GET","url":"Patient/does-not-exist"}},
              {"resource":{"resourceType":"Patient","id":"zz","name":[{"family":"x"}]},"request":{"method":"PUT","url":"Patient/yy"}},
              {"request":{"method":"GET","url":"Patient?family=独立"}}
            ]}
            """;
        var r = await _c.PostAsync("/", Body(bundle));
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        var b = await r.JsonAsync();
        Assert.Equal("batch-response", b.GetProperty("type").GetString());
        var statuses = b.GetProperty("entry").EnumerateArray().Select(e => e.GetProperty("response").GetProperty("status").GetString()).ToList();
        Assert.Equal(["201 Created", "404 Not Found", "400 Bad Request", "200 OK"], statuses);
        Assert.Equal("OperationOutcome", b.GetProperty("entry")[1].GetProperty("response").GetProperty("outcome").GetProperty("resourceType").GetString());
    }

    [FhirFact]
    public async Task Batch_reads_versions_and_refuses_urls_that_name_no_resource()
    {
        var id = await _c.CreateAsync("""{"resourceType":"Patient","name":[{"family":"旧"}]}""");
        await _c.PutAsync($$"""{"resourceType":"Patient","id":"{{id}}","name":[{"family":"新"}]}""");
        var bundle = $$$"""
            {"resourceType":"Bundle","type":"batch","entry":[
              {"request":{"method":"GET","url":"Patient/{{{id}}}/_history/1"}},
              {"request":{"method":"GET","url":"/Patient/{{{id}}}"}},
              {"request":{"method":"GET","url":"Patient/{{{id}}}/extra"}},
              {"request":{"method":"GET","url":"Unknown/{{{id}}}"}}
            ]}
            """;
        var entries = (await (await _c.PostAsync("/", Body(bundle))).JsonAsync()).GetProperty("entry").EnumerateArray().ToList();
        Assert.Equal(["200 OK", "200 OK", "400 Bad Request", "404 Not Found"], entries.Select(e => e.GetProperty("response").GetProperty("status").GetString()));
        Assert.Equal("旧", entries[0].GetProperty("resource").GetProperty("name")[0].GetProperty("family").GetString());
        Assert.Equal("新", entries[1].GetProperty("resource").GetProperty("name")[0].GetProperty("family").GetString());
    }

    [FhirFact]
    public async Task Non_bundles_and_other_bundle_types_are_400()
    {
        Assert.Equal(HttpStatusCode.BadRequest, (await _c.PostAsync("/", Body("""{"resourceType":"Patient"}"""))).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await _c.PostAsync("/", Body("""{"resourceType":"Bundle","type":"collection"}"""))).StatusCode);
    }
}

public sealed class BatchTests(ServerFixture fx) : BatchTestsBase<ServerFixture>(fx), IClassFixture<ServerFixture>;

public sealed class PostgresBatchTests(PostgresServerFixture fx) : BatchTestsBase<PostgresServerFixture>(fx), IClassFixture<PostgresServerFixture>;
