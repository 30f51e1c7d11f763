using System.Text;

namespace FhirArchive.Server.Tests.Hostile;

/// <summary>One generated request: what to send and whether it asks to write.</summary>
public sealed record HostileRequest(string Family, HttpMethod Method, string Url, byte[]? Body, string? ContentType, (string Name, string Value)[] Headers)
{
    public bool IsWrite => Method != HttpMethod.Get && Method != HttpMethod.Head && !Url.Contains("_search") && !Url.Contains("$validate");

    public override string ToString()
    {
        var body = Body is null ? "" : Encoding.UTF8.GetString(Body, 0, Math.Min(Body.Length, 300));
        return $"[{Family}] {Method} {(Url.Length > 200 ? Url[..200] + "…" : Url)} ({ContentType}) {string.Join(", ", Headers.Select(h => h.Name + ": " + (h.Value.Length > 60 ? h.Value[..60] + "…" : h.Value)))} {body}";
    }
}

/// <summary>
/// Seeded generator of malformed and hostile FHIR requests: bodies (JSON and XML, mutated), content types and forms,
/// searches, headers, patches and Bundles. The same seed gives the same requests.
/// </summary>
public sealed class HostileRequests(Random rnd, string patientId)
{
    public const string JsonType = "application/fhir+json";
    public const string XmlType = "application/fhir+xml";

    private static readonly string[] Families = ["json", "xml", "content-type", "search", "header", "patch", "bundle", "url"];

    private string PatientJson => """{"resourceType":"Patient","identifier":[{"system":"urn:fuzz","value":"1"}],"name":[{"family":"张","given":["伟"]}],"gender":"male","birthDate":"1980-01-02"}""";
    private string ObservationJson => $$$"""{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8310-5"}],"text":"体温"},"subject":{"reference":"Patient/{{{patientId}}}"},"effectiveDateTime":"2024-03-01T08:30:00+08:00","valueQuantity":{"value":36.6,"unit":"Cel","system":"http://unitsofmeasure.org","code":"Cel"}}""";
    private const string ConditionJson = """{"resourceType":"Condition","clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}]},"code":{"text":"高血压"},"subject":{"reference":"Patient/x"}}""";

    private const string PatientXml = """<Patient xmlns="http://hl7.org/fhir"><identifier><system value="urn:fuzz"/><value value="1"/></identifier><name><family value="张"/><given value="伟"/></name><gender value="male"/><birthDate value="1980-01-02"/></Patient>""";
    private string ObservationXml => $"""<Observation xmlns="http://hl7.org/fhir"><status value="final"/><code><coding><system value="http://loinc.org"/><code value="8310-5"/></coding><text value="体温"/></code><subject><reference value="Patient/{patientId}"/></subject><effectiveDateTime value="2024-03-01T08:30:00+08:00"/><valueQuantity><value value="36.6"/><unit value="Cel"/></valueQuantity></Observation>""";
    private const string NarrativeXml = """<Patient xmlns="http://hl7.org/fhir"><text><status value="generated"/><div xmlns="http://www.w3.org/1999/xhtml"><p>张伟</p></div></text><active value="true"/></Patient>""";

    private static readonly string[] HostileValues =
    [
        "", " ", "2020-02-30", "2020-13-01", "1e999999", "-0", "99999999999999999999", "NaN", "true", "null", "0x1F", "1980-01-02T25:00:00Z",
        "\u0001", "\uFFFE", "\\ud800", "\\u0000", "<script>alert(1)</script>", "&#xD800;", "&amp;", "&bogus;", "]]>", "' OR 1=1 --", "%00", "../../etc/passwd",
        "😀", "\u202e", "a|b|c|d", "urn:uuid:", "Patient/", "Patient/../..", "http://", "\t", "a\\,b", "$", "\\", "999999999999999999999999999999.5",
        "2147483648", "-2147483649", "1.0e-400", "T", "--", new string('x', 5000), new string('9', 400),
    ];

