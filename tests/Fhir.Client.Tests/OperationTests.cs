using Hl7.Fhir.Model;
using Hl7.Fhir.Rest;
using Xunit;

namespace FhirArchive.Client.Tests;

/// <summary>Operations as Firely calls them: $validate, terminology by GET and POST, $everything, the record lifecycle.</summary>
public sealed class OperationTests(FirelyServer server) : FirelyTests(server)
{
    private const string Ethnicity = "urn:oid:2.16.156.10011.2.3.3.3";
    private const string RecordStatusValueSet = "http://fhirarchive.cn/fhir/ValueSet/health-record-status";

    [Theory, MemberData(nameof(Formats))]
    public async Task Validate_passes_a_resident_record_and_names_what_an_incomplete_one_lacks(ResourceFormat format)
    {
        using var c = Connect(format);
        var valid = await c.Fhir.TypeOperationAsync<Patient>("validate", new Parameters().Add("resource", Records.NewResident()));
        Assert.DoesNotContain(Assert.IsType<OperationOutcome>(valid).Issue, i => i.Severity is OperationOutcome.IssueSeverity.Error or OperationOutcome.IssueSeverity.Fatal);

        var noCard = Records.NewResident();
        noCard.Identifier.Clear();
        var invalid = Assert.IsType<OperationOutcome>(await c.Fhir.TypeOperationAsync<Patient>("validate", new Parameters().Add("resource", noCard)));
        Assert.Contains(invalid.Issue, i => i.Severity == OperationOutcome.IssueSeverity.Error && Says(invalid).Contains("identifier"));
    }

    [Theory, MemberData(nameof(Formats))]
    public async Task Validate_of_a_stored_record_by_GET_and_of_its_update_by_POST_with_Parameters(ResourceFormat format)
    {
        using var c = Connect(format);
        var patient = await NewRecordAsync(c.Fhir);
        var record = new Uri("Patient/" + Id(patient), UriKind.Relative);
        var stored = Assert.IsType<OperationOutcome>(await c.Fhir.InstanceOperationAsync(record, "validate", useGet: true));
        Assert.DoesNotContain(stored.Issue, i => i.Severity == OperationOutcome.IssueSeverity.Error);

        patient.BirthDate = "1949-10-01"; // contradicts the ID card number
        var update = Assert.IsType<OperationOutcome>(await c.Fhir.InstanceOperationAsync(record, "validate",
            new Parameters().Add("mode", new Code("update")).Add("resource", patient)));
        Assert.Contains(update.Issue, i => i.Severity == OperationOutcome.IssueSeverity.Error);
    }

    [Theory, MemberData(nameof(Formats))]
    public async Task Lookup_gives_the_display_of_a_national_code_by_GET_and_by_POST(ResourceFormat format)
    {
        using var c = Connect(format);
        var query = new Parameters().Add("system", new FhirUri(Ethnicity)).Add("code", new Code("01"));
        foreach (var useGet in new[] { true, false })
        {
            var answer = Assert.IsType<Parameters>(await c.Fhir.TypeOperationAsync<CodeSystem>("lookup", query, useGet));
            Assert.Equal("汉族", answer.GetSingleValue<FhirString>("display")?.Value);
        }
    }

    [Theory, MemberData(nameof(Formats))]
    public async Task Validate_code_answers_true_and_false_by_GET_and_by_POST(ResourceFormat format)
    {
        using var c = Connect(format);
        foreach (var useGet in new[] { true, false })
        {
            foreach (var (code, expected) in new[] { ("active", true), ("not-a-status", false) })
            {
                var query = new Parameters().Add("url", new FhirUri(RecordStatusValueSet))
                    .Add("system", new FhirUri("http://fhirarchive.cn/fhir/CodeSystem/health-record-status")).Add("code", new Code(code));
                var answer = Assert.IsType<Parameters>(await c.Fhir.TypeOperationAsync<ValueSet>("validate-code", query, useGet));
                Assert.Equal(expected, answer.GetSingleValue<FhirBoolean>("result")?.Value);
            }
        }
    }

    [Theory, MemberData(nameof(Formats))]
    public async Task Everything_by_GET_returns_the_record_with_its_service_records(ResourceFormat format)
    {
        using var c = Connect(format);
        var patient = await NewRecordAsync(c.Fhir);
        var observation = await c.Fhir.CreateAsync(Records.BloodPressure(Id(patient), 135m));

        var everything = Assert.IsType<Bundle>(await c.Fhir.InstanceOperationAsync(new Uri("Patient/" + Id(patient), UriKind.Relative), "everything", useGet: true));
        var ids = new List<string>();
        for (var page = everything; page is not null; page = await c.Fhir.ContinueAsync(page))
            ids.AddRange(page.Entry.Select(e => e.Resource?.TypeName + "/" + e.Resource?.Id));
        Assert.Contains("Patient/" + Id(patient), ids);
        Assert.Contains("Observation/" + observation!.Id, ids);
    }

    [Theory, MemberData(nameof(Formats))]
    public async Task A_record_is_closed_and_reactivated_by_POST_with_Parameters(ResourceFormat format)
    {
        using var c = Connect(format);
        var patient = await NewRecordAsync(c.Fhir);
        var record = new Uri("Patient/" + Id(patient), UriKind.Relative);

        var closed = Assert.IsType<Patient>(await c.Fhir.InstanceOperationAsync(record, "close",
            new Parameters().Add("reason", new Code("inactive-moved")).Add("cause", new FhirString("迁往外省居住 / moved to another province"))));
        Assert.Equal("inactive-moved", RecordStatus(closed));
        Assert.False(closed.Active);

        var reactivated = Assert.IsType<Patient>(await c.Fhir.InstanceOperationAsync(record, "reactivate",
            new Parameters().Add("reason", new FhirString("返回本区居住 / moved back"))));
        Assert.Equal("active", RecordStatus(reactivated));
        Assert.Equal("3", reactivated.Meta?.VersionId);
    }

    [Theory, MemberData(nameof(Formats))]
    public async Task Match_finds_the_record_of_a_person_by_name_birth_date_and_phone(ResourceFormat format)
    {
        using var c = Connect(format);
        var patient = await NewRecordAsync(c.Fhir);
        var asked = new Patient { Name = patient.Name, BirthDate = patient.BirthDate, Telecom = patient.Telecom, Gender = patient.Gender };

        var candidates = Assert.IsType<Bundle>(await c.Fhir.TypeOperationAsync<Patient>("match", new Parameters().Add("resource", asked)));

        var best = Assert.IsType<Patient>(candidates.Entry.First().Resource);
        Assert.Equal(patient.Id, best.Id);
        Assert.Equal(Bundle.SearchEntryMode.Match, candidates.Entry.First().Search?.Mode);
        Assert.NotNull(candidates.Entry.First().Search?.Score);
    }

    private static string? RecordStatus(Patient p) =>
        (p.GetExtensionValue<Coding>("http://fhirarchive.cn/fhir/StructureDefinition/cn-record-status"))?.Code;
}
