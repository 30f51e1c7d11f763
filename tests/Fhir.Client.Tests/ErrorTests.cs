using System.Net;
using Hl7.Fhir.Model;
using Hl7.Fhir.Rest;
using Xunit;

namespace FhirArchive.Client.Tests;

/// <summary>Every refusal reaches Firely as a FhirOperationException carrying a parsed OperationOutcome that says why.</summary>
public sealed class ErrorTests(FirelyServer server) : FirelyTests(server)
{
    [Theory, MemberData(nameof(Formats))]
    public async Task A_missing_record_is_404(ResourceFormat format)
    {
        using var c = Connect(format);
        var outcome = await FailsWith(HttpStatusCode.NotFound, () => c.Fhir.ReadAsync<Patient>("Patient/no-such-resident"));
        Assert.Contains(outcome.Issue, i => i.Code == OperationOutcome.IssueType.NotFound);
    }

    [Theory, MemberData(nameof(Formats))]
    public async Task A_malformed_search_is_400_naming_the_value(ResourceFormat format)
    {
        using var c = Connect(format);
        var outcome = await FailsWith(HttpStatusCode.BadRequest, () => c.Fhir.SearchAsync<Patient>(["birthdate=一九八〇年"]));
        Assert.Contains("'一九八〇年' is not a valid FHIR date", Says(outcome));
    }

    [Theory, MemberData(nameof(Formats))]
    public async Task A_record_without_an_identity_document_is_422_saying_what_it_needs(ResourceFormat format)
    {
        using var c = Connect(format);
        var resident = Records.NewResident();
        resident.Identifier.Clear();
        var outcome = await FailsWith(HttpStatusCode.UnprocessableEntity, () => c.Fhir.CreateAsync(resident));
        Assert.Contains("resident ID card number", Says(outcome));
    }

    [Theory, MemberData(nameof(Formats))]
    public async Task An_ID_card_number_that_contradicts_the_birth_date_is_422(ResourceFormat format)
    {
        using var c = Connect(format);
        var resident = Records.NewResident();
        resident.BirthDate = "1949-10-01";
        var outcome = await FailsWith(HttpStatusCode.UnprocessableEntity, () => c.Fhir.CreateAsync(resident));
        Assert.Contains(outcome.Issue, i => i.Severity == OperationOutcome.IssueSeverity.Error);
    }

    [Theory, MemberData(nameof(Formats))]
    public async Task An_update_against_a_version_that_never_was_is_412(ResourceFormat format)
    {
        using var c = Connect(format);
        var patient = await NewRecordAsync(c.Fhir);
        patient.Meta = new Meta { VersionId = "7" };
        await FailsWith(HttpStatusCode.PreconditionFailed, () => c.Fhir.UpdateAsync(patient, versionAware: true));
    }

    [Theory, MemberData(nameof(Formats))]
    public async Task A_record_is_never_deleted_405(ResourceFormat format)
    {
        using var c = Connect(format);
        var patient = await NewRecordAsync(c.Fhir);
        await FailsWith(HttpStatusCode.MethodNotAllowed, () => c.Fhir.DeleteAsync("Patient/" + Id(patient)));
        Assert.NotNull(await c.Fhir.ReadAsync<Patient>("Patient/" + Id(patient)));
    }

    [Theory, MemberData(nameof(Formats))]
    public async Task A_second_record_for_the_same_person_is_409(ResourceFormat format)
    {
        using var c = Connect(format);
        var first = await NewRecordAsync(c.Fhir);
        var twin = Records.NewResident();
        twin.Identifier = [new Identifier(Records.IdCardSystem, Records.IdCard(first))];
        (twin.BirthDate, twin.Gender) = (first.BirthDate, first.Gender);
        var outcome = await FailsWith(HttpStatusCode.Conflict, () => c.Fhir.CreateAsync(twin));
        Assert.Contains(Id(first), Says(outcome));
    }
}
