using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using FhirArchive.Fhir.FhirPath;
using FhirArchive.Fhir.Model;
using FhirArchive.Fhir.Serialization;
using FhirArchive.Fhir.Serialization.Json;
using FhirArchive.Fhir.Serialization.Xml;

namespace FhirArchive.Conformance.TestScripts;

/// <summary>What the runner is given: the server, its HTTP client, the default token and the runner's variables.</summary>
public sealed class RunnerOptions
{
    public required HttpClient Http { get; init; }
    /// <summary>The server's FHIR base (no trailing slash needed).</summary>
    public required Uri Base { get; init; }
    /// <summary>Sent as <c>Authorization: Bearer</c> unless an operation names its own Authorization header.</summary>
    public string? Token { get; init; }
    /// <summary>Variables the scripts may use without declaring them (<c>token-ROLE</c>, <c>--var</c>).</summary>
    public Dictionary<string, string> Variables { get; init; } = new(StringComparer.Ordinal);
}

/// <summary>
/// Runs one FHIR R4 TestScript (JSON or XML) against a server: fixtures (contained or relative files, autocreate,
/// autodelete), variables, setup, tests and teardown with their operations and asserts. A part it does not implement
/// makes that test "skip" with the reason; a failed assert stops its test (the next test still runs).
/// </summary>
public sealed class TestScriptRunner(RunnerOptions options)
{
    private static readonly FhirJsonParser Json = new(ParserOptions.Lenient);
    private static readonly FhirXmlParser Xml = new(ParserOptions.Lenient);

    private sealed class Fixture(string id)
    {
        public string Id { get; } = id;
        /// <summary>A static fixture's text (JSON or XML), substituted when it is sent.</summary>
        public string? Text { get; init; }
        public bool IsXml { get; init; }
        public ElementNode? Resource { get; set; }
        /// <summary>A response fixture (responseId), or the autocreate's answer.</summary>
        public HttpExchange? Response { get; set; }
        public string? ServerId { get; set; }
        public bool AutoDelete { get; init; }
        public bool AutoCreate { get; init; }
    }

    private readonly Dictionary<string, Fixture> _fixtures = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ElementNode> _variables = new(StringComparer.Ordinal);
    private HttpExchange? _last;
    private ElementNode? _lastResource;
    private ElementNode? _lastRequestResource;
    private string _folder = ".";

    public static ElementNode? Parse(string text, bool xml)
    {
        if (string.IsNullOrWhiteSpace(text)) return null;
        try { return (xml ? Xml.Parse(text) : Json.Parse(text)).Resource; }
        catch (Exception e) when (e is FhirParseException or FormatException or InvalidOperationException or System.Xml.XmlException or System.Text.Json.JsonException) { return null; }
    }

    public static ElementNode? Load(string file)
    {
        var xml = file.EndsWith(".xml", StringComparison.OrdinalIgnoreCase);
        return Parse(File.ReadAllText(file), xml);
    }

    public async Task<ScriptRun> RunAsync(string file, CancellationToken ct = default)
    {
        var run = new ScriptRun(file) { Started = DateTimeOffset.UtcNow };
        var clock = Stopwatch.StartNew();
        _folder = Path.GetDirectoryName(Path.GetFullPath(file)) ?? ".";
        var script = Load(file);
        if (script is null || script.Type != "TestScript")
        {
            run.Error = "not a TestScript that can be read";
            return run;
        }
        run.Name = script.Child("name")?.Value ?? script.Child("title")?.Value ?? run.Name;
        run.Url = script.Child("url")?.Value;
        run.Id = script.ResourceId;
        try
        {
            LoadFixtures(script);
            foreach (var v in script.ChildrenNamed("variable"))
                if (v.Child("name")?.Value is { } name) _variables[name] = v;
        }
        catch (Exception e) when (e is ScriptException or IOException)
        {
            run.Error = e.Message;
            return run;
        }
        catch (UnsupportedException e)
        {
            // A fixture the runner cannot load: nothing runs, every test is reported skipped with the reason.
            run.Setup.SkipReason = e.Message;
        }

        // Setup: the autocreate fixtures, then the setup actions; a failure leaves the tests unrun (skipped).
        if (run.Setup.SkipReason is null)
            foreach (var f in _fixtures.Values.Where(f => f.AutoCreate))
                if (!await AutoCreateAsync(run.Setup, f, ct)) break;
        if (run.Setup.SkipReason is null && !run.Setup.Failed && script.Child("setup") is { } setup)
            await RunActionsAsync(run.Setup, setup.ChildrenNamed("action"), ct);

        foreach (var test in script.ChildrenNamed("test"))
        {
            var t = new TestRun(test.Child("name")?.Value ?? $"test {run.Tests.Count + 1}", test.Child("description")?.Value);
            run.Tests.Add(t);
            if (run.Setup.Failed || run.Setup.SkipReason is not null)
                t.SkipReason = "setup did not complete: " + (run.Setup.SkipReason ?? run.Setup.FirstFailure?.Message);
            else await RunActionsAsync(t, test.ChildrenNamed("action"), ct);
        }

        if (run.Setup.SkipReason is null && script.Child("teardown") is { } teardown)
            await RunActionsAsync(run.Teardown, teardown.ChildrenNamed("action"), ct);
        foreach (var f in _fixtures.Values.Where(f => f.AutoDelete && f.ServerId is not null))
            await AutoDeleteAsync(run.Teardown, f, ct);
        run.Elapsed = clock.Elapsed;
        return run;
    }

