namespace FhirArchive.Auth.Scopes;

/// <summary>Cuts a requested scope string down to what a ceiling allows (SMART: the server may grant less than asked).</summary>
public static class ScopeGrant
{
    /// <summary>Scopes that carry no resource access and are granted when asked for.</summary>
    public static readonly string[] NonClinical = ["openid", "fhirUser", "profile", "launch", "launch/patient", "offline_access", "online_access"];

    public static List<string> Grant(IEnumerable<string> requested, IReadOnlyList<string> ceiling, bool person)
    {
        var ceilings = ceiling.Select(SmartScope.Parse).OfType<SmartScope>().ToList();
        var granted = new List<string>();
        foreach (var r in requested.Distinct(StringComparer.Ordinal))
        {
            if (NonClinical.Contains(r))
            {
                if (person || r == "openid") granted.Add(r);
                continue;
            }
            if (SmartScope.Parse(r) is not { } s) continue;
            // The widest grant any ceiling scope gives; the requested spelling is kept when nothing was cut.
            var best = ceilings.Select(c => c.Grant(s)).OfType<SmartScope>().MaxBy(g => System.Numerics.BitOperations.PopCount((uint)g.Permissions));
            if (best is null) continue;
            granted.Add(best.Permissions == s.Permissions ? r : best.ToString());
        }
        return granted;
    }

    public static string[] Split(string? scope) => (scope ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries);
}
