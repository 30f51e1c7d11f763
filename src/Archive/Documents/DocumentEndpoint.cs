using System.Security.Cryptography;
using System.Text.Json.Nodes;
using FhirArchive.Fhir.Model;
using FhirArchive.Fhir.Outcomes;
using FhirArchive.Archive.Signatures;
using FhirArchive.Rest.Access;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Rest.Metadata;
using FhirArchive.Rest.Resources;
using FhirArchive.Rest.Search;
using FhirArchive.Storage;

namespace FhirArchive.Archive.Documents;

/// <summary>
/// Composition/[id]/$document (the R4 core operation): the document Bundle of a stored Composition — the Composition
/// first, then every resource it refers to (subject, encounter, author, attester, custodian, section entries at any
/// depth...), then what those refer to, one level further (R4 documents.html: what the document needs is in it) —
/// assembled for the caller: each resource passes the consent decision as on a read (<see cref="ReadGuard"/>). A
/// resource the caller may not see is left out, and a section entry (or focus, encounter...) pointing at it is cut
/// from the Composition's copy with the section's narrative, which may describe it: the reference never leaves. The
/// Bundle then carries the DS4P REDACTED label. persist=true (POST only) stores the Bundle through the normal write
/// path (source label, Provenance, audit, consent on later reads of it).
/// </summary>
/// <remarks>
/// The document's identifier is derived from its content (SHA-256 of its entries): the same Composition version seen
/// the same way is the same document, so a second persist returns the stored one (conditional create on the
/// identifier) instead of storing a copy. A preliminary Composition is assembled (its status says what it is, and the
/// answer carries a Warning header) but not persisted: a stored document is a frozen, attested copy
/// (R4 Composition.status); one entered in error gives no document (422).
/// </remarks>
public static class DocumentEndpoint
{
    public const string IdentifierSystem = "urn:ietf:rfc:3986";
    private const string EmptyReason = "http://terminology.hl7.org/CodeSystem/list-empty-reason";


    public static void Map(IEndpointRouteBuilder app)
    {
        var op = FhirOperation.Core("Composition-document");
        app.MapOperation(op, OperationLevel.Instance, OnInstance)
            .WithTags("Documents").WithSummary("the document Bundle of a Composition, as the caller may see it (persist=true: stored as a Bundle, POST only)")
            .WithMetadata(new DecidesOwnVisibility());
        app.MapOperation(op, OperationLevel.Type, OnType)
            .WithTags("Documents").WithSummary("the same, the Composition named by the id parameter (an id, or a URL on this server)")
            .WithMetadata(new DecidesOwnVisibility());
    }

    private static async Task OnInstance(HttpContext ctx, string id, IResourceStore store, ReadGuard guard, ResourceWriter writer, DocumentSigner signer, TimeProvider clock)
    {
        var input = await OperationParameters.ReadAsync(ctx);
        if (input.Value("id") is not null)
            throw FhirException.BadRequest("The 'id' parameter is not used on an instance: Composition/[id]/$document names the Composition / 实例级调用不接受 id 参数");
        await Handle(ctx, input, id, store, guard, writer, signer, clock);
    }

    /// <summary>Composition/$document?id=[id] means Composition/[id]/$document (R4); a Composition on another server is not fetched.</summary>
    private static async Task OnType(HttpContext ctx, IResourceStore store, ReadGuard guard, ResourceWriter writer, DocumentSigner signer, TimeProvider clock)
    {
        var input = await OperationParameters.ReadAsync(ctx);
        var named = input.Required("id");
        var id = ResourceWriter.IsValidId(named) ? named
            : ReferenceParts.Local(named, FhirHeaders.BaseUrl(ctx.Request)) is ("Composition", var local, null) ? local
            : throw new FhirException(400, "not-supported", $"'{named}' is not a Composition on this server: documents of other servers' Compositions are not assembled / 仅支持本服务器的文档");
        await Handle(ctx, input, id, store, guard, writer, signer, clock);
    }

