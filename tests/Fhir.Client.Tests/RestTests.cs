using System.Net;
using Hl7.Fhir.Model;
using Hl7.Fhir.Rest;
using Xunit;

namespace FhirArchive.Client.Tests;

/// <summary>Capabilities, CRUD with versions, conditional create, search paging, history, batch and transaction.</summary>
public sealed class RestTests(FirelyServer server) : FirelyTests(server)
{
    [Theory, MemberData(nameof(Formats))]
    public async Task The_capability_statement_is_R4_with_SMART_and_the_record_interactions(ResourceFormat format)
    {
        using var c = Connect(format);
        var cs = await Got(c.Fhir.CapabilityStatementAsync());

        Assert.Equal(FHIRVersion.N4_0_1, cs.FhirVersion);
        Assert.Equal(CapabilityStatementKind.Instance, cs.Kind);
        var rest = Assert.Single(cs.Rest);
        Assert.Equal(CapabilityStatement.RestfulCapabilityMode.Server, rest.Mode);
        Assert.NotNull(rest.Security);
        Assert.Contains(rest.Security.Service, s => s.Coding.Any(x => x.Code == "SMART-on-FHIR"));
        var patient = rest.Resource.Single(r => r.Type == "Patient");
        var interactions = patient.Interaction.Select(i => i.Code).ToHashSet();
        foreach (var i in new[] { CapabilityStatement.TypeRestfulInteraction.Read, CapabilityStatement.TypeRestfulInteraction.Vread,
                     CapabilityStatement.TypeRestfulInteraction.Create, CapabilityStatement.TypeRestfulInteraction.Update,
                     CapabilityStatement.TypeRestfulInteraction.SearchType, CapabilityStatement.TypeRestfulInteraction.HistoryInstance })
            Assert.Contains(i, interactions);
        Assert.Contains(patient.SearchParam, p => p.Name == "identifier");
        Assert.Contains(patient.Operation, o => o.Name == "everything");
    }

    [Theory, MemberData(nameof(Formats))]
    public async Task A_token_fetched_at_127_0_0_1_is_good_at_localhost_on_the_same_port(ResourceFormat format)
    {
        // The server's loopback aliases are its own issuer while Security:BaseUrl is not set (README "Security").
        var localhost = new UriBuilder(Server.BaseAddress) { Host = "localhost" }.Uri;
        using var c = Connect(format, localhost);
        var patient = await Got(c.Fhir.ReadAsync<Patient>("Patient/zhang-wei"));
        Assert.Equal("张伟", patient.Name[0].Text);
        Assert.All(c.Strict.Seen, seen => Assert.Equal("localhost", seen.Request.RequestUri?.Host));
    }

    [Theory, MemberData(nameof(Formats))]
    public async Task A_record_is_created_read_and_updated_by_version_and_a_stale_version_is_refused_with_412(ResourceFormat format)
    {
        using var c = Connect(format);
        var created = await NewRecordAsync(c.Fhir);
        Assert.Equal(201, LastStatus(c.Fhir));
        Assert.Equal("1", created.Meta?.VersionId);
        Assert.Equal("W/\"1\"", c.Fhir.LastResult?.Etag);

        var read = await Got(c.Fhir.ReadAsync<Patient>("Patient/" + Id(created)));
        Assert.Equal(Records.IdCard(created), Records.IdCard(read));
        Assert.Equal("W/\"1\"", c.Fhir.LastResult?.Etag);

        // Version-aware update: Firely sends If-Match: W/"1".
        read.Telecom = [new ContactPoint(ContactPoint.ContactPointSystem.Phone, ContactPoint.ContactPointUse.Mobile, "13912345678")];
        var updated = await Got(c.Fhir.UpdateAsync(read, versionAware: true));
        Assert.Equal("2", updated.Meta?.VersionId);
        Assert.Equal("13912345678", updated.Telecom.Single().Value);

        // The same If-Match again: version 1 is stale now.
        Assert.Equal("1", read.Meta?.VersionId);
        await FailsWith(HttpStatusCode.PreconditionFailed, () => c.Fhir.UpdateAsync(read, versionAware: true));

        var v1 = await Got(c.Fhir.ReadAsync<Patient>($"Patient/{Id(created)}/_history/1"));
        Assert.DoesNotContain(v1.Telecom, t => t.Value == "13912345678");
        Assert.Equal("2", (await Got(c.Fhir.ReadAsync<Patient>("Patient/" + Id(created)))).Meta?.VersionId);
    }

    [Theory, MemberData(nameof(Formats))]
    public async Task A_plain_resource_is_deleted_and_then_reads_as_gone(ResourceFormat format)
    {
        using var c = Connect(format);
        var location = await Got(c.Fhir.CreateAsync(new Location { Name = "朝阳区社区卫生服务中心 预防接种门诊", Status = Location.LocationStatus.Active,
            ManagingOrganization = new ResourceReference(Records.Hospital) }));
        await c.Fhir.DeleteAsync("Location/" + location!.Id);
        await FailsWith(HttpStatusCode.Gone, () => c.Fhir.ReadAsync<Location>("Location/" + Id(location)));
    }

