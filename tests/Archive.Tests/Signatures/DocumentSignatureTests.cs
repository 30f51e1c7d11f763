using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using FhirArchive.Archive.Signatures;
using FhirArchive.Archive.Tests.Consent;
using FhirArchive.Crypto;
using Microsoft.Extensions.DependencyInjection;
using Xunit;
using static FhirArchive.Archive.Tests.Consent.ConsentData;
using static FhirArchive.Tests.Support.Http;

namespace FhirArchive.Archive.Tests.Signatures;

/// <summary>
/// Signed documents: Patient/[id]/$summary carries an SM2 Bundle.signature that Bundle/$verify-signature accepts —
/// and refuses once any signed byte changes (a resource's character, an entry removed, entries reordered, the
/// signing time) — while pretty-printing, member order, the XML form and the excluded id/meta leave it valid. An
/// unsigned or foreign-signed Bundle is valid=false with the reason, never an error.
/// </summary>
public abstract class DocumentSignatureTestsBase<TFixture>(TFixture fx) : IAsyncLifetime where TFixture : ServerFixture, IConsentWorld
{
    protected readonly HttpClient C = fx.Client;

    public Task InitializeAsync() => fx.SeedOnceAsync();
    public Task DisposeAsync() => Task.CompletedTask;

    protected async Task<string> SummaryAsync(string format = "json")
    {
        var r = await C.SendAsync(HttpMethod.Get, $"/Patient/adult/$summary?_format={format}", null, HolderClinician);
        var body = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == HttpStatusCode.OK, body);
        return body;
    }

    protected async Task<JsonElement> VerifyAsync(string body, string type = Json)
    {
        var r = await C.PostAsync("/Bundle/$verify-signature", Body(body, type));
        var text = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == HttpStatusCode.OK, text);
        return JsonDocument.Parse(text).RootElement;
    }

    protected static bool Valid(JsonElement p) => Part(p, "valid").GetProperty("valueBoolean").GetBoolean();
    protected static string Reason(JsonElement p) => Part(p, "reason").GetProperty("valueString").GetString()!;
    private static JsonElement Part(JsonElement p, string name) => p.GetProperty("parameter").EnumerateArray().Single(x => x.GetProperty("name").GetString() == name);

    private static string Changed(string json, Action<JsonObject> change)
    {
        var root = JsonNode.Parse(json)!.AsObject();
        change(root);
        return root.ToJsonString();
    }

    [Fact]
    public async Task Summary_is_signed_and_verifies()
    {
        var json = await SummaryAsync();
        var signature = JsonDocument.Parse(json).RootElement.GetProperty("signature");
        Assert.Equal(DocumentSigner.SignatureType, signature.GetProperty("type")[0].GetProperty("code").GetString());
        Assert.Equal("application/jose", signature.GetProperty("sigFormat").GetString());
        var key = fx.Factory.Services.GetRequiredService<DocumentSigningKey>();
        Assert.Equal(key.KeyId, signature.GetProperty("who").GetProperty("identifier").GetProperty("value").GetString());

        var result = await VerifyAsync(json);
        Assert.True(Valid(result), Reason(result));
        Assert.Equal(signature.GetProperty("when").GetString(), Part(result, "when").GetProperty("valueInstant").GetString());
        Assert.Equal(key.KeyId, Part(result, "signer").GetProperty("valueReference").GetProperty("identifier").GetProperty("value").GetString());
        // As the 'bundle' part of a Parameters too.
        var parameters = $$"""{"resourceType":"Parameters","parameter":[{"name":"bundle","resource":{{json}}}]}""";
        Assert.True(Valid(await VerifyAsync(parameters)));
    }

    [Fact]
    public async Task Any_change_to_the_signed_content_breaks_it()
    {
        var json = await SummaryAsync();
        // One character of a resource inside.
        var oneChar = Changed(json, b =>
        {
            var composition = b["entry"]![0]!["resource"]!.AsObject();
            composition["title"] = composition["title"]!.GetValue<string>().Replace("首页", "首頁");
        });
        var r = await VerifyAsync(oneChar);
        Assert.False(Valid(r));
        Assert.Contains("changed", Reason(r));
        // An entry removed.
        Assert.False(Valid(await VerifyAsync(Changed(json, b => b["entry"]!.AsArray().RemoveAt(b["entry"]!.AsArray().Count - 1)))));
        // Entries reordered.
        Assert.False(Valid(await VerifyAsync(Changed(json, b =>
        {
            var entries = b["entry"]!.AsArray();
            var first = entries[1]!;
            entries.RemoveAt(1);
            entries.Add(first);
        }))));
        // The Bundle's timestamp, and the signing time (signed in the JWS header).
        Assert.False(Valid(await VerifyAsync(Changed(json, b => b["timestamp"] = "2020-01-01T00:00:00Z"))));
        var when = await VerifyAsync(Changed(json, b => b["signature"]!["when"] = "2020-01-01T00:00:00Z"));
        Assert.False(Valid(when));
        Assert.Contains("time", Reason(when));
    }

    [Fact]
    public async Task Format_changes_and_the_excluded_elements_leave_it_valid()
    {
        var json = await SummaryAsync();
        // Pretty-printed, with members in another order.
        var pretty = JsonNode.Parse(json)!.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
        Assert.True(Valid(await VerifyAsync(pretty)));
        var reordered = Changed(json, b =>
        {
            var type = b["type"]!.GetValue<string>();
            b.Remove("type");
            b["type"] = type;
        });
        Assert.True(Valid(await VerifyAsync(reordered)));
        // Bundle.id and Bundle.meta are outside the signature (#document canonicalization): a store may set them.
        Assert.True(Valid(await VerifyAsync(Changed(json, b => { b["id"] = "stored-copy"; b["meta"] = new JsonObject { ["versionId"] = "7" }; }))));
        // The XML form of the same document.
        var xml = await SummaryAsync("xml");
        Assert.Contains("<Bundle xmlns=\"http://hl7.org/fhir\"", xml);
        var fromXml = await VerifyAsync(xml, Xml);
        Assert.True(Valid(fromXml), Reason(fromXml));
    }

    [Fact]
    public async Task Unsigned_foreign_and_malformed_signatures_are_invalid_not_errors()
    {
        var json = await SummaryAsync();
        var unsigned = await VerifyAsync(Changed(json, b => b.Remove("signature")));
        Assert.False(Valid(unsigned));
        Assert.Contains("no signature", Reason(unsigned));

        // Signed by another SM2 key: same format, not this server's.
        var other = new DocumentSigner(new DocumentSigningKey(Sm2Key.Generate()), new SignatureOptions(), TimeProvider.System);
        var foreign = await VerifyAsync(Encoding.UTF8.GetString(other.Sign(Encoding.UTF8.GetBytes(json))));
        Assert.False(Valid(foreign));
        Assert.Contains("another key", Reason(foreign));

        // Not base64 at all is not FHIR (base64Binary): the parser's 400. Base64 of anything but this server's JWS: invalid.
        Assert.Equal(HttpStatusCode.BadRequest, (await C.PostAsync("/Bundle/$verify-signature", Body(Changed(json, b => b["signature"]!["data"] = "not base64!")))).StatusCode);
        foreach (var data in new[] { Convert.ToBase64String([0xff, 0xfe, 0x00]), Convert.ToBase64String("a.b.c"u8), Convert.ToBase64String("e30..AAAA"u8),
                     Convert.ToBase64String("eyJhbGciOiJTTTJTTTMifQ..!!"u8) })
        {
            var r = await VerifyAsync(Changed(json, b => b["signature"]!["data"] = data));
            Assert.False(Valid(r));
        }
        Assert.False(Valid(await VerifyAsync(Changed(json, b => b["signature"]!["sigFormat"] = "application/signature+xml"))));
    }

    [Fact]
    public async Task Bad_requests_are_4xx_outcomes()
    {
        var notBundle = await C.PostAsync("/Bundle/$verify-signature", Body("""{"resourceType":"Patient","id":"x"}"""));
        Assert.Equal(HttpStatusCode.BadRequest, notBundle.StatusCode);
        AssertOutcome(await notBundle.JsonAsync());
        var empty = await C.PostAsync("/Bundle/$verify-signature", Body("""{"resourceType":"Parameters"}"""));
        Assert.Equal(HttpStatusCode.BadRequest, empty.StatusCode);
        AssertOutcome(await empty.JsonAsync());
        var get = await C.GetAsync("/Bundle/$verify-signature");
        Assert.Equal(HttpStatusCode.BadRequest, get.StatusCode);
        var garbage = await C.PostAsync("/Bundle/$verify-signature", Body("{not json"));
        Assert.Equal(HttpStatusCode.BadRequest, garbage.StatusCode);
        var missing = await C.GetAsync("/Bundle/no-such-bundle/$verify-signature");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        AssertOutcome(await missing.JsonAsync());
    }

    [Fact]
    public async Task A_stored_signed_Bundle_verifies_at_instance_level_until_changed()
    {
        var id = "signed-" + Unique();
        var json = Changed(await SummaryAsync(), b => b["id"] = id);
        var put = await C.SendAsync(HttpMethod.Put, $"/Bundle/{id}", json, HolderClinician);
        Assert.True(put.StatusCode is HttpStatusCode.Created or HttpStatusCode.OK, await put.Content.ReadAsStringAsync());
        // A stored document is record data: its holder's clinician (who may see all it holds) checks it.
        var r = await (await C.SendAsync(HttpMethod.Get, $"/Bundle/{id}/$verify-signature", null, HolderClinician)).JsonAsync();
        Assert.True(Valid(r), Reason(r)); // the server's id and meta do not count

        var changed = Changed(json, b => b["entry"]!.AsArray().RemoveAt(1));
        Assert.True((await C.SendAsync(HttpMethod.Put, $"/Bundle/{id}", changed, HolderClinician)).IsSuccessStatusCode);
        Assert.False(Valid(await (await C.SendAsync(HttpMethod.Post, $"/Bundle/{id}/$verify-signature", """{"resourceType":"Parameters"}""", HolderClinician)).JsonAsync()));
    }
}

