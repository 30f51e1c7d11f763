namespace FhirArchive.Crypto;

/// <summary>
/// An SM2 private key kept in a PEM file (PKCS#8): loaded, or generated there on first use with owner-only
/// permissions. The one place the server's SM2 keys (document signing, audit checkpoints, tokens) and the operator's
/// <c>sm2-keygen</c> read and write key files.
/// </summary>
public static class Sm2KeyFile
{
    /// <summary>
    /// The private key in <paramref name="file"/>; when it does not exist, a new one written there — unless
    /// <paramref name="mustExist"/> (an operator named the file: their key is never silently replaced), which throws.
    /// <paramref name="purpose"/> and <paramref name="setting"/> name the key and its setting in the errors.
    /// </summary>
    public static Sm2Key LoadOrCreate(string file, bool mustExist, string purpose, string setting)
    {
        if (File.Exists(file)) return Load(file, purpose);
        if (mustExist)
            throw new InvalidOperationException($"{setting} '{file}' does not exist: give the SM2 private key (PKCS#8 PEM) there, or leave the setting out to have one generated.");
        var key = Sm2Key.Generate();
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(file))!);
        WritePrivateKey(file, key);
        return key;
    }

    /// <summary>The SM2 private key in a PEM file; a public key alone, another curve or unreadable PEM is refused.</summary>
    public static Sm2Key Load(string file, string purpose)
    {
        Sm2Key key;
        try { key = Sm2Key.FromPem(File.ReadAllText(file)); }
        catch (FormatException e) { throw new InvalidOperationException($"The {purpose} '{file}' is not an SM2 private key: {e.Message}", e); }
        return key.HasPrivateKey ? key : throw new InvalidOperationException($"The {purpose} '{file}' holds only a public key.");
    }

    /// <summary>
    /// Writes the private key as PKCS#8 PEM to a new file, created owner-only (0600) in one step, so it is never
    /// readable by others, not even briefly. An existing file is not overwritten (IOException).
    /// </summary>
    public static void WritePrivateKey(string file, Sm2Key key)
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using var w = new StreamWriter(file, System.Text.Encoding.ASCII, options);
        w.Write(key.PrivateKeyPem());
    }
}
