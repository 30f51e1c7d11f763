using System.Xml.Linq;
using FhirArchive.Conformance.TestScripts;
using FhirArchive.Fhir.Serialization;
using FhirArchive.Fhir.Serialization.Json;
using Xunit;

namespace FhirArchive.Conformance.Tests;

/// <summary>A demo server as the README starts it: sample data, demo accounts, the shipped record profiles, the consent rules.</summary>
public class DemoServerFixture : SecurityFixture
{
    public DemoServerFixture() : this(consent: true) { }

    protected DemoServerFixture(bool consent, Func<Dictionary<string, string>, Dictionary<string, string>>? storage = null)
        : base((storage ?? (s => s))(new Dictionary<string, string> { ["Consent:Enabled"] = consent ? "true" : "false" }), shippedRecordProfiles: true) { }

    /// <summary>The runner's options: the suite's own platform client by default, Dr 吴昊 (北京安贞医院) as other-clinician.</summary>
    public async Task<RunnerOptions> OptionsAsync() => new()
    {
        Http = Client,
        Base = BaseAddress,
        Variables = { ["token-other-clinician"] = await DemoTokenAsync("drwu", "openid fhirUser user/*.cruds") },
    };

    /// <summary>conformance/testscripts, found from the test's folder upwards.</summary>
    public static string Suites(string file = "")
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (Directory.Exists(Path.Combine(d.FullName, "conformance", "testscripts")))
                return Path.Combine(d.FullName, "conformance", "testscripts", file);
        throw new DirectoryNotFoundException("conformance/testscripts");
    }
}

/// <summary>The same server with the consent rules turned off: a broken server behaviour the consent suite must catch.</summary>
public sealed class NoConsentServerFixture() : DemoServerFixture(consent: false);

/// <summary>The demo server on PostgreSQL (skipped, with the reason, without the PostgreSQL binaries).</summary>
public sealed class PostgresDemoServerFixture() : DemoServerFixture(consent: true, storage: s => PostgresCluster.Settings(s));

public abstract class ShippedSuitesTestsBase<TFixture>(TFixture fx) where TFixture : DemoServerFixture
{
    protected TFixture Fx { get; } = fx;

    [FhirFact]
    public async Task The_shipped_suites_pass_and_write_their_reports()
    {
        var output = Directory.CreateTempSubdirectory("testscript-out-").FullName;
        try
        {
            var log = new StringWriter();
            var (runs, exit) = await TestScriptCommand.RunAsync(DemoServerFixture.Suites(), await Fx.OptionsAsync(), output, log);

            Assert.True(exit == 0, log.ToString());
            Assert.Equal(["ConsentRules", "LocalHisSubmission", "R4BaseInteractions", "RecordRules"], runs.Select(r => r.Name).Order());
            Assert.All(runs, r => Assert.All(r.Tests, t => Assert.Equal("pass", t.Status)));
            Assert.True(runs.Sum(r => r.Tests.Count) >= 25, "the suites hold their tests");

            // One TestReport per script, valid R4 (strict parse), passing; the JUnit totals agree.
            foreach (var run in runs)
            {
                var file = Path.Combine(output, Path.GetFileNameWithoutExtension(run.File) + ".testreport.json");
                var report = new FhirJsonParser(ParserOptions.Strict).Parse(File.ReadAllText(file)).GetResourceOrThrow();
                Assert.Equal("TestReport", report.Type);
                Assert.Equal("pass", report.Child("result")!.Value);
                Assert.Equal(run.Tests.Count, report.ChildrenNamed("test").Count());
            }
            var junit = XElement.Load(Path.Combine(output, "junit.xml"));
            Assert.Equal(runs.Sum(r => r.Tests.Count).ToString(), junit.Attribute("tests")!.Value);
            Assert.Equal("0", junit.Attribute("failures")!.Value);
            Assert.Contains("R4BaseInteractions", File.ReadAllText(Path.Combine(output, "report.html")));
        }
        finally { Directory.Delete(output, true); }
    }
}

public sealed class PostgresShippedSuitesTests(PostgresDemoServerFixture fx) : ShippedSuitesTestsBase<PostgresDemoServerFixture>(fx), IClassFixture<PostgresDemoServerFixture>;

