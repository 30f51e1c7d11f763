using FhirArchive.Fhir.FhirPath;
using FhirArchive.Fhir.Model;
using Xunit;
using static FhirArchive.Fhir.Tests.FhirPath.FhirPathEngineTests;

namespace FhirArchive.Fhir.Tests.FhirPath;

/// <summary>Partial dates as text (issue #27) and the FHIRPath 3.0 aggregates sum/min/max/avg.</summary>
public class FhirPathAggregateAndDateTextTests
{
    private static readonly ElementNode Immunization = Parse("""
        {"resourceType":"Immunization","id":"i1","status":"completed",
         "vaccineCode":{"text":"x"},"patient":{"reference":"Patient/p"},"occurrenceDateTime":"2013-01-10"}
        """);

    private static readonly ElementNode Condition = Parse("""
        {"resourceType":"Condition","id":"c1","subject":{"reference":"Patient/p"},"onsetDateTime":"2004",
         "recordedDate":"2013-01-10T10:20:00+01:00"}
        """);

    private static readonly ElementNode Observation = Parse("""
        {"resourceType":"Observation","id":"o1","status":"final","code":{"text":"w"},
         "component":[
           {"code":{"text":"a"},"valueQuantity":{"value":70,"system":"http://unitsofmeasure.org","code":"kg"}},
           {"code":{"text":"b"},"valueQuantity":{"value":500,"system":"http://unitsofmeasure.org","code":"g"}},
           {"code":{"text":"c"},"valueQuantity":{"value":2.5,"system":"http://unitsofmeasure.org","code":"kg"}},
           {"code":{"text":"d"},"valueQuantity":{"value":1,"system":"http://unitsofmeasure.org","code":"m"}}]}
        """);

    private static FhirPathItem One(string expr, ElementNode? focus = null) => Assert.Single(Eval(expr, focus));

    [Theory]
    [InlineData("Immunization.occurrence.toString()", "2013-01-10")]
    [InlineData("Immunization.occurrence.toString().length()", 10L)]
    [InlineData("Immunization.occurrence.convertsToString()", true)]
    [InlineData("'on ' + Immunization.occurrence.toString()", "on 2013-01-10")]
    [InlineData("'on ' & Immunization.occurrence", "on 2013-01-10")]
    public void A_day_precision_dateTime_is_text_as_written(string expr, object expected) =>
        Assert.Equal(expected, One(expr, Immunization).Value);

    [Theory]
    [InlineData("Condition.onset.toString()", "2004")]
    [InlineData("Condition.onset.toString().length()", 4L)]
    [InlineData("Condition.onset & '/' & Condition.recordedDate", "2004/2013-01-10T10:20:00+01:00")]
    [InlineData("Condition.recordedDate.toString()", "2013-01-10T10:20:00+01:00")]
    [InlineData("Condition.onset.toString().toDateTime() = Condition.onset", true)]
    public void A_year_precision_dateTime_is_text_as_written(string expr, object expected) =>
        Assert.Equal(expected, One(expr, Condition).Value);

    [Theory]
    [InlineData("@2004.toString()", "2004")]
    [InlineData("@2004T.toString()", "2004")]
    [InlineData("@2004-01T.toString()", "2004-01")]
    [InlineData("@2004-01-02.toString()", "2004-01-02")]
    [InlineData("@2004-01-02T10:11.toString()", "2004-01-02T10:11")]
    [InlineData("@2004-01-02T10:11:12.5Z.toString()", "2004-01-02T10:11:12.5Z")]
    [InlineData("@T10:11.toString()", "10:11")]
    [InlineData("'2004'.toDateTime().toString()", "2004")]
    [InlineData("'2004-05'.toDate().toString()", "2004-05")]
    [InlineData("@2004-05-06T10:00:00.toDate().toString()", "2004-05-06")]
    [InlineData("@2004-05.toDateTime().toString()", "2004-05")]
    public void Literals_and_conversions_round_trip_as_text(string expr, string expected) =>
        Assert.Equal(expected, One(expr).Value);

    [Theory]
    [InlineData("@2004T.toString().toDateTime() = @2004T", true)]
    [InlineData("@2004T is DateTime", true)]
    [InlineData("@2004 is Date", true)]
    [InlineData("'2004'.toDateTime() is DateTime", true)]
    public void Literals_keep_their_type(string expr, bool expected) => Assert.Equal(expected, One(expr).Value);

