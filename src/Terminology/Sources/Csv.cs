using System.IO.Compression;
using System.Text;

namespace FhirArchive.Terminology.Sources;

/// <summary>Reads the embedded CSV/TSV data files (RFC 4180 quoting; .gz files decompressed).</summary>
internal static class Csv
{
    public static IEnumerable<Dictionary<string, string>> Read(string resource, char separator = ',')
    {
        using var stream = typeof(Csv).Assembly.GetManifestResourceStream("Data/" + resource)
                           ?? throw new FileNotFoundException($"Embedded terminology data '{resource}' is missing.");
        using var input = resource.EndsWith(".gz", StringComparison.Ordinal) ? new GZipStream(stream, CompressionMode.Decompress) : stream;
        using var reader = new StreamReader(input, Encoding.UTF8);
        var header = Split(reader.ReadLine() ?? "", separator);
        while (reader.ReadLine() is { } line)
        {
            if (line.Length == 0) continue;
            var cells = Split(line, separator);
            var row = new Dictionary<string, string>(StringComparer.Ordinal);
            for (var i = 0; i < header.Count; i++) row[header[i]] = i < cells.Count ? cells[i].Trim() : "";
            yield return row;
        }
    }

    private static List<string> Split(string line, char separator)
    {
        var cells = new List<string>();
        var sb = new StringBuilder();
        var quoted = false;
        for (var i = 0; i < line.Length; i++)
        {
            var ch = line[i];
            if (quoted)
            {
                if (ch == '"' && i + 1 < line.Length && line[i + 1] == '"') { sb.Append('"'); i++; }
                else if (ch == '"') quoted = false;
                else sb.Append(ch);
            }
            else if (ch == '"') quoted = true;
            else if (ch == separator) { cells.Add(sb.ToString()); sb.Clear(); }
            else sb.Append(ch);
        }
        cells.Add(sb.ToString());
        return cells;
    }
}
