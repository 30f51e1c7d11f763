using System.Text.RegularExpressions;
using FhirArchive.Fhir.Definitions;
using FhirArchive.Fhir.Serialization;
using Xunit;

namespace FhirArchive.Fhir.Tests;

/// <summary>
/// The hand-written recognisers that let common primitive values skip the regex: each may only accept what its
/// type's regex accepts (checked on edge cases and on many generated near-misses), and it does accept the common
/// forms (else it saves nothing).
/// </summary>
public class CommonShapesTests
{
    private static readonly string[] Types =
        ["uri", "url", "canonical", "code", "id", "boolean", "decimal", "integer", "unsignedInt", "positiveInt", "date", "dateTime", "instant"];

    private static readonly string[] Seeds =
    [
        "http://loinc.org", "urn:oid:2.16.156", "male", "a b", " a", "a ", "a  b", "a\tb", "a\n", "final", "x", "",
        "patient-1", "A.b-9", new string('a', 64), new string('a', 65), "a_b", "患者",
        "true", "false", "True", "0", "-0", "00", "01", "1", "-1", "123456789", "1234567890", "2147483648", "-2147483648",
        "1.50", "0.5", "-0.0", ".5", "1.", "1e5", "1E+5", "1e-05", "1e", "--1", "+1",
        "2020", "0000", "0001", "1000", "2020-01", "2020-1", "2020-13", "2020-00", "2020-02-30", "2020-12-31", "2020-12-32",
        "2020-01-01T00:00:00Z", "2020-01-01T23:59:60+14:00", "2020-01-01T24:00:00Z", "2020-01-01T10:00:00.123+08:00",
        "2020-01-01T10:00:00.+08:00", "2020-01-01T10:00:00+14:01", "2020-01-01T10:00:00+13:59", "2020-01-01T10:00Z",
        "2020-01-01T10:00:00", "2020-01T10:00:00Z", "2020-01-01T10:00:00-05:00", "2020-01-01T10:00:00z", "2020-01-01 10:00:00Z",
    ];

    private static readonly Dictionary<string, string[]> Common = new()
    {
        ["uri"] = ["http://loinc.org", "urn:oid:2.16.156"],
        ["code"] = ["male", "final"],
        ["id"] = ["patient-1", new string('a', 64)],
        ["boolean"] = ["true", "false"],
        ["decimal"] = ["1.50", "0", "-0.0", "1e5"],
        ["integer"] = ["0", "-1", "123456789"],
        ["positiveInt"] = ["1", "123456789"],
        ["unsignedInt"] = ["0", "42"],
        ["date"] = ["2020", "2020-01", "2020-12-31"],
        ["dateTime"] = ["2020", "2020-01-01T00:00:00Z", "2020-01-01T10:00:00.123+08:00", "2020-01-01T10:00:00-05:00"],
        ["instant"] = ["2020-01-01T23:59:60+14:00", "2020-01-01T10:00:00.123Z"],
    };

    [Fact]
    public void Accepts_only_what_the_regex_accepts()
    {
        var random = new Random(7);
        const string alphabet = "0123456789-:.T+Ze ab\t";
        foreach (var typeName in Types)
        {
            var regex = StrictRegex(typeName);
            var values = new List<string>(Seeds);
            foreach (var seed in Seeds)
                for (var k = 0; k < 200 && seed.Length > 0; k++)
                {
                    // Near misses: one character replaced, inserted or removed.
                    var chars = seed.ToList();
                    var at = random.Next(chars.Count);
                    switch (random.Next(3))
                    {
                        case 0: chars[at] = alphabet[random.Next(alphabet.Length)]; break;
                        case 1: chars.Insert(at, alphabet[random.Next(alphabet.Length)]); break;
                        default: chars.RemoveAt(at); break;
                    }
                    values.Add(new string([.. chars]));
                }
            foreach (var v in values)
                if (CommonShapes.Match(typeName, v))
                    Assert.True(regex.IsMatch(v), $"{typeName}: '{v}' accepted by the shape but not by the regex");
        }
    }

    [Fact]
    public void Accepts_the_common_forms()
    {
        foreach (var (typeName, values) in Common)
            foreach (var v in values)
                Assert.True(CommonShapes.Match(typeName, v), $"{typeName}: '{v}'");
    }

    [Theory]
    [InlineData("date", "2020-02-30", "calendar")]
    [InlineData("positiveInt", "0", "positiveInt")]
    [InlineData("integer", "2147483648", "32-bit")]
    [InlineData("dateTime", "2020-01-01T24:00:00Z", "not a valid dateTime")]
    [InlineData("code", "a  b", "not a valid code")]
    [InlineData("uri", "a b", "not a valid uri")]
    public void The_validator_still_rejects_what_the_shapes_pass_on(string typeName, string value, string message)
    {
        var problem = PrimitiveValidator.Check(FhirDefinitions.R4.GetType(typeName)!, value);
        Assert.NotNull(problem);
        Assert.Contains(message, problem);
    }

    private static Regex StrictRegex(string typeName)
    {
        var pattern = FhirDefinitions.R4.GetType(typeName)!.Regex!;
        return new Regex(@"\A(?:" + PrimitiveValidator.XsdWhitespace(pattern) + @")\z", RegexOptions.CultureInvariant);
    }
}