    private static readonly string[] ContentTypes =
    [
        JsonType, XmlType, "application/json", "application/xml", "text/xml", "text/plain", "", "multipart/form-data; boundary=",
        "multipart/form-data; boundary=x", "multipart/form-data", "application/x-www-form-urlencoded", "application/fhir+json; charset=latin1",
        "application/fhir+json; charset=utf-16", ";;;", "*/*", "application/fhir+json; fhirVersion=3.0", "application/octet-stream",
        "application/json-patch+json", "multipart/mixed; boundary=\"" + new string('b', 200) + "\"", "application/fhir+xml; charset=\"\"", "a/b/c",
    ];

    public HostileRequest Next()
    {
        var family = Families[rnd.Next(Families.Length)];
        return family switch
        {
            "json" => BodyRequest(family, JsonSeed(), JsonType),
            "xml" => BodyRequest(family, XmlSeed(), XmlType),
            "content-type" => ContentTypeRequest(),
            "search" => SearchRequest(),
            "header" => HeaderRequest(),
            "patch" => PatchRequest(),
            "bundle" => BundleRequest(),
            _ => UrlRequest(),
        };
    }

    private T Pick<T>(IReadOnlyList<T> items) => items[rnd.Next(items.Count)];

    private string JsonSeed() => Pick([PatientJson, ObservationJson, ConditionJson, SmallBundleJson()]);

    private string XmlSeed() => Pick([PatientXml, ObservationXml, NarrativeXml, SmallBundleXml()]);

    private HostileRequest BodyRequest(string family, string seed, string contentType)
    {
        var bytes = Mutate(seed, family == "xml");
        var type = TypeOf(seed, family == "xml");
        var (method, url) = rnd.Next(6) switch
        {
            0 => (HttpMethod.Put, $"/{type}/{(type == "Patient" ? patientId : "fuzz-" + rnd.Next(1000))}"),
            1 => (HttpMethod.Post, $"/{type}/$validate"),
            2 => (HttpMethod.Post, "/"),
            _ => (HttpMethod.Post, "/" + type),
        };
        return new(family, method, url, bytes, contentType, []);
    }

    private static string TypeOf(string seed, bool xml)
    {
        if (xml) return seed[1..seed.IndexOf(' ')];
        var i = seed.IndexOf("\"resourceType\":\"", StringComparison.Ordinal) + 16;
        return seed[i..seed.IndexOf('"', i)];
    }

    /// <summary>One to three random damages: cuts, stray characters, bad values, invalid UTF-8, deep nesting, unknown elements.</summary>
    private byte[] Mutate(string seed, bool xml)
    {
        var text = seed;
        var rounds = 1 + rnd.Next(3);
        var rawBytes = new List<(int, byte[])>();
        for (var r = 0; r < rounds; r++)
        {
            switch (rnd.Next(11))
            {
                case 0: text = text[..rnd.Next(text.Length)]; break;
                case 1 when text.Length > 0: text = text.Remove(rnd.Next(text.Length), 1); break;
                case 2: text = text.Insert(rnd.Next(text.Length + 1), Pick(["{", "}", "\"", "<", ">", "&", "\0", "\u0001", "\uFFFE", "]", ",", ":", "/>", "</x>", "\\"])); break;
                case 3: text = ReplaceValue(text, xml); break;
                case 4: rawBytes.Add((rnd.Next(text.Length + 1), Pick<byte[]>([[0xFF], [0xC3, 0x28], [0xED, 0xA0, 0x80], [0xC0, 0xAF], [0xF8, 0x88, 0x80, 0x80, 0x80], [0xE2, 0x82]]))); break;
                case 5: text = Deep(text, xml, Pick([50, 255, 300, 2000])); break;
                case 6: text = xml ? text.Replace("<name>", "<bogus value=\"1\"/><name>") : text.Replace("\"name\":", "\"bogus\":1,\"name\":"); break;
                case 7: text = xml ? text.Replace("<Patient xmlns", "<Patient x=\"1\" xmlns") : text.Replace("\"resourceType\":\"Patient\"", "\"resourceType\":\"Patient\",\"resourceType\":\"Basic\""); break;
                case 8: text = xml ? text.Replace("xmlns=\"http://hl7.org/fhir\"", Pick(["", "xmlns=\"http://hl7.org/fhir/\"", "xmlns=\"urn:x\""])) : text.Replace("\"resourceType\":\"", "\"resourceType\":\"X"); break;
                case 9: text = xml ? Pick(["<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>", "<!DOCTYPE x [<!ENTITY a \"aaaa\">]>", "\uFEFF", "<?xml version=\"1.1\"?>", "<!-- c -->"]) + text
                        : Pick(["\uFEFF", "[", "//c\n", "  ", "null"]) + text; break;
                default: text = xml ? text.Replace("value=\"", "value=\"" + Pick(HostileValues)) : text.Replace(":\"", ":\"" + Pick(HostileValues)); break;
            }
        }
        var bytes = new List<byte>(Encoding.UTF8.GetBytes(text));
        foreach (var (at, raw) in rawBytes) bytes.InsertRange(Math.Min(at, bytes.Count), raw);
        return bytes.ToArray();
    }

