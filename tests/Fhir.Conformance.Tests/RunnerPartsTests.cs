using System.Net;
using System.Text;
using FhirArchive.Conformance.TestScripts;
using Xunit;

namespace FhirArchive.Conformance.Tests;

/// <summary>The runner's parts without a server: substitution, the assert operators, minimumId, paths, URLs.</summary>
public sealed class RunnerPartsTests
{
    [Fact]
    public void Substitution_replaces_every_reference_and_refuses_an_unknown_name()
    {
        var values = new Dictionary<string, string> { ["id"] = "p1", ["token-doctor"] = "abc" };
        Assert.Equal("Patient/p1/_history?x=p1&t=abc",
            ScriptVariables.Substitute("Patient/${id}/_history?x=${id}&t=${token-doctor}", values.GetValueOrDefault));
        Assert.Equal("no references", ScriptVariables.Substitute("no references", _ => throw new InvalidOperationException()));
        var e = Assert.Throws<UnsupportedException>(() => ScriptVariables.Substitute("Patient/${missing}", values.GetValueOrDefault));
        Assert.Contains("'missing'", e.Message);
    }

    [Theory]
    [InlineData("equals", "200", "200", true)]
    [InlineData("equals", "200", "201", false)]
    [InlineData("notEquals", "200", "201", true)]
    [InlineData("in", "201", "200,201", true)]
    [InlineData("in", "404", "200,201", false)]
    [InlineData("notIn", "404", "200,201", true)]
    [InlineData("notIn", "200", "200,201", false)]
    [InlineData("greaterThan", "10", "9", true)]   // numbers as numbers, not text ("10" < "9")
    [InlineData("greaterThan", "9", "10", false)]
    [InlineData("lessThan", "2024-01-05", "2024-02-01", true)]
    [InlineData("lessThan", "2024-03-05", "2024-02-01", false)]
    [InlineData("contains", "application/fhir+json; charset=utf-8", "fhir+json", true)]
    [InlineData("contains", "text/html", "fhir+json", false)]
    [InlineData("notContains", "text/html", "fhir+json", true)]
    public void Operators_compare_one_value(string op, string actual, string expected, bool result) =>
        Assert.Equal(result, AssertOperators.Compare(op, [actual], expected));

    [Fact]
    public void Operators_over_several_values_and_none()
    {
        Assert.True(AssertOperators.Compare("empty", [], null));
        Assert.False(AssertOperators.Compare("empty", ["x"], null));
        Assert.True(AssertOperators.Compare("notEmpty", ["x"], null));
        Assert.False(AssertOperators.Compare("equals", [], "x"));        // nothing equals a value
        Assert.False(AssertOperators.Compare("equals", ["a", "b"], "a")); // every value must
        Assert.True(AssertOperators.Compare("contains", ["abc", "xyz"], "yz"));
        Assert.True(AssertOperators.Compare("notIn", [], "a,b"));
        Assert.Throws<ScriptException>(() => AssertOperators.Compare("equals", ["a"], null));
        Assert.Throws<UnsupportedException>(() => AssertOperators.Compare("matches", ["a"], "a"));
    }

    [Fact]
    public void MinimumId_needs_every_element_of_the_fixture()
    {
        const string min = """{"resourceType":"Patient","id":"x","meta":{"versionId":"9"},"name":[{"family":"张"}],"identifier":[{"system":"s","value":"1"}]}""";
        // Extra elements, another order of array items, a server-set id and meta are fine.
        Assert.Null(MinimumCheck.Missing(min, """{"resourceType":"Patient","id":"y","name":[{"family":"张","given":["伟"]}],"identifier":[{"system":"r","value":"2"},{"system":"s","value":"1"}],"gender":"male"}"""));
        Assert.Equal("identifier[0]", MinimumCheck.Missing(min, """{"resourceType":"Patient","name":[{"family":"张"}],"identifier":[{"system":"s","value":"2"}]}"""));
        Assert.Equal("name", MinimumCheck.Missing(min, """{"resourceType":"Patient","identifier":[{"system":"s","value":"1"}]}"""));
    }