    // ---------------------------------------------------------------- fixtures

    private void LoadFixtures(ElementNode script)
    {
        var contained = script.ChildrenNamed("contained").Where(c => c.ResourceId is not null).ToDictionary(c => c.ResourceId!, StringComparer.Ordinal);
        foreach (var f in script.ChildrenNamed("fixture"))
        {
            var id = f.Child("id")?.Value ?? throw new ScriptException("a fixture has no id");
            var reference = f.Child("resource")?.Child("reference")?.Value;
            string? text = null;
            var xml = false;
            if (reference is null) { }
            else if (reference.StartsWith('#'))
            {
                var c = contained.GetValueOrDefault(reference[1..]) ?? throw new ScriptException($"fixture '{id}': no contained resource {reference}");
                text = FhirJsonSerializer.Serialize(c);
            }
            else if (reference.Contains("://", StringComparison.Ordinal))
                throw new UnsupportedException($"fixture '{id}': absolute reference {reference}");
            else
            {
                // A file relative to the script (the name as written, or with .json / .xml added).
                var path = new[] { "", ".json", ".xml" }.Select(ext => Path.GetFullPath(Path.Combine(_folder, reference + ext))).FirstOrDefault(File.Exists)
                    ?? throw new UnsupportedException($"fixture '{id}': {reference} is no file beside the script (a server or package reference)");
                text = File.ReadAllText(path);
                xml = path.EndsWith(".xml", StringComparison.OrdinalIgnoreCase);
            }
            _fixtures[id] = new Fixture(id)
            {
                Text = text,
                IsXml = xml,
                Resource = text is null ? null : Parse(text, xml),
                AutoCreate = f.Child("autocreate")?.Value == "true",
                AutoDelete = f.Child("autodelete")?.Value == "true",
            };
        }
    }

    private async Task<bool> AutoCreateAsync(TestRun into, Fixture f, CancellationToken ct)
    {
        var type = f.Resource?.Type ?? throw new ScriptException($"fixture '{f.Id}' has no resource to autocreate");
        var label = $"autocreate {f.Id}";
        try
        {
            var body = Substitute(f.Text!);
            var exchange = await SendAsync("POST", Url(type), [], body, f.IsXml ? FhirXml : FhirJson, FhirJson, ct);
            f.Response = exchange;
            f.ServerId = ResourceIdOf(exchange);
            var ok = exchange.Status is >= 200 and < 300;
            into.Actions.Add(new("operation", label, ok ? ActionOutcome.Pass : ActionOutcome.Fail, ok ? null : $"autocreate answered {exchange.Status}", exchange));
            return ok;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or UnsupportedException)
        {
            into.Actions.Add(new("operation", label, ActionOutcome.Error, e.Message, null));
            return false;
        }
    }

    private async Task AutoDeleteAsync(TestRun into, Fixture f, CancellationToken ct)
    {
        try
        {
            var exchange = await SendAsync("DELETE", Url($"{f.Resource!.Type}/{f.ServerId}"), [], null, null, FhirJson, ct);
            var ok = exchange.Status is >= 200 and < 300;
            into.Actions.Add(new("operation", $"autodelete {f.Id}", ok ? ActionOutcome.Pass : ActionOutcome.Warning, ok ? null : $"autodelete answered {exchange.Status}", exchange));
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            into.Actions.Add(new("operation", $"autodelete {f.Id}", ActionOutcome.Warning, e.Message, null));
        }
    }

