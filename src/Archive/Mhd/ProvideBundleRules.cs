using System.Security.Cryptography;
using FhirArchive.Archive.Records;
using FhirArchive.Fhir.Model;
using FhirArchive.Fhir.Outcomes;
using FhirArchive.Rest.Access;
using FhirArchive.Rest.Batch;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Rest.Resources;
using FhirArchive.Rest.Writing;
using FhirArchive.Storage.Indexing;

namespace FhirArchive.Archive.Mhd;

/// <summary>
/// ITI-65 Provide Document Bundle (MHD 4.x, 2:3.65.4.1.3): a transaction claiming a Minimal, Comprehensive or
/// UnContained ProvideBundle profile is checked whole before any entry is written; any broken rule refuses it with
/// 422 naming the rule, and nothing is stored. The rules: exactly one SubmissionSet List (code submissionset) with an
/// identifier, a sourceId and a Patient subject (Minimal: or none, the documents naming it); every DocumentReference of
/// the Bundle listed in it and current; each attachment a Binary of the Bundle, inline data or an absolute URL, the
/// bytes matching its size and SHA-1 hash (filled in when the Source left them out) and contentType, its creation a
/// time that has come (Comprehensive: given); every Binary some document's; every Folder (List of code folder) listed
/// in the SubmissionSet and listing documents of this submission only; every subject the same Patient, one the
/// server knows and the caller may see (Minimal: or a Patient created in the Bundle). A Binary gets its
/// DocumentReference as securityContext, so a read of it is decided as the document's. A relatesTo replaces
/// supersedes the old DocumentReference in the same transaction (the Bundle's own PATCH of it, or the Recipient's
/// update). What is written then goes through the write pipeline as any write: the consent labels, the record rules.
/// </summary>
public sealed class ProvideBundleRules(ResourceWriter writer, ReadGuard guard, TimeProvider clock) : ITransactionInterceptor
{
    public async ValueTask BeforeEntriesAsync(TransactionContext t)
    {
        var comprehensive = t.Claims(MhdTerms.ComprehensiveBundle) || t.Claims(MhdTerms.UnContainedBundle);
        if (!comprehensive && !t.Claims(MhdTerms.MinimalBundle)) return;
        var created = t.Entries.Where(e => e.Resource is not null && e.Method is "POST" or "PUT").ToList();

        var sets = created.Where(e => IsList(e.Resource!, MhdTerms.SubmissionSet)).ToList();
        if (sets.Count != 1)
            throw Rule("submissionset", $"an ITI-65 Bundle holds exactly one SubmissionSet (a List with code {MhdTerms.ListTypes}|{MhdTerms.SubmissionSet}); this one holds {sets.Count} / 须且仅须一个提交集");
        var set = sets[0].Resource!;
        if (!set.ChildrenNamed("identifier").Any(i => i.Child("value")?.Value is { Length: > 0 }))
            throw Rule("submissionset-identifier", "the SubmissionSet has no identifier (its uniqueId) / 提交集缺少标识");
        if (!set.ChildrenNamed("extension").Any(x => x.Child("url")?.Value == MhdTerms.SourceIdExtension && x.Child("value")?.Child("value")?.Value is { Length: > 0 }))
            throw Rule("submissionset-source", $"the SubmissionSet has no sourceId (extension {MhdTerms.SourceIdExtension} with the Source's identifier) / 提交集缺少来源标识");
        // The Minimal SubmissionSet's subject is 0..1 (MHD 4.2 IHE.MHD.Minimal.SubmissionSet), the Comprehensive one's 1..1:
        // without it the submission's patient is its documents' (one, as ever).
        var patient = set.Child("subject") is null && !comprehensive ? null : await SubjectAsync(t, set, "the SubmissionSet", comprehensive, null);
        var listed = Members(set);

        var documents = created.Where(e => e.Resource!.Type == "DocumentReference").ToList();
        // A Binary matched by a conditional create (no new id, no fullUrl) is no document of this submission.
        var binaries = new Dictionary<string, TransactionEntry>(StringComparer.Ordinal);
        foreach (var e in created.Where(e => e.Resource!.Type == "Binary" && e.Reference is not null)) binaries.TryAdd(e.Reference!, e);
        var used = new HashSet<string>(StringComparer.Ordinal);
        foreach (var doc in documents)
        {
            var what = $"DocumentReference entry[{doc.Index}]";
            var r = doc.Resource!;
            if (doc.Reference is null || !listed.Contains(doc.Reference))
                throw Rule("submissionset-member", $"{what} is not an entry of the SubmissionSet (List.entry.item) / 文档未列入提交集");
            if (r.Child("status")?.Value != "current")
                throw Rule("document-status", $"{what} has status '{r.Child("status")?.Value}': a submitted document is current");
            patient = await SubjectAsync(t, r, what, comprehensive, patient);
            var contents = r.ChildrenNamed("content").ToList();
            if (contents.Count == 0) throw Rule("document-content", $"{what} has no content.attachment");
            foreach (var attachment in contents.Select(c => c.Child("attachment")))
            {
                CheckCreation(what, attachment, comprehensive);
                var url = attachment?.Child("url")?.Value;
                if (attachment?.Child("data") is { } data)
                {
                    // Inline data (R4 Attachment.data, where the MHD profiles expect a url): checked as a Binary's bytes are.
                    if (url is not null)
                        throw Rule("document-attachment", $"{what}: the attachment has both data and url ('{url}'); one of them says where the document is / 附件须只给出 data 或 url 之一");
                    CheckBytes(what, attachment, Base64(data.Value, $"{what}: attachment.data"), null);
                }
                else if (url is not null && binaries.TryGetValue(url, out var binary))
                {
                    CheckBytes(what, attachment!, Base64(binary.Resource!.Child("data")?.Value, $"Binary entry[{binary.Index}].data"), binary.Resource!.Child("contentType")?.Value);
                    SetSecurityContext(binary.Resource!, doc.Reference);
                    used.Add(url);
                }
                else if (url is null || !Uri.TryCreate(url, UriKind.Absolute, out var abs) || abs.Scheme is not ("http" or "https"))
                    throw Rule("document-attachment", $"{what}: attachment.url '{url}' is neither a Binary of the Bundle nor an absolute http(s) URL / 附件须指向本提交中的 Binary");
            }
            foreach (var relates in r.ChildrenNamed("relatesTo").Where(x => x.Child("code")?.Value == "replaces"))
                await SupersedeAsync(t, what, relates.Child("target")?.Child("reference")?.Value, patient!);
        }
        foreach (var (reference, binary) in binaries)
            if (!used.Contains(reference))
                throw Rule("binary-document", $"Binary entry[{binary.Index}] is no DocumentReference's attachment / Binary 未被任何文档引用");
        if (patient is null)
            throw Rule("subject", "the SubmissionSet has no subject and no document names one: a submission is filed in one Patient's record / 提交须指明患者");
        await CheckFoldersAsync(t, created, listed, documents, comprehensive, patient);
    }