    [Fact]
    public void JsonPath_reads_simple_paths_and_refuses_xpath()
    {
        const string body = """{"resourceType":"Bundle","total":2,"entry":[{"resource":{"id":"a"}},{"resource":{"id":"b"}}]}""";
        Assert.Equal(["b"], ScriptVariables.JsonPath(body, "$.entry[1].resource.id"));
        Assert.Equal(["2"], ScriptVariables.JsonPath(body, "total"));
        Assert.Empty(ScriptVariables.JsonPath(body, "$.entry[5].resource.id"));
        Assert.Throws<UnsupportedException>(() => ScriptVariables.JsonPath(body, "f:Bundle/f:total/@value"));
    }

    [Fact]
    public void Query_values_are_encoded_once()
    {
        Assert.Equal("Patient?identifier=urn%3Aoid%3A1.2%7C110&name=%E5%BC%A0%20%E4%BC%9F",
            TestScriptRunner.EncodeQuery("Patient?identifier=urn:oid:1.2|110&name=张 伟"));
        Assert.Equal("Patient?name=a%20b", TestScriptRunner.EncodeQuery("Patient?name=a%20b"));
        Assert.Equal("Patient/1", TestScriptRunner.EncodeQuery("Patient/1"));
    }

    /// <summary>A server that answers from a list and records what it was sent.</summary>
    private sealed class Recorder(Func<HttpRequestMessage, HttpResponseMessage> answer) : HttpMessageHandler
    {
        public List<(string Method, string Url, string? Auth, string? Body)> Sent { get; } = [];

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct)
        {
            var body = request.Content is null ? null : await request.Content.ReadAsStringAsync(ct);
            Sent.Add((request.Method.Method, request.RequestUri!.PathAndQuery, request.Headers.Authorization?.ToString(), body));
            return answer(request);
        }
    }

    private static HttpResponseMessage Json(HttpStatusCode status, string json, string? location = null)
    {
        var r = new HttpResponseMessage(status) { Content = new StringContent(json, Encoding.UTF8, "application/fhir+json") };
        if (location is not null) r.Headers.Location = new Uri(location);
        r.Headers.ETag = new System.Net.Http.Headers.EntityTagHeaderValue("\"1\"", true);
        return r;
    }

    [Fact]
    public async Task Operations_build_their_requests_from_fixtures_variables_and_headers()
    {
        var folder = Directory.CreateTempSubdirectory("testscript-unit-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(folder, "org.json"), """{"resourceType":"Organization","name":"${orgName}"}""");
            File.WriteAllText(Path.Combine(folder, "script.json"), """
                {"resourceType":"TestScript","url":"http://example.org/TestScript/unit","name":"Unit","status":"active",
                 "fixture":[{"id":"org","autocreate":true,"autodelete":true,"resource":{"reference":"org.json"}}],
                 "variable":[{"name":"orgName","defaultValue":"测试机构"},
                             {"name":"orgId","expression":"Organization.id","sourceId":"org"},
                             {"name":"where","headerField":"Location","sourceId":"org"}],
                 "test":[{"name":"reads","action":[
                   {"operation":{"type":{"code":"vread"},"resource":"Organization","targetId":"org","encodeRequestUrl":true}},
                   {"assert":{"response":"okay","warningOnly":false}},
                   {"operation":{"type":{"code":"search"},"resource":"Organization","params":"?name=${orgName}&_id=${orgId}","encodeRequestUrl":true,
                     "requestHeader":[{"field":"Authorization","value":"Bearer ${token-other}"}]}},
                   {"assert":{"expression":"name","value":"${orgName}","warningOnly":false}},
                   {"assert":{"headerField":"X-Missing","warningOnly":true}},
                   {"assert":{"requestURL":"${where}","operator":"contains","warningOnly":false,"direction":"request"}}
                 ]}]}
                """);
            var recorder = new Recorder(r => r.Method == HttpMethod.Post
                ? Json(HttpStatusCode.Created, """{"resourceType":"Organization","id":"o1","meta":{"versionId":"1"},"name":"测试机构"}""", "http://fhir.test/base/Organization/o1/_history/1")
                : r.Method == HttpMethod.Delete ? new HttpResponseMessage(HttpStatusCode.NoContent)
                : Json(HttpStatusCode.OK, """{"resourceType":"Organization","id":"o1","name":"测试机构"}"""));
            var runner = new TestScriptRunner(new RunnerOptions
            {
                Http = new HttpClient(recorder), Base = new Uri("http://fhir.test/base/"), Token = "default-token",
                Variables = { ["token-other"] = "other-token" },
            });
            var run = await runner.RunAsync(Path.Combine(folder, "script.json"));

            Assert.Null(run.Error);
            Assert.Equal(["POST /base/Organization", "GET /base/Organization/o1/_history/1",
                          "GET /base/Organization?name=%E6%B5%8B%E8%AF%95%E6%9C%BA%E6%9E%84&_id=o1", "DELETE /base/Organization/o1"],
                recorder.Sent.Select(s => s.Method + " " + s.Url));
            Assert.Equal("""{"resourceType":"Organization","name":"测试机构"}""", recorder.Sent[0].Body); // the fixture, substituted
            Assert.Equal("Bearer default-token", recorder.Sent[0].Auth);
            Assert.Equal("Bearer other-token", recorder.Sent[2].Auth);           // the operation's own header wins
            var test = Assert.Single(run.Tests);
            // requestURL names the created fixture's Location (a header variable), which the search's URL does not contain:
            // that assert fails; the warning before it does not count.
            Assert.Equal("fail", test.Status);
            Assert.Contains(test.Actions, a => a.Outcome == ActionOutcome.Warning);
            Assert.Contains("request URL", test.FirstFailure!.Message);
            // Tokens never reach the reports.
            Assert.DoesNotContain("other-token", TestScriptReports.ExchangeText(test.FailureExchange()));
            Assert.Contains("Bearer ***", TestScriptReports.ExchangeText(test.FailureExchange()));
        }
        finally { Directory.Delete(folder, true); }
    }

    [Fact]
    public async Task An_xml_script_with_a_contained_fixture_sends_it_in_the_format_asked_for()
    {
        var folder = Directory.CreateTempSubdirectory("testscript-unit-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(folder, "script.xml"), """
                <TestScript xmlns="http://hl7.org/fhir">
                  <contained><Patient><id value="p"/><gender value="female"/></Patient></contained>
                  <name value="XmlScript"/><status value="active"/>
                  <fixture id="patient"><autocreate value="false"/><autodelete value="false"/><resource><reference value="#p"/></resource></fixture>
                  <test><name value="create"/>
                    <action><operation><type><code value="create"/></type><resource value="Patient"/><contentType value="xml"/>
                      <encodeRequestUrl value="true"/><sourceId value="patient"/><responseId value="created"/></operation></action>
                    <action><assert><responseCode value="201"/><warningOnly value="false"/></assert></action>
                    <action><assert><expression value="gender"/><compareToSourceId value="patient"/><compareToSourceExpression value="gender"/><warningOnly value="false"/></assert></action>
                    <action><assert><path value="$.gender"/><value value="female"/><warningOnly value="false"/></assert></action>
                  </test>
                </TestScript>
                """);
            var recorder = new Recorder(_ => Json(HttpStatusCode.Created, """{"resourceType":"Patient","id":"p9","gender":"female"}"""));
            var run = await new TestScriptRunner(new RunnerOptions { Http = new HttpClient(recorder), Base = new Uri("http://fhir.test") })
                .RunAsync(Path.Combine(folder, "script.xml"));

            Assert.Equal("XmlScript", run.Name);
            Assert.Equal("pass", Assert.Single(run.Tests).Status);
            var sent = Assert.Single(recorder.Sent);
            Assert.Contains("<Patient xmlns=\"http://hl7.org/fhir\">", sent.Body);
            Assert.Contains("<gender value=\"female\"", sent.Body);
            Assert.Equal("application/fhir+xml; charset=utf-8", run.Tests[0].Actions[0].Exchange!.RequestHeader("Content-Type"));
        }
        finally { Directory.Delete(folder, true); }
    }

    [Fact]
    public async Task A_declared_variable_without_a_value_fails_the_test_an_undeclared_one_skips_it()
    {
        var folder = Directory.CreateTempSubdirectory("testscript-unit-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(folder, "script.json"), """
                {"resourceType":"TestScript","name":"Variables","status":"active",
                 "variable":[{"name":"patientId","expression":"Patient.id","sourceId":"created"}],
                 "test":[{"name":"create","action":[{"operation":{"type":{"code":"create"},"resource":"Patient","sourceId":"p","responseId":"created","encodeRequestUrl":true}}]},
                         {"name":"declared","action":[{"operation":{"type":{"code":"read"},"resource":"Patient","params":"/${patientId}","encodeRequestUrl":true}}]},
                         {"name":"undeclared","action":[{"operation":{"type":{"code":"read"},"resource":"Patient","params":"/${other}","encodeRequestUrl":true}}]}],
                 "fixture":[{"id":"p","autocreate":false,"autodelete":false,"resource":{"reference":"#p"}}],
                 "contained":[{"resourceType":"Patient","id":"p"}]}
                """);
            // The create is refused: the response holds no Patient, so patientId has no value.
            var http = new HttpClient(new Recorder(_ => Json(HttpStatusCode.UnprocessableEntity, """{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"invalid"}]}""")));
            var run = await new TestScriptRunner(new RunnerOptions { Http = http, Base = new Uri("http://fhir.test") }).RunAsync(Path.Combine(folder, "script.json"));
            Assert.Equal(["pass", "fail", "skip"], run.Tests.Select(t => t.Status));
            Assert.Contains("'patientId' has no value", run.Tests[1].FirstFailure!.Message);
            Assert.Contains("'other' is not defined", run.Tests[2].SkipReason);
        }
        finally { Directory.Delete(folder, true); }
    }

    [Fact]
    public async Task An_unsupported_part_skips_its_test_and_a_warning_does_not_fail()
    {
        var folder = Directory.CreateTempSubdirectory("testscript-unit-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(folder, "script.json"), """
                {"resourceType":"TestScript","name":"Skips","status":"active",
                 "test":[{"name":"profile","action":[{"operation":{"type":{"code":"read"},"resource":"Patient","params":"/1","encodeRequestUrl":true}},
                                                    {"assert":{"validateProfileId":"p","warningOnly":false}}]},
                         {"name":"status","action":[{"operation":{"type":{"code":"read"},"resource":"Patient","params":"/1","encodeRequestUrl":true}},
                                                   {"assert":{"responseCode":"404","warningOnly":false}},
                                                   {"assert":{"label":"only a warning","responseCode":"200","warningOnly":true}}]}]}
                """);
            var http = new HttpClient(new Recorder(_ => Json(HttpStatusCode.NotFound, """{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"not-found"}]}""")));
            var (runs, exit) = await TestScriptCommand.RunAsync(folder, new RunnerOptions { Http = http, Base = new Uri("http://fhir.test") }, null, TextWriter.Null);
            var run = Assert.Single(runs);
            Assert.Equal(["skip", "pass"], run.Tests.Select(t => t.Status));
            Assert.Contains("validateProfileId", run.Tests[0].SkipReason);
            Assert.Equal(ActionOutcome.Warning, run.Tests[1].Actions[^1].Outcome);
            Assert.Equal(0, exit); // neither a skip nor a warningOnly assert fails the run
        }
        finally { Directory.Delete(folder, true); }
    }

    [Fact]
    public async Task A_fixture_that_is_no_file_skips_every_test_and_sends_nothing()
    {
        var folder = Directory.CreateTempSubdirectory("testscript-unit-").FullName;
        try
        {
            // As the official R4 examples write it: a reference to a resource the runner cannot load.
            File.WriteAllText(Path.Combine(folder, "script.json"), """
                {"resourceType":"TestScript","name":"ServerFixture","status":"active",
                 "fixture":[{"id":"p","autocreate":true,"autodelete":true,"resource":{"reference":"Patient/example"}}],
                 "test":[{"name":"read","action":[{"operation":{"type":{"code":"read"},"resource":"Patient","targetId":"p","encodeRequestUrl":true}}]}]}
                """);
            var recorder = new Recorder(_ => throw new InvalidOperationException("nothing should be sent"));
            var log = new StringWriter();
            var (runs, exit) = await TestScriptCommand.RunAsync(folder, new RunnerOptions { Http = new HttpClient(recorder), Base = new Uri("http://fhir.test") }, null, log);
            var run = Assert.Single(runs);
            Assert.Equal("skip", Assert.Single(run.Tests).Status);
            Assert.Contains("Patient/example", run.Tests[0].SkipReason);
            Assert.Equal("skip", run.Status);
            Assert.Empty(recorder.Sent);
            Assert.StartsWith("skip  ServerFixture", log.ToString());
            Assert.Equal(0, exit);
        }
        finally { Directory.Delete(folder, true); }
    }
}
