using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Xml.Linq;

namespace FhirArchive.Conformance.TestScripts;

/// <summary>The outputs of a run: a FHIR TestReport per script (JSON), one self-contained HTML summary, one JUnit XML.</summary>
public static class TestScriptReports
{
    private const int Excerpt = 2000;

    private static readonly JsonSerializerOptions Pretty = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static string Code(ActionOutcome o) => o.ToString().ToLowerInvariant();

    /// <summary>The R4 TestReport of one script run (status completed, result pass/fail/pending, score = % tests passed).</summary>
    public static JsonObject TestReport(ScriptRun run, string server)
    {
        var reported = run.Tests.Count(t => !t.Skipped);
        var report = new JsonObject
        {
            ["resourceType"] = "TestReport",
            ["id"] = ReportId(run),
            ["name"] = run.Name,
            ["status"] = run.Error is null ? "completed" : "entered-in-error",
            ["testScript"] = run.Url is { } url ? new JsonObject { ["reference"] = url, ["display"] = run.Name } : new JsonObject { ["display"] = run.Name },
            ["result"] = run.Failed ? "fail" : reported == 0 ? "pending" : "pass",
            ["score"] = reported == 0 ? 0 : Math.Round(100m * run.Passed / reported, 1),
            ["tester"] = "FhirArchive conformance runner",
            ["issued"] = run.Started.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
            ["participant"] = new JsonArray(
                new JsonObject { ["type"] = "test-engine", ["uri"] = "urn:fhirarchive:conformance-runner", ["display"] = "FhirArchive conformance runner" },
                new JsonObject { ["type"] = "server", ["uri"] = server }),
        };
        if (run.Setup.Actions.Count > 0) report["setup"] = new JsonObject { ["action"] = Actions(run.Setup, true) };
        if (run.Tests.Count > 0)
            report["test"] = new JsonArray([.. run.Tests.Select(t =>
            {
                var o = new JsonObject { ["name"] = t.Name };
                if (t.Description is { } d) o["description"] = d;
                var actions = Actions(t, true);
                // TestReport.test.action is 1..*: a test that never ran reports its skip as one.
                if (actions.Count == 0)
                    actions.Add(new JsonObject { ["operation"] = new JsonObject { ["result"] = "skip", ["message"] = t.SkipReason ?? "not run" } });
                o["action"] = actions;
                return (JsonNode)o;
            })]);
        var teardown = Actions(run.Teardown, false);
        if (teardown.Count > 0) report["teardown"] = new JsonObject { ["action"] = teardown };
        return report;
    }

