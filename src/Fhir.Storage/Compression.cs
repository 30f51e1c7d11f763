using System.Buffers;
using System.IO.Compression;

namespace FhirArchive.Storage;

/// <summary>Resource bytes are stored Brotli-compressed: FHIR JSON shrinks 5-10x and decompresses fast.</summary>
public static class Compression
{
    public static byte[] Compress(ReadOnlySpan<byte> data)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(BrotliEncoder.GetMaxCompressedLength(data.Length));
        try
        {
            if (!BrotliEncoder.TryCompress(data, buffer, out var written, quality: 4, window: 22))
                throw new InvalidOperationException("Brotli compression failed.");
            return buffer.AsSpan(0, written).ToArray();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>One-shot decoding into a pooled buffer (no streams), retried with a larger one if it was too small.</summary>
    public static byte[] Decompress(byte[] data)
    {
        for (var size = Math.Max(data.Length * 8, 16 * 1024); size <= 1 << 30; size *= 4)
        {
            var buffer = ArrayPool<byte>.Shared.Rent(size);
            try
            {
                if (BrotliDecoder.TryDecompress(data, buffer, out var written)) return buffer.AsSpan(0, written).ToArray();
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
        throw new InvalidDataException("Stored resource bytes are not valid Brotli data.");
    }
}