public sealed class ShippedSuitesTests(DemoServerFixture fx) : ShippedSuitesTestsBase<DemoServerFixture>(fx), IClassFixture<DemoServerFixture>
{
    [Fact]
    public async Task A_wrong_expectation_fails_the_run_and_names_the_assert()
    {
        var folder = Directory.CreateTempSubdirectory("testscript-wrong-").FullName;
        try
        {
            // Expects 200 where the server answers 404.
            File.WriteAllText(Path.Combine(folder, "wrong.json"), """
                {"resourceType":"TestScript","url":"http://example.org/TestScript/wrong","name":"Wrong","status":"active",
                 "test":[{"name":"missing-is-found","action":[
                    {"operation":{"type":{"code":"read"},"resource":"Patient","params":"/testscript-no-such-patient","encodeRequestUrl":true}},
                    {"assert":{"label":"expects 200","response":"okay","warningOnly":false}}]},
                  {"name":"missing-is-missing","action":[
                    {"operation":{"type":{"code":"read"},"resource":"Patient","params":"/testscript-no-such-patient","encodeRequestUrl":true}},
                    {"assert":{"response":"notFound","warningOnly":false}}]}]}
                """);
            var output = Path.Combine(folder, "out");
            var log = new StringWriter();
            var (runs, exit) = await TestScriptCommand.RunAsync(folder, await Fx.OptionsAsync(), output, log);

            Assert.Equal(1, exit);
            var run = Assert.Single(runs);
            Assert.Equal(["fail", "pass"], run.Tests.Select(t => t.Status));
            Assert.Equal("expects 200: expected response status equals 200, got 404", run.Tests[0].FirstFailure!.Message);
            Assert.Contains("FAIL  Wrong", log.ToString());
            Assert.Contains("testscript: 1 passed, 1 failed, 0 skipped", log.ToString());

            // The reports show the failure with its request and response.
            var junit = XElement.Load(Path.Combine(output, "junit.xml"));
            Assert.Equal("1", junit.Attribute("failures")!.Value);
            var failure = junit.Descendants("failure").Single();
            Assert.Contains("/Patient/testscript-no-such-patient", failure.Value);
            Assert.Contains("HTTP 404", failure.Value);
            var html = File.ReadAllText(Path.Combine(output, "report.html"));
            Assert.Contains("HTTP 404", html);
            Assert.Contains("OperationOutcome", html);
            var report = new FhirJsonParser(ParserOptions.Strict).Parse(File.ReadAllText(Path.Combine(output, "wrong.testreport.json"))).GetResourceOrThrow();
            Assert.Equal("fail", report.Child("result")!.Value);
        }
        finally { Directory.Delete(folder, true); }
    }

    [Fact]
    public async Task Without_the_other_clinician_token_the_consent_tests_are_skipped_not_crashed()
    {
        var options = await Fx.OptionsAsync();
        options.Variables.Clear();
        var (runs, exit) = await TestScriptCommand.RunAsync(DemoServerFixture.Suites("consent-rules.json"), options, null, TextWriter.Null);
        var run = Assert.Single(runs);
        Assert.Equal(["skip", "pass", "skip", "skip"], run.Tests.Select(t => t.Status));
        Assert.Contains("token-other-clinician", run.Tests[0].SkipReason);
        Assert.Equal(0, exit);
    }
}

public sealed class BrokenServerTests(NoConsentServerFixture fx) : IClassFixture<NoConsentServerFixture>
{
    [Fact]
    public async Task A_server_that_shows_records_to_any_clinician_fails_the_consent_suite()
    {
        var log = new StringWriter();
        var (runs, exit) = await TestScriptCommand.RunAsync(DemoServerFixture.Suites("consent-rules.json"), await fx.OptionsAsync(), null, log);

        Assert.Equal(1, exit);
        var run = Assert.Single(runs);
        var read = run.Tests.Single(t => t.Name == "other-institution-read");
        Assert.Equal("fail", read.Status);
        Assert.Contains("expected response status equals 404, got 200", read.FirstFailure!.Message);
        Assert.Equal("fail", run.Tests.Single(t => t.Name == "other-institution-search").Status);
        Assert.Equal("pass", run.Tests.Single(t => t.Name == "holder-reads").Status);
        Assert.Contains("FAIL  ConsentRules", log.ToString());
    }
}