    /// <summary>
    /// Folders (Lists of code folder, MHD 4.2 IHE.MHD.Minimal/Comprehensive.Folder) created by the submission: each is
    /// an entry of the SubmissionSet, has an identifier, is about the submission's patient (Comprehensive: says so) and
    /// lists DocumentReferences of this submission only.
    /// </summary>
    private async Task CheckFoldersAsync(TransactionContext t, List<TransactionEntry> created, IReadOnlySet<string> listed, List<TransactionEntry> documents,
        bool comprehensive, string patient)
    {
        var submitted = documents.Select(d => d.Reference).OfType<string>().ToHashSet(StringComparer.Ordinal);
        foreach (var folder in created.Where(e => IsList(e.Resource!, MhdTerms.Folder)))
        {
            var what = $"Folder entry[{folder.Index}]";
            var r = folder.Resource!;
            if (folder.Reference is null || !listed.Contains(folder.Reference))
                throw Rule("folder-member", $"{what} is not an entry of the SubmissionSet (List.entry.item) / 文件夹未列入提交集");
            if (!r.ChildrenNamed("identifier").Any(i => i.Child("value")?.Value is { Length: > 0 }))
                throw Rule("folder-identifier", $"{what} has no identifier (its uniqueId) / 文件夹缺少标识");
            if (r.Child("subject") is not null || comprehensive) await SubjectAsync(t, r, what, comprehensive, patient);
            var items = r.ChildrenNamed("entry").Select(e => e.Child("item")?.Child("reference")?.Value).ToList();
            if (items.Count == 0) throw Rule("folder-entry", $"{what} lists no document / 文件夹为空");
            foreach (var item in items)
                if (item is null || !submitted.Contains(item))
                    throw Rule("folder-entry", $"{what}: entry '{item}' is no DocumentReference of this submission / 文件夹只可列出本次提交的文档");
        }
    }

