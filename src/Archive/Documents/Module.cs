namespace FhirArchive.Archive.Documents;

/// <summary>
/// Shared documents (WS/T 483 健康档案共享文档): Composition/[id]/$document assembles the document Bundle of a stored
/// Composition as the caller may see it, and with persist=true stores it as a Bundle through the normal write path.
/// The document profiles themselves (cn-doc-*) are in src/Profiles and are checked on every write that claims them.
/// It registers nothing of its own: only MapDocuments.
/// </summary>
public static class DocumentsModule
{
    public static void MapDocuments(this IEndpointRouteBuilder app) => DocumentEndpoint.Map(app);
}
