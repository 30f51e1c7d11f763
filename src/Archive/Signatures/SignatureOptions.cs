namespace FhirArchive.Archive.Signatures;

/// <summary>Configuration "Signatures": the server's document-signing key and the name it signs under.</summary>
public sealed class SignatureOptions
{
    /// <summary>
    /// A PEM file with the SM2 private key (PKCS#8), e.g. one issued by the platform's CA; relative paths are under the
    /// data folder. It must exist when named. Unset: <see cref="DefaultKeyFile"/>, generated on first start.
    /// </summary>
    public string? KeyFile { get; set; }

    /// <summary>The signer (Signature.who) as a reference to the holding organisation, e.g. "Organization/org-1"; optional.</summary>
    public string? SignerReference { get; set; }

    /// <summary>The signer's display name (Signature.who.display).</summary>
    public string SignerDisplay { get; set; } = "FhirArchive 居民电子健康档案服务器 / FhirArchive record server";

    public const string DefaultKeyFile = "signatures/document-signing-key.pem";
}
