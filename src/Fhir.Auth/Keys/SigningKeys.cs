using System.Security.Cryptography;
using System.Text.Json;
using FhirArchive.Crypto;
using Microsoft.IdentityModel.Tokens;

namespace FhirArchive.Auth.Keys;

/// <summary>
/// The server's token-signing key (RSA 2048 for RS256, P-256 for ES256, SM2 for SM2): read from the PEM key file, or
/// generated on first start and written there (owner-only permissions), so tokens survive a restart. The public half
/// is published as the JWKS.
/// </summary>
/// <remarks>
/// SM2 (Security:SigningAlgorithm=SM2, for platforms that require the national algorithms) signs JWS "SM2SM3"
/// (<see cref="Sm2Key.JwsAlgorithm"/>: SM2 with SM3, user id 1234567812345678, r ‖ s — the document signatures' name
/// and encoding); its JWK is kty "EC" with the local curve name crv "SM2" (neither is IANA-registered: only
/// clients that know them can check these tokens; the server itself always can). The key id is SM3 of the public
/// key's SubjectPublicKeyInfo, as for the document-signing key.
/// </remarks>
public sealed class SigningKeys
{
    public SecurityKey Key { get; }
    public SigningCredentials Credentials { get; }
    public string Algorithm { get; }
    public string KeyId { get; }
    /// <summary>The JWKS document (public key only).</summary>
    public string JwksJson { get; }

    /// <summary>Security:SigningAlgorithm's value for SM2 (the JWS alg is <see cref="Sm2Key.JwsAlgorithm"/>).</summary>
    public const string Sm2Setting = "SM2";

    public SigningKeys(AuthOptions options, string keyFile)
    {
        if (options.SigningAlgorithm is Sm2Setting or Sm2Key.JwsAlgorithm)
        {
            Algorithm = Sm2Key.JwsAlgorithm;
            var sm2 = Sm2KeyFile.LoadOrCreate(keyFile, mustExist: false, "token-signing key", "Security:KeyFile");
            var point = sm2.PublicPoint();
            Key = new Sm2SecurityKey(sm2);
            KeyId = Key.KeyId;
            Credentials = new SigningCredentials(Key, Algorithm);
            JwksJson = JsonSerializer.Serialize(new
            {
                keys = new[]
                {
                    new Dictionary<string, string>
                    {
                        ["kty"] = "EC", ["crv"] = "SM2", ["use"] = "sig", ["alg"] = Algorithm, ["kid"] = KeyId,
                        ["x"] = Sm2Key.Base64Url(point.AsSpan(1, 32)), ["y"] = Sm2Key.Base64Url(point.AsSpan(33, 32)),
                    },
                },
            });
            return;
        }
        Algorithm = options.SigningAlgorithm;
        var pem = File.Exists(keyFile) ? File.ReadAllText(keyFile) : null;
        AsymmetricAlgorithm key = Algorithm switch
        {
            SecurityAlgorithms.RsaSha256 => LoadRsa(pem),
            SecurityAlgorithms.EcdsaSha256 => LoadEc(pem),
            _ => throw new InvalidOperationException($"Security:SigningAlgorithm must be RS256, ES256 or SM2, not '{Algorithm}'."),
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
        Sm2KeyFile.WriteNew(file, key.ExportPkcs8PrivateKeyPem());
    }
}
