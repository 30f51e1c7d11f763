using Xunit;

namespace FhirArchive.Differential.Tests.Search;

/// <summary>The oracle's own rules on a few resources, against the R4 search page's examples (search.html).</summary>
public sealed class SearchOracleTests
{
    private static readonly SearchOracle Oracle = new(
    [
        """{"resourceType":"Observation","id":"day","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8302-2"}]},"subject":{"reference":"Patient/p1"},"effectiveDateTime":"2013-01-14","valueQuantity":{"value":5.4,"unit":"mg","system":"http://unitsofmeasure.org","code":"mg"}}""",
        """{"resourceType":"Observation","id":"period","status":"amended","code":{"coding":[{"code":"x"}]},"subject":{"reference":"Patient/p2"},"effectivePeriod":{"start":"2013-01-10T10:00:00Z"},"valueQuantity":{"value":100,"unit":"mmHg"}}""",
        """{"resourceType":"Patient","id":"p1","name":[{"family":"Ramírez","given":["José"]}],"gender":"male"}""",
        """{"resourceType":"Patient","id":"p2","name":[{"family":"Chalmers"}],"gender":"female"}""",
    ]);

    private static string[] Ids(string type, params (string, string)[] criteria) =>
        Oracle.Match(type, criteria).Select(r => r.Id).Order(StringComparer.Ordinal).ToArray();

    [Fact]
    public void Dates_cover_their_precision_and_prefixes_compare_ranges()
    {
        var day = OracleValues.DateRange("2013-01-14")!.Value;
        Assert.Equal(new DateTimeOffset(2013, 1, 14, 0, 0, 0, TimeSpan.FromHours(8)).UtcTicks, day.Start);
        Assert.Equal(TimeSpan.TicksPerDay - 1, day.End - day.Start);
        Assert.Equal(TimeSpan.TicksPerMinute - 1, OracleValues.DateRange("2013-01-14T10:00Z")!.Value is var m ? m.End - m.Start : 0);
        Assert.Equal(["day"], Ids("Observation", ("date", "2013-01-14")));
        Assert.Equal(["day"], Ids("Observation", ("date", "2013-01")));
        // The open period (no end) reaches past any date: it is greater than 2014 and not contained in 2013.
        Assert.Equal(["period"], Ids("Observation", ("date", "gt2014")));
        Assert.Equal(["period"], Ids("Observation", ("date", "ne2013")));
        Assert.Empty(Ids("Observation", ("date", "eb2013-01-10")));
        Assert.Equal(["day"], Ids("Observation", ("date", "eb2013-01-15")));
        Assert.Equal(["day", "period"], Ids("Observation", ("date", "ge2013-01-14")));
        Assert.Equal(["day"], Ids("Observation", ("date", "sa2013-01-13")));
    }

    [Fact]
    public void Strings_ignore_case_and_accents_unless_exact()
    {
        Assert.Equal(["p1"], Ids("Patient", ("name", "ramirez")));
        Assert.Equal(["p1"], Ids("Patient", ("given", "JOSE")));
        Assert.Empty(Ids("Patient", ("family:exact", "Ramirez")));
        Assert.Equal(["p1"], Ids("Patient", ("family:exact", "Ramírez")));
        Assert.Equal(["p2"], Ids("Patient", ("name:contains", "LMER")));
    }

    [Fact]
    public void Tokens_quantities_references_and_chains_follow_the_search_page()
    {
        Assert.Equal(["day"], Ids("Observation", ("code", "http://loinc.org|8302-2")));
        Assert.Equal(["period"], Ids("Observation", ("code", "|x")));
        Assert.Equal(["period"], Ids("Observation", ("code:not", "8302-2")));
        Assert.Equal(["day", "period"], Ids("Observation", ("status", "final,amended")));
        Assert.Equal(["day"], Ids("Observation", ("value-quantity", "5.4|http://unitsofmeasure.org|mg")));
        Assert.Equal(["day"], Ids("Observation", ("value-quantity", "lt10||mg")));
        Assert.Equal(["period"], Ids("Observation", ("value-quantity", "100||mmHg")));
        Assert.Empty(Ids("Observation", ("value-quantity", "5.5")));
        Assert.Equal(["day"], Ids("Observation", ("patient", "p1")));
        Assert.Equal(["period"], Ids("Observation", ("subject:Patient", "p2")));
        Assert.Equal(["period"], Ids("Observation", ("subject:Patient.gender", "female")));
        Assert.Equal(["p1"], Ids("Patient", ("_has:Observation:patient:code", "8302-2")));
    }
}
