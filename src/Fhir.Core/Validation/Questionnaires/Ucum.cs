namespace FhirArchive.Fhir.Validation.Questionnaires;

/// <summary>
/// The one piece of UCUM the questionnaire limits need: converting between metric prefixes of the same base
/// unit (m and km, mg and g, mL and L). Anything else is not convertible here (null).
/// </summary>
internal static class Ucum
{
    private static readonly (string Prefix, decimal Factor)[] Prefixes =
    [
        ("da", 10m), ("k", 1000m), ("M", 1_000_000m), ("h", 100m), ("d", 0.1m), ("c", 0.01m), ("m", 0.001m), ("u", 0.000001m), ("n", 0.000000001m),
    ];

    private static readonly string[] Bases = ["m", "g", "L", "l", "s", "mol"];

    public static decimal? Convert(decimal amount, string from, string to)
    {
        if (from == to) return amount;
        if (Split(from) is not var (fromBase, fromFactor) || Split(to) is not var (toBase, toFactor) || fromBase != toBase) return null;
        return amount * fromFactor / toFactor;
    }

    private static (string Base, decimal Factor)? Split(string code)
    {
        if (Bases.Contains(code)) return (code, 1m);
        foreach (var (prefix, factor) in Prefixes)
            if (code.StartsWith(prefix, StringComparison.Ordinal) && Bases.Contains(code[prefix.Length..]))
                return (code[prefix.Length..], factor);
        return null;
    }
}
