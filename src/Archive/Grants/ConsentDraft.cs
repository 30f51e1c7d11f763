using System.Globalization;
using System.Text.Json.Nodes;
using FhirArchive.Fhir.Model;
using FhirArchive.Profiles;
using FhirArchive.Rest.Infrastructure;

using FhirArchive.Archive.Consent;

namespace FhirArchive.Archive.Grants;

/// <summary>How a Consent was verified: the method (ConsentTerms.VerificationMethodSystem), with whom (Patient/RelatedPerson), when.</summary>
public sealed record ConsentVerification(string Method, string VerifiedWith, DateTimeOffset Date);

/// <summary>
/// A record-opening Consent in the one shape the access decision reads (profile cn-consent): active,
/// patient-privacy scope, one ConsentTerms category, the consenting performers, the record's responsible
/// institution, the verification with its method, the evidence, and one permit provision (period, recipients
/// IRCP, purposes of use).
/// </summary>
public sealed record ConsentDraft(
    string Category, string Patient, string? Organization, IReadOnlyList<string> Performers,
    ConsentVerification? Verification, DateTimeOffset Start, DateTimeOffset? End,
    IReadOnlyList<string> Recipients, IReadOnlyList<string> Purposes, DateTimeOffset Recorded,
    IReadOnlyList<string>? Evidence = null, string? PolicyText = null)
{
    /// <summary>The Consent; <paramref name="id"/> only for one written with a fixed id (the sample data).</summary>
    public ElementNode ToResource(string? id = null)
    {
        var consent = new JsonObject
        {
            ["resourceType"] = "Consent",
            ["meta"] = new JsonObject { ["profile"] = new JsonArray(CnProfiles.Consent) },
            ["status"] = "active",
            ["scope"] = Concept("http://terminology.hl7.org/CodeSystem/consentscope", "patient-privacy"),
            ["category"] = new JsonArray(Concept(ConsentTerms.CategorySystem, Category)),
            ["patient"] = Ref(Patient),
            ["dateTime"] = FhirInstant.ToSecond(Recorded),
            ["performer"] = new JsonArray(Performers.Select(p => (JsonNode)Ref(p)).ToArray()),
        };
        if (id is not null) consent["id"] = id;
        if (Organization is not null) consent["organization"] = new JsonArray(Ref(Organization));
        // R4 Consent.source[x] takes one reference: the first piece of evidence; every piece is also listed in cn-consent-evidence.
        if (Evidence is { Count: > 0 })
        {
            consent["extension"] = new JsonArray(Evidence.Select(e => (JsonNode)new JsonObject { ["url"] = ConsentTerms.EvidenceExtension, ["valueReference"] = Ref(e) }).ToArray());
            consent["sourceReference"] = Ref(Evidence[0]);
        }
        // ppc-1: a Consent names its policy.
        consent["policyRule"] = Category == ConsentTerms.BreakGlass
            ? new JsonObject { ["text"] = PolicyText ?? "紧急救治破窗访问 / break-glass access for emergency treatment" }
            : new JsonObject
            {
                ["coding"] = new JsonArray(new JsonObject { ["system"] = ConsentTerms.ActCodeSystem, ["code"] = "OPTIN" }),
                ["text"] = PolicyText ?? PolicyTexts.GetValueOrDefault(Category, Category),
            };
        if (Verification is { } v)
            consent["verification"] = new JsonArray(new JsonObject
            {
                ["extension"] = new JsonArray(new JsonObject
                {
                    ["url"] = ConsentTerms.VerificationMethodExtension,
                    ["valueCoding"] = new JsonObject { ["system"] = ConsentTerms.VerificationMethodSystem, ["code"] = v.Method },
                }),
                ["verified"] = true,
                ["verifiedWith"] = Ref(v.VerifiedWith),
                ["verificationDate"] = FhirInstant.ToSecond(v.Date),
            });
        var period = new JsonObject { ["start"] = FhirInstant.ToSecond(Start) };
        if (End is { } end) period["end"] = FhirInstant.ToSecond(end);
        consent["provision"] = new JsonObject
        {
            ["type"] = "permit",
            ["period"] = period,
            ["actor"] = new JsonArray(Recipients.Select(r => (JsonNode)new JsonObject
            {
                ["role"] = Concept(ConsentTerms.ParticipationSystem, ConsentTerms.Recipient),
                ["reference"] = Ref(r),
            }).ToArray()),
            ["purpose"] = new JsonArray(Purposes.Select(p => (JsonNode)new JsonObject { ["system"] = ConsentTerms.PurposeSystem, ["code"] = p }).ToArray()),
        };
        return FhirFormats.Parse(FhirFormats.Utf8(consent.ToJsonString()), FhirFormat.Json);
    }

    private static readonly Dictionary<string, string> PolicyTexts = new()
    {
        [ConsentTerms.RecordAccess] = "居民授权跨机构调阅 / the resident authorises another institution to read the record",
        [ConsentTerms.ResidentOpening] = "签约家庭医生向居民开放档案 / the signed family doctor opens the record to its resident",
        [ConsentTerms.MinorOpening] = "监护人申请开放未成年人档案 / the guardian applies to open a minor's record",
        [ConsentTerms.VoluntaryGuardianOpening] = "向意定监护人开放档案 / the record opened to a voluntary guardian",
    };


    private static JsonObject Ref(string reference) => new() { ["reference"] = reference };

    private static JsonObject Concept(string system, string code) =>
        new() { ["coding"] = new JsonArray(new JsonObject { ["system"] = system, ["code"] = code }) };

    /// <summary>The ConsentTerms category of a Consent, or null when it is none of the record-opening ones.</summary>
    public static string? CategoryOf(ElementNode? consent) =>
        consent?.ChildrenNamed("category").SelectMany(c => c.ChildrenNamed("coding"))
            .FirstOrDefault(c => c.Child("system")?.Value == ConsentTerms.CategorySystem && c.Child("code")?.Value is { } code && Categories.Contains(code))
            ?.Child("code")?.Value;

    /// <summary>The verification method of a Consent (cn-consent-verification-method), or null.</summary>
    public static string? MethodOf(ElementNode? consent) =>
        consent?.ChildrenNamed("verification").SelectMany(v => v.ChildrenNamed("extension"))
            .FirstOrDefault(x => x.Child("url")?.Value == ConsentTerms.VerificationMethodExtension)?.Child("value")?.Child("code")?.Value;

    public static readonly IReadOnlySet<string> Categories = new HashSet<string>
    {
        ConsentTerms.RecordAccess, ConsentTerms.ResidentOpening, ConsentTerms.MinorOpening, ConsentTerms.VoluntaryGuardianOpening, ConsentTerms.BreakGlass,
    };
}
