using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using FhirArchive.Crypto;
using FhirArchive.Fhir.Model;
using FhirArchive.Rest.Infrastructure;

namespace FhirArchive.Archive.Signatures;

/// <summary>What <see cref="DocumentSigner.Verify"/> found: the verdict, why, and who signed when (as the signature says).</summary>
public sealed record SignatureCheck(bool Valid, string Reason, ElementNode? Signer = null, string? When = null);

/// <summary>
/// Signs document Bundles with the server's SM2 key and verifies them. The signature is a Bundle.signature:
/// type 1.2.840.10065.1.12.1.5 (ASTM E1762 "Verification Signature": the server attests that the document is what
/// the record holds — it is not the author of what the clinicians wrote, so not an author's signature .1), when,
/// who (the server / holding organisation, with the key id), targetFormat naming the canonicalization, sigFormat
/// application/jose and data = base64 of a JWS compact serialization with a detached payload
/// (RFC 7515 appendix F): <c>BASE64URL(header) + ".." + BASE64URL(r ‖ s)</c>.
/// </summary>
/// <remarks>
/// The header is {"alg":"SM2SM3","kid":…,"sigT":…}: "SM2SM3" is a local algorithm name (not IANA-registered:
/// SM2 with SM3 and the GM/T 0009 default user id 1234567812345678, signature r ‖ s as JWS writes ECDSA), kid is
/// SM3 of the public key's SubjectPublicKeyInfo (base64url), sigT the signing time, which must equal
/// Signature.when (so the time is signed too). The signing input is, as in any JWS,
/// ASCII(BASE64URL(header) + "." + BASE64URL(payload)), the payload being <see cref="DocumentCanonicalizer"/>'s bytes.
/// </remarks>
public sealed class DocumentSigner(DocumentSigningKey key, SignatureOptions options, TimeProvider clock)
{
    public const string Algorithm = Sm2Key.JwsAlgorithm;
    public const string SignatureTypeSystem = "urn:iso-astm:E1762-95:2013";
    public const string SignatureType = "1.2.840.10065.1.12.1.5";
    public const string SigFormat = "application/jose";
    public const string TargetFormat = "application/fhir+json;canonicalization=" + DocumentCanonicalizer.Canonicalization;
    public const string KeyIdSystem = "http://fhirarchive.cn/fhir/sid/document-signing-key";


    public DocumentSigningKey Key => key;

    /// <summary>
    /// The Bundle (FHIR JSON) with its Bundle.signature set (any earlier one replaced): the one call a document
    /// producer ($summary, $document) makes before it writes the Bundle.
    /// </summary>
    public byte[] Sign(byte[] bundleJson)
    {
        var node = FhirFormats.ParseStored(bundleJson);
        if (node.Type != "Bundle") throw new ArgumentException($"Only a Bundle is signed, not a {node.Type}.", nameof(bundleJson));
        var signed = node.Child("signature") is not null;
        var when = FhirInstant.Of(clock.GetUtcNow());
        var header = Sm2Key.Base64Url(Header(key.KeyId, when));
        // The parse is this call's own: canonicalised in place, not copied.
        var signature = key.Key.Sign(SigningInput(header, DocumentCanonicalizer.CanonicalizeOwned(node)), Sm2SignatureFormat.Raw);
        var jws = header + ".." + Sm2Key.Base64Url(signature);

        var who = new JsonObject();
        if (options.SignerReference is { Length: > 0 } reference) who["reference"] = reference;
        who["identifier"] = new JsonObject { ["system"] = KeyIdSystem, ["value"] = key.KeyId };
        who["display"] = options.SignerDisplay;
        var element = new JsonObject
        {
            ["type"] = new JsonArray(new JsonObject { ["system"] = SignatureTypeSystem, ["code"] = SignatureType, ["display"] = "Verification Signature" }),
            ["when"] = when,
            ["who"] = who,
            ["targetFormat"] = TargetFormat,
            ["sigFormat"] = SigFormat,
            ["data"] = Convert.ToBase64String(Encoding.ASCII.GetBytes(jws)),
        };
        if (!signed) return Appended(bundleJson, element);
        var root = JsonNode.Parse(bundleJson)!.AsObject();
        root.Remove("signature");
        root["signature"] = element;
        return FhirFormats.Utf8(root);
    }