    private string ReplaceValue(string text, bool xml)
    {
        var marker = xml ? "value=\"" : ":\"";
        var starts = new List<int>();
        for (var i = text.IndexOf(marker, StringComparison.Ordinal); i >= 0; i = text.IndexOf(marker, i + 1, StringComparison.Ordinal)) starts.Add(i + marker.Length);
        if (starts.Count == 0) return text;
        var s = Pick(starts);
        var e = text.IndexOf('"', s);
        if (e < 0) return text;
        var v = Pick(HostileValues);
        if (xml) v = v.Replace("\"", "&quot;");
        return text[..s] + v + text[e..];
    }

    private static string Deep(string text, bool xml, int depth)
    {
        if (xml)
        {
            var open = string.Concat(Enumerable.Repeat("<extension url=\"urn:x\">", depth));
            var close = string.Concat(Enumerable.Repeat("</extension>", depth));
            var at = text.IndexOf('>') + 1;
            return text[..at] + open + close + text[at..];
        }
        var o = string.Concat(Enumerable.Repeat("{\"url\":\"urn:x\",\"extension\":[", depth));
        var c = string.Concat(Enumerable.Repeat("]}", depth));
        var i = text.IndexOf('{') + 1;
        return text[..i] + "\"extension\":[" + o + c + "]," + text[i..];
    }

    private HostileRequest ContentTypeRequest()
    {
        var ct = Pick(ContentTypes);
        var body = Pick([PatientJson, ObservationJson, PatientXml, "_id=x", "name=" + new string('a', rnd.Next(2) == 0 ? 100 : 100_000),
            new string('k', 3000) + "=v", "--x\r\nContent-Disposition: form-data; name=\"_id\"\r\n\r\nx\r\n--x--\r\n", "--x\r\n", "", "\u0000\u0001"]);
        var url = Pick(["/Observation", "/Patient/$validate", "/Condition/_search", "/", $"/Patient/{patientId}", "/Patient/_search", "/AuditEvent/_search"]);
        var method = url == $"/Patient/{patientId}" ? Pick([HttpMethod.Put, HttpMethod.Patch]) : HttpMethod.Post;
        return new("content-type", method, url, Encoding.UTF8.GetBytes(body), ct, []);
    }

    private static readonly string[] Params =
    [
        "name", "family", "birthdate", "gender", "_id", "identifier", "_lastUpdated", "code", "subject", "date", "value-quantity", "patient", "_include",
        "_revinclude", "_sort", "_count", "_offset", "_elements", "_summary", "_total", "_text", "_content", "_list", "code:in", "code:below", "code:above",
        "identifier:of-type", "subject:Patient.name", "subject.name", "_has:Observation:subject:code", "_has:Observation", "name:exact", "name:contains",
        "name:bogus", "birthdate:missing", "component-code-value-quantity", "code-value-quantity", "_security", "_source", "_tag", "_profile", "_type",
        "_snapshot", "_after", "_format", "_pretty", "subject:Bogus", "general-practitioner:Practitioner.name", "link", "address", "telecom", "death-date",
        "", ":", "_has", "_has:::", "a.b.c.d.e", "subject:Patient.organization.name",
    ];

