using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.IdentityModel.Tokens;

namespace FhirArchive.Auth.Keys;

/// <summary>
/// The server's token-signing key (RSA 2048 for RS256, P-256 for ES256): read from the PEM key file, or generated
/// on first start and written there (owner-only permissions), so tokens survive a restart. The public half is
/// published as the JWKS.
/// </summary>
public sealed class SigningKeys
{
    public SecurityKey Key { get; }
    public SigningCredentials Credentials { get; }
    public string Algorithm { get; }
    public string KeyId { get; }
    /// <summary>The JWKS document (public key only).</summary>
    public string JwksJson { get; }

    public SigningKeys(AuthOptions options, string keyFile)
    {
        Algorithm = options.SigningAlgorithm;
        var pem = File.Exists(keyFile) ? File.ReadAllText(keyFile) : null;
        AsymmetricAlgorithm key = Algorithm switch
        {
            SecurityAlgorithms.RsaSha256 => LoadRsa(pem),
            SecurityAlgorithms.EcdsaSha256 => LoadEc(pem),
            _ => throw new InvalidOperationException($"Security:SigningAlgorithm must be RS256 or ES256, not '{Algorithm}'."),
        };
        if (pem is null) Save(keyFile, key);
        var securityKey = key is RSA rsa ? (AsymmetricSecurityKey)new RsaSecurityKey(rsa) : new ECDsaSecurityKey((ECDsa)key);
        var jwk = key is RSA r ? JsonWebKeyConverter.ConvertFromRSASecurityKey(new RsaSecurityKey(r.ExportParameters(false)))
            : JsonWebKeyConverter.ConvertFromECDsaSecurityKey(new ECDsaSecurityKey(ECDsa.Create(((ECDsa)key).ExportParameters(false))));
        KeyId = Base64UrlEncoder.Encode(jwk.ComputeJwkThumbprint());
        securityKey.KeyId = KeyId;
        Key = securityKey;
        Credentials = new SigningCredentials(securityKey, Algorithm);
        JwksJson = JsonSerializer.Serialize(new { keys = new[] { PublicJwk(jwk) } });
    }

    private Dictionary<string, string> PublicJwk(JsonWebKey jwk)
    {
        var d = new Dictionary<string, string> { ["kty"] = jwk.Kty, ["use"] = "sig", ["alg"] = Algorithm, ["kid"] = KeyId };
        if (jwk.Kty == "RSA") { d["n"] = jwk.N; d["e"] = jwk.E; }
        else { d["crv"] = jwk.Crv; d["x"] = jwk.X; d["y"] = jwk.Y; }
        return d;
    }

    private static RSA LoadRsa(string? pem)
    {
        var rsa = pem is null ? RSA.Create(2048) : RSA.Create();
        if (pem is not null) rsa.ImportFromPem(pem);
        return rsa;
    }

    private static ECDsa LoadEc(string? pem)
    {
        var ec = pem is null ? ECDsa.Create(ECCurve.NamedCurves.nistP256) : ECDsa.Create();
        if (pem is not null) ec.ImportFromPem(pem);
        return ec;
    }

    private static void Save(string file, AsymmetricAlgorithm key)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(file))!);
        var pem = key.ExportPkcs8PrivateKeyPem();
        using (var f = new FileStream(file, FileMode.CreateNew, FileAccess.Write))
        {
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            using var w = new StreamWriter(f);
            w.Write(pem);
        }
    }
}
