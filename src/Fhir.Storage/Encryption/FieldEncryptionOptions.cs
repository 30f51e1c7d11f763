namespace FhirArchive.Storage.Encryption;

/// <summary>
/// <c>Storage:FieldEncryption</c>: the person-identifying values (ID and other identity numbers, phones, addresses
/// below county level) stored SM4-encrypted and searchable by exact value through a keyed SM3-HMAC blind index. Off
/// unless a key-encryption key is configured (<see cref="KeyEncryptionKey"/> or <see cref="KeyEncryptionKeyFile"/>).
/// </summary>
public sealed class FieldEncryptionOptions
{
    /// <summary>The key-encryption key (KEK): 16 bytes as 32 hex digits or base64. It wraps the data keys kept in the database.</summary>
    public string? KeyEncryptionKey { get; set; }
    /// <summary>A file holding the key-encryption key (hex or base64 text), e.g. a mounted secret.</summary>
    public string? KeyEncryptionKeyFile { get; set; }
    /// <summary>The protected FHIRPath paths (<c>Type.element.element</c>); null: <see cref="DefaultPaths"/>. A type named here
    /// is stored encrypted whole; the index rows of these values hold their blind index.</summary>
    public string[]? Paths { get; set; }
    /// <summary>How often a server looks for a data key another instance added (a rotation); reading a value under
    /// an unknown key id looks at once.</summary>
    public TimeSpan KeyRefreshInterval { get; set; } = TimeSpan.FromMinutes(1);

    public bool Enabled => !string.IsNullOrWhiteSpace(KeyEncryptionKey) || !string.IsNullOrWhiteSpace(KeyEncryptionKeyFile);

    /// <summary>Identity numbers, phones (every telecom: phone, email, ...) and the address parts below county level (line, text).</summary>
    public static readonly string[] DefaultPaths =
    [
        .. new[] { "Patient", "RelatedPerson", "Practitioner", "Person" }.SelectMany(t => new[]
        {
            $"{t}.identifier.value", $"{t}.telecom.value", $"{t}.address.line", $"{t}.address.text",
        }),
        "Patient.contact.telecom.value", "Patient.contact.address.line", "Patient.contact.address.text",
    ];

    public IReadOnlyList<string> EffectivePaths => Paths is { Length: > 0 } p ? p : DefaultPaths;

    /// <summary>The configured key-encryption key's 16 bytes.</summary>
    public byte[] ReadKeyEncryptionKey()
    {
        var text = !string.IsNullOrWhiteSpace(KeyEncryptionKey) ? KeyEncryptionKey!
            : File.ReadAllText(KeyEncryptionKeyFile ?? throw new InvalidOperationException("Field encryption is off: no key-encryption key."));
        text = text.Trim();
        byte[] key;
        try
        {
            key = text.Length == 32 && text.All(Uri.IsHexDigit) ? Convert.FromHexString(text) : Convert.FromBase64String(text);
        }
        catch (FormatException)
        {
            throw new InvalidOperationException("Storage:FieldEncryption: the key-encryption key is neither hex nor base64.");
        }
        if (key.Length != Crypto.Sm4.KeySize)
            throw new InvalidOperationException($"Storage:FieldEncryption: the key-encryption key must be {Crypto.Sm4.KeySize} bytes (an SM4 key), not {key.Length}.");
        return key;
    }
}
