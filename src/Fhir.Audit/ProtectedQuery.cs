using FhirArchive.Rest.Access;
using FhirArchive.Storage.Encryption;

namespace FhirArchive.Audit;

/// <summary>
/// The audit trail keeps no searched identifier, phone or ID card number in clear, whatever auditors later read
/// (masked when recorded: the stored event is what the SM3 chain seals, so it verifies as written). Under field
/// encryption the values of parameters that search protected values (identifier, telecom, phone, email, address;
/// chained or not; PIXm's sourceIdentifier) are replaced by their blind index, the system part of a token kept: an
/// auditor can still tell which searches looked for the same number, and find them by computing its blind index.
/// With encryption off there is no index key: those parameters' values are masked as the Masking module shows them
/// (<see cref="Masks"/>: an ID card 110105********1234, a phone 138****1234, any other identifier its last 4, an
/// address line ***), the system kept. Either way, ID card and phone numbers written in any other parameter
/// (_content, _text, a name) are masked as free text (<see cref="Masks.FreeText"/>).
/// </summary>
public static class ProtectedQuery
{
    /// <summary>Operation parameters that carry an identifier though they name no search parameter.</summary>
    private static readonly HashSet<string> IdentifierParameters = ["sourceIdentifier"];

    /// <summary>With encryption off: the parameters that search what field encryption would protect (its default paths).</summary>
    private static readonly HashSet<string> ClearProtected = ["identifier", "telecom", "phone", "email", "address"];

    /// <param name="query">The query string with its '?' (or empty).</param>
    public static string Mask(string query, string? type, FieldEncryption encryption)
    {
        if (query.Length < 2) return query;
        var pairs = query.TrimStart('?').Split('&');
        var changed = false;
        for (var i = 0; i < pairs.Length; i++)
        {
            var eq = pairs[i].IndexOf('=');
            if (eq <= 0) continue;
            var name = Uri.UnescapeDataString(pairs[i][..eq].Replace('+', ' '));
            var value = Uri.UnescapeDataString(pairs[i][(eq + 1)..].Replace('+', ' '));
            string masked;
            if (encryption.Enabled && Protects(name, type, encryption))
            {
                var (onType, param) = Searched(name, type);
                masked = string.Join(',', value.Split(',').Select(v => encryption.BlindQueryValue(onType, param, v)));
            }
            else if (!encryption.Enabled && ProtectedParameter(name) is { } param)
                masked = string.Join(',', value.Split(',').Select(v => MaskClear(param, v)));
            else masked = Masks.FreeText(value);
            if (masked == value) continue;
            pairs[i] = pairs[i][..eq] + "=" + Uri.EscapeDataString(masked);
            changed = true;
        }
        return changed ? "?" + string.Join('&', pairs) : query;
    }

    /// <summary>The protected parameter a name searches with encryption off (a chain's last one; sourceIdentifier an identifier), or null.</summary>
    private static string? ProtectedParameter(string name)
    {
        var param = Searched(name, null).Param.Split(':')[0];
        return ClearProtected.Contains(param) ? param : null;
    }

    /// <summary>A searched value masked as shown: a token's system kept; a phone as a phone; an address as a line.</summary>
    private static string MaskClear(string param, string value)
    {
        if (param == "address") return Masks.AddressLine(value);
        var bar = value.LastIndexOf('|');
        var (system, code) = bar < 0 ? ("", value) : (value[..(bar + 1)], value[(bar + 1)..]);
        var free = Masks.FreeText(code);
        var masked = free != code ? free : param is "phone" ? Masks.Phone(code) : Masks.Identifier(code);
        return system + masked;
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
