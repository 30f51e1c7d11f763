using FhirArchive.Conformance;
using FhirArchive.Fhir.Tests.Support;
using Xunit;

namespace FhirArchive.Fhir.Tests.Validation;

/// <summary>The HL7 validator test cases: our agreement with the reference validator must not fall back.</summary>
public class ValidatorSuiteTests
{
    [Fact]
    public void Agreement_with_the_reference_validator_holds()
    {
        var r = ValidatorSuite.Run(OfficialExamples.ConformanceData("validator-tests"));
        var falseAlarms = r.Disagreements.Count(d => d.ExpectedValid);
        // Floors as measured last (501 of 554 agreeing; no valid instance flagged): raise them as checks land.
        Assert.True(r.Passed >= 501, $"agreement fell to {r.Passed} of {r.Passed + r.Failed}");
        Assert.True(falseAlarms == 0, $"{falseAlarms} valid instances were flagged:\n" + string.Join("\n", r.Disagreements.Where(d => d.ExpectedValid).Select(d => $"{d.Case} {d.Detail}")));
    }
}
