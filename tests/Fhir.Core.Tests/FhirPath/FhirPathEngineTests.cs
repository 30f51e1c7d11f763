using FhirArchive.Fhir.FhirPath;
using FhirArchive.Fhir.Model;
using FhirArchive.Fhir.Serialization;
using FhirArchive.Fhir.Serialization.Json;
using Xunit;

namespace FhirArchive.Fhir.Tests.FhirPath;

public class FhirPathEngineTests
{
    internal static ElementNode Parse(string json) => new FhirJsonParser(ParserOptions.Strict).Parse(json).GetResourceOrThrow();

    private static readonly ElementNode Patient = Parse("""
        {"resourceType":"Patient","id":"p1","active":true,"birthDate":"1974-12-25",
         "name":[{"use":"official","family":"Chalmers","given":["Peter","James"]},{"use":"usual","given":["Jim"]}]}
        """);

    internal static IReadOnlyList<FhirPathItem> Eval(string expr, ElementNode? focus = null, EvaluationContext? ctx = null) =>
        FhirPathCompiler.Default.Compile(expr).Evaluate(focus is null ? [] : [FhirPathItem.FromNode(focus)], ctx);

    private static object? One(string expr, ElementNode? focus = null)
    {
        var r = Eval(expr, focus);
        Assert.Single(r);
        return r[0].Value;
    }

    [Theory]
    [InlineData("{} = 1")]
    [InlineData("1 = {}")]
    [InlineData("{} + 1")]
    [InlineData("Patient.deceased = true")]
    [InlineData("{} and true")]
    [InlineData("{}.not()")]
    [InlineData("{} < 2")]
    [InlineData("(1 | 2) contains {}")]
    public void Empty_propagates(string expr) => Assert.Empty(Eval(expr, Patient));

    [Theory]
    [InlineData("{} or true", true)]
    [InlineData("false and {}", false)]
    [InlineData("{} implies true", true)]
    [InlineData("false implies {}", true)]
    [InlineData("{} ~ {}", true)]
    [InlineData("{} in (1 | 2)", null)]
    [InlineData("{}.exists()", false)]
    [InlineData("{}.empty()", true)]
    public void Three_valued_logic(string expr, bool? expected)
    {
        var r = Eval(expr, Patient);
        if (expected is null) Assert.Empty(r);
        else Assert.Equal(expected, Assert.Single(r).Value);
    }

    [Theory]
    [InlineData("@2012-04 = @2012-04-15", null)]          // precision differs, same month: unknown
    [InlineData("@2012-03 = @2012-04-15", false)]         // differs within the shared precision
    [InlineData("@2012-04 < @2012-05-01", true)]
    [InlineData("@2012-04-15 < @2012-04", null)]
    [InlineData("@2012-04-15T10:00:00 ~ @2012-04-15T10:00:00.0", true)]
    [InlineData("@2012-04-15T10:00 ~ @2012-04-15T10:00:00", false)]   // equivalence: different precision is simply false
    [InlineData("@2012-04-15T15:00:00Z = @2012-04-15T17:00:00+02:00", true)]
    [InlineData("Patient.birthDate = @1974-12-25", true)]
    [InlineData("Patient.birthDate < @1974-12", null)]
    [InlineData("@T10:30 = @T10:30:00", null)]
    public void Date_comparison_respects_precision(string expr, bool? expected)
    {
        var r = Eval(expr, Patient);
        if (expected is null) Assert.Empty(r);
        else Assert.Equal(expected, Assert.Single(r).Value);
    }

    [Theory]
    [InlineData("1.0 = 1.00", true)]
    [InlineData("1 = 1.0", true)]
    [InlineData("1.1 = 1.12", false)]
    [InlineData("1.1 ~ 1.12", true)]       // rounded to the least precise operand
    [InlineData("1.1 ~ 1.16", false)]
    [InlineData("0.1 + 0.2 = 0.3", true)]  // decimal, not binary floating point
    [InlineData("'abc' = 'ABC'", false)]
    [InlineData("'abc' ~ 'ABC'", true)]
    [InlineData("' a  b ' ~ 'A B'", true)]
    [InlineData("'a b' = 'a  b'", false)]
    [InlineData("1 'cm' = 10 'mm'", true)]
    [InlineData("1 year ~ 1 'a'", true)]
    [InlineData("7 days = 1 week", true)]
    public void Equality_and_equivalence(string expr, bool expected) => Assert.Equal(expected, One(expr, Patient));

