using FhirArchive.Rest.Access;
using FhirArchive.Rest.Writing;

namespace FhirArchive.Archive.Consent;

/// <summary>
/// Clears a record's cached facts when its Patient, a Consent about it or a RelatedPerson of it is written: once
/// after the write and once more when the response completes (after the commit), so a reader that filled the cache
/// in between with the old state does not keep it.
/// </summary>
public sealed class ConsentCacheInterceptor(RecordDirectory records, PatientLinks links) : IWriteInterceptor
{
    public WriteStage Stage => WriteStage.Cache;

    public ValueTask BeforeWriteAsync(WriteContext context) => ValueTask.CompletedTask;

    public ValueTask AfterWriteAsync(WriteContext context)
    {
        if (context.ResourceType is not ("Patient" or "Consent" or "RelatedPerson")) return ValueTask.CompletedTask;
        var baseUrl = Rest.Infrastructure.FhirHeaders.BaseUrl(context.Http);
        var ids = context.ResourceType == "Patient" ? [context.Id] : new[] { PatientOf(context.Resource, baseUrl), PatientOf(Previous(context), baseUrl) }.Distinct().ToList();
        void Forget()
        {
            if (ids.Contains(null)) records.ForgetAll();
            else foreach (var id in ids) records.Forget(id!);
        }
        Forget();
        context.Http?.Response.OnCompleted(() => { Forget(); return Task.CompletedTask; });
        return ValueTask.CompletedTask;
    }

    private static Fhir.Model.ElementNode? Previous(WriteContext context) =>
        context.Current?.Json is { } json ? Rest.Infrastructure.FhirFormats.ParseStored(json) : context.Resource;

    /// <summary>Consent.patient / RelatedPerson.patient, their Patient compartment link (null when there is none: then every record is forgotten).</summary>
    private string? PatientOf(Fhir.Model.ElementNode? resource, string? baseUrl) =>
        resource is not null && links.PatientIds(resource, baseUrl) is [var id, ..] && id != PatientLinks.ForeignPatient ? id : null;
}
