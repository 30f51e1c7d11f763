using FhirArchive.Rest.Access;

namespace FhirArchive.Archive.Signatures;

/// <summary>
/// Signed documents (issue 23 "Shared documents", issue 28 "Cryptography"): the server's SM2 document-signing key
/// (<see cref="DocumentSigningKey"/>, public half at /.well-known/document-signing-key), the <see cref="DocumentSigner"/>
/// that document producers ($summary, $document) call on the Bundle they return, and Bundle/$verify-signature.
/// </summary>
public static class SignaturesModule
{
    /// <summary>Configuration "Signatures" (<see cref="SignatureOptions"/>); the key file is under <paramref name="dataFolder"/> when relative.</summary>
    public static IServiceCollection AddSignatures(this IServiceCollection services, IConfiguration configuration, string dataFolder)
    {
        var options = configuration.GetSection("Signatures").Get<SignatureOptions>() ?? new SignatureOptions();
        services.AddSingleton(options);
        services.AddSingleton(_ => new DocumentSigningKey(options, dataFolder));
        services.AddSingleton<DocumentSigner>();
        return services;
    }

    public static void MapSignatures(this IEndpointRouteBuilder app)
    {
        // Loaded (or generated) at start-up, so a wrong Signatures:KeyFile stops the start, not the first document.
        var key = app.ServiceProvider.GetRequiredService<DocumentSigningKey>();
        VerifySignatureEndpoint.Map(app);
        // The public key, open to anyone who must check a document (no token, not audited: it discloses no record data).
        app.MapGet(DocumentSigningKey.WellKnownPath, () => Results.Json(new
        {
            kty = "EC",
            crv = "SM2",
            curveOid = "1.2.156.10197.1.301",
            alg = DocumentSigner.Algorithm,
            use = "sig",
            kid = key.KeyId,
            x = Crypto.Sm2Key.Base64Url(key.Key.PublicPoint().AsSpan(1, 32)),
            y = Crypto.Sm2Key.Base64Url(key.Key.PublicPoint().AsSpan(33, 32)),
            userId = "1234567812345678",
            canonicalization = DocumentCanonicalizer.Canonicalization,
            publicKeyPem = key.PublicKeyPem,
        })).AllowAnonymous().NotAudited().WithTags("Signatures").WithSummary("the document-signing public key (SM2) as JSON, PEM included");
        app.MapGet(DocumentSigningKey.WellKnownPath + ".pem", () => Results.Text(key.PublicKeyPem, "application/x-pem-file"))
            .AllowAnonymous().NotAudited().WithTags("Signatures").WithSummary("the document-signing public key (SM2) as SubjectPublicKeyInfo PEM");
    }
}
