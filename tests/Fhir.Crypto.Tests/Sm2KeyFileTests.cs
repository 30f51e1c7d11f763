using Xunit;

namespace FhirArchive.Crypto.Tests;

/// <summary>Key files: the one public-key loader, and new key files written owner-only, whole, never replacing one.</summary>
public sealed class Sm2KeyFileTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("sm2keyfile").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void A_public_key_loads_from_a_public_or_a_private_pem_and_anything_else_is_refused()
    {
        var key = Sm2Key.Generate();
        var pub = Path.Combine(_folder, "k.pub.pem");
        File.WriteAllText(pub, key.PublicKeyPem());
        var loaded = Sm2KeyFile.LoadPublic(pub, "test key");
        Assert.False(loaded.HasPrivateKey);
        Assert.Equal(key.KeyId(), loaded.KeyId());
        var priv = Path.Combine(_folder, "k.pem");
        Sm2KeyFile.WritePrivateKey(priv, key);
        Assert.Equal(key.KeyId(), Sm2KeyFile.LoadPublic(priv, "test key").KeyId());

        var junk = Path.Combine(_folder, "junk.pem");
        File.WriteAllText(junk, "not a key");
        Assert.Contains("not an SM2 PEM key", Assert.Throws<InvalidOperationException>(() => Sm2KeyFile.LoadPublic(junk, "test key")).Message);
        Assert.Contains("cannot be read", Assert.Throws<InvalidOperationException>(() => Sm2KeyFile.LoadPublic(Path.Combine(_folder, "missing.pem"), "test key")).Message);
        Assert.Equal(key.KeyId(), Sm2KeyFile.PublicFromPem(key.PublicKeyPem(), "configured key").KeyId());
    }

    [Fact]
    public void A_new_key_file_is_owner_only_whole_and_never_replaces_one_and_leaves_no_temporary_file()
    {
        var file = Path.Combine(_folder, "signing.pem");
        Sm2KeyFile.WriteNew(file, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
        if (!OperatingSystem.IsWindows()) Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        Assert.StartsWith("-----BEGIN PRIVATE KEY-----", File.ReadAllText(file));
        Assert.Throws<IOException>(() => Sm2KeyFile.WriteNew(file, "other"));
        Assert.StartsWith("-----BEGIN PRIVATE KEY-----", File.ReadAllText(file));
        Assert.Equal(["signing.pem"], Directory.GetFiles(_folder).Select(Path.GetFileName));
    }

    [Fact]
    public void Two_writers_of_one_key_file_leave_exactly_one_whole_key()
    {
        var file = Path.Combine(_folder, "race.pem");
        var results = Enumerable.Range(0, 8).AsParallel().Select(i =>
        {
            try { Sm2KeyFile.WriteNew(file, $"key {i}\n"); return true; }
            catch (IOException) { return false; }
        }).ToList();
        Assert.Single(results, r => r);
        Assert.Matches(@"^key \d\n$", File.ReadAllText(file));
        Assert.Equal(["race.pem"], Directory.GetFiles(_folder).Select(Path.GetFileName));
    }
}
