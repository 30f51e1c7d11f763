namespace FhirArchive.Archive.HealthTags;

/// <summary>
/// Personal health tags (个人健康标识, annex 1 一(二)1): derived from the record's own data by rules kept as data
/// (<see cref="HealthTagRules"/>, codes of the health-tag code system). Used by the off-site service's key
/// populations; the record homepage shows the same tags.
/// </summary>
public static class HealthTagsModule
{
    public static IServiceCollection AddHealthTags(this IServiceCollection services)
    {
        services.AddSingleton<HealthTagRules>();
        services.AddSingleton<HealthTagReader>();
        return services;
    }
}
