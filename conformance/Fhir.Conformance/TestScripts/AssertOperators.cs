using System.Globalization;
using System.Text.RegularExpressions;

namespace FhirArchive.Conformance.TestScripts;

/// <summary>
/// The TestScript assert operators (R4 assert-operator-codes) over the actual values (a header, a status, the results
/// of an expression, each as text) and the expected value. A multi-valued actual passes "equals", "in", "greaterThan",
/// "lessThan" only when every value does, and "contains" when any value does.
/// </summary>
public static class AssertOperators
{
    public static readonly string[] Codes =
        ["equals", "notEquals", "in", "notIn", "greaterThan", "lessThan", "empty", "notEmpty", "contains", "notContains", "eval"];

    /// <summary>True when the actual values satisfy the operator; <paramref name="expected"/> is required except for empty/notEmpty.</summary>
    public static bool Compare(string op, IReadOnlyList<string> actual, string? expected) => op switch
    {
        "equals" => actual.Count > 0 && actual.All(a => a == Require(op, expected)),
        "notEquals" => !Compare("equals", actual, expected),
        "in" => actual.Count > 0 && actual.All(a => List(Require(op, expected)).Contains(a)),
        "notIn" => actual.All(a => !List(Require(op, expected)).Contains(a)),
        "greaterThan" => actual.Count > 0 && actual.All(a => Order(a, Require(op, expected)) > 0),
        "lessThan" => actual.Count > 0 && actual.All(a => Order(a, Require(op, expected)) < 0),
        "empty" => actual.Count == 0 || actual.All(string.IsNullOrEmpty),
        "notEmpty" => !Compare("empty", actual, expected),
        "contains" => actual.Any(a => a.Contains(Require(op, expected), StringComparison.Ordinal)),
        "notContains" => !actual.Any(a => a.Contains(Require(op, expected), StringComparison.Ordinal)),
        "eval" => throw new UnsupportedException("operator 'eval' needs an expression"),
        _ => throw new UnsupportedException($"assert operator '{op}'"),
    };

    /// <summary>The comma-separated list of "in"/"notIn" (and of responseCode "200,201").</summary>
    public static HashSet<string> List(string value) => [.. value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)];

    /// <summary>Numbers compare as numbers, dates and times of one shape chronologically (ISO text), anything else ordinally.</summary>
    public static int Order(string a, string b)
    {
        if (decimal.TryParse(a, NumberStyles.Float, CultureInfo.InvariantCulture, out var x) &&
            decimal.TryParse(b, NumberStyles.Float, CultureInfo.InvariantCulture, out var y))
            return x.CompareTo(y);
        if (IsoDate.IsMatch(a) && IsoDate.IsMatch(b) &&
            DateTimeOffset.TryParse(a, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var da) &&
            DateTimeOffset.TryParse(b, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var db))
            return da.CompareTo(db);
        return string.CompareOrdinal(a, b);
    }

    private static readonly Regex IsoDate = new(@"^\d{4}-\d{2}-\d{2}", RegexOptions.CultureInvariant);

    private static string Require(string op, string? expected) =>
        expected ?? throw new ScriptException($"operator '{op}' needs a value");
}

/// <summary>A part of TestScript the runner does not implement: the test is reported "skip" with this reason.</summary>
public sealed class UnsupportedException(string what) : Exception($"not supported: {what}");

/// <summary>A script that cannot be run as written (a missing fixture, a bad reference): the action fails with this message.</summary>
public sealed class ScriptException(string message) : Exception(message);