    private static async Task Handle(HttpContext ctx, OperationParameters input, string id, IResourceStore store, ReadGuard guard, ResourceWriter writer,
        DocumentSigner signer, TimeProvider clock)
    {
        if (input.Value("graph") is not null)
            throw new FhirException(400, "not-supported", "The 'graph' parameter is not supported: the document holds what the Composition refers to / 不支持 graph 参数");
        var persist = input.Boolean("persist") ?? false;
        if (persist && HttpMethods.IsGet(ctx.Request.Method))
        {
            ctx.Response.Headers.Allow = "POST";
            await FhirFormats.WriteNodeAsync(ctx, 405, OperationOutcomes.Create(IssueSeverity.Error, "not-supported",
                "persist=true stores the document: invoke $document with POST / 保存文档请使用 POST 调用"));
            return;
        }

        var baseUrl = FhirHeaders.BaseUrl(ctx.Request);
        var document = await guard.RunAsync(ctx, "operation-document", "Composition",
            access => AssembleAsync(access, guard, store, id, baseUrl, clock.GetUtcNow(), ctx.RequestAborted));

        // Signed by the server (SM2, Bundle.signature) as answered and as stored: the signature covers the document
        // without id and meta (R4 #document canonical form), which the store stamps anew.
        var json = signer.Sign(document.Json);
        if (document.Status == "preliminary")
            ctx.Response.Headers.Append("Warning", "199 FhirArchive \"The Composition is preliminary: this document is not final\"");
        if (!persist)
        {
            await FhirFormats.WriteJsonBytesAsync(ctx, 200, json);
            return;
        }
        if (document.Status is not ("final" or "amended"))
            throw new FhirException(422, "business-rule",
                $"Only a final or amended Composition is stored as a document; Composition/{id} is {document.Status} / 仅正式（final/amended）文档可保存");
        var bundle = FhirFormats.ParseStored(json);
        var outcome = await ResourceEndpoints.InSessionAsync(ctx, store, s =>
            writer.CreateAsync(s, bundle, "Bundle", $"identifier={IdentifierSystem}|{document.Identifier}", ctx.RequestAborted));
        await ResourceEndpoints.WriteOutcomeAsync(ctx, outcome, outcome.Status == 201
            ? "Document stored / 文档已保存"
            : "This document was stored before; the stored one is returned / 该文档此前已保存");
    }

    /// <summary>The document as the caller may see it: its JSON (unsigned), its identifier and the Composition's status.</summary>
    private sealed record Document(byte[] Json, string Identifier, string Status);