    [Theory, MemberData(nameof(Formats))]
    public async Task A_conditional_create_by_ID_card_number_returns_the_record_on_file(ResourceFormat format)
    {
        using var c = Connect(format);
        var resident = Records.NewResident();
        var byCard = new SearchParams().Where($"identifier={Records.IdCardSystem}|{Records.IdCard(resident)}");

        var first = await Got(c.Fhir.ConditionalCreateAsync(resident, byCard));
        Assert.Equal(201, LastStatus(c.Fhir));
        var again = await Got(c.Fhir.ConditionalCreateAsync(resident, byCard));
        Assert.Equal(200, LastStatus(c.Fhir));
        Assert.Equal(Id(first), Id(again));
    }

    [Theory, MemberData(nameof(Formats))]
    public async Task A_search_pages_through_every_match_with_Continue(ResourceFormat format)
    {
        using var c = Connect(format);
        var patient = await NewRecordAsync(c.Fhir);
        var created = new HashSet<string>();
        foreach (var mmHg in new[] { 118m, 126m, 131m, 142m, 137m })
            created.Add(Id(await Got(c.Fhir.CreateAsync(Records.BloodPressure(Id(patient), mmHg)))));

        var page = await c.Fhir.SearchAsync<Observation>(["subject=Patient/" + Id(patient), "code=http://loinc.org|8480-6"], pageSize: 2);
        var seen = new List<string>();
        var pages = 0;
        while (page is not null)
        {
            pages++;
            Assert.Equal(Bundle.BundleType.Searchset, page.Type);
            Assert.InRange(page.Entry.Count, 1, 2);
            seen.AddRange(page.Entry.Select(e => e.Resource).OfType<Observation>().Select(Id));
            page = await c.Fhir.ContinueAsync(page);
        }
        Assert.Equal(3, pages);
        Assert.Equal(created.Order(), seen.Order());
    }

    [Theory, MemberData(nameof(Formats))]
    public async Task Instance_and_type_history_list_every_version(ResourceFormat format)
    {
        using var c = Connect(format);
        var since = DateTimeOffset.UtcNow.AddSeconds(-1);
        var patient = await NewRecordAsync(c.Fhir);
        patient.Name[0].Text += "（曾用名）";
        patient = await Got(c.Fhir.UpdateAsync(patient));
        patient.Telecom[0].Value = "13700000000";
        await c.Fhir.UpdateAsync(patient);

        var history = await Got(c.Fhir.HistoryAsync("Patient/" + Id(patient)));
        Assert.Equal(Bundle.BundleType.History, history.Type);
        Assert.Equal(["3", "2", "1"], history.Entry.Select(e => e.Resource?.Meta?.VersionId));
        Assert.All(history.Entry, e => Assert.NotNull(e.Request));

        var type = await c.Fhir.TypeHistoryAsync<Patient>(since);
        var versions = new List<string>();
        while (type is not null)
        {
            versions.AddRange(type.Entry.Where(e => e.Resource?.Id == patient.Id).Select(e => e.Resource?.Meta?.VersionId ?? "none"));
            type = await c.Fhir.ContinueAsync(type);
        }
        Assert.Equal(["1", "2", "3"], versions.Order());
    }

    [Theory, MemberData(nameof(Formats))]
    public async Task A_transaction_creates_a_record_and_its_service_record_with_references_resolved(ResourceFormat format)
    {
        using var c = Connect(format);
        var resident = Records.NewResident("郭");
        var fullUrl = "urn:uuid:" + Guid.NewGuid();
        var tx = new TransactionBuilder(c.Fhir.Endpoint, Bundle.BundleType.Transaction)
            .Create(resident, fullUrl)
            .Create(Records.BloodPressure("placeholder", 128m), "urn:uuid:" + Guid.NewGuid())
            .ToBundle();
        Assert.IsType<Observation>(tx.Entry[1].Resource).Subject = new ResourceReference(fullUrl);

        var answer = await Got(c.Fhir.TransactionAsync(tx));

        Assert.Equal(Bundle.BundleType.TransactionResponse, answer.Type);
        Assert.All(answer.Entry, e => Assert.StartsWith("201", e.Response?.Status));
        var patientAt = Assert.IsType<Patient>(answer.Entry[0].Resource);
        var observation = Assert.IsType<Observation>(answer.Entry[1].Resource);
        Assert.Equal("Patient/" + Id(patientAt), observation.Subject?.Reference);
        Assert.Equal(Records.IdCard(resident), Records.IdCard(patientAt));
    }

    [Theory, MemberData(nameof(Formats))]
    public async Task A_batch_answers_each_entry_on_its_own(ResourceFormat format)
    {
        using var c = Connect(format);
        var patient = await NewRecordAsync(c.Fhir);
        var batch = new TransactionBuilder(c.Fhir.Endpoint, Bundle.BundleType.Batch)
            .Read("Patient", Id(patient))
            .Read("Patient", "no-such-record-" + Guid.NewGuid().ToString("N")[..8])
            .Search(new SearchParams().Where("identifier=" + Records.IdCardSystem + "|" + Records.IdCard(patient)), "Patient")
            .ToBundle();

        var answer = await Got(c.Fhir.TransactionAsync(batch));

        Assert.Equal(Bundle.BundleType.BatchResponse, answer.Type);
        Assert.StartsWith("200", answer.Entry[0].Response?.Status);
        Assert.Equal(patient.Id, answer.Entry[0].Resource?.Id);
        Assert.StartsWith("404", answer.Entry[1].Response?.Status);
        var found = Assert.IsType<Bundle>(answer.Entry[2].Resource);
        Assert.Equal(patient.Id, Assert.Single(found.Entry).Resource?.Id);
    }
}
