using System.Collections.Frozen;
using System.Text;

namespace FhirArchive.Storage.Indexing;

/// <summary>
/// String search form: lower-case with accents removed (Chinese characters are unchanged). The folding table is
/// explicit because the server runs with invariant globalization, where Unicode decomposition is unavailable.
/// </summary>
public static class TextNormalizer
{
    private static readonly FrozenDictionary<char, char> Fold = BuildFold();

    public static string Normalize(string s)
    {
        var sb = new StringBuilder(s.Length);
        foreach (var ch in s)
        {
            var c = char.ToLowerInvariant(ch);
            if (c > '\u007f' && Fold.TryGetValue(c, out var f)) c = f;
            if (c is >= '\u0300' and <= '\u036f') continue; // combining marks written separately
            sb.Append(c);
        }
        return sb.ToString();
    }

    private static FrozenDictionary<char, char> BuildFold()
    {
        // Latin letters with diacritics, including the pinyin tone marks (ā á ǎ à, ǖ ǘ ǚ ǜ ü).
        (char Base, string Accented)[] groups =
        [
            ('a', "àáâãäåāăąǎǻ"), ('c', "çćĉċč"), ('d', "ďđ"), ('e', "èéêëēĕėęěẽ"), ('g', "ĝğġģ"), ('h', "ĥħ"),
            ('i', "ìíîïĩīĭįıǐ"), ('j', "ĵ"), ('k', "ķ"), ('l', "ĺļľŀł"), ('n', "ñńņňǹ"), ('o', "òóôõöøōŏőǒ"),
            ('r', "ŕŗř"), ('s', "śŝşšș"), ('t', "ţťŧț"), ('u', "ùúûüũūŭůűųǔǖǘǚǜ"), ('w', "ŵ"), ('y', "ýÿŷ"), ('z', "źżž"),
        ];
        var d = new Dictionary<char, char>();
        foreach (var (b, accented) in groups)
            foreach (var c in accented) d[c] = b;
        return d.ToFrozenDictionary();
    }
}