    private static readonly string[] SearchValues =
    [
        "x", "张", "eq2020", "gt2020-01-01", "le2020-13-01", "ap1e999", "sa", "1|2|3", "http://loinc.org|8310-5", "|", "||", "Patient/1", "Patient/",
        "*", "Patient:*", "Observation:subject", "Observation:subject:Patient", "Bogus:x", "-_lastUpdated", "name,-birthdate,bogus", "count", "true", "false",
        "accurate", "-1", "0", "1000000", "99999999999999999999", "5.4e3|http://unitsofmeasure.org|mg", "8310-5$gt36", "8310-5$", "$$$", "a\\,b", "\\",
        "%", "'", "\"", "http://hl7.org/fhir/ValueSet/observation-codes", "urn:oid:1.2", "lt", "ne-1", "2020-02-30", "T00:00", "1980-01-02T25:00:00Z",
        "null", new string('z', 3000), string.Join(",", Enumerable.Repeat("v", 200)),
    ];

    private HostileRequest SearchRequest()
    {
        var type = Pick(["Patient", "Observation", "Condition", "Encounter", "Bogus", "AuditEvent"]);
        var pairs = new List<string>();
        var distinct = 1 + rnd.Next(4);
        for (var i = 0; i < distinct; i++)
        {
            var name = Pick(Params);
            var repeats = Pick([1, 1, 1, 2, 10, 100, 101, 150, 1000]);
            for (var r = 0; r < repeats; r++) pairs.Add(Uri.EscapeDataString(name).Replace("%3A", ":").Replace("%2C", ",") + "=" + Uri.EscapeDataString(Pick(SearchValues)));
        }
        if (rnd.Next(10) == 0) pairs.AddRange(Enumerable.Range(0, 150).Select(i => $"p{i}=x"));
        var query = string.Join('&', pairs);
        if (rnd.Next(5) == 0)
            return new("search", HttpMethod.Post, $"/{type}/_search", Encoding.UTF8.GetBytes(query), "application/x-www-form-urlencoded", []);
        var path = rnd.Next(8) == 0 ? $"/Patient/{patientId}/{type}" : rnd.Next(8) == 0 ? "/" : "/" + type;
        return new("search", HttpMethod.Get, path + "?" + query, null, null, []);
    }

    private HostileRequest HeaderRequest()
    {
        (string, string) header = rnd.Next(14) switch
        {
            0 => ("If-Match", Pick(["W/\"x\"", "\"", "W/", "99999999999", "*", "W/\"-1\""])),
            1 => ("If-None-Match", Pick(["W/\"x\"", "\"", "*", ",,,"])),
            2 => ("If-Modified-Since", Pick(["yesterday", "Mon, 99 Jan 2020 00:00:00 GMT", "0", ""])),
            3 => ("Prefer", Pick(["return=bogus", "handling=strict", "respond-async", "return=OperationOutcome", ";;;", "return"])),
            4 => ("Accept", Pick(["application/bogus", "*/*;q=x", "application/fhir+xml;q=0", ",,,", "text/html", "application/fhir+xml"])),
            5 => ("If-None-Exist", Pick(["identifier=urn:fuzz|1", "bogus=1", "&&&", "_id", "identifier=" + new string('x', 3000)])),
            6 => ("Authorization", Pick(["Bearer x", "Bearer ", "Basic Zm9vOmJhcg==", "Bearer a.b.c", "Bearer " + new string('a', 5000), "Negotiate x"])),
            7 => ("X-Big", new string('h', Pick([1000, 33_000, 40_000]))),
            8 => ("Content-Encoding", Pick(["gzip", "br", "bogus"])),
            9 => ("X-Forwarded-For", "::::"),
            10 => ("Range", "bytes=0-1"),
            11 => ("X-Many", "x"),
            12 => ("If-Match", "W/\"1\""),
            _ => ("Cookie", new string('c', 2000)),
        };
        var headers = new List<(string, string)> { header };
        if (header.Item1 == "X-Many") headers.AddRange(Enumerable.Range(0, 120).Select(i => ($"X-H{i}", "v")));
        (HttpMethod method, string url, string? body) = rnd.Next(4) switch
        {
            0 => (HttpMethod.Get, $"/Patient/{patientId}", (string?)null),
            1 => (HttpMethod.Post, "/Patient" + (rnd.Next(3) == 0 ? "?_format=bogus" : ""), PatientJson),
            2 => (HttpMethod.Put, $"/Patient/{patientId}", PatientJson.Replace("{\"resourceType\":\"Patient\",", $"{{\"resourceType\":\"Patient\",\"id\":\"{patientId}\",")),
            _ => (HttpMethod.Get, "/Patient?name=张" + (rnd.Next(3) == 0 ? "&_format=" + Pick(["bogus", "xml", "", "text/html"]) : ""), (string?)null),
        };
        return new("header", method, url, body is null ? null : Encoding.UTF8.GetBytes(body), body is null ? null : JsonType, headers.ToArray());
    }

