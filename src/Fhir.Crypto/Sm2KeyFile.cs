namespace FhirArchive.Crypto;

/// <summary>
/// An SM2 private key kept in a PEM file (PKCS#8): loaded, or generated there on first use with owner-only
/// permissions; an SM2 public key read from one. The one place the server's SM2 keys (document signing, audit
/// checkpoints, tokens, the card platform's key), the operator's commands and the token signing keys read and write
/// key files.
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
    /// The SM2 public key in a PEM file (a public key, or a private key's public half): the card platform's key, an
    /// audit checkpoint's verifier. An unreadable file or PEM that holds no SM2 key is refused (InvalidOperationException).
    /// </summary>
    public static Sm2Key LoadPublic(string file, string purpose)
    {
        string pem;
        try { pem = File.ReadAllText(file); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new InvalidOperationException($"The {purpose} '{file}' cannot be read: {e.Message}", e); }
        return PublicFromPem(pem, $"{purpose} '{file}'");
    }

    /// <summary>The SM2 public key in PEM text (e.g. given in configuration); <paramref name="source"/> names it in the error.</summary>
    public static Sm2Key PublicFromPem(string pem, string source)
    {
        try { return Sm2Key.FromPem(pem); }
        catch (FormatException e) { throw new InvalidOperationException($"The {source} is not an SM2 PEM key: {e.Message}", e); }
    }

    /// <summary>Writes the private key as PKCS#8 PEM to a new file, owner-only (<see cref="WriteNew"/>).</summary>
    public static void WritePrivateKey(string file, Sm2Key key) => WriteNew(file, key.PrivateKeyPem());

    /// <summary>
    /// Writes a new key file (a private key's PEM; the signing keys of Fhir.Auth too) without a window in which it is
    /// readable by others or seen half-written: the text goes to a temporary file in the same folder, created owner-only
    /// (0600) in the one system call that creates it (no umask window, no chmod after), flushed to disk, then renamed to
    /// <paramref name="file"/> — a rename that never replaces: an existing file is not overwritten (IOException), and a
    /// concurrent writer of the same file loses cleanly. The temporary file is removed when anything fails.
    /// </summary>
    public static void WriteNew(string file, string pem)
    {
        var full = Path.GetFullPath(file);
        if (File.Exists(full)) throw new IOException($"The key file '{full}' exists: not overwritten.");
        var temp = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        try
        {
            using (var stream = new FileStream(temp, options))
            {
                var bytes = System.Text.Encoding.ASCII.GetBytes(pem);
                stream.Write(bytes);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: false);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }
}