    [Fact]
    public void Polymorphic_value_navigation()
    {
        var obs = Parse("""
            {"resourceType":"Observation","status":"final","code":{"text":"w"},
             "valueQuantity":{"value":72.5,"unit":"kg","system":"http://unitsofmeasure.org","code":"kg"}}
            """);
        Assert.Equal(72.5m, One("Observation.value.value", obs));
        Assert.Equal(true, One("Observation.value is Quantity", obs));
        Assert.Equal(true, One("Observation.value.ofType(Quantity).exists()", obs));
        Assert.Equal(false, One("Observation.value.ofType(string).exists()", obs));
        Assert.Equal(true, One("Observation.value > 70 'kg'", obs));
        Assert.Equal(true, One("Observation.value = 72500 'g'", obs));
        Assert.Empty(Eval("(Observation.value as Period).start", obs));
        // "valueQuantity" is a JSON name, not a FHIRPath path.
        Assert.Throws<FhirPathEvaluationException>(() => Eval("Observation.valueQuantity", obs));
    }

    [Fact]
    public void Resolve_inside_bundle_and_contained()
    {
        var bundle = Parse("""
            {"resourceType":"Bundle","type":"collection","entry":[
              {"fullUrl":"http://example.org/fhir/Patient/p1","resource":{"resourceType":"Patient","id":"p1","active":true}},
              {"fullUrl":"urn:uuid:04121321-4af5-424c-a0e1-ed3aab1c349d","resource":{"resourceType":"Patient","id":"p2","gender":"female"}},
              {"fullUrl":"http://example.org/fhir/Observation/o1","resource":{"resourceType":"Observation","id":"o1","status":"final",
                "code":{"text":"x"},"subject":{"reference":"Patient/p1"},"performer":[{"reference":"urn:uuid:04121321-4af5-424c-a0e1-ed3aab1c349d"},{"reference":"#pr"}],
                "contained":[{"resourceType":"Practitioner","id":"pr","active":false}]}}]}
            """);
        Assert.Equal(true, One("Bundle.entry[2].resource.subject.resolve().active", bundle));
        Assert.Equal("female", One("Bundle.entry[2].resource.performer[0].resolve().gender", bundle));
        Assert.Equal(false, One("Bundle.entry[2].resource.performer[1].resolve().active", bundle));
        Assert.Equal(true, One("Bundle.entry[2].resource.subject.resolve() is Patient", bundle));
        // %resource and %rootResource: a Bundle entry is its own root; a contained resource's root is its container.
        var entry = bundle.ChildrenNamed("entry").Last().Child("resource")!;
        Assert.Equal("o1", Assert.Single(Eval("%rootResource.id", entry)).Value);
        var contained = entry.Child("contained")!;
        Assert.Equal("pr", Assert.Single(Eval("%resource.id", contained)).Value);
        Assert.Equal("o1", Assert.Single(Eval("%rootResource.id", contained)).Value);
        // Unknown references go to the caller's resolver.
        var external = Parse("""{"resourceType":"Organization","id":"org","name":"Acme"}""");
        var obs = Parse("""{"resourceType":"Observation","status":"final","code":{"text":"x"},"performer":[{"reference":"Organization/org"}]}""");
        var ctx = new EvaluationContext { Resolver = r => r == "Organization/org" ? external : null };
        Assert.Equal("Acme", Assert.Single(Eval("performer.resolve().name", obs, ctx)).Value);
        Assert.Empty(Eval("performer.resolve().name", obs));
    }

    [Fact]
    public void GetReferenceKey_gives_type_and_id_of_literal_references()
    {
        var obs = Parse("""
            {"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"http://example.org/fhir/Patient/p1/_history/3"},
             "performer":[{"reference":"Practitioner/d1"},{"reference":"#c"},{"reference":"urn:uuid:04121321-4af5-424c-a0e1-ed3aab1c349d"}]}
            """);
        Assert.Equal("Patient/p1", One("subject.getReferenceKey()", obs));
        Assert.Equal(["Practitioner/d1"], Eval("performer.getReferenceKey()", obs).Select(i => i.Value));
        Assert.Equal(["Patient/p1"], Eval("(subject | performer).getReferenceKey('Patient')", obs).Select(i => i.Value));
        Assert.Equal("Practitioner/d1", One("performer[0].reference.getReferenceKey()", obs));
    }

    [Fact]
    public void Environment_variables_and_callbacks()
    {
        var ctx = new EvaluationContext
        {
            MemberOf = (code, vs) => vs == "http://hl7.org/fhir/ValueSet/administrative-gender" ? code is "male" or "female" : null,
        }.SetVariable("minAge", 18L);
        Assert.Equal(true, Assert.Single(Eval("%minAge = 18", Patient, ctx)).Value);
        Assert.Equal("http://unitsofmeasure.org", One("%ucum", Patient));
        Assert.Equal("p1", One("%resource.id", Patient));
        Assert.Equal("p1", One("%`rootResource`.id", Patient));
        var gender = Parse("""{"resourceType":"Patient","gender":"male"}""");
        Assert.Equal(true, Assert.Single(Eval("gender.memberOf(%`vs-administrative-gender`)", gender, ctx)).Value);
        Assert.Throws<FhirPathEvaluationException>(() => Eval("%undefined", Patient));
    }

