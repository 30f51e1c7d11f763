using System.Globalization;
using System.Text;

namespace FhirArchive.Storage.Indexing;

/// <summary>String search form: lower-case with accents removed (Chinese characters are unchanged).</summary>
public static class TextNormalizer
{
    public static string Normalize(string s)
    {
        var decomposed = s.Normalize(NormalizationForm.FormD);
        var sb = new StringBuilder(decomposed.Length);
        foreach (var c in decomposed)
            if (CharUnicodeInfo.GetUnicodeCategory(c) != UnicodeCategory.NonSpacingMark)
                sb.Append(char.ToLowerInvariant(c));
        return sb.ToString().Normalize(NormalizationForm.FormC);
    }
}