    /// <summary>
    /// The Bundle's JSON with "signature" added as its last member (Bundle.signature is the Bundle's last element):
    /// the bytes as they were, not parsed and written again.
    /// </summary>
    private static byte[] Appended(byte[] bundleJson, JsonObject signature)
    {
        var end = Array.LastIndexOf(bundleJson, (byte)'}');
        var member = FhirFormats.Utf8(new JsonObject { ["signature"] = signature });
        // The Bundle has members (resourceType at least): a comma, then the new member without its own braces.
        var result = new byte[end + 1 + member.Length - 1];
        bundleJson.AsSpan(0, end).CopyTo(result);
        result[end] = (byte)',';
        member.AsSpan(1).CopyTo(result.AsSpan(end + 1));
        return result;
    }

    /// <summary>Whether the Bundle carries a signature of this server's key over exactly its content. Never throws for bad input.</summary>
    public SignatureCheck Verify(ElementNode bundle)
    {
        if (bundle.Type != "Bundle") return new(false, $"Only a Bundle carries a document signature, not a {bundle.Type} / 仅 Bundle 可验证签名.");
        var signature = bundle.Child("signature");
        if (signature is null) return new(false, "The Bundle has no signature (Bundle.signature) / 文档未签名.");
        var who = signature.Child("who");
        var when = signature.Child("when")?.Value;
        SignatureCheck Invalid(string reason) => new(false, reason, who, when);

        if (signature.Child("sigFormat")?.Value is not SigFormat)
            return Invalid($"The signature's format '{signature.Child("sigFormat")?.Value}' is not {SigFormat} (a JWS) / 不支持的签名格式.");
        string jws;
        try { jws = Encoding.ASCII.GetString(Convert.FromBase64String(signature.Child("data")?.Value ?? "")); }
        catch (FormatException) { return Invalid("Signature.data is not base64 / 签名数据不是 base64."); }
        var parts = jws.Split('.');
        if (parts.Length != 3 || parts[1].Length != 0 || parts[0].Length == 0)
            return Invalid("Signature.data is not a JWS with a detached payload (header..signature) / 签名不是分离式 JWS.");
        if (!TryBase64Url(parts[0], out var headerBytes) || !TryBase64Url(parts[2], out var signatureBytes))
            return Invalid("The JWS is not base64url / JWS 编码错误.");
        string? alg, kid, sigT;
        try
        {
            using var header = JsonDocument.Parse(headerBytes);
            alg = Text(header.RootElement, "alg");
            kid = Text(header.RootElement, "kid");
            sigT = Text(header.RootElement, "sigT");
        }
        catch (JsonException) { return Invalid("The JWS header is not JSON / JWS 头不是 JSON."); }
        if (alg != Algorithm) return Invalid($"The JWS algorithm '{alg}' is not {Algorithm} / 签名算法不是 SM2SM3.");
        if (kid != key.KeyId) return Invalid($"Signed with another key (kid {kid}), not this server's document-signing key (kid {key.KeyId}) / 非本服务器的签名密钥.");
        if (sigT != when) return Invalid($"Signature.when ({when}) is not the signed time ({sigT}) / 签名时间被修改.");
        if (!key.Key.Verify(SigningInput(parts[0], DocumentCanonicalizer.Canonicalize(bundle)), signatureBytes, Sm2SignatureFormat.Raw))
            return Invalid("The signature does not match the Bundle's content: the document was changed after it was signed / 签名与内容不符，文档已被修改.");
        return new(true, $"Valid: signed by this server's document-signing key (SM2, kid {key.KeyId}) / 签名有效.", who, when);
    }

    private static byte[] Header(string kid, string when)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("alg", Algorithm);
            w.WriteString("kid", kid);
            w.WriteString("sigT", when);
            w.WriteEndObject();
        }
        return buffer.ToArray();
    }

    private static byte[] SigningInput(string encodedHeader, byte[] payload) =>
        Encoding.ASCII.GetBytes(encodedHeader + "." + Sm2Key.Base64Url(payload));

    private static string? Text(JsonElement o, string name) =>
        o.ValueKind == JsonValueKind.Object && o.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static bool TryBase64Url(string s, out byte[] bytes)
    {
        var b64 = s.Replace('-', '+').Replace('_', '/');
        b64 += new string('=', (4 - b64.Length % 4) % 4);
        try { bytes = Convert.FromBase64String(b64); return true; }
        catch (FormatException) { bytes = []; return false; }
    }
}
