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
            var (onType, param) = Searched(name, type);
            var value = Uri.UnescapeDataString(pairs[i][(eq + 1)..].Replace('+', ' '));
            var masked = string.Join(',', value.Split(',').Select(v => encryption.BlindQueryValue(onType, param, v)));
            pairs[i] = pairs[i][..eq] + "=" + Uri.EscapeDataString(masked);
            changed = true;
        }
        return changed ? "?" + string.Join('&', pairs) : query;
    }

    /// <summary>
    /// The type and parameter whose index the value is looked up in, so the recorded tag is the index's: PIXm's
    /// sourceIdentifier is a Patient identifier; a chain with a type (subject:Patient.identifier) searches that type;
    /// a chain without one (subject.identifier) is recorded in the type-less domain.
    /// </summary>
    private static (string? Type, string Param) Searched(string name, string? type)
    {
        if (IdentifierParameters.Contains(name)) return ("Patient", "identifier");
        var dot = name.LastIndexOf('.');
        if (dot < 0) return (type, name);
        var link = name[..dot];
        var colon = link.LastIndexOf(':');
        var target = colon >= 0 ? link[(colon + 1)..] : null;
        return (target is { Length: > 0 } && char.IsUpper(target[0]) ? target : null, name[(dot + 1)..]);
    }

    private static bool Protects(string name, string? type, FieldEncryption encryption)
    {
        if (IdentifierParameters.Contains(name)) return true;
        // A chain (subject:Patient.identifier, subject.identifier) searches its last parameter on some other type.
        var dot = name.LastIndexOf('.');
        return dot >= 0 ? encryption.IsBlinded(null, name[(dot + 1)..]) : encryption.IsBlinded(type, name);
    }
}
