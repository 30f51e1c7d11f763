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
        if (File.Exists(file)) Key = Load(file);
        else if (named) throw new InvalidOperationException($"Signatures:KeyFile '{file}' does not exist: give the SM2 private key (PKCS#8 PEM) there, or leave the setting out to have one generated.");
        else Key = Create(file);
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

    private static Sm2Key Load(string file)
    {
        Sm2Key key;
        try { key = Sm2Key.FromPem(File.ReadAllText(file)); }
        catch (FormatException e) { throw new InvalidOperationException($"The document-signing key '{file}' is not an SM2 private key: {e.Message}", e); }
        return key.HasPrivateKey ? key : throw new InvalidOperationException($"The document-signing key '{file}' holds only a public key.");
    }

    private static Sm2Key Create(string file)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        var key = Sm2Key.Generate();
        // Created owner-only (0600) in one step: the private key is never readable by others, not even briefly.
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using (var w = new StreamWriter(file, System.Text.Encoding.ASCII, options)) w.Write(key.PrivateKeyPem());
        return key;
    }
}
