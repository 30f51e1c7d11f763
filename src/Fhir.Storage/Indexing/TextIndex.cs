using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using FhirArchive.Fhir.Model;
using FhirArchive.Storage.Encryption;

namespace FhirArchive.Storage.Indexing;

/// <summary>
/// _text (the narrative's text) and _content (every string value of the resource) as normalised string-index rows
/// under those reserved names. Long text is cut into overlapping chunks: a btree entry stays small on PostgreSQL,
/// and any search word up to <see cref="MaxWord"/> characters lies whole inside one chunk.
/// </summary>
public static partial class TextIndex
{
    public const string Text = "_text";
    public const string Content = "_content";
    public const int MaxWord = 32;
    private const int ChunkLength = 480;
    private const int MaxChunks = 64;

    /// <param name="without">Values left out of both (field encryption's protected values: an ID number in the
    /// narrative or the content is not indexed in clear, and cannot be searched by these).</param>
    public static void Add(IndexSet set, ElementNode resource, IReadOnlyCollection<string>? without = null)
    {
        var narrative = resource.Child("text")?.Child("div")?.Value is { } div ? NarrativeText(div) : "";
        AddChunks(set, Text, narrative, without);
        var content = new StringBuilder(narrative);
        foreach (var n in resource.Descendants())
            if (n.IsPrimitive && n.Type is "string" or "markdown" && n.Value is { } v) content.Append(' ').Append(v);
        AddChunks(set, Content, content.ToString(), without);
    }

    /// <summary>The words of a search value, normalised; all must occur.</summary>
    public static IEnumerable<string> Words(string value) =>
        TextNormalizer.Normalize(value).Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    public static string NarrativeText(string xhtml) =>
        Spaces().Replace(WebUtility.HtmlDecode(Tags().Replace(xhtml, " ")), " ").Trim();

    private static void AddChunks(IndexSet set, string param, string text, IReadOnlyCollection<string>? without)
    {
        var norm = TextNormalizer.Normalize(text);
        // Longest first, so a value containing another is removed whole. A short one (an address line "1") only where
        // it stands as a word: removed inside longer words it would strip every "1" of the text.
        var values = (without ?? []).Select(TextNormalizer.Normalize).Where(v => v.Length > 0).OrderByDescending(v => v.Length).ToList();
        foreach (var v in values.Where(v => v.Length >= FieldEncryption.MinContained))
            norm = norm.Replace(v, " ", StringComparison.Ordinal);
        var shortValues = values.Where(v => v.Length < FieldEncryption.MinContained).ToHashSet(StringComparer.Ordinal);
        norm = string.Join(' ', Spaces().Replace(norm, " ").Trim().Split(' ').Where(w => !shortValues.Contains(w)));
        for (int start = 0, n = 0; start < norm.Length && n < MaxChunks; start += ChunkLength - MaxWord, n++)
        {
            var chunk = norm.Substring(start, Math.Min(ChunkLength, norm.Length - start));
            set.Strings.Add(new StringIndexRow { Param = param, Value = "", Normalized = chunk });
            if (start + ChunkLength >= norm.Length) break;
        }
    }

    [GeneratedRegex("<[^>]*>")]
    private static partial Regex Tags();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Spaces();
}
