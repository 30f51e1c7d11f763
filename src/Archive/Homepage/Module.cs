namespace FhirArchive.Archive.Homepage;

/// <summary>
/// The record homepage (档案首页, annex 1 一(二); art. 6: the record's master data and index): Patient/[id]/$summary, a
/// document Bundle of the personal health tags (HealthTags module), the basic health information and the service
/// timeline, generated on request as the caller may see the record (consent decision on every resource). It registers
/// nothing of its own (it reads through the engine and the HealthTags module): only MapHomepage.
/// </summary>
public static class HomepageModule
{
    public static void MapHomepage(this IEndpointRouteBuilder app) => RecordHomepageEndpoint.Map(app);
}
