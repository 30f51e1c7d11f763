using System.Globalization;
using FhirArchive.Rest.Writing;

namespace FhirArchive.Archive.Records;

/// <summary>
/// Timeliness (Chongqing rules 三(二)): basic public-health service records are to be entered within five days of
/// the service. A later entry is accepted but tagged (meta.tag data-quality|late-entry, searchable with _tag) for
/// the data-quality report.
/// </summary>
public sealed class TimelinessInterceptor(RecordScope scope, TimeProvider clock) : IWriteInterceptor
{
    public const string System = "http://fhirarchive.cn/fhir/CodeSystem/data-quality";
    public const string LateEntry = "late-entry";

    private readonly HashSet<string> _types = new(scope.Options.PublicHealthTypes, StringComparer.Ordinal);

    public WriteStage Stage => WriteStage.Rules;

    public async ValueTask BeforeWriteAsync(WriteContext context)
    {
        if (!context.CreatesResource || context.Resource is not { } resource || !_types.Contains(context.ResourceType) || !scope.Options.Enabled) return;
        if (RecordScope.ServiceTime(resource) is not { } when || !TryParse(when, out var served)) return;
        if (clock.GetUtcNow() - served <= TimeSpan.FromDays(scope.Options.LateEntryDays)) return;
        if (await scope.RecordPatientAsync(context.Session, scope.SubjectId(resource), context.CancellationToken) is null) return;
        var meta = resource.Child("meta") ?? resource.Add("meta");
        if (meta.ChildrenNamed("tag").Any(t => t.Child("system")?.Value == System && t.Child("code")?.Value == LateEntry)) return;
        var tag = meta.Add("tag");
        tag.Add("system", System);
        tag.Add("code", LateEntry);
        tag.Add("display", $"entered more than {scope.Options.LateEntryDays} days after the service / 超过{scope.Options.LateEntryDays}日录入");
    }

    public ValueTask AfterWriteAsync(WriteContext context) => ValueTask.CompletedTask;

    /// <summary>A date or dateTime; a date alone counts from the end of that day (Beijing time), the kindest reading.</summary>
    private static bool TryParse(string value, out DateTimeOffset when)
    {
        if (value.Length == 10 && DateOnly.TryParseExact(value, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var d))
        {
            when = new DateTimeOffset(d.ToDateTime(new TimeOnly(23, 59, 59)), TimeSpan.FromHours(8));
            return true;
        }
        return DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out when);
    }
}