    private static async Task<Document> AssembleAsync(AccessContext access, ReadGuard guard, IResourceStore store, string id, string baseUrl,
        DateTimeOffset now, CancellationToken ct)
    {
        var stored = await store.ReadAsync("Composition", id, ct);
        if (stored is null) throw NotKnown(id);
        if (stored.IsDeleted)
        {
            if (await guard.ShowOrGoneAsync(access, stored) is null) throw NotKnown(id);
            throw FhirException.Gone($"Composition/{id} has been deleted (version {stored.Version}) / 该文档已删除");
        }

        // What the Composition refers to, decided quietly first: what the caller may not see is cut from its copy, so
        // the Composition is then decided as a read of what it still points at.
        var composition = (JsonObject)JsonNode.Parse(stored.Json!)!;
        var direct = await ReadTargetsAsync(store, References(composition, baseUrl), ct);
        var visible = KeysOf(await guard.VisibleAsync(access, direct.Values));
        var hidden = direct.Where(kv => !visible.Contains(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value);
        var candidate = hidden.Count > 0 && Cut(composition, hidden.Keys.ToHashSet(), baseUrl)
            ? stored with { RowId = 0, Json = FhirFormats.Utf8(composition) }
            : stored;
        if (await guard.ShowOrGoneAsync(access, candidate) is not { } shown) throw NotKnown(id);
        // Decided again aloud (they show nothing): the audit names what was withheld, with the reason.
        foreach (var r in hidden.Values) await guard.ShowAsync(access, r);

        var final = (JsonObject)JsonNode.Parse(shown.Json!)!;
        var status = final["status"]?.GetValue<string>() ?? "final";
        if (status == "entered-in-error")
            throw new FhirException(422, "business-rule", $"Composition/{id} was entered in error: it makes no document / 该文档已标记为录入错误");

        // The Composition's references (as shown: a policy may have cut more), then theirs, one level further.
        var entries = new List<BundleEntry> { new($"{baseUrl}/Composition/{id}", shown.Json) };
        var included = new HashSet<string>(StringComparer.Ordinal) { $"Composition/{id}" };
        var withheld = hidden.Count > 0;
        var level = References(final, baseUrl).Where(t => direct.ContainsKey(Key(t))).ToList();
        var targets = direct;
        for (var depth = 1; depth <= 2; depth++)
        {
            var next = new List<(string Type, string Id, string? Version)>();
            foreach (var t in level)
            {
                var key = Key(t);
                if (!included.Add(key) || !targets.TryGetValue(key, out var r) || r.IsDeleted) continue;
                if (await guard.ShowAsync(access, r) is not { } s)
                {
                    withheld = true;
                    continue;
                }
                entries.Add(new BundleEntry($"{baseUrl}/{key}", s.Json));
                if (depth == 1) next.AddRange(References(JsonNode.Parse(s.Json!)!, baseUrl));
            }
            level = [.. next.Where(t => !included.Contains(Key(t)))];
            targets = await ReadTargetsAsync(store, level, ct);
        }

        var builder = new BundleBuilder("document")
        {
            Identifier = (IdentifierSystem, ContentIdentifier(entries)),
            Timestamp = now,
            Redacted = withheld,
        };
        builder.LabelFrom(access);
        builder.Entries.AddRange(entries);
        return new Document(builder.ToJson(), builder.Identifier!.Value.Value, status);
    }

    private static FhirException NotKnown(string id) => FhirException.NotFound($"Composition/{id} is not known.");

    /// <summary>
    /// Cuts every reference to a withheld resource out of the Composition's copy: section entries, focus and authors at
    /// any depth (the section's narrative, and its parents', replaced: it may describe what was withheld; a section left
    /// without entries says why in emptyReason), the encounter, relatesTo targets, event details, attester parties.
    /// </summary>
    private static bool Cut(JsonObject composition, IReadOnlySet<string> hidden, string baseUrl)
    {
        bool Hidden(JsonNode? reference) => reference is JsonObject o && o["reference"] is JsonValue v && v.TryGetValue<string>(out var text)
            && ReferenceParts.Local(text, baseUrl) is { } t && hidden.Contains(Key(t));

        bool Sections(JsonObject parent)
        {
            var any = false;
            foreach (var section in Objects(parent, "section"))
            {
                var here = RemoveWhere(section, "entry", Hidden) | RemoveWhere(section, "author", Hidden);
                if (Hidden(section["focus"])) here |= section.Remove("focus");
                here |= Sections(section);
                if (!here) continue;
                any = true;
                section["text"] = WithheldNarrative();
                if (section["entry"] is null && section["section"] is null && section["emptyReason"] is null)
                    section["emptyReason"] = new JsonObject
                    {
                        ["coding"] = new JsonArray(new JsonObject { ["system"] = EmptyReason, ["code"] = "withheld", ["display"] = "Information Withheld" }),
                        ["text"] = "按授权规则未予提供 / Withheld under the consent rules",
                    };
            }
            return any;
        }

        var cut = Sections(composition);
        if (Hidden(composition["encounter"])) cut |= composition.Remove("encounter");
        cut |= RemoveWhere(composition, "relatesTo", r => r is JsonObject o && Hidden(o["targetReference"]));
        foreach (var e in Objects(composition, "event")) cut |= RemoveWhere(e, "detail", Hidden);
        foreach (var a in Objects(composition, "attester"))
            if (Hidden(a["party"])) cut |= a.Remove("party");
        if (cut && composition["text"] is not null) composition["text"] = WithheldNarrative();
        return cut;
    }

    private static JsonObject WithheldNarrative() => new()
    {
        ["status"] = "generated",
        ["div"] = "<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>部分内容按授权规则未予提供 / Some content is withheld under the consent rules.</p></div>",
    };

    private static IEnumerable<JsonObject> Objects(JsonObject parent, string name) =>
        parent[name] is JsonArray a ? a.OfType<JsonObject>().ToList() : [];

    /// <summary>Removes the items of an array element that match (the element too when none is left); whether any was.</summary>
    private static bool RemoveWhere(JsonObject parent, string name, Func<JsonNode?, bool> match)
    {
        if (parent[name] is not JsonArray a) return false;
        var removed = false;
        for (var i = a.Count - 1; i >= 0; i--)
            if (match(a[i]))
            {
                a.RemoveAt(i);
                removed = true;
            }
        if (a.Count == 0) parent.Remove(name);
        return removed;
    }

    /// <summary>Every literal reference to this server's resources in a resource (contained resources aside), in document order.</summary>
    private static List<(string Type, string Id, string? Version)> References(JsonNode resource, string baseUrl)
    {
        var found = new List<(string, string, string?)>();
        void Walk(JsonNode? n, bool top)
        {
            switch (n)
            {
                case JsonObject o:
                    foreach (var (name, value) in o)
                    {
                        if (top && name is "contained" or "meta") continue;
                        if (name == "reference" && value is JsonValue v && v.TryGetValue<string>(out var text))
                        {
                            if (ReferenceParts.Local(text, baseUrl) is { } t) found.Add(t);
                        }
                        else Walk(value, false);
                    }
                    break;
                case JsonArray a:
                    foreach (var item in a) Walk(item, false);
                    break;
            }
        }
        Walk(resource, true);
        return found;
    }

    private static string Key((string Type, string Id, string? Version) t) => $"{t.Type}/{t.Id}";

    private static HashSet<string> KeysOf(IEnumerable<StoredResource> resources) =>
        resources.Select(r => $"{r.ResourceType}/{r.Id}").ToHashSet(StringComparer.Ordinal);

    /// <summary>
    /// The targets that exist, by "Type/id" in order of first reference: the version named, else the current one (a
    /// deletion included: it is decided as the version before it, and never put in the document).
    /// </summary>
    private static async Task<Dictionary<string, StoredResource>> ReadTargetsAsync(IResourceStore store,
        IEnumerable<(string Type, string Id, string? Version)> targets, CancellationToken ct)
    {
        var wanted = targets.GroupBy(Key).Select(g => g.First()).ToList();
        var current = (await store.ReadManyAsync(wanted.Where(t => t.Version is null).Select(t => (t.Type, t.Id)), ct))
            .ToDictionary(r => $"{r.ResourceType}/{r.Id}", StringComparer.Ordinal);
        var found = new Dictionary<string, StoredResource>(StringComparer.Ordinal);
        foreach (var t in wanted)
        {
            var key = Key(t);
            var r = t.Version is { } v
                ? int.TryParse(v, out var n) ? await store.ReadVersionAsync(t.Type, t.Id, n, ct) : null
                : current.GetValueOrDefault(key) ?? await store.ReadAsync(t.Type, t.Id, ct);
            if (r is not null) found[key] = r;
        }
        return found;
    }

    /// <summary>
    /// The document's identifier from its content: a name-based UUID (RFC 9562 version 8) of the SHA-256 of its
    /// entries (full URLs and bytes as shown). Same content, same document.
    /// </summary>
    private static string ContentIdentifier(IEnumerable<BundleEntry> entries)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var e in entries)
        {
            sha.AppendData(FhirFormats.Utf8(e.FullUrl ?? ""));
            sha.AppendData([0]);
            sha.AppendData(e.Json ?? []);
            sha.AppendData([0]);
        }
        var b = sha.GetHashAndReset().AsSpan(0, 16).ToArray();
        b[6] = (byte)(b[6] & 0x0F | 0x80);
        b[8] = (byte)(b[8] & 0x3F | 0x80);
        var hex = Convert.ToHexStringLower(b);
        return $"urn:uuid:{hex[..8]}-{hex[8..12]}-{hex[12..16]}-{hex[16..20]}-{hex[20..]}";
    }

}
