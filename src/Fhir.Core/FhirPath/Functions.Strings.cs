using System.Net;
using System.Text;
using System.Text.RegularExpressions;

namespace FhirArchive.Fhir.FhirPath;

/// <summary>String functions. Regexes get a timeout so hostile patterns cannot hang an evaluation.</summary>
internal static partial class Functions
{
    private static readonly TimeSpan RegexTimeout = TimeSpan.FromSeconds(1);

    private static Regex MakeRegex(string pattern, bool full) =>
        RegexCache.GetOrAdd((pattern, full), static k =>
            new Regex(k.Item2 ? $"^(?:{k.Item1})$" : k.Item1, RegexOptions.CultureInvariant | RegexOptions.Singleline, RegexTimeout));

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<(string, bool), Regex> RegexCache = new();

    private static Fn StringFn(Func<string, object?> f) => (_, input, _, _) =>
    {
        var s = InputString(input, "string function");
        return s is null ? Empty : One(f(s));
    };

    private static Fn StringFn1(Func<string, string, object?> f) => (env, input, outer, args) =>
    {
        var s = InputString(input, "string function");
        if (s is null) return Empty;
        var a = Values.SingleString(Arg(env, outer, args[0]), "argument");
        return a is null ? Empty : One(f(s, a));
    };

    private static void RegisterStrings()
    {
        Add("indexOf", 1, 1, StringFn1((s, a) => (long)s.IndexOf(a, StringComparison.Ordinal)));
        Add("lastIndexOf", 1, 1, StringFn1((s, a) => (long)s.LastIndexOf(a, StringComparison.Ordinal)));
        Add("substring", 1, 2, (env, input, outer, args) =>
        {
            var s = InputString(input, "substring");
            if (s is null) return Empty;
            var start = Values.SingleInteger(Arg(env, outer, args[0]), "substring");
            if (start is null || start < 0 || start >= s.Length) return Empty;
            if (args.Length == 1) return One(s[(int)start..]);
            var len = Values.SingleInteger(Arg(env, outer, args[1]), "substring");
            if (len is null) return One(s[(int)start..]);
            if (len <= 0) return One("");
            return One(s.Substring((int)start, (int)Math.Min(len.Value, s.Length - start.Value)));
        });
        Add("startsWith", 1, 1, StringFn1((s, a) => s.StartsWith(a, StringComparison.Ordinal)));
        Add("endsWith", 1, 1, StringFn1((s, a) => s.EndsWith(a, StringComparison.Ordinal)));
        Add("contains", 1, 1, StringFn1((s, a) => s.Contains(a, StringComparison.Ordinal)));
        Add("upper", 0, 0, StringFn(s => s.ToUpperInvariant()));
        Add("lower", 0, 0, StringFn(s => s.ToLowerInvariant()));
        Add("length", 0, 0, StringFn(s => (long)s.Length));
        Add("trim", 0, 0, StringFn(s => s.Trim()));
        Add("toChars", 0, 0, (_, input, _, _) =>
        {
            var s = InputString(input, "toChars");
            return s is null ? Empty : s.Select(c => FhirPathItem.FromValue(c.ToString())).ToList();
        });
        Add("replace", 2, 2, (env, input, outer, args) =>
        {
            var s = InputString(input, "replace");
            var pattern = Values.SingleString(Arg(env, outer, args[0]), "replace");
            var substitution = Values.SingleString(Arg(env, outer, args[1]), "replace");
            if (s is null || pattern is null || substitution is null) return Empty;
            if (pattern.Length == 0)
            {
                // Inserting between every character, as the spec's example shows.
                var sb = new StringBuilder(substitution);
                foreach (var c in s) sb.Append(c).Append(substitution);
                return One(sb.ToString());
            }
            return One(s.Replace(pattern, substitution, StringComparison.Ordinal));
        });
        Add("matches", 1, 1, StringFn1((s, p) => Match(() => MakeRegex(p, false).IsMatch(s))));
        Add("matchesFull", 1, 1, StringFn1((s, p) => Match(() => MakeRegex(p, true).IsMatch(s))));
        Add("replaceMatches", 2, 2, (env, input, outer, args) =>
        {
            var s = InputString(input, "replaceMatches");
            var pattern = Values.SingleString(Arg(env, outer, args[0]), "replaceMatches");
            var substitution = Values.SingleString(Arg(env, outer, args[1]), "replaceMatches");
            if (s is null || pattern is null || substitution is null) return Empty;
            if (pattern.Length == 0) return One(s);
            return One(Match(() => MakeRegex(pattern, false).Replace(s, substitution)));
        });
        Add("split", 1, 1, (env, input, outer, args) =>
        {
            var s = InputString(input, "split");
            var sep = Values.SingleString(Arg(env, outer, args[0]), "split");
            if (s is null || sep is null) return Empty;
            return s.Split(sep).Select(p => FhirPathItem.FromValue(p)).ToList();
        });
        Add("join", 0, 1, (env, input, outer, args) =>
        {
            var sep = args.Length == 0 ? "" : Values.SingleString(Arg(env, outer, args[0]), "join") ?? "";
            return One(string.Join(sep, input.Select(i => FhirPathValues.Format(i.Value))));
        });
        Add("encode", 1, 1, StringFn1((s, f) => f switch
        {
            "base64" => Convert.ToBase64String(Encoding.UTF8.GetBytes(s)),
            "urlbase64" => Convert.ToBase64String(Encoding.UTF8.GetBytes(s)).Replace('+', '-').Replace('/', '_'),
            "hex" => Convert.ToHexString(Encoding.UTF8.GetBytes(s)).ToLowerInvariant(),
            _ => null,
        }));
        Add("decode", 1, 1, StringFn1((s, f) =>
        {
            try
            {
                return f switch
                {
                    "base64" => Encoding.UTF8.GetString(Convert.FromBase64String(s)),
                    "urlbase64" => Encoding.UTF8.GetString(Convert.FromBase64String(s.Replace('-', '+').Replace('_', '/'))),
                    "hex" => Encoding.UTF8.GetString(Convert.FromHexString(s)),
                    _ => null,
                };
            }
            catch (FormatException)
            {
                return null;
            }
        }));
        Add("escape", 1, 1, StringFn1((s, f) => f switch
        {
            "html" => WebUtility.HtmlEncode(s),
            "json" => EscapeJson(s),
            _ => null,
        }));
        Add("unescape", 1, 1, StringFn1((s, f) => f switch
        {
            "html" => WebUtility.HtmlDecode(s),
            "json" => UnescapeJson(s),
            _ => null,
        }));
    }

    private static string EscapeJson(string s)
    {
        var sb = new StringBuilder(s.Length + 8);
        foreach (var c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                default:
                    if (c < ' ') sb.Append("\\u").Append(((int)c).ToString("x4"));
                    else sb.Append(c);
                    break;
            }
        }
        return sb.ToString();
    }

    private static string? UnescapeJson(string s)
    {
        try
        {
            return System.Text.Json.JsonSerializer.Deserialize<string>("\"" + s.Replace("\"", "\\\"").Replace("\\\\\"", "\\\"") + "\"");
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }

    private static T Match<T>(Func<T> f)
    {
        try
        {
            return f();
        }
        catch (RegexMatchTimeoutException)
        {
            throw new FhirPathEvaluationException("regular expression took too long");
        }
        catch (ArgumentException e)
        {
            throw new FhirPathEvaluationException("invalid regular expression: " + e.Message);
        }
    }
}
