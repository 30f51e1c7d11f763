using FhirArchive.Rest.Access;

namespace FhirArchive.Archive.Masking;

/// <summary>
/// Masking by role (脱敏): who sees a record's identifiers, phones and addresses in full (<see cref="MaskingRule"/>),
/// the masking functions (<see cref="Masks"/>), and the access policy that masks on every read path
/// (<see cref="MaskingPolicy"/>, registered after the consent rules: it masks what they let through).
/// </summary>
public static class MaskingModule
{
    public static IServiceCollection AddMasking(this IServiceCollection services)
    {
        services.AddSingleton<MaskingRule>();
        services.AddSingleton<ShapedAnswers>();
        services.AddSingleton<MaskingPolicy>();
        services.AddSingleton<IAccessPolicy>(sp => sp.GetRequiredService<MaskingPolicy>());
        return services;
    }
}