    private HostileRequest PatchRequest()
    {
        var op = Pick(["add", "remove", "replace", "move", "copy", "test", "bogus", ""]);
        var path = Pick(["/name/0/family", "/name/-", "/id", "/meta", "/resourceType", "", "/", "/name/999", "/~2", "/name/0/family/x", "/birthDate"]);
        var value = Pick(["\"x\"", "1", "null", "{}", "[]", "\"2020-02-30\"", "{\"bogus\":1}", "\"\""]);
        var jsonPatch = rnd.Next(4) switch
        {
            0 => $$"""[{"op":"{{op}}","path":"{{path}}","value":{{value}}}]""",
            1 => $$"""[{"op":"{{op}}","from":"{{path}}","path":"/name/0"}]""",
            2 => Pick(["{}", "[", "[1,2]", "null", "[{\"op\":\"add\"}]", "\"x\""]),
            _ => $$"""[{"op":"test","path":"/gender","value":"male"},{"op":"{{op}}","path":"{{path}}","value":{{value}}}]""",
        };
        var fhirPathPatch = $$"""
            {"resourceType":"Parameters","parameter":[{"name":"operation","part":[{"name":"type","valueCode":"{{Pick(["add", "insert", "delete", "replace", "move", "bogus"])}}"},
            {"name":"path","valueString":"{{Pick(["Patient", "Patient.name", "Patient.name.where(", "Patient.name[0]", "%x", "Patient.birthDate", "1/0", ""])}}"},
            {"name":"name","valueString":"{{Pick(["family", "bogus", ""])}}"},{"name":"value","valueString":"{{Pick(HostileValues).Replace("\\", "\\\\").Replace("\"", "\\\"")}}"},
            {"name":"index","valueInteger":{{Pick(["0", "-1", "99", "2147483647"])}}}]}]}
            """;
        var asJsonPatch = rnd.Next(2) == 0;
        var body = asJsonPatch ? jsonPatch : fhirPathPatch;
        var ct = asJsonPatch ? Pick(["application/json-patch+json", JsonType, "text/plain"]) : Pick([JsonType, XmlType, "application/json-patch+json"]);
        var url = rnd.Next(5) == 0 ? "/Patient?identifier=urn:fuzz|1" : rnd.Next(5) == 0 ? "/Patient/missing-" + rnd.Next(100) : $"/Patient/{patientId}";
        var headers = rnd.Next(4) == 0 ? new[] { ("If-Match", Pick(["W/\"1\"", "W/\"x\"", "W/\"999\""])) } : [];
        return new("patch", HttpMethod.Patch, url, Encoding.UTF8.GetBytes(body), ct, headers);
    }

