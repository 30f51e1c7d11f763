using System.Text;
using FhirArchive.Archive.Signatures;
using FhirArchive.Rest.Infrastructure;
using Xunit;

namespace FhirArchive.Archive.Tests.Signatures;

/// <summary>
/// The bytes a document signature covers, pinned: a signature made before must verify after (stored documents keep
/// theirs), so the canonical form is compared with a fixed expected text — members sorted, id/meta/signature left out,
/// JCS string escapes, UTF-8 as is, FHIR decimals with their digits.
/// </summary>
public sealed class DocumentCanonicalizerTests
{
    private const string Bundle = """
        {"resourceType":"Bundle","id":"x","meta":{"lastUpdated":"2024-01-01T00:00:00Z"},"type":"document",
         "timestamp":"2024-01-01T00:00:00Z",
         "entry":[{"fullUrl":"urn:uuid:1","resource":{"resourceType":"Observation","status":"final",
           "code":{"text":"a\"b\\c\td\ne\r/ 中文 😀"},"valueQuantity":{"value":1.50,"unit":"mg"}}}],
         "signature":{"type":[{"system":"urn:iso-astm:E1762-95:2013","code":"1.2.840.10065.1.12.1.5"}],"when":"2024-01-01T00:00:00Z","who":{"display":"x"}}}
        """;

    private const string Expected = """{"entry":[{"fullUrl":"urn:uuid:1","resource":{"code":{"text":"a\"b\\c\td\ne\r/ 中文 😀"},"resourceType":"Observation","status":"final","valueQuantity":{"unit":"mg","value":1.50}}}],"resourceType":"Bundle","timestamp":"2024-01-01T00:00:00Z","type":"document"}""";

    [Fact]
    public void The_canonical_form_is_the_JCS_text_of_the_Bundle_without_id_meta_and_signature()
    {
        var node = FhirFormats.ParseStored(Encoding.UTF8.GetBytes(Bundle));
        Assert.Equal(Expected, Encoding.UTF8.GetString(DocumentCanonicalizer.Canonicalize(node)));
        // The copying form leaves the node as it was; the owned form (a signer's own parse) gives the same bytes.
        Assert.Equal("x", node.Child("id")?.Value);
        Assert.NotNull(node.Child("signature"));
        Assert.Equal(Expected, Encoding.UTF8.GetString(DocumentCanonicalizer.CanonicalizeOwned(node)));
        Assert.Null(node.Child("id"));
    }
}