    private Fixture Fix(string id) => _fixtures.GetValueOrDefault(id) ?? throw new ScriptException($"no fixture '{id}'");

    /// <summary>The server id of a fixture: the one it was created with, a response's resource or Location, else its own.</summary>
    private string TargetId(string fixtureId)
    {
        var f = Fix(fixtureId);
        return f.ServerId ?? (f.Response is { } r ? ResourceIdOf(r) : null) ?? f.Resource?.ResourceId
            ?? throw new ScriptException($"fixture '{fixtureId}' names no resource id");
    }

    private string? TargetVersion(string fixtureId)
    {
        var f = Fix(fixtureId);
        if (f.Response is { } r)
        {
            if (Parse(r.ResponseBody, IsXmlType(r.Header("Content-Type")))?.Child("meta")?.Child("versionId")?.Value is { } v) return v;
            if (LocationParts(r.Header("Location")) is { Version: { } lv }) return lv;
            if (r.Header("ETag") is { } etag) return etag.Replace("W/", "").Trim('"');
        }
        return f.Resource?.Child("meta")?.Child("versionId")?.Value;
    }

    private static string? ResourceIdOf(HttpExchange r) =>
        Parse(r.ResponseBody, IsXmlType(r.Header("Content-Type"))) is { IsResource: true, Type: not "OperationOutcome" and not "Bundle" } res && res.ResourceId is { } id
            ? id
            : LocationParts(r.Header("Location") ?? r.Header("Content-Location")).Id;

    /// <summary>[base/]Type/id[/_history/vid] of a Location header.</summary>
    private static (string? Type, string? Id, string? Version) LocationParts(string? location)
    {
        if (location is null) return (null, null, null);
        var path = Uri.TryCreate(location, UriKind.Absolute, out var abs) ? abs.AbsolutePath : location.Split('?')[0];
        var s = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var h = Array.IndexOf(s, "_history");
        if (h >= 2) return (s[h - 2], s[h - 1], h + 1 < s.Length ? s[h + 1] : null);
        return s.Length >= 2 ? (s[^2], s[^1], null) : (null, null, null);
    }

    // ---------------------------------------------------------------- variables

    public string Substitute(string text) => ScriptVariables.Substitute(text, Resolve);

    private string? Resolve(string name)
    {
        // A declared variable without a value (its source failed or gave nothing) fails the action; only an
        // undeclared name, which the runner was not given, skips the test.
        if (_variables.TryGetValue(name, out var v))
            return EvaluateVariable(v) ?? throw new ScriptException($"variable '{name}' has no value (no defaultValue, and its source gave nothing)");
        return options.Variables.GetValueOrDefault(name) ?? (name == "token" ? options.Token : null);
    }

    private string? EvaluateVariable(ElementNode v)
    {
        var defaultValue = v.Child("defaultValue")?.Value;
        var source = v.Child("sourceId")?.Value;
        if (v.Child("expression")?.Value is { } expression)
        {
            var resource = source is null ? _lastResource : ResourceOf(Fix(source));
            return resource is null ? defaultValue : Texts(Evaluate(expression, resource)).FirstOrDefault() ?? defaultValue;
        }
        if (v.Child("headerField")?.Value is { } header)
        {
            var exchange = source is null ? _last : Fix(source).Response;
            return exchange?.Header(header) ?? defaultValue;
        }
        if (v.Child("path")?.Value is { } path)
        {
            var body = source is null ? _last?.ResponseBody : BodyOf(Fix(source));
            return body is null ? defaultValue : ScriptVariables.JsonPath(body, path).FirstOrDefault() ?? defaultValue;
        }
        return defaultValue;
    }

    private static ElementNode? ResourceOf(Fixture f) =>
        f.Response is { } r ? Parse(r.ResponseBody, IsXmlType(r.Header("Content-Type"))) : f.Resource;

    private static string? BodyOf(Fixture f) => f.Response?.ResponseBody ?? f.Text;

    // ---------------------------------------------------------------- actions