public sealed class DocumentSignatureTests(ConsentFixture fx) : DocumentSignatureTestsBase<ConsentFixture>(fx), IClassFixture<ConsentFixture>
{
    private readonly ConsentFixture _fx = fx;

    [Fact]
    public async Task The_public_key_is_published_without_a_token_and_the_private_key_is_owner_only()
    {
        var anonymous = _fx.BareClient();
        var json = await (await anonymous.GetAsync(DocumentSigningKey.WellKnownPath)).JsonAsync();
        var key = _fx.Factory.Services.GetRequiredService<DocumentSigningKey>();
        Assert.Equal(key.KeyId, json.GetProperty("kid").GetString());
        Assert.Equal("SM2SM3", json.GetProperty("alg").GetString());
        var pem = await anonymous.GetStringAsync(DocumentSigningKey.WellKnownPath + ".pem");
        Assert.Equal(key.PublicKeyPem, pem);
        Assert.Equal(key.Key.PublicPoint(), Sm2Key.FromPem(pem).PublicPoint());
        Assert.DoesNotContain("PRIVATE", pem);

        var file = Path.Combine(_fx.Folder, SignatureOptions.DefaultKeyFile);
        Assert.True(File.Exists(file));
        if (!OperatingSystem.IsWindows()) Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        // The same key is read back on the next start.
        Assert.Equal(key.KeyId, new DocumentSigningKey(new SignatureOptions(), _fx.Folder).KeyId);
    }

