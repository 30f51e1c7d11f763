using System.Formats.Tar;
using System.IO.Compression;

namespace FhirArchive.Conformance;

/// <summary>
/// The files of a FHIR package, read from an unpacked folder or straight from the npm .tgz (no unpacking).
/// </summary>
public static class ExampleSource
{
    /// <summary>(file name, content) of each resource file; package.json and index files are left out.</summary>
    public static IEnumerable<(string Name, byte[] Content)> Read(string folderOrTgz, string extension = ".json")
    {
        if (Directory.Exists(folderOrTgz))
        {
            var files = Directory.EnumerateFiles(folderOrTgz, "*" + extension, SearchOption.AllDirectories)
                .Where(f => IsResourceFile(Path.GetFileName(f), extension))
                .OrderBy(f => f, StringComparer.Ordinal);
            foreach (var f in files) yield return (Path.GetFileName(f), File.ReadAllBytes(f));
            yield break;
        }
        if (!File.Exists(folderOrTgz)) throw new FileNotFoundException($"No folder or package at '{folderOrTgz}'");

        using var gz = new GZipStream(File.OpenRead(folderOrTgz), CompressionMode.Decompress);
        using var tar = new TarReader(gz);
        var entries = new List<(string, byte[])>();
        while (tar.GetNextEntry() is { } entry)
        {
            var name = Path.GetFileName(entry.Name);
            if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile) || entry.DataStream is null) continue;
            if (!IsResourceFile(name, extension)) continue;
            using var ms = new MemoryStream();
            entry.DataStream.CopyTo(ms);
            entries.Add((name, ms.ToArray()));
        }
        foreach (var e in entries.OrderBy(e => e.Item1, StringComparer.Ordinal)) yield return e;
    }

    private static bool IsResourceFile(string name, string extension) =>
        name.EndsWith(extension, StringComparison.OrdinalIgnoreCase)
        && name != "package.json" && !name.StartsWith('.');
}