    private string SmallBundleJson() => $$$"""
        {"resourceType":"Bundle","type":"transaction","entry":[
          {"fullUrl":"urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0","resource":{{{PatientJson}}},"request":{"method":"POST","url":"Patient"}},
          {"resource":{{{ObservationJson.Replace($"Patient/{patientId}", "urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0")}}},"request":{"method":"POST","url":"Observation"}}]}
        """;

    private string SmallBundleXml() => $"""
        <Bundle xmlns="http://hl7.org/fhir"><type value="transaction"/><entry><fullUrl value="urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0"/>
        <resource>{PatientXml.Replace(" xmlns=\"http://hl7.org/fhir\"", "")}</resource><request><method value="POST"/><url value="Patient"/></request></entry>
        <entry><resource>{ObservationXml.Replace(" xmlns=\"http://hl7.org/fhir\"", "").Replace($"Patient/{patientId}", "urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0")}</resource>
        <request><method value="POST"/><url value="Observation"/></request></entry></Bundle>
        """;

    private HostileRequest BundleRequest()
    {
        var type = Pick(["transaction", "transaction", "batch", "searchset", "", "document"]);
        var n = Pick([0, 1, 2, 3, 5, 20]);
        var shared = "urn:uuid:" + Guid.NewGuid();
        var entries = new List<string>();
        for (var i = 0; i < n; i++)
        {
            var method = Pick(["POST", "POST", "PUT", "GET", "DELETE", "PATCH", "HEAD", "FOO", "", "post"]);
            var url = Pick(["Patient", "Observation", $"Patient/{patientId}", "Patient?identifier=urn:fuzz|1", "", "Bogus", "Patient/a/b/c", "/", "Patient/_history/x", "http://elsewhere/Patient/1"]);
            var fullUrl = rnd.Next(4) switch
            {
                0 => $"\"fullUrl\":\"{shared}\",",
                1 => $"\"fullUrl\":\"urn:uuid:{Guid.NewGuid()}\",",
                2 => $"\"fullUrl\":\"{Pick(["", "x", "urn:uuid:", "Patient/1"])}\",",
                _ => "",
            };
            var resource = rnd.Next(5) switch
            {
                0 => "",
                1 => $"\"resource\":{ObservationJson.Replace($"Patient/{patientId}", Pick([shared, "urn:uuid:nowhere", "Patient?identifier=urn:fuzz|1", "Patient?x=" ]))},",
                2 => $"\"resource\":{ConditionJson},",
                _ => $"\"resource\":{PatientJson},",
            };
            var request = rnd.Next(12) == 0 ? "" : $",\"request\":{{\"method\":\"{method}\",\"url\":\"{url}\"}}";
            entries.Add("{" + fullUrl + resource.TrimEnd(',') + (resource.Length == 0 && request.Length > 0 ? request[1..] : request) + "}");
        }
        var json = $$"""{"resourceType":"Bundle","type":"{{type}}","entry":[{{string.Join(",", entries)}}]}""".Replace("{,", "{");
        return new("bundle", HttpMethod.Post, "/", Encoding.UTF8.GetBytes(json), JsonType, []);
    }

    private HostileRequest UrlRequest()
    {
        var url = rnd.Next(7) switch
        {
            0 => "/Patient?name=" + new string('a', Pick([5000, 9000, 20_000])),
            1 => "/" + new string('P', 9000),
            2 => Pick(["/Patient/..%2f..%2fetc", "/%ZZ", "/Patient/a b", "/Patient//", "/Patient/_history/abc", "/Patient/x/_history/-1", "/$bogus", "/metadata?_format=bogus"]),
            3 => "/Patient/" + new string('9', 200),
            4 => $"/Patient/{patientId}/$everything?_count=" + Pick(["-1", "x", "99999999999"]),
            5 => "/Patient/_history?_since=" + Pick(["x", "2020-13-01", ""]),
            _ => Pick(["/Patient/$validate", "/metadata", "/Patient/x/$validate"]),
        };
        var method = Pick([HttpMethod.Get, HttpMethod.Delete, HttpMethod.Options, new HttpMethod("FOO"), HttpMethod.Get]);
        return new("url", method, url, null, null, []);
    }
}