    [Theory]
    [InlineData("(1 | 2 | 3).sum()", "Integer", "6")]
    [InlineData("(1 | 2.5).sum()", "Decimal", "3.5")]
    [InlineData("(1 | 2 | 4).avg()", "Decimal", "2.3333333333333333333333333333")]
    [InlineData("(1 | 3).avg()", "Decimal", "2")]
    [InlineData("(3 | 1 | 2).min()", "Integer", "1")]
    [InlineData("(3 | 1 | 2).max()", "Integer", "3")]
    [InlineData("(3 | 1.5 | 2).min()", "Decimal", "1.5")]
    [InlineData("('b' | 'a' | 'c').min()", "String", "a")]
    [InlineData("('b' | 'a' | 'c').max()", "String", "c")]
    [InlineData("(1).sum()", "Integer", "1")]
    public void Aggregates_of_numbers_and_strings(string expr, string type, string expected)
    {
        var r = One(expr);
        Assert.Equal((type, expected), (r.TypeName, FhirPathValues.Format(r.Value)));
    }

    [Theory]
    [InlineData("(@2014-01-01 | @2013-05-06 | @2015-02-03).min()", "2013-05-06")]
    [InlineData("(@2014-01-01T10:00:00Z | @2014-01-01T12:00:00+01:00).max()", "2014-01-01T12:00:00+01:00")] // 11:00Z
    [InlineData("(@T10:00 | @T09:30).min()", "09:30")]
    [InlineData("Immunization.occurrence.max()", "2013-01-10")]
    public void Min_and_max_of_dates_and_times(string expr, string expected) =>
        Assert.Equal(expected, One(expr, Immunization).Value!.ToString());

    [Theory]
    [InlineData("{}.sum()")]
    [InlineData("{}.min()")]
    [InlineData("{}.max()")]
    [InlineData("{}.avg()")]
    [InlineData("Immunization.lotNumber.max()")]
    [InlineData("(@2012 | @2012-04).min()")] // the order of a year and a month within it is unknown
    [InlineData("(2147483647 | 1).sum()")]   // Integer overflow is empty, as for +
    public void Aggregates_of_nothing_or_unknown_are_empty(string expr) => Assert.Empty(Eval(expr, Immunization));

    [Fact]
    public void Quantities_add_and_compare_in_commensurable_units()
    {
        var sum = Assert.IsType<Quantity>(One("Observation.component.value.where(code != 'm').sum()", Observation).Value);
        Assert.Equal((73m, "kg"), (sum.Value, sum.Unit));
        var avg = Assert.IsType<Quantity>(One("Observation.component.take(2).value.avg()", Observation).Value);
        Assert.Equal((35.25m, "kg"), (avg.Value, avg.Unit));
        var min = One("Observation.component.take(3).value.min()", Observation);
        Assert.Equal("Quantity", min.TypeName); // the item itself, a FHIR Quantity node
        Assert.Equal("500", min.Node!.Child("value")!.Value);
        Assert.Equal("70", One("Observation.component.take(3).value.max()", Observation).Node!.Child("value")!.Value);
        Assert.Equal(3m, ((Quantity)One("(1 'kg' | 2000 'g').sum()").Value!).Value);
    }

    [Theory]
    [InlineData("Observation.component.value.sum()")]      // kg and m
    [InlineData("Observation.component.value.max()")]
    [InlineData("(1 | 'a').sum()")]
    [InlineData("(1 | 2 'kg').sum()")]
    [InlineData("(true | false).max()")]
    [InlineData("('a' | 1).min()")]
    [InlineData("Observation.component.sum()")]            // not values at all
    [InlineData("(@2014 | @T10:00).min()")]
    public void Aggregates_of_incompatible_items_are_errors(string expr) =>
        Assert.Throws<FhirPathEvaluationException>(() => Eval(expr, Observation));

    [Fact]
    public void Aggregate_function_expresses_the_same_sum()
    {
        Assert.Equal(10L, One("(1 | 2 | 3 | 4).aggregate($this + $total, 0)").Value);
        Assert.Equal(One("(1 | 2 | 3 | 4).sum()").Value, One("(1 | 2 | 3 | 4).aggregate($this + $total, 0)").Value);
        Assert.Equal(1L, One("(3 | 1 | 2).aggregate(iif($total.empty(), $this, iif($this < $total, $this, $total)))").Value);
    }
}
