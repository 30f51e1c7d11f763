namespace FhirArchive.Auth.Scopes;

/// <summary>Interactions a SMART v2 scope can permit: c create, r read/vread, u update/patch, d delete, s search/history.</summary>
[Flags]
public enum Permission { None = 0, Create = 1, Read = 2, Update = 4, Delete = 8, Search = 16, All = 31 }

/// <summary>
/// One SMART clinical scope: context (patient, user, system), resource type or "*", permissions and an optional
/// granular query ("category=laboratory"). Parses v2 ("patient/Observation.rs?category=…") and v1 (".read",
/// ".write", ".*") forms.
/// </summary>
public sealed record SmartScope(string Context, string ResourceType, Permission Permissions, string? Query)
{
    public static readonly string[] Contexts = ["patient", "user", "system"];

    public static SmartScope? Parse(string scope)
    {
        var slash = scope.IndexOf('/');
        if (slash <= 0) return null;
        var context = scope[..slash];
        if (!Contexts.Contains(context)) return null;
        var rest = scope[(slash + 1)..];
        string? query = null;
        var q = rest.IndexOf('?');
        if (q >= 0)
        {
            query = rest[(q + 1)..];
            rest = rest[..q];
            if (query.Length == 0) return null;
        }
        var dot = rest.LastIndexOf('.');
        if (dot <= 0) return null;
        var type = rest[..dot];
        if (type != "*" && !(char.IsAsciiLetterUpper(type[0]) && type.All(char.IsAsciiLetter))) return null;
        var perms = ParsePermissions(rest[(dot + 1)..]);
        if (perms == Permission.None) return null;
        return new SmartScope(context, type, perms, query);
    }

    private static Permission ParsePermissions(string p) => p switch
    {
        "read" => Permission.Read | Permission.Search,
        "write" => Permission.Create | Permission.Update | Permission.Delete,
        "*" => Permission.All,
        _ => ParseV2(p),
    };

    /// <summary>v2 letters must come in the order c, r, u, d, s, each at most once.</summary>
    private static Permission ParseV2(string p)
    {
        const string Order = "cruds";
        var result = Permission.None;
        var last = -1;
        foreach (var ch in p)
        {
            var i = Order.IndexOf(ch);
            if (i <= last) return Permission.None;
            last = i;
            result |= (Permission)(1 << i);
        }
        return result;
    }

    public bool AppliesTo(string resourceType) => ResourceType == "*" || ResourceType == resourceType;

    /// <summary>The scope in v2 form.</summary>
    public override string ToString()
    {
        var letters = string.Concat("cruds".Where((_, i) => Permissions.HasFlag((Permission)(1 << i))));
        return $"{Context}/{ResourceType}.{letters}" + (Query is null ? "" : "?" + Query);
    }

    /// <summary>The part of <paramref name="requested"/> this ceiling scope allows, or null.</summary>
    public SmartScope? Grant(SmartScope requested)
    {
        if (requested.Context != Context) return null;
        if (ResourceType != "*" && requested.ResourceType != ResourceType) return null;
        if (Query is not null && requested.Query != Query) return null;
        var perms = requested.Permissions & Permissions;
        return perms == Permission.None ? null : requested with { Permissions = perms };
    }
}
