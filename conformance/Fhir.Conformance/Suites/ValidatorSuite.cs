using System.Text.Json;
using System.Text.Json.Nodes;
using FhirArchive.Fhir.Model;
using FhirArchive.Fhir.Serialization;
using FhirArchive.Fhir.Serialization.Json;
using FhirArchive.Fhir.Serialization.Xml;
using FhirArchive.Fhir.Validation;
using FhirArchive.Profiles;
using FhirArchive.Terminology;

namespace FhirArchive.Conformance;

/// <summary>
/// `validator-suite &lt;folder&gt;`: the HL7 validator test cases (FHIR/fhir-test-cases, R4 subset). For each case
/// the Java validator's verdict (valid: no error or fatal issue) is compared with ours. Cases that need FHIR
/// packages from the registry, a terminology server or a logical model are skipped, with the reason.
/// Set up as the reference harness sets a case up: the supporting files are known to both steps (their value sets
/// answer membership, their ImplementationGuides' global profiles apply), the profile step's source and supporting
/// files only to the profile step; the options examples, allowed-extension-domain, security-checks,
/// noHtmlInMarkdown, allow-comments, assumeValidRestReferences and bundle-param are honoured.
/// </summary>
public static class ValidatorSuite
{
    public sealed record Outcome(string Case, bool ExpectedValid, bool ActualValid, string Detail);

    public sealed record Result(int Passed, int Failed, IReadOnlyList<(string Case, string Reason)> Skipped, IReadOnlyList<Outcome> Disagreements, IReadOnlyList<Outcome> All);

    public static int Run(string[] args)
    {
        if (args.Length is < 1 or > 2)
        {
            Console.Error.WriteLine("usage: validator-suite <folder with manifest-r4.json> [case name: run that one, list all our issues]");
            return 2;
        }
        var result = Run(args[0], args.Length == 2 ? args[1] : null);
        foreach (var d in args.Length == 2 ? result.All : result.Disagreements)
            Console.WriteLine($"{(d.ExpectedValid == d.ActualValid ? "PASS" : "FAIL")} {d.Case}: expected {(d.ExpectedValid ? "valid" : "invalid")}, got {(d.ActualValid ? "valid" : "invalid")} {d.Detail}");
        foreach (var (name, why) in result.Skipped) Console.WriteLine($"skip {name}: {why}");
        foreach (var reason in result.Skipped.GroupBy(s => s.Reason).OrderByDescending(g => g.Count()))
            Console.WriteLine($"skipped {reason.Count()}: {reason.Key}");
        var compared = result.Passed + result.Failed;
        Console.WriteLine($"agreement: {result.Passed} of {compared} ({(compared == 0 ? 0 : 100.0 * result.Passed / compared):F1}%)");
        Console.WriteLine($"validator-suite: {result.Passed} passed, {result.Failed} failed, {result.Skipped.Count} skipped");
        return 0;
    }

