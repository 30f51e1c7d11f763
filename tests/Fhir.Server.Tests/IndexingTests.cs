using FhirArchive.Fhir.Serialization.Json;
using FhirArchive.Storage.Indexing;
using Xunit;

namespace FhirArchive.Server.Tests;

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
}