    /// <summary>
    /// The signature checked outside the server with tools alone: jq canonicalizes (sorted keys, compact, without
    /// id/meta/signature), OpenSSL 3 verifies SM2 with the published PEM — the README's recipe.
    /// </summary>
    [Fact]
    public async Task OpenSsl_and_jq_verify_a_summary_signature_independently()
    {
        if (!Tool("openssl", "version").StartsWith("OpenSSL 3", StringComparison.Ordinal) || Tool("jq", "--version") == "")
        {
            Console.WriteLine("SKIPPED: openssl 3 or jq is missing; the independent check of the document signature did not run.");
            return;
        }
        var dir = Directory.CreateTempSubdirectory("doc-sig-").FullName;
        try
        {
            var json = await SummaryAsync();
            await File.WriteAllTextAsync(Path.Combine(dir, "doc.json"), json);
            await File.WriteAllTextAsync(Path.Combine(dir, "pub.pem"), await _fx.BareClient().GetStringAsync(DocumentSigningKey.WellKnownPath + ".pem"));
            var script = """
                set -e
                jws=$(jq -r '.signature.data' doc.json | base64 -d)
                header=${jws%%..*}; sig=${jws##*..}
                b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
                unb64url() { s=$(printf '%s' "$1" | tr -- '-_' '+/'); while [ $(( ${#s} % 4 )) -ne 0 ]; do s="$s="; done; printf '%s' "$s" | base64 -d; }
                printf '%s.%s' "$header" "$(jq -cjS 'del(.id, .meta, .signature)' doc.json | b64url)" > input
                hex=$(unb64url "$sig" | xxd -p -c 64)
                printf 'asn1=SEQUENCE:sig\n[sig]\nr=INTEGER:0x%s\ns=INTEGER:0x%s\n' "${hex:0:64}" "${hex:64:64}" > sig.cnf
                openssl asn1parse -genconf sig.cnf -out sig.der -noout
                openssl dgst -sm3 -verify pub.pem -sigopt distid:1234567812345678 -signature sig.der input
                """;
            var (exit, output) = Run(dir, "bash", "-c", script);
            Assert.True(exit == 0, output);
            Assert.Contains("Verified OK", output);
            // A changed document fails the same recipe.
            await File.WriteAllTextAsync(Path.Combine(dir, "doc.json"), json.Replace("首页", "首頁"));
            Assert.NotEqual(0, Run(dir, "bash", "-c", script).Exit);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void A_configured_key_file_is_used_and_a_missing_one_stops_the_start()
    {
        var folder = ServerFixture.NewFolder();
        Directory.CreateDirectory(folder);
        try
        {
            var key = Sm2Key.Generate();
            File.WriteAllText(Path.Combine(folder, "mine.pem"), key.PrivateKeyPem());
            Assert.Equal(key.KeyId(), new DocumentSigningKey(new SignatureOptions { KeyFile = "mine.pem" }, folder).KeyId);
            Assert.Throws<InvalidOperationException>(() => new DocumentSigningKey(new SignatureOptions { KeyFile = "absent.pem" }, folder));
            File.WriteAllText(Path.Combine(folder, "public.pem"), key.PublicKeyPem());
            Assert.Throws<InvalidOperationException>(() => new DocumentSigningKey(new SignatureOptions { KeyFile = "public.pem" }, folder));
            Assert.False(File.Exists(Path.Combine(folder, SignatureOptions.DefaultKeyFile)));
        }
        finally { Directory.Delete(folder, true); }
    }

    private static string Tool(string name, string arg)
    {
        try { return Run(Path.GetTempPath(), name, arg).Output; }
        catch (System.ComponentModel.Win32Exception) { return ""; }
    }

    private static (int Exit, string Output) Run(string dir, string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.WaitForExit(30_000);
        return (p.ExitCode, stdout.Result + stderr.Result);
    }
}

public sealed class PostgresDocumentSignatureTests(PostgresConsentFixture fx) : DocumentSignatureTestsBase<PostgresConsentFixture>(fx), IClassFixture<PostgresConsentFixture>;