    [Fact]
    public void Iteration_variables()
    {
        Assert.Equal("Peter|James|Jim", One("name.given.aggregate(iif($total.empty(), $this, $total & '|' & $this))", Patient));
        Assert.Equal(6L, One("(1 | 2 | 3).aggregate($this + $total, 0)", Patient));
        Assert.Equal(2L, One("name.select($index).last() + 1", Patient));
        Assert.Equal(3L, One("name.given.count()", Patient));
        Assert.Equal("Jim", One("name.where(use = 'usual').given", Patient));
    }

    [Fact]
    public void Date_arithmetic_and_quantities()
    {
        Assert.Equal("2013-01-31", One("@2012-12-31 + 1 month", Patient)!.ToString()); // clamps to the month's end
        Assert.Equal("2012-03-01", One("@2012-02-28 + 2 days", Patient)!.ToString());
        Assert.Equal("2011-02-28", One("@2012-02-29 - 1 year", Patient)!.ToString());
        Assert.Equal("2012-01-01T10:30:00+02:00", One("@2012-01-01T10:00:00+02:00 + 30 minutes", Patient)!.ToString());
        Assert.Equal(true, One("5 'mg' + 1 'g' = 1005 'mg'", Patient));
        Assert.Equal(true, One("2.0 'cm' * 2.0 'm' = 0.040 'm2'", Patient));
        Assert.Throws<FhirPathEvaluationException>(() => Eval("@2012-01-01 + 1 'kg'", Patient));
    }

    [Theory]
    [InlineData("Patient.name.", 13)]
    [InlineData("1 +", 3)]
    [InlineData("'unterminated", 0)]
    [InlineData("name.nofunction()", 5)]
    [InlineData("where(", 6)]
    [InlineData("1 is Strung", 2)]
    public void Syntax_errors_carry_a_position(string expr, int position)
    {
        var e = Assert.Throws<FhirPathSyntaxException>(() => FhirPathCompiler.Default.Compile(expr));
        Assert.Equal(position, e.Position);
    }

    [Fact]
    public void Hostile_input_is_bounded()
    {
        // Deep nesting is rejected at parse time rather than overflowing the stack.
        Assert.Throws<FhirPathSyntaxException>(() => FhirPathCompiler.Default.Compile(new string('(', 5000) + "1" + new string(')', 5000)));
        // Exponential growth hits the step budget.
        var ctx = new EvaluationContext { MaxSteps = 5_000 };
        const string ten = "(1|2|3|4|5|6|7|8|9|10)";
        var expr = $"{ten}.select({ten}.select({ten}.select({ten})))"; // 10^4 items
        Assert.Equal(10_000, Eval(expr, Patient).Count);
        Assert.Throws<FhirPathEvaluationException>(() => Eval(expr, Patient, ctx));
        Assert.Throws<FhirPathEvaluationException>(() => Eval("descendants().repeat(children())", Patient, new EvaluationContext { MaxSteps = 10 }));
    }

    [Fact]
    public void Compiled_expressions_are_cached_and_reusable()
    {
        var a = FhirPathCompiler.Default.Compile("name.given.first()");
        Assert.Same(a, FhirPathCompiler.Default.Compile("name.given.first()"));
        Assert.Equal("Peter", a.Scalar(Patient));
        Assert.True(FhirPathCompiler.Default.Compile("active").Predicate(Patient));
        Assert.False(FhirPathCompiler.Default.Compile("deceased").Predicate(Patient));
    }
}

public class FhirPathCommandTests
{
    [Fact]
    public void Result_collections_print_as_typed_json()
    {
        var patient = new FhirArchive.Fhir.Serialization.Json.FhirJsonParser(FhirArchive.Fhir.Serialization.ParserOptions.Strict)
            .Parse("""{"resourceType":"Patient","active":true,"name":[{"family":"Chalmers"}]}""").GetResourceOrThrow();
        var r = FhirPathCompiler.Default.Compile("name | active | 1.50 | 'x' | 5 'mg' | @2012-01").Evaluate(patient);
        Assert.Equal(
            """[{"type":"HumanName","value":{"family":"Chalmers"}},{"type":"boolean","value":true},{"type":"decimal","value":1.50},{"type":"string","value":"x"},{"type":"Quantity","value":"5 'mg'"},{"type":"date","value":"2012-01"}]""",
            FhirArchive.Conformance.FhirPathCommand.ToJson(r));
    }
}
