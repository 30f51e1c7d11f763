using FhirArchive.Storage.Encryption;

namespace FhirArchive.Audit;

/// <summary>
/// Under field encryption the audit trail does not keep searched identifiers in clear either: in a recorded query
/// the values of parameters that search protected values (identifier, telecom, phone, email, address; chained or
/// not; PIXm's sourceIdentifier) are replaced by their blind index, the system part of a token kept. An auditor can
/// still tell which searches looked for the same number, and find them by computing its blind index.
/// </summary>
public static class ProtectedQuery
{
    /// <summary>Operation parameters that carry an identifier though they name no search parameter.</summary>
    private static readonly HashSet<string> IdentifierParameters = ["sourceIdentifier"];

    /// <param name="query">The query string with its '?' (or empty).</param>
    public static string Mask(string query, string? type, FieldEncryption encryption)
    {
        if (!encryption.Enabled || query.Length < 2) return query;
        var pairs = query.TrimStart('?').Split('&');
        var changed = false;
        for (var i = 0; i < pairs.Length; i++)
        {
            var eq = pairs[i].IndexOf('=');
            if (eq <= 0) continue;
            var name = Uri.UnescapeDataString(pairs[i][..eq].Replace('+', ' '));
            if (!Protects(name, type, encryption)) continue;
            var value = Uri.UnescapeDataString(pairs[i][(eq + 1)..].Replace('+', ' '));
            var masked = string.Join(',', value.Split(',').Select(v =>
            {
                var bar = v.LastIndexOf('|');
                return bar < 0 ? encryption.Blind(v) : v[..(bar + 1)] + encryption.Blind(v[(bar + 1)..]);
            }));
            pairs[i] = pairs[i][..eq] + "=" + Uri.EscapeDataString(masked);
            changed = true;
        }
        return changed ? "?" + string.Join('&', pairs) : query;
    }

    private static bool Protects(string name, string? type, FieldEncryption encryption)
    {
        if (IdentifierParameters.Contains(name)) return true;
        // A chain (subject:Patient.identifier, subject.identifier) searches its last parameter on some other type.
        var dot = name.LastIndexOf('.');
        return dot >= 0 ? encryption.IsBlinded(null, name[(dot + 1)..]) : encryption.IsBlinded(type, name);
    }
}
