using FhirArchive.Fhir.Model;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Rest.Writing;

namespace FhirArchive.Archive.Mhd;

/// <summary>
/// The supersede procedure lets a saved DocumentReference (a service record, otherwise unchangeable) be written once
/// more: only from current to superseded, nothing else of it changed but meta (the server's) and the narrative (a PATCH in
/// an ITI-65 Bundle could say more).
/// </summary>
public sealed class SupersedeGuard : IWriteInterceptor
{
    public WriteStage Stage => WriteStage.Rules;

    public ValueTask BeforeWriteAsync(WriteContext context)
    {
        if (context.Intent.Procedure != MhdTerms.Supersede || context.Parent is not null) return ValueTask.CompletedTask;
        var what = $"{context.ResourceType}/{context.Id}";
        if (context.ResourceType != "DocumentReference" || context.Resource is not { } after || context.Current is not { IsDeleted: false, Json: { } json })
            throw new FhirException(422, "business-rule", $"IHE MHD ITI-65 [replaces]: only an existing DocumentReference can be superseded, not {what}");
        var before = FhirFormats.ParseStored(json);
        if (before.Child("status")?.Value != "current" || after.Child("status")?.Value != "superseded" || !ResourceContent.SameBut(before, after, "meta", "status", "text"))
            throw new FhirException(422, "business-rule", $"IHE MHD ITI-65 [replaces]: the replaced {what} may only change its status from current to superseded / 被替换文档只可改为 superseded");
        return ValueTask.CompletedTask;
    }

    public ValueTask AfterWriteAsync(WriteContext context) => ValueTask.CompletedTask;
}
