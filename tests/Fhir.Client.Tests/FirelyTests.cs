using Hl7.Fhir.Model;
using Hl7.Fhir.Rest;
using Xunit;

namespace FhirArchive.Client.Tests;

/// <summary>
/// The base of the client suites: every test is a theory over <see cref="Formats"/> (JSON and XML), with a FhirClient of
/// that format whose answers <see cref="StrictReparse"/> has re-parsed strictly.
/// </summary>
[Collection(FirelyCollection.Name)]
public abstract class FirelyTests(FirelyServer server)
{
    public static TheoryData<ResourceFormat> Formats => new() { ResourceFormat.Json, ResourceFormat.Xml };

    protected FirelyServer Server { get; } = server;

    protected FirelyClient Connect(ResourceFormat format, Uri? endpoint = null) => Server.Connect(format, endpoint);

    /// <summary>A new resident record, created by the hospital system.</summary>
    protected static async Task<Patient> NewRecordAsync(FhirClient fhir, string? family = null) => await Got(fhir.CreateAsync(Records.NewResident(family)));

    /// <summary>The resource a call answered with (Firely's calls return null for an empty body: a failure here).</summary>
    protected static async Task<T> Got<T>(Task<T?> call) where T : Resource
    {
        var resource = await call;
        Assert.NotNull(resource);
        return resource;
    }

    /// <summary>The id the server gave (Firely's ids are nullable: a resource read back always has one).</summary>
    protected static string Id(Resource r)
    {
        Assert.NotNull(r.Id);
        return r.Id;
    }

    /// <summary>The status code of the client's last answer ("201 Created" → 201).</summary>
    protected static int LastStatus(FhirClient fhir) => int.Parse(fhir.LastResult?.Status?.Split(' ')[0] ?? "0", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The call fails with this status and an OperationOutcome that Firely parsed, which is returned.</summary>
    protected static async Task<OperationOutcome> FailsWith(System.Net.HttpStatusCode status, Func<Task> call)
    {
        var e = await Assert.ThrowsAsync<FhirOperationException>(call);
        Assert.Equal(status, e.Status);
        Assert.NotNull(e.Outcome);
        Assert.NotEmpty(e.Outcome.Issue);
        Assert.All(e.Outcome.Issue, i => Assert.NotNull(i.Severity));
        return e.Outcome;
    }

    /// <summary>Every text an outcome's issues carry (diagnostics and details), for asserting what it says.</summary>
    protected static string Says(OperationOutcome outcome) =>
        string.Join(" | ", outcome.Issue.Select(i => $"{i.Code}: {i.Diagnostics} {i.Details?.Text}"));
}
