using System.IO.Compression;

namespace FhirArchive.Storage;

/// <summary>Resource bytes are stored Brotli-compressed: FHIR JSON shrinks 5-10x and decompresses fast.</summary>
public static class Compression
{
    public static byte[] Compress(ReadOnlySpan<byte> data)
    {
        var buffer = new byte[BrotliEncoder.GetMaxCompressedLength(data.Length)];
        if (!BrotliEncoder.TryCompress(data, buffer, out var written, quality: 4, window: 22))
            throw new InvalidOperationException("Brotli compression failed.");
        return buffer.AsSpan(0, written).ToArray();
    }

    public static byte[] Decompress(byte[] data)
    {
        using var input = new MemoryStream(data);
        using var brotli = new BrotliStream(input, CompressionMode.Decompress);
        using var output = new MemoryStream(data.Length * 6);
        brotli.CopyTo(output);
        return output.ToArray();
    }
}