    /// <summary>The references a List's entries name (entry.item.reference).</summary>
    private static HashSet<string> Members(ElementNode list) =>
        list.ChildrenNamed("entry").Select(e => e.Child("item")?.Child("reference")?.Value).OfType<string>().ToHashSet(StringComparer.Ordinal);

    /// <summary>
    /// attachment.creation (XDS creationTime): required under the Comprehensive option (IHE.MHD.Comprehensive.DocumentReference
    /// 1..1), and when given a time that has come — a document is not created in the future. It is stored as sent.
    /// </summary>
    private void CheckCreation(string what, ElementNode? attachment, bool comprehensive)
    {
        var creation = attachment?.Child("creation")?.Value;
        if (creation is null)
        {
            if (comprehensive) throw Rule("attachment-creation", $"{what}: the Comprehensive option requires attachment.creation (when the document was created) / 缺少文档创建时间");
            return;
        }
        if (!FhirDateRange.TryParse(creation, out var range))
            throw Rule("attachment-creation", $"{what}: attachment.creation '{creation}' is not a dateTime / 文档创建时间格式错误");
        if (range.Start > clock.GetUtcNow().UtcTicks + CreationSkew.Ticks)
            throw Rule("attachment-creation", $"{what}: attachment.creation {creation} is in the future / 文档创建时间晚于当前时间");
    }

    /// <summary>How far a Source's clock may run ahead of the server's.</summary>
    private static readonly TimeSpan CreationSkew = TimeSpan.FromMinutes(5);

    private static bool IsList(ElementNode r, string code) =>
        r.Type == "List" && r.Child("code")?.ChildrenNamed("coding").Any(c => c.Child("system")?.Value == MhdTerms.ListTypes && c.Child("code")?.Value == code) == true;

    /// <summary>
    /// The Patient a SubmissionSet or DocumentReference is about: one the server holds and the caller may see, or
    /// (Minimal only) a Patient created in the Bundle; all of a submission's subjects are the same.
    /// </summary>
    private async Task<string> SubjectAsync(TransactionContext t, ElementNode resource, string what, bool comprehensive, string? expected)
    {
        var named = resource.Child("subject")?.Child("reference")?.Value;
        if (LocalReference(t, named, "Patient") is not { } id)
            throw Rule("subject", $"{what} has no subject reference to a Patient of this server ('{named}') / 须指明本服务器的患者");
        var reference = $"Patient/{id}";
        if (expected is not null && reference != expected)
            throw Rule("subject-same", $"{what} is about {reference}, the submission about {expected}: a submission is about one patient / 提交内文档须属于同一患者");
        if (t.Find(reference) is { Resource.Type: "Patient" } inBundle)
        {
            if (comprehensive)
                throw Rule("subject-known", $"{what}: under the Comprehensive option the subject is a Patient the Recipient already knows (found by PDQm/PIXm), not entry[{inBundle.Index}] of the Bundle");
            return reference;
        }
        var stored = await t.Session.ReadAsync("Patient", id, t.CancellationToken);
        if (stored is not { IsDeleted: false } || !await guard.MayKnowAsync(t.Http, "read", stored))
            throw Rule("subject-known", $"{what}: the subject {reference} is not a Patient known here / 患者不存在");
        return reference;
    }

    private static byte[] Base64(string? data, string what)
    {
        try
        {
            return Convert.FromBase64String(data ?? "");
        }
        catch (FormatException)
        {
            throw Rule("binary-data", $"{what} is not base64");
        }
    }