    private static string ReportId(ScriptRun run)
    {
        var id = new string([.. (run.Id ?? Path.GetFileNameWithoutExtension(run.File)).Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' ? c : '-')]);
        return id.Length > 64 ? id[..64] : id;
    }

    private static JsonArray Actions(TestRun t, bool asserts)
    {
        var list = new JsonArray();
        foreach (var a in t.Actions)
        {
            var isAssert = a.Kind == "assert";
            if (isAssert && !asserts) continue; // the teardown holds operations only
            var detail = new JsonObject { ["result"] = Code(a.Outcome) };
            var message = a.Message ?? a.Label;
            if (message.Length > 0) detail["message"] = message;
            list.Add(new JsonObject { [isAssert ? "assert" : "operation"] = detail });
        }
        return list;
    }

    public static string TestReportJson(ScriptRun run, string server) => TestReport(run, server).ToJsonString(Pretty);

    /// <summary>JUnit XML: a testsuite per script, a testcase per test (a failed setup or teardown is one too).</summary>
    public static string JUnit(IReadOnlyList<ScriptRun> runs)
    {
        var suites = new XElement("testsuites",
            new XAttribute("name", "FhirArchive TestScripts"),
            new XAttribute("tests", runs.Sum(r => r.ReportedTests().Count() + (r.Error is null ? 0 : 1))),
            new XAttribute("failures", runs.Sum(r => r.ReportedTests().Count(t => t.Failed) + (r.Error is null ? 0 : 1))),
            new XAttribute("skipped", runs.Sum(r => r.SkippedCount)));
        foreach (var r in runs)
        {
            var cases = r.ReportedTests().ToList();
            var suite = new XElement("testsuite",
                new XAttribute("name", r.Name), new XAttribute("file", r.File),
                new XAttribute("tests", cases.Count + (r.Error is null ? 0 : 1)),
                new XAttribute("failures", cases.Count(t => t.Failed) + (r.Error is null ? 0 : 1)),
                new XAttribute("skipped", cases.Count(t => t.Skipped)),
                new XAttribute("time", r.Elapsed.TotalSeconds.ToString("0.000", CultureInfo.InvariantCulture)));
            if (r.Error is not null)
                suite.Add(new XElement("testcase", new XAttribute("name", "load"), new XAttribute("classname", r.Name),
                    new XElement("failure", new XAttribute("message", r.Error))));
            foreach (var t in cases)
            {
                var c = new XElement("testcase", new XAttribute("name", t.Name), new XAttribute("classname", r.Name));
                if (t.Failed)
                    c.Add(new XElement("failure", new XAttribute("message", t.FirstFailure?.Message ?? "failed"), ExchangeText(t.FailureExchange())));
                else if (t.Skipped) c.Add(new XElement("skipped", new XAttribute("message", t.SkipReason!)));
                suite.Add(c);
            }
            suites.Add(suite);
        }
        return new XDocument(new XDeclaration("1.0", "utf-8", null), suites).ToString();
    }

    /// <summary>A request and its response as text: method, URL, headers, body excerpts.</summary>
    public static string ExchangeText(HttpExchange? e)
    {
        if (e is null) return "";
        var sb = new StringBuilder();
        sb.Append(e.Method).Append(' ').AppendLine(e.Url);
        foreach (var (k, v) in e.RequestHeaders) sb.Append(k).Append(": ").AppendLine(v);
        if (e.RequestBody is { } body) sb.AppendLine().AppendLine(Cut(body));
        sb.AppendLine().Append("HTTP ").Append(e.Status).Append(' ').AppendLine(e.Reason);
        foreach (var (k, v) in e.ResponseHeaders) sb.Append(k).Append(": ").AppendLine(v);
        sb.AppendLine().AppendLine(Cut(e.ResponseBody));
        return sb.ToString();
    }

    private static string Cut(string s) => s.Length <= Excerpt ? s : s[..Excerpt] + $"… ({s.Length:N0} characters)";

    /// <summary>One self-contained page (inline style, no script): totals, then per script its tests; a failure shows the exchange.</summary>
    public static string Html(IReadOnlyList<ScriptRun> runs, string server)
    {
        static string H(string? s) => WebUtility.HtmlEncode(s ?? "");
        var passed = runs.Sum(r => r.Passed);
        var failed = runs.Sum(r => r.ReportedTests().Count(t => t.Failed) + (r.Error is null ? 0 : 1));
        var skipped = runs.Sum(r => r.SkippedCount);
        var sb = new StringBuilder();
        sb.Append("""
            <!DOCTYPE html>
            <html lang="zh-CN"><head><meta charset="utf-8"><title>TestScript 报告 / report</title>
            <style>
            body{font-family:system-ui,"PingFang SC","Microsoft YaHei",sans-serif;margin:2em;color:#222}
            table{border-collapse:collapse;width:100%;margin-bottom:1.5em}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}
            .pass{color:#176f2c;font-weight:bold}.fail{color:#b00020;font-weight:bold}.skip{color:#8a6d00;font-weight:bold}
            pre{background:#f6f6f6;padding:8px;white-space:pre-wrap;word-break:break-all;max-height:30em;overflow:auto}
            </style></head><body>
            """);
        sb.Append($"<h1>TestScript 报告 / TestScript report</h1><p>服务器 / server: <code>{H(server)}</code> · ");
        sb.Append($"<span class=\"pass\">{passed} 通过 passed</span> · <span class=\"fail\">{failed} 失败 failed</span> · <span class=\"skip\">{skipped} 跳过 skipped</span></p>");
        foreach (var r in runs)
        {
            var status = r.Status;
            sb.Append($"<h2><span class=\"{status}\">{status}</span> {H(r.Name)}</h2><p><code>{H(r.File)}</code> · {r.Elapsed.TotalSeconds:0.0} s</p>");
            if (r.Error is not null) { sb.Append($"<p class=\"fail\">{H(r.Error)}</p>"); continue; }
            sb.Append("<table><tr><th>结果 result</th><th>测试 test</th><th>说明 detail</th></tr>");
            foreach (var t in r.ReportedTests())
            {
                sb.Append($"<tr><td class=\"{t.Status}\">{t.Status}</td><td>{H(t.Name)}");
                if (t.Description is { } d) sb.Append($"<br><small>{H(d)}</small>");
                sb.Append("</td><td>");
                if (t.Failed)
                {
                    sb.Append($"<div class=\"fail\">{H(t.FirstFailure?.Message)}</div>");
                    if (t.FailureExchange() is { } e) sb.Append($"<pre>{H(ExchangeText(e))}</pre>");
                }
                else if (t.Skipped) sb.Append(H(t.SkipReason));
                else sb.Append(H(string.Join(" · ", t.Actions.Where(a => a.Outcome == ActionOutcome.Warning).Select(a => "warning: " + a.Message))));
                sb.Append("</td></tr>");
            }
            sb.Append("</table>");
        }
        sb.Append("</body></html>\n");
        return sb.ToString();
    }
}
