namespace FhirArchive.Archive.Mhd;

/// <summary>The IHE MHD 4.x canonical URLs and codes the Document Recipient and Responder read.</summary>
public static class MhdTerms
{
    public const string Canonical = "https://profiles.ihe.net/ITI/MHD/StructureDefinition/";
    public const string MinimalBundle = Canonical + "IHE.MHD.Minimal.ProvideBundle";
    public const string ComprehensiveBundle = Canonical + "IHE.MHD.Comprehensive.ProvideBundle";
    public const string UnContainedBundle = Canonical + "IHE.MHD.UnContained.Comprehensive.ProvideBundle";

    /// <summary>The actors' CapabilityStatements the server instantiates (MHD 4.2, the Document Recipient and Responder).</summary>
    public const string DocumentRecipient = "https://profiles.ihe.net/ITI/MHD/CapabilityStatement/IHE.MHD.DocumentRecipient";
    public const string DocumentResponder = "https://profiles.ihe.net/ITI/MHD/CapabilityStatement/IHE.MHD.DocumentResponder";

    /// <summary>The List types: code submissionset or folder.</summary>
    public const string ListTypes = "https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes";
    public const string SubmissionSet = "submissionset";
    public const string Folder = "folder";
    /// <summary>The procedure of a document replaced by a newer one (ITI-65 relatesTo replaces): its DocumentReference's status only becomes superseded.</summary>
    public const string Supersede = "document-supersede";
    public const string SourceIdExtension = Canonical + "ihe-sourceId";
}