    /// <summary>The attachment's size, hash and contentType agree with the document's bytes (size and hash filled in when absent).</summary>
    private static void CheckBytes(string what, ElementNode attachment, byte[] bytes, string? bytesType)
    {
        var hash = Convert.ToBase64String(SHA1.HashData(bytes));
        var size = bytes.Length.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (attachment.Child("size")?.Value is { } s && s != size)
            throw Rule("attachment-size", $"{what}: attachment.size is {s} but the document holds {size} bytes / 文档大小不符");
        if (attachment.Child("hash")?.Value is { } h && h != hash)
            throw Rule("attachment-hash", $"{what}: attachment.hash {h} is not the SHA-1 of the document's bytes ({hash}) / 文档哈希不符");
        if (attachment.Child("contentType")?.Value is { } ct && bytesType is not null && !SameMime(ct, bytesType))
            throw Rule("attachment-contenttype", $"{what}: attachment.contentType {ct} is not the Binary's ({bytesType})");
        if (attachment.Child("size") is null) attachment.Add("size", size);
        if (attachment.Child("hash") is null) attachment.Add("hash", hash);
    }

    private static bool SameMime(string a, string b) =>
        string.Equals(a.Split(';')[0].Trim(), b.Split(';')[0].Trim(), StringComparison.OrdinalIgnoreCase);

    /// <summary>The Binary is read as its document is (R4 Binary.securityContext): whatever the Source put there.</summary>
    private static void SetSecurityContext(ElementNode binary, string document)
    {
        binary.RemoveAll("securityContext");
        binary.Add("securityContext").Add("reference", document);
    }

    /// <summary>
    /// A replaced document (relatesTo replaces) becomes superseded in this transaction: it must be a current
    /// DocumentReference of the same patient that the caller may see. The Bundle's own PATCH or PUT of it is written
    /// as the supersede procedure; otherwise the Recipient writes the status change itself.
    /// </summary>
    private async Task SupersedeAsync(TransactionContext t, string what, string? target, string patient)
    {
        if (LocalReference(t, target, "DocumentReference") is not { } id)
            throw Rule("replaces-target", $"{what}: relatesTo replaces names no DocumentReference of this server ('{target}')");
        const string type = "DocumentReference";
        var old = await t.Session.ReadAsync(type, id, t.CancellationToken);
        if (old is not { IsDeleted: false } || !await guard.MayKnowAsync(t.Http, "update", old))
            throw Rule("replaces-target", $"{what}: the replaced {target} is not known / 被替换的文档不存在");
        var node = FhirFormats.ParseStored(old.Json!);
        if (node.Child("status")?.Value != "current")
            throw Rule("replaces-current", $"{what}: the replaced {target} is {node.Child("status")?.Value}, not current / 被替换的文档已非当前版本");
        if (LocalReference(t, node.Child("subject")?.Child("reference")?.Value, "Patient") is not { } subject || $"Patient/{subject}" != patient)
            throw Rule("replaces-subject", $"{what}: the replaced {target} is not about {patient}");
        var own = t.Entries.Where(e => e.Method is "PATCH" or "PUT" && !e.Url.Contains('?') && LocalReference(t, e.Url.Trim('/'), type) == id).ToList();
        if (own.Count > 0)
        {
            foreach (var e in own) t.SetProcedure(e, MhdTerms.Supersede);
            return;
        }
        node.Child("status")!.Value = "superseded";
        await writer.UpdateAsync(t.Session, node, type, id, old.Version, t.CancellationToken, WriteIntent.Update.For(MhdTerms.Supersede));
    }

    /// <summary>The id of the <paramref name="type"/> a reference names on this server; null for another server's, a logical or another type's.</summary>
    private static string? LocalReference(TransactionContext t, string? reference, string type) =>
        reference is not null && ReferenceParts.Local(reference, FhirHeaders.BaseUrl(t.Http.Request)) is { } r && r.Type == type ? r.Id : null;

    private static FhirException Rule(string rule, string message) =>
        new(422, [new FhirIssue(IssueSeverity.Error, "business-rule", $"IHE MHD ITI-65 [{rule}]: {message}", "Bundle")]);
}