    private async Task RunActionsAsync(TestRun into, IEnumerable<ElementNode> actions, CancellationToken ct)
    {
        foreach (var action in actions)
        {
            try
            {
                if (action.Child("operation") is { } op) await OperationAsync(into, op, ct);
                else if (action.Child("assert") is { } a) Assert(into, a);
            }
            catch (UnsupportedException e)
            {
                into.SkipReason = e.Message;
                into.Actions.Add(new("action", "unsupported", ActionOutcome.Skip, e.Message, null));
                return;
            }
            catch (Exception e) when (e is ScriptException or FhirPathSyntaxException or FhirPathEvaluationException
                                          or FormatException or UriFormatException or InvalidOperationException)
            {
                into.Actions.Add(new(action.Child("operation") is null ? "assert" : "operation", "error", ActionOutcome.Error, e.Message, _last));
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                into.Actions.Add(new("operation", "request", ActionOutcome.Error, "request failed: " + e.Message, null));
            }
            if (into.Failed) return;
        }
    }

    private const string FhirJson = "application/fhir+json";
    private const string FhirXml = "application/fhir+xml";

    private static string MimeType(string? code) => code switch
    {
        null or "" => FhirJson,
        "json" => FhirJson,
        "xml" => FhirXml,
        "ttl" => "text/turtle",
        "none" => "",
        _ => code,
    };

    private static bool IsXmlType(string? contentType) => contentType?.Contains("xml", StringComparison.OrdinalIgnoreCase) == true;

    private async Task OperationAsync(TestRun into, ElementNode op, CancellationToken ct)
    {
        var code = op.Child("type")?.Child("code")?.Value;
        var label = op.Child("label")?.Value ?? op.Child("description")?.Value ?? code ?? op.Child("method")?.Value ?? "operation";
        var sourceId = op.Child("sourceId")?.Value;
        var targetId = op.Child("targetId")?.Value;
        var source = sourceId is null ? null : Fix(sourceId);
        var type = op.Child("resource")?.Value ?? source?.Resource?.Type ?? (targetId is null ? null : ResourceOf(Fix(targetId))?.Type ?? Fix(targetId).Resource?.Type);
        var method = op.Child("method")?.Value?.ToUpperInvariant() ?? code switch
        {
            "read" or "vread" or "search" or "history" or "capabilities" or "search-type" => "GET",
            "create" or "batch" or "transaction" or "validate" => "POST",
            "update" or "updateCreate" => "PUT",
            "delete" or "deleteCondSingle" or "deleteCondMultiple" => "DELETE",
            "patch" => "PATCH",
            null => throw new ScriptException("an operation without type or method"),
            _ => throw new UnsupportedException($"operation type '{code}' without a method"),
        };

        string path;
        if (op.Child("url")?.Value is { } url) path = url;
        else if (op.Child("params")?.Value is { } parameters)
            path = (type ?? "") + parameters;
        else path = code switch
        {
            "read" => $"{Need(type)}/{TargetId(NeedTarget(targetId))}",
            "vread" => $"{Need(type)}/{TargetId(NeedTarget(targetId))}/_history/{TargetVersion(targetId!) ?? throw new ScriptException("vread: the target has no version")}",
            "update" or "updateCreate" or "patch" => $"{Need(type)}/{(targetId is not null ? TargetId(targetId) : source?.Resource?.ResourceId ?? throw new ScriptException($"{code}: no targetId and the source has no id"))}",
            "delete" => $"{Need(type)}/{TargetId(NeedTarget(targetId))}",
            "create" => Need(type),
            "search" or "search-type" => Need(type),
            "history" => targetId is not null ? $"{Need(type)}/{TargetId(targetId)}/_history" : type is null ? "_history" : $"{type}/_history",
            "batch" or "transaction" => "",
            "capabilities" => "metadata",
            "validate" => $"{Need(type)}/$validate",
            _ when op.Child("method") is not null => type ?? "",
            _ => throw new UnsupportedException($"operation type '{code}'"),
        };
        path = Substitute(path);
        if (op.Child("encodeRequestUrl")?.Value != "false") path = EncodeQuery(path);

        var headers = new List<KeyValuePair<string, string>>();
        foreach (var h in op.ChildrenNamed("requestHeader"))
            if (h.Child("field")?.Value is { } field)
                headers.Add(new(field, Substitute(h.Child("value")?.Value ?? "")));

        string? body = null;
        string? contentType = null;
        if (source is not null && method is "POST" or "PUT" or "PATCH")
        {
            body = BodyOf(source) is { } b ? Substitute(b) : throw new ScriptException($"fixture '{sourceId}' has no body");
            var wanted = op.Child("contentType")?.Value;
            contentType = MimeType(wanted ?? (source.IsXml ? "xml" : "json"));
            if (code == "patch" && body.TrimStart().StartsWith('[')) contentType = "application/json-patch+json";
            else if (IsXmlType(contentType) != source.IsXml)
            {
                // The fixture is sent in the format the operation asks for.
                var parsed = Parse(body, source.IsXml) ?? throw new ScriptException($"fixture '{sourceId}' cannot be parsed to convert it");
                body = IsXmlType(contentType) ? FhirXmlSerializer.Serialize(parsed) : FhirJsonSerializer.Serialize(parsed);
            }
        }
        var accept = MimeType(op.Child("accept")?.Value);
        _lastRequestResource = body is null || contentType is null ? null : Parse(body, IsXmlType(contentType));

        var exchange = await SendAsync(method, Url(path), headers, body, contentType, accept, ct);
        _last = exchange;
        _lastResource = Parse(exchange.ResponseBody, IsXmlType(exchange.Header("Content-Type")));
        if (op.Child("responseId")?.Value is { } responseId)
            _fixtures[responseId] = new Fixture(responseId) { Response = exchange, Resource = _lastResource };
        into.Actions.Add(new("operation", $"{label}: {method} {path} → {exchange.Status}", ActionOutcome.Pass, null, exchange));
    }

