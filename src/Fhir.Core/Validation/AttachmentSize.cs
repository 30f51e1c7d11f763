using FhirArchive.Fhir.Model;

namespace FhirArchive.Fhir.Validation;

/// <summary>An Attachment's sizes: the bytes its base64 data holds, and whether the stated size agrees.</summary>
internal static class AttachmentSize
{
    /// <summary>The decoded length of the inline data (null without data).</summary>
    public static long? OfData(ElementNode attachment)
    {
        if (attachment.Child("data")?.Value is not { } data) return null;
        var length = data.Count(c => !char.IsWhiteSpace(c));
        var padding = data.TrimEnd().EndsWith("==", StringComparison.Ordinal) ? 2 : data.TrimEnd().EndsWith('=') ? 1 : 0;
        return length / 4 * 3 - padding;
    }

    /// <summary>The stated size, when it is given and contradicts the data.</summary>
    public static (long Stated, long Actual)? Mismatch(ElementNode attachment) =>
        OfData(attachment) is { } actual && long.TryParse(attachment.Child("size")?.Value, out var stated) && stated != actual ? (stated, actual) : null;
}
