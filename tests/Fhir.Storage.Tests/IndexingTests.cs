using FhirArchive.Fhir.Serialization.Json;
using FhirArchive.Storage.Indexing;
using Xunit;

namespace FhirArchive.Storage.Tests;

/// <summary>Unit tests of the index extraction pieces (no server).</summary>
public sealed class IndexingTests
{
    private static readonly FhirPathSearchEvaluator Evaluator = new();

    private static Fhir.Model.ElementNode Parse(string json) => new FhirJsonParser().Parse(json).GetResourceOrThrow();

    [Fact]
    public void Evaluator_handles_paths_unions_casts_and_reference_type_filters()
    {
        var obs = Parse("""{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Group/g1"},"valueQuantity":{"value":5}}""");
        Assert.Single(Evaluator.Select(obs, "Observation.code"));
        Assert.Single(Evaluator.Select(obs, "(Observation.value as Quantity)"));
        Assert.Empty(Evaluator.Select(obs, "(Observation.value as CodeableConcept)"));
        Assert.Single(Evaluator.Select(obs, "Observation.value.ofType(Quantity)"));
        Assert.Empty(Evaluator.Select(obs, "Observation.subject.where(resolve() is Patient)"));
        Assert.Single(Evaluator.Select(obs, "AllergyIntolerance.patient | Observation.subject.where(resolve() is Group)"));
        Assert.Single(Evaluator.Select(obs, "Resource.meta | Observation.status"));
    }

    [Fact]
    public void Evaluator_where_equals_filters_by_field()
    {
        var p = Parse("""{"resourceType":"Patient","telecom":[{"system":"phone","value":"1"},{"system":"email","value":"a@b"}]}""");
        var phones = Evaluator.Select(p, "Patient.telecom.where(system='phone')").ToList();
        Assert.Equal("1", Assert.Single(phones).Child("value")!.Value);
    }

    [Fact]
    public void Every_official_expression_for_common_types_evaluates_without_throwing()
    {
        var registry = SearchParameterRegistry.R4;
        var p = Parse("""{"resourceType":"Patient","name":[{"family":"x"}]}""");
        foreach (var sp in registry.For("Patient").Where(s => s.Expression is not null))
            _ = Evaluator.Select(p, sp.Expression!).ToList();
        Assert.NotNull(registry.Get("Observation", "patient"));
        Assert.DoesNotContain("AllergyIntolerance", registry.Get("Observation", "patient")!.Expression);
    }

    [Theory]
    [InlineData("2024", "2024-01-01T00:00:00Z", "2024-12-31T23:59:59.9999999Z")]
    [InlineData("2024-02", "2024-02-01T00:00:00Z", "2024-02-29T23:59:59.9999999Z")]
    [InlineData("2024-02-10", "2024-02-10T00:00:00Z", "2024-02-10T23:59:59.9999999Z")]
    [InlineData("2024-02-10T08:30:00+08:00", "2024-02-10T00:30:00Z", "2024-02-10T00:30:00.9999999Z")]
    [InlineData("2024-02-10T08:30Z", "2024-02-10T08:30:00Z", "2024-02-10T08:30:59.9999999Z")]
    public void Date_ranges_follow_precision(string value, string start, string end)
    {
        Assert.True(FhirDateRange.TryParse(value, out var r));
        Assert.Equal(DateTimeOffset.Parse(start).UtcTicks, r.Start);
        Assert.Equal(DateTimeOffset.Parse(end).UtcTicks, r.End);
    }

    [Fact]
    public void Local_zone_applies_to_values_without_one()
    {
        var beijing = TimeSpan.FromHours(8);
        Assert.True(FhirDateRange.TryParse("2024-07-01", beijing, out var day));
        Assert.Equal(DateTimeOffset.Parse("2024-06-30T16:00:00Z").UtcTicks, day.Start);
        Assert.True(FhirDateRange.TryParse("2024-07-01T08:00:00", beijing, out var t));
        Assert.Equal(DateTimeOffset.Parse("2024-07-01T00:00:00Z").UtcTicks, t.Start);
        Assert.True(FhirDateRange.TryParse("2024-07-01T08:00:00Z", beijing, out var z));
        Assert.Equal(DateTimeOffset.Parse("2024-07-01T08:00:00Z").UtcTicks, z.Start);
    }