    public static Result Run(string folder, string? only = null)
    {
        var manifest = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "manifest-r4.json")))!;
        var skipped = new List<(string, string)>();
        var outcomes = new List<Outcome>();
        foreach (var node in (JsonArray)manifest["test-cases"]!)
        {
            var tc = (JsonObject)node!;
            var name = tc["name"]!.GetValue<string>();
            if (only is not null && name != only) continue;
            if (only is not null) _detailCount = int.MaxValue;
            if (SkipReason(tc, folder) is { } reason)
            {
                skipped.Add((name, reason));
                continue;
            }
            try
            {
                outcomes.AddRange(RunCase(tc, folder, name));
            }
            catch (Exception e) when (e is SnapshotException or FhirParseException or ArgumentException or JsonException)
            {
                skipped.Add((name, $"a supporting definition could not be read ({e.GetType().Name})"));
                if (only is not null) Console.Error.WriteLine(e.Message);
            }
        }
        var failures = outcomes.Where(o => o.ExpectedValid != o.ActualValid).ToList();
        return new Result(outcomes.Count - failures.Count, failures.Count, skipped, failures, outcomes);
    }

    private static string? SkipReason(JsonObject tc, string folder)
    {
        if (tc["use-test"]?.GetValue<bool>() == false) return "use-test: false in the manifest";
        if (tc["packages"] is not null || tc["profile"]?["packages"] is not null) return "needs FHIR packages from the registry";
        if (tc["logical"] is not null) return "validates against a logical model from a package";
        if (tc["module"]?.GetValue<string>() is "tx" or "tx-advanced") return "needs a terminology server (tx.fhir.org)";
        if (tc["java"] is null) return "no expected outcome for the reference validator";
        if (new[] { tc["java"], tc["profile"]?["java"] }.Any(j => j is JsonValue v && v.GetValue<string>().Contains("/R5.", StringComparison.Ordinal)))
            return "the expected outcome was recorded for R5 (an R5 outcome file)";
        if (tc["validateContains"]?.GetValue<string>() == "IGNORE") return "validator option not offered: contained resources left unvalidated (validateContains IGNORE)";
        if (!HasExpectation(tc["java"]!, folder)) return "the expected outcome file is not in the copy";
        var file = tc["file"]!.GetValue<string>();
        if (!File.Exists(Path.Combine(folder, file))) return "input file not in the copy";
        if (!file.EndsWith(".json", StringComparison.Ordinal) && !file.EndsWith(".xml", StringComparison.Ordinal)) return "input is neither FHIR JSON nor XML";
        return null;
    }

    private static IEnumerable<Outcome> RunCase(JsonObject tc, string folder, string name)
    {
        // As the reference harness does: the profile step's source and supporting files are loaded after the base
        // validation, so the base step does not know them (a meta.profile naming them is unknown there).
        var profiles = LoadProfiles(tc, folder, profileStep: false);
        var profileStepProfiles = tc["profile"] is JsonObject ? LoadProfiles(tc, folder, profileStep: true) : profiles;
        var resources = LoadResources(tc, folder, profileStep: false);
        var profileStepResources = tc["profile"] is JsonObject ? LoadResources(tc, folder, profileStep: true) : resources;
        StructureProfile? Resolve(string url) => profiles.TryGetValue(url.Split('|')[0], out var p) ? p : CnProfiles.Find(url);
        StructureProfile? ResolveInProfileStep(string url) => profileStepProfiles.TryGetValue(url.Split('|')[0], out var p) ? p : CnProfiles.Find(url);
        var settings = new ValidationSettings
        {
            CodeInValueSet = new CaseTerminology(resources).CodeInValueSet,
            ResolveProfile = Resolve,
            ResolveResource = url => resources.GetValueOrDefault(url.Split('|')[0]),
            // As the reference validator is configured for these cases: an extension nobody defines is an error.
            UnknownExtensions = Fhir.Outcomes.IssueSeverity.Error,
            AllowExampleExtensions = tc["examples"]?.GetValue<bool>() != false,
            RejectExampleUrls = tc["examples"]?.GetValue<bool>() == false,
            AllowedExtensionDomains = tc["allowed-extension-domain"]?.GetValue<string>() is { } domain ? [domain] : [],
            GlobalProfiles = GlobalProfiles(resources.Values),
            SecurityChecks = tc["security-checks"]?.GetValue<bool>() == true,
            NoHtmlInMarkdown = tc["noHtmlInMarkdown"]?.GetValue<bool>() == true,
        };
        var validator = new InstanceValidator(settings);

        var file = tc["file"]!.GetValue<string>();
        var bytes = File.ReadAllBytes(Path.Combine(folder, file));
        // "allow-comments" in the manifest: the case is run with comments in JSON accepted.
        var jsonOptions = tc["allow-comments"]?.GetValue<bool>() == true ? ParserOptions.Strict with { AllowComments = true } : ParserOptions.Strict;
        var parsed = file.EndsWith(".xml", StringComparison.Ordinal) ? new FhirXmlParser().Parse(bytes) : new FhirJsonParser(jsonOptions).Parse(bytes);
        var baseErrors = parsed.Issues.Where(i => i.IsError).ToList();
        if (parsed.Resource is not null) baseErrors.AddRange(validator.Validate(parsed.Resource).Where(i => i.IsError));
        // "bundle-param": one entry of the Bundle ("Type:n", the n-th resource of that type) is held to a profile as well.
        if (parsed.Resource is { Type: "Bundle" } bundle && tc["bundle-param"] is JsonObject bundleParam
            && bundleParam["rule"]?.GetValue<string>()?.Split(':') is [var entryType, var nth] && int.TryParse(nth, out var index)
            && bundleParam["profile"]?.GetValue<string>() is { } entryProfileUrl && Resolve(entryProfileUrl) is { } entryProfile
            && bundle.ChildrenNamed("entry").Select(e => e.Child("resource")).Where(r => r?.Type == entryType).ElementAtOrDefault(index) is { } entry)
            baseErrors.AddRange(ProfileValidator.Validate(entry, entryProfile, settings).Where(i => i.IsError));
        yield return Compare(name, ExpectedValid(tc["java"]!, folder), baseErrors);

        if (tc["profile"] is JsonObject second && second["java"] is { } expectation && HasExpectation(expectation, folder)
            && second["source"]?.GetValue<string>() is { } source)
        {
            var url = UrlOf(Path.Combine(folder, source));
            var errors = baseErrors.ToList();
            if (parsed.Resource is not null && url is not null && ResolveInProfileStep(url) is { } profile)
            {
                var profileSettings = settings with
                {
                    ResolveProfile = ResolveInProfileStep,
                    ResolveResource = url => profileStepResources.GetValueOrDefault(url.Split('|')[0]),
                    CodeInValueSet = new CaseTerminology(profileStepResources).CodeInValueSet,
                    // "assumeValidRestReferences": the reference validator takes Type/id URLs at their word (else it leaves them unjudged).
                    TypesFromReferenceUrls = second["assumeValidRestReferences"]?.GetValue<bool>() == true,
                };
                // The reference validator validates the instance again with the profile known (claimed profiles included).
                errors = parsed.Issues.Where(i => i.IsError).ToList();
                errors.AddRange(new InstanceValidator(profileSettings).Validate(parsed.Resource).Where(i => i.IsError));
                errors.AddRange(ProfileValidator.Validate(parsed.Resource, profile, profileSettings).Where(i => i.IsError));
            }
            yield return Compare(name + " (profile)", ExpectedValid(expectation, folder), errors);
        }
    }

    /// <summary>The global profiles of the ImplementationGuides a case brings (ImplementationGuide.global: type and profile).</summary>
    private static Dictionary<string, IReadOnlyList<string>> GlobalProfiles(IEnumerable<ElementNode> resources) =>
        resources.Where(r => r.Type == "ImplementationGuide").SelectMany(ig => ig.ChildrenNamed("global"))
            .Select(g => (Type: g.Child("type")?.Value, Profile: g.Child("profile")?.Value)).Where(g => g.Type is not null && g.Profile is not null)
            .GroupBy(g => g.Type!).ToDictionary(g => g.Key, g => (IReadOnlyList<string>)g.Select(x => x.Profile!).ToList());

    private static Outcome Compare(string name, bool expectedValid, List<Fhir.Outcomes.FhirIssue> errors) =>
        new(name, expectedValid, errors.Count == 0, errors.Count == 0 ? "" : "- " + string.Join(" | ", errors.Take(_detailCount)));

    private static int _detailCount = 2;

    private static bool HasExpectation(JsonNode expectation, string folder) =>
        expectation is JsonObject || File.Exists(Path.Combine(folder, "outcomes", expectation.GetValue<string>()));

    /// <summary>The reference verdict: an outcome file, an inline outcome, or an inline error count.</summary>
    private static bool ExpectedValid(JsonNode expectation, string folder)
    {
        if (expectation is JsonObject inline)
        {
            if (inline["errorCount"] is { } count) return count.GetValue<int>() == 0;
            return !HasErrors(inline["outcome"]);
        }
        var path = Path.Combine(folder, "outcomes", expectation.GetValue<string>());
        return !HasErrors(JsonNode.Parse(File.ReadAllText(path)));
    }

    private static bool HasErrors(JsonNode? outcome) =>
        ((JsonArray?)outcome?["issue"] ?? []).Any(i => i?["severity"]?.GetValue<string>() is "error" or "fatal");

    /// <summary>The StructureDefinitions a case brings (supporting files and profiles), with snapshots.</summary>
    private static Dictionary<string, StructureProfile> LoadProfiles(JsonObject tc, string folder, bool profileStep)
    {
        var sources = new Dictionary<string, JsonObject>(StringComparer.Ordinal);
        var files = new[] { tc["supporting"], tc["supporting5"], tc["profiles"], profileStep ? tc["profile"]?["supporting"] : null }
            .OfType<JsonArray>().SelectMany(a => a).Select(f => f!.GetValue<string>());
        if (profileStep && tc["profile"]?["source"]?.GetValue<string>() is { } source) files = files.Append(source);
        foreach (var f in files.Distinct())
        {
            var path = Path.Combine(folder, f);
            if (!File.Exists(path)) continue;
            if (ReadJson(path) is { } sd && sd["resourceType"]?.GetValue<string>() == "StructureDefinition" && sd["url"] is { } url)
                sources[url.GetValue<string>()] = sd;
        }

        // The generator resolves base profiles through WithSnapshot, which needs the generator: made on first use.
        SnapshotGenerator? generator = null;
        SnapshotGenerator Generator() => generator ??= new SnapshotGenerator(url => sources.TryGetValue(url, out var sd) ? WithSnapshot(sd) : OfficialProfiles.Json(url));
        JsonObject WithSnapshot(JsonObject sd) => sd["snapshot"] is not null ? sd : Generator().Generate(sd);
        var parser = new FhirJsonParser(ParserOptions.Lenient);
        if (Environment.GetEnvironmentVariable("DUMP_SNAPSHOT") is { } dump && sources.TryGetValue(dump, out var d)) Console.WriteLine(WithSnapshot(d).ToJsonString());
        return sources.ToDictionary(s => s.Key, s => StructureProfile.Load(parser.Parse(WithSnapshot(s.Value).ToJsonString()).GetResourceOrThrow()));
    }

    /// <summary>The other canonical resources a case brings (questionnaires, value sets...), by URL.</summary>
    private static Dictionary<string, ElementNode> LoadResources(JsonObject tc, string folder, bool profileStep)
    {
        var found = new Dictionary<string, ElementNode>(StringComparer.Ordinal);
        foreach (var f in new[] { tc["supporting"], tc["supporting5"], tc["profiles"], profileStep ? tc["profile"]?["supporting"] : null }.OfType<JsonArray>().SelectMany(a => a).Select(f => f!.GetValue<string>()).Distinct())
        {
            var path = Path.Combine(folder, f);
            if (!File.Exists(path) || !(path.EndsWith(".json", StringComparison.Ordinal) || path.EndsWith(".xml", StringComparison.Ordinal))) continue;
            var bytes = File.ReadAllBytes(path);
            var resource = (path.EndsWith(".xml", StringComparison.Ordinal) ? new FhirXmlParser(ParserOptions.Lenient).Parse(bytes) : new FhirJsonParser(ParserOptions.Lenient).Parse(bytes)).Resource;
            if (resource?.Child("url")?.Value is { } url && resource.Type != "StructureDefinition") found[url] = resource;
        }
        return found;
    }

    /// <summary>A definition file as JSON (XML ones are read with our parser and written out as JSON).</summary>
    private static JsonObject? ReadJson(string path)
    {
        if (path.EndsWith(".json", StringComparison.Ordinal)) return JsonNode.Parse(File.ReadAllText(path)) as JsonObject;
        if (!path.EndsWith(".xml", StringComparison.Ordinal)) return null;
        var r = new FhirXmlParser(ParserOptions.Lenient).Parse(File.ReadAllBytes(path)).Resource;
        return r is null ? null : JsonNode.Parse(FhirJsonSerializer.Serialize(r)) as JsonObject;
    }

    private static string? UrlOf(string path) => ReadJson(path)?["url"]?.GetValue<string>();
}