    private static string Need(string? type) => type ?? throw new ScriptException("the operation names no resource type");

    private static string NeedTarget(string? targetId) => targetId ?? throw new ScriptException("the operation needs a targetId (or params/url)");

    /// <summary>Encodes each query value (encodeRequestUrl, the default): characters such as | and spaces are sent escaped.</summary>
    public static string EncodeQuery(string path)
    {
        var q = path.IndexOf('?');
        if (q < 0) return path;
        var parts = path[(q + 1)..].Split('&', StringSplitOptions.RemoveEmptyEntries).Select(p =>
        {
            var eq = p.IndexOf('=');
            return eq < 0 ? p : p[..(eq + 1)] + Uri.EscapeDataString(Uri.UnescapeDataString(p[(eq + 1)..]));
        });
        return path[..q] + "?" + string.Join('&', parts);
    }

    private string Url(string path)
    {
        if (Uri.TryCreate(path, UriKind.Absolute, out var abs) && abs.Scheme.StartsWith("http", StringComparison.Ordinal)) return path;
        return options.Base.ToString().TrimEnd('/') + "/" + path.TrimStart('/');
    }

    private async Task<HttpExchange> SendAsync(string method, string url, List<KeyValuePair<string, string>> headers, string? body,
        string? contentType, string? accept, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), url);
        var sent = new List<KeyValuePair<string, string>>();
        if (!string.IsNullOrEmpty(accept) && !headers.Any(h => h.Key.Equals("Accept", StringComparison.OrdinalIgnoreCase)))
            headers.Insert(0, new("Accept", accept));
        var token = options.Token;
        if (token is not null && !headers.Any(h => h.Key.Equals("Authorization", StringComparison.OrdinalIgnoreCase)))
            headers.Add(new("Authorization", "Bearer " + token));
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8);
            // The body is sent as UTF-8 and says so.
            request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType ?? FhirJson);
            request.Content.Headers.ContentType.CharSet ??= "utf-8";
            sent.Add(new("Content-Type", request.Content.Headers.ContentType.ToString()));
        }
        foreach (var (k, v) in headers)
        {
            if (k.Equals("Content-Type", StringComparison.OrdinalIgnoreCase) && request.Content is not null)
                request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(v);
            else if (!request.Headers.TryAddWithoutValidation(k, v)) request.Content?.Headers.TryAddWithoutValidation(k, v);
            sent.Add(new(k, k.Equals("Authorization", StringComparison.OrdinalIgnoreCase) ? Redact(v) : v));
        }
        using var response = await options.Http.SendAsync(request, ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        var received = response.Headers.Concat(response.Content.Headers)
            .Select(h => new KeyValuePair<string, string>(h.Key, string.Join(", ", h.Value))).ToList();
        return new HttpExchange(method, url, sent, body, (int)response.StatusCode, response.ReasonPhrase ?? "", received, text);
    }

    /// <summary>The reports never carry a token.</summary>
    private static string Redact(string authorization) =>
        authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? "Bearer ***" : "***";

    // ---------------------------------------------------------------- asserts

    private static readonly Dictionary<string, string> ResponseCodes = new(StringComparer.Ordinal)
    {
        ["okay"] = "200", ["created"] = "201", ["noContent"] = "204", ["notModified"] = "304", ["bad"] = "400",
        ["forbidden"] = "403", ["notFound"] = "404", ["methodNotAllowed"] = "405", ["conflict"] = "409", ["gone"] = "410",
        ["preconditionFailed"] = "412", ["unprocessable"] = "422",
    };

    private void Assert(TestRun into, ElementNode a)
    {
        var label = a.Child("label")?.Value ?? a.Child("description")?.Value ?? "assert";
        var warningOnly = a.Child("warningOnly")?.Value == "true";
        var (ok, message) = Check(a);
        var outcome = ok ? ActionOutcome.Pass : warningOnly ? ActionOutcome.Warning : ActionOutcome.Fail;
        into.Actions.Add(new("assert", label, outcome, ok ? null : $"{label}: {message}", _last));
    }

    /// <summary>Evaluates one assert: (passed, what was expected and found).</summary>
    private (bool, string) Check(ElementNode a)
    {
        if (a.Child("validateProfileId") is not null) throw new UnsupportedException("assert.validateProfileId");
        if (a.Child("navigationLinks") is not null) throw new UnsupportedException("assert.navigationLinks");
        if (a.Child("compareToSourcePath") is not null) throw new UnsupportedException("assert.compareToSourcePath (use compareToSourceExpression)");

        var request = a.Child("direction")?.Value == "request";
        var sourceId = a.Child("sourceId")?.Value;
        var op = a.Child("operator")?.Value;
        var value = a.Child("value")?.Value is { } raw ? Substitute(raw) : null;
        HttpExchange? exchange = sourceId is null ? _last : Fix(sourceId).Response;
        ElementNode? resource = sourceId is not null ? ResourceOf(Fix(sourceId)) : request ? _lastRequestResource : _lastResource;
        string? body = sourceId is not null ? BodyOf(Fix(sourceId)) : request ? exchange?.RequestBody : exchange?.ResponseBody;

        if (a.Child("response")?.Value is { } response)
        {
            var expected = ResponseCodes.GetValueOrDefault(response) ?? throw new UnsupportedException($"assert.response '{response}'");
            return Compare(op ?? "equals", [Status(exchange)], expected, "response status");
        }
        if (a.Child("responseCode")?.Value is { } responseCode)
        {
            var expected = Substitute(responseCode);
            return Compare(op ?? (expected.Contains(',') ? "in" : "equals"), [Status(exchange)], expected, "response status");
        }
        if (a.Child("contentType")?.Value is { } contentType)
        {
            var actual = request ? exchange?.RequestHeader("Content-Type") : exchange?.Header("Content-Type");
            return Compare(op ?? "contains", actual is null ? [] : [actual], MimeType(contentType), "Content-Type");
        }
        if (a.Child("headerField")?.Value is { } field)
        {
            var actual = request ? exchange?.RequestHeader(field) : exchange?.Header(field);
            return Compare(op ?? (value is null ? "notEmpty" : "equals"), actual is null ? [] : [actual], value, $"header {field}");
        }
        if (a.Child("requestMethod")?.Value is { } requestMethod)
            return Compare(op ?? "equals", exchange is null ? [] : [exchange.Method.ToLowerInvariant()], requestMethod.ToLowerInvariant(), "request method");
        if (a.Child("requestURL")?.Value is { } requestUrl)
            return Compare(op ?? "equals", exchange is null ? [] : [exchange.Url], Substitute(requestUrl), "request URL");
        if (a.Child("resource")?.Value is { } type)
            return Compare(op ?? "equals", resource?.Type is { } t ? [t] : [], type, "resource type");
        if (a.Child("minimumId")?.Value is { } minimumId)
        {
            // The fixture as it was sent: its variables substituted.
            var f = Fix(minimumId);
            var minimum = (BodyOf(f) is { } text ? Parse(Substitute(text), f.IsXml && f.Response is null) : null)
                ?? throw new ScriptException($"fixture '{minimumId}' has no resource");
            if (resource is null) return (false, "no resource in the response to compare with the minimum");
            var missing = MinimumCheck.Missing(FhirJsonSerializer.Serialize(minimum), FhirJsonSerializer.Serialize(resource));
            return (missing is null, $"the response lacks {missing} of fixture '{minimumId}'");
        }
        if (a.Child("expression")?.Value is { } expression)
        {
            if (resource is null) return (false, $"no resource to evaluate '{expression}' on");
            var results = Evaluate(expression, resource);
            if (a.Child("compareToSourceId")?.Value is { } compareId)
            {
                var other = ResourceOf(Fix(compareId)) ?? throw new ScriptException($"fixture '{compareId}' has no resource");
                var otherExpression = a.Child("compareToSourceExpression")?.Value ?? expression;
                var expected = Texts(Evaluate(otherExpression, other));
                var actual = Texts(results);
                var equal = actual.SequenceEqual(expected);
                var pass = (op ?? "equals") switch
                {
                    "equals" => equal,
                    "notEquals" => !equal,
                    _ => throw new UnsupportedException($"operator '{op}' with compareToSourceId"),
                };
                return (pass, $"'{expression}' gave {Show(actual)}, fixture '{compareId}' '{otherExpression}' gave {Show(expected)} ({op ?? "equals"})");
            }
            if (value is null && op is null or "eval")
                return (IsTrue(results), $"'{expression}' is not true (gave {Show(Texts(results))})");
            return Compare(op ?? "equals", Texts(results), value, $"'{expression}'");
        }
        if (a.Child("compareToSourceId")?.Value is { } compareOnly && a.Child("compareToSourceExpression")?.Value is { } compareExpression)
        {
            var other = ResourceOf(Fix(compareOnly)) ?? throw new ScriptException($"fixture '{compareOnly}' has no resource");
            var results = Evaluate(compareExpression, other);
            if (value is null && op is null or "eval")
                return (IsTrue(results), $"'{compareExpression}' on fixture '{compareOnly}' is not true");
            return Compare(op ?? "equals", Texts(results), value, $"'{compareExpression}' on '{compareOnly}'");
        }
        if (a.Child("path")?.Value is { } path)
        {
            var found = body is null ? [] : ScriptVariables.JsonPath(body, path);
            return Compare(op ?? (value is null ? "notEmpty" : "equals"), found, value, $"path {path}");
        }
        throw new UnsupportedException("an assert without response, responseCode, contentType, headerField, resource, expression, minimumId or path");
    }

    private static string Status(HttpExchange? e) => e is null ? "(no request)" : e.Status.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static (bool, string) Compare(string op, IReadOnlyList<string> actual, string? expected, string what) =>
        (AssertOperators.Compare(op, actual, expected), $"expected {what} {op}{(expected is null ? "" : " " + expected)}, got {Show(actual)}");

    private static string Show(IReadOnlyList<string> values) =>
        values.Count == 0 ? "nothing" : values.Count == 1 ? values[0] : "[" + string.Join(", ", values) + "]";

    private IReadOnlyList<FhirPathItem> Evaluate(string expression, ElementNode resource)
    {
        var ctx = new EvaluationContext { Resource = resource };
        // The script's variables are FHIRPath variables too (%name), as the runner knows them now.
        foreach (var name in _variables.Keys)
            if (expression.Contains("%" + name, StringComparison.Ordinal) && Resolve(name) is { } v) ctx.SetVariable(name, v);
        return FhirPathCompiler.Default.Compile(Substitute(expression)).Evaluate(resource, ctx);
    }

    private static bool IsTrue(IReadOnlyList<FhirPathItem> results) =>
        results.Count == 1 ? results[0].Value is not false : results.Count > 0;

    /// <summary>Each result as text: a primitive's value, a System value formatted, a complex element as JSON.</summary>
    public static List<string> Texts(IReadOnlyList<FhirPathItem> items) => [.. items.Select(it =>
        it.Node is { IsPrimitive: false } n ? Serialize(n) : it.Node?.Value ?? FhirPathValues.Format(it.Value))];

    private static string Serialize(ElementNode n)
    {
        using var ms = new MemoryStream();
        using (var w = new System.Text.Json.Utf8JsonWriter(ms)) FhirJsonSerializer.Write(n, w);
        return Encoding.UTF8.GetString(ms.ToArray());
    }
}