    [Theory]
    [InlineData("")]
    [InlineData("yesterday")]
    [InlineData("2024-13")]
    public void Bad_dates_are_rejected(string value) => Assert.False(FhirDateRange.TryParse(value, out _));

    [Theory]
    [InlineData("Zhāng Wěi", "zhang wei")]
    [InlineData("LÜ", "lu")]
    [InlineData("Ǘ", "u")]
    [InlineData("张伟", "张伟")]
    [InlineData("Müller", "muller")]
    public void Normalizer_lowercases_and_folds_accents(string input, string expected) =>
        Assert.Equal(expected, TextNormalizer.Normalize(input));

    [Fact]
    public void Extractor_indexes_names_identifiers_dates_and_references()
    {
        var extractor = new IndexExtractor(SearchParameterRegistry.R4, Evaluator);
        var p = Parse("""{"resourceType":"Patient","name":[{"family":"Lǚ","given":["Bù"]}],"identifier":[{"system":"s","value":"v"}],"birthDate":"1990","managingOrganization":{"reference":"Organization/o1"}}""");
        var set = extractor.Extract(p);
        Assert.Contains(set.Strings, s => s.Param == "family" && s.Normalized == "lu");
        Assert.Contains(set.Strings, s => s.Param == "name" && s.Normalized == "bu");
        Assert.Contains(set.Tokens, t => t.Param == "identifier" && t.System == "s" && t.Code == "v");
        Assert.Contains(set.Dates, d => d.Param == "birthdate");
        Assert.Contains(set.References, r => r.Param == "organization" && r.TargetType == "Organization" && r.TargetId == "o1");
    }

    [Fact]
    public void Composite_components_of_one_element_share_a_group()
    {
        var extractor = new IndexExtractor(SearchParameterRegistry.R4, Evaluator);
        var set = extractor.Extract(Parse("""
            {"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},
             "component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":150}},
                          {"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":85}}]}
            """));
        var codes = set.Tokens.Where(t => t.Param == "component-code-value-quantity$0").ToDictionary(t => t.Code!, t => t.CompositeGroup);
        var values = set.Quantities.Where(q => q.Param == "component-code-value-quantity$1").ToDictionary(q => q.Value, q => q.CompositeGroup);
        Assert.Equal(codes["8480-6"], values[150]);
        Assert.Equal(codes["8462-4"], values[85]);
        Assert.NotEqual(values[150], values[85]);
        // No value[x] of the Observation itself: no code-value-quantity composite at all; plain rows carry no group.
        Assert.DoesNotContain(set.Tokens, t => t.Param == "code-value-quantity$0");
        Assert.All(set.Tokens.Where(t => t.Param == "code"), t => Assert.Null(t.CompositeGroup));
    }

    [Fact]
    public void Text_index_strips_the_narrative_and_chunks_long_content_with_overlap()
    {
        var words = Enumerable.Range(0, 300).Select(i => $"word{i:D3}").ToList();
        var set = new IndexSet();
        TextIndex.Add(set, Parse($$"""
            {"resourceType":"Patient","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><b>张伟</b> &amp; Zhāng</div>"},
             "name":[{"text":"{{string.Join(' ', words)}}"}]}
            """));
        Assert.Equal("张伟 & zhang", Assert.Single(set.Strings, s => s.Param == TextIndex.Text).Normalized);
        var content = set.Strings.Where(s => s.Param == TextIndex.Content).ToList();
        Assert.True(content.Count > 1);
        Assert.All(content, c => Assert.True(c.Normalized.Length <= 480));
        Assert.All(words, w => Assert.Contains(content, c => c.Normalized.Contains(w)));
    }

    [Fact]
    public void Text_index_leaves_out_protected_values_a_short_one_only_as_a_whole_word()
    {
        var set = new IndexSet();
        TextIndex.Add(set, Parse("""
            {"resourceType":"Patient","name":[{"text":"张伟 room 1 ward 12 phone 13912345678 floor 1a"}]}
            """), ["1", "13912345678"]);
        var content = Assert.Single(set.Strings, s => s.Param == TextIndex.Content).Normalized;
        // "1" alone is removed; the "1" inside "12" and "1a" stays (it used to strip every "1" of the text).
        Assert.Equal("张伟 room ward 12 phone floor 1a", content);
    }
}
