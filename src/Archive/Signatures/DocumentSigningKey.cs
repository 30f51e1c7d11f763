using FhirArchive.Crypto;

namespace FhirArchive.Archive.Signatures;

/// <summary>
/// The server's SM2 document-signing key: read from the PEM file the configuration names (Signatures:KeyFile), or —
/// none named — from data/signatures/document-signing-key.pem, generated there on first start with owner-only
/// permissions (as the token-signing key is kept, Fhir.Auth SigningKeys). A named file that is missing stops the
/// start: an operator's key is never silently replaced by a new one. The public half is published at
/// <see cref="WellKnownPath"/>.
/// </summary>
public sealed class DocumentSigningKey
{
    public const string WellKnownPath = "/.well-known/document-signing-key";

    public Sm2Key Key { get; }
    /// <summary>SM3 of the public key's SubjectPublicKeyInfo, base64url: the JWS kid and the signer identifier.</summary>
    public string KeyId { get; }
    public string PublicKeyPem { get; }

    public DocumentSigningKey(SignatureOptions options, string dataFolder)
    {
        var named = !string.IsNullOrWhiteSpace(options.KeyFile);
        var file = Path.GetFullPath(named ? options.KeyFile! : SignatureOptions.DefaultKeyFile, dataFolder);
        Key = Sm2KeyFile.LoadOrCreate(file, mustExist: named, "document-signing key", "Signatures:KeyFile");
        KeyId = Key.KeyId();
        PublicKeyPem = Key.PublicKeyPem();
    }

    /// <summary>The key as a test or a tool gives it.</summary>
    public DocumentSigningKey(Sm2Key key)
    {
        Key = key;
        KeyId = key.KeyId();
        PublicKeyPem = key.PublicKeyPem();
    }
}
