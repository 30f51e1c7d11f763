using System.Net;
using Hl7.Fhir.Model;
using Hl7.Fhir.Rest;
using Xunit;

namespace FhirArchive.Client.Tests;

/// <summary>
/// What Firely does that issue #21 found the server refusing (operations by POST and GET, type-level $everything,
/// metadata summaries, _format in paging links, HEAD, batch outcomes): each failed before its fix.
/// </summary>
public sealed class ConformanceGapTests(FirelyServer server) : FirelyTests(server)
{
    [Theory, MemberData(nameof(Formats))]
    public async Task Everything_by_POST_with_a_Parameters_body(ResourceFormat format)
    {
        using var c = Connect(format);
        var patient = await NewRecordAsync(c.Fhir);
        var everything = Assert.IsType<Bundle>(await c.Fhir.InstanceOperationAsync(new Uri("Patient/" + Id(patient), UriKind.Relative), "everything",
            new Parameters().Add("_count", new Integer(50))));
        Assert.Contains(everything.Entry, e => e.Resource is Patient p && p.Id == Id(patient));
    }

    [Theory, MemberData(nameof(Formats))]
    public async Task Type_level_everything_pages_the_patients_the_caller_may_see(ResourceFormat format)
    {
        using var c = Connect(format);
        var patient = await NewRecordAsync(c.Fhir);
        var ids = new List<string>();
        for (var page = Assert.IsType<Bundle>(await c.Fhir.TypeOperationAsync<Patient>("everything", new Parameters().Add("_count", new Integer(20)), useGet: true));
             page is not null; page = await c.Fhir.ContinueAsync(page))
            ids.AddRange(page.Entry.Select(e => e.Resource).OfType<Patient>().Select(Id));
        Assert.Contains(Id(patient), ids);
    }

    [Theory, MemberData(nameof(Formats))]
    public async Task The_capability_statement_summary_is_small_and_marked_subsetted(ResourceFormat format)
    {
        using var c = Connect(format);
        var summary = await c.Fhir.CapabilityStatementAsync(SummaryType.True);
        Assert.Contains(summary!.Meta?.Tag ?? [], t => t.Code == "SUBSETTED");
        Assert.Equal(FHIRVersion.N4_0_1, summary.FhirVersion);
        Assert.True(c.Fhir.LastBody!.Length < 100_000, $"the summary is {c.Fhir.LastBody.Length} bytes");
    }

    [Theory, MemberData(nameof(Formats))]
    public async Task Paging_with_the_format_parameter_follows_every_next_link(ResourceFormat format)
    {
        using var c = Connect(format);
        c.Fhir.Settings.UseFormatParameter = true; // Firely adds _format to every request, next links included
        var patient = await NewRecordAsync(c.Fhir);
        for (var i = 0; i < 3; i++) await c.Fhir.CreateAsync(Records.BloodPressure(Id(patient), 120m + i));
        var seen = 0;
        for (var page = await c.Fhir.SearchAsync<Observation>(["subject=Patient/" + Id(patient)], pageSize: 1); page is not null; page = await c.Fhir.ContinueAsync(page))
            seen += page.Entry.Count;
        Assert.Equal(3, seen);
    }

    [Theory, MemberData(nameof(Formats))]
    public async Task HEAD_answers_where_GET_does_with_the_same_headers_and_no_body(ResourceFormat format)
    {
        using var c = Connect(format);
        var patient = await NewRecordAsync(c.Fhir);
        using var http = new HttpClient(c.Strict, disposeHandler: false) { BaseAddress = Server.BaseAddress };
        var accept = format == ResourceFormat.Json ? "application/fhir+json" : "application/fhir+xml";
        using var head = new HttpRequestMessage(HttpMethod.Head, "Patient/" + Id(patient)) { Headers = { { "Accept", accept } } };
        var answer = await http.SendAsync(head);
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        Assert.Equal("W/\"1\"", answer.Headers.ETag?.ToString());
        Assert.Empty(await answer.Content.ReadAsByteArrayAsync());
    }

    [Theory, MemberData(nameof(Formats))]
    public async Task A_failed_batch_entry_carries_its_outcome(ResourceFormat format)
    {
        using var c = Connect(format);
        var batch = new TransactionBuilder(c.Fhir.Endpoint, Bundle.BundleType.Batch)
            .Read("Patient", "no-such-record-" + Guid.NewGuid().ToString("N")[..8])
            .ToBundle();
        var answer = await c.Fhir.TransactionAsync(batch);
        var entry = Assert.Single(answer!.Entry);
        Assert.Equal("404 Not Found", entry.Response?.Status);
        Assert.IsType<OperationOutcome>(entry.Response?.Outcome);
    }
}
