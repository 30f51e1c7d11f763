using System.Text.Json;
using FhirArchive.Archive.Consent;
using FhirArchive.Fhir.FhirPath;
using FhirArchive.Fhir.Model;
using FhirArchive.Terminology;
using FhirArchive.Terminology.Sources;

namespace FhirArchive.Archive.HealthTags;

/// <summary>A personal health tag of a record: its code (health-tag code system), displays, and the resources it was derived from ("Patient/1", "Condition/7").</summary>
public sealed record HealthTag(string Code, string Display, string DisplayEn, IReadOnlyList<string> Evidence)
{
    public const string System = CnTerminology.HealthTag;
}

/// <summary>
/// The personal health tags' derivation rules, kept as data (HealthTags/Rules/health-tag-rules.json, embedded): each
/// names a tag code and criteria over the Patient or the record's Conditions and Observations — a FHIRPath condition
/// and/or code lists (ICD-10 prefixes, SNOMED CT or local codes). Checked when loaded: every tag is a code of the
/// health-tag code system, every expression compiles. Derivation is a pure function of the record's resources and the day.
/// </summary>
public sealed class HealthTagRules
{
    public const string ResourceName = "HealthTags/health-tag-rules.json";
    private static readonly HashSet<string> Sources = ["Patient", "Condition", "Observation"];

    private readonly IReadOnlyList<Rule> _rules;

    public HealthTagRules(TerminologyService terminology) : this(terminology, Embedded()) { }

    public HealthTagRules(TerminologyService terminology, string json)
    {
        var file = JsonSerializer.Deserialize<RuleFile>(json, new JsonSerializerOptions { PropertyNameCaseInsensitive = true })
                   ?? throw new InvalidOperationException("health-tag rules: empty file");
        var rules = new List<Rule>();
        foreach (var r in file.Rules)
        {
            var concept = terminology.Lookup(HealthTag.System, r.Tag)
                          ?? throw new InvalidOperationException($"health-tag rules: '{r.Tag}' is not a code of {HealthTag.System}");
            if (r.Criteria.Count == 0) throw new InvalidOperationException($"health-tag rules: '{r.Tag}' has no criteria");
            var criteria = r.Criteria.Select(c => new Criterion(
                Sources.Contains(c.Resource) ? c.Resource : throw new InvalidOperationException($"health-tag rules: '{r.Tag}' reads {c.Resource}; rules read {string.Join(", ", Sources)}"),
                c.Where is null ? null : FhirPathCompiler.Default.Compile(c.Where),
                c.Codes is null ? null : FhirPathCompiler.Default.Compile(c.CodePath ?? "code"),
                c.Codes ?? [],
                c.Search is null ? null : c.Resource != "Patient" ? c.Search : throw new InvalidOperationException($"health-tag rules: '{r.Tag}': the Patient needs no search"))).ToList();
            rules.Add(new Rule(r.Tag, concept.Concept.Display, concept.Concept.DisplayEn ?? concept.Concept.Display, criteria));
        }
        _rules = rules;
    }

    /// <summary>The tag codes the rules derive, in rule order.</summary>
    public IReadOnlyList<string> Tags => _rules.Select(r => r.Tag).ToList();

    /// <summary>The resource types the rules read beside the Patient.</summary>
    public IReadOnlySet<string> RecordTypes => _rules.SelectMany(r => r.Criteria).Select(c => c.Resource).Where(t => t != "Patient").ToHashSet();

    /// <summary>
    /// How the rules' candidates of each record type are found: the searches their criteria name ("code=system|code",
    /// the patient added), or null when a criterion on the type names none (every resource of the type is read). A
    /// rule that names its search lets a record of thousands of Observations be read by an index probe.
    /// </summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>?> Searches =>
        _rules.SelectMany(r => r.Criteria).Where(c => c.Resource != "Patient").GroupBy(c => c.Resource).ToDictionary(g => g.Key,
            g => g.Any(c => c.Search is null) ? null : (IReadOnlyList<string>?)g.Select(c => c.Search!).Distinct().ToList());

    /// <summary>The tags that hold for the record on the day of <paramref name="now"/> in China, each with its evidence.</summary>
    public IReadOnlyList<HealthTag> Derive(ElementNode patient, IEnumerable<ElementNode> recordData, DateTimeOffset now)
    {
        var data = recordData.ToList();
        var ctx = new EvaluationContext { Now = now.ToOffset(TimeSpan.FromHours(8)), MaxSteps = 100_000 };
        var tags = new List<HealthTag>();
        foreach (var rule in _rules)
        {
            var evidence = new List<string>();
            foreach (var c in rule.Criteria)
                foreach (var r in c.Resource == "Patient" ? [patient] : data.Where(d => d.Type == c.Resource))
                    if (Matches(c, r, ctx) && $"{r.Type}/{r.ResourceId}" is var reference && !evidence.Contains(reference))
                        evidence.Add(reference);
            if (evidence.Count > 0) tags.Add(new HealthTag(rule.Tag, rule.Display, rule.DisplayEn, evidence));
        }
        return tags;
    }

    private static bool Matches(Criterion c, ElementNode resource, EvaluationContext ctx)
    {
        try
        {
            if (c.Where is { } where && !where.Predicate(resource, ctx)) return false;
            if (c.CodePath is not { } path) return true;
            return path.Evaluate(resource, ctx).Select(i => i.Node).OfType<ElementNode>()
                .SelectMany(n => n.Type == "CodeableConcept" ? n.ChildrenNamed("coding") : n.Type == "Coding" ? [n] : [])
                .Any(coding => c.Codes.Any(list => list.Holds(coding.Child("system")?.Value, coding.Child("code")?.Value)));
        }
        catch (FhirPathEvaluationException)
        {
            return false; // data the rule cannot read (say, a repeated birthDate) derives nothing
        }
    }

    private static string Embedded()
    {
        using var s = typeof(HealthTagRules).Assembly.GetManifestResourceStream(ResourceName)
                      ?? throw new InvalidOperationException($"{ResourceName} is not embedded");
        return new StreamReader(s).ReadToEnd();
    }

    private sealed record Rule(string Tag, string Display, string DisplayEn, IReadOnlyList<Criterion> Criteria);

    private sealed record Criterion(string Resource, CompiledExpression? Where, CompiledExpression? CodePath, IReadOnlyList<CodeList> Codes, string? Search);

    private sealed class RuleFile
    {
        public List<RuleData> Rules { get; set; } = [];
    }

    private sealed class RuleData
    {
        public string Tag { get; set; } = "";
        public List<CriterionData> Criteria { get; set; } = [];
    }

    private sealed class CriterionData
    {
        public string Resource { get; set; } = "";
        public string? Where { get; set; }
        public string? CodePath { get; set; }
        public List<CodeList>? Codes { get; set; }
        public string? Search { get; set; }
    }
}

/// <summary>Codes of one system: exact codes and/or code prefixes. System "icd-10" stands for any ICD-10 code system.</summary>
public sealed class CodeList
{
    public const string AnyIcd10 = "icd-10";
    public string System { get; set; } = "";
    public List<string>? Codes { get; set; }
    public List<string>? Prefixes { get; set; }

    public bool Holds(string? system, string? code)
    {
        if (code is null || system is null) return false;
        if (System == AnyIcd10 ? !SensitiveCodes.IsIcd10(system) : System != system) return false;
        var c = code.Trim();
        return Codes?.Contains(c) == true || Prefixes?.Any(p => c.StartsWith(p, StringComparison.OrdinalIgnoreCase)) == true;
    }
}
