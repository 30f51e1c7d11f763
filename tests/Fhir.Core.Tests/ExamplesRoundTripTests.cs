using FhirArchive.Conformance;
using FhirArchive.Fhir.Tests.Support;
using Xunit;

namespace FhirArchive.Fhir.Tests;

public class ExamplesRoundTripTests
{
    [Fact]
    public void Every_official_example_parses_strictly_and_round_trips_through_json_and_xml()
    {
        var result = ExamplesSuite.Run(OfficialExamples.PackagePath);
        Assert.True(result.Failures.Count == 0, string.Join("\n", result.Failures.Take(20)));
        Assert.Equal(5306, result.Passed);
    }
}
