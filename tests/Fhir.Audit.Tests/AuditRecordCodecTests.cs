using System.Text;
using FhirArchive.Rest.Access;
using FhirArchive.Audit;
using FhirArchive.Audit.Store;
using Xunit;

namespace FhirArchive.Audit.Tests;

/// <summary>The compact audit record: every field survives the binary form, and rows stored as version 1 JSON still read.</summary>
public class AuditRecordCodecTests
{
    private static readonly Caller Clinician = new(CallerKind.Person, "doctor-li", "李医生 Dr Li", new HashSet<string> { "family-doctor", "clinician" }, [],
        Organization: "Organization/bj-chaoyang-hospital", Practitioner: "Practitioner/li", PurposeOfUse: "ETREAT", ClientId: "portal");

    private static AuditDraft Full(Caller caller) => new(
        null, new DateTimeOffset(2026, 12, 1, 8, 30, 15, 123, TimeSpan.Zero).AddTicks(4567), new Interaction("operation", "E", "Patient", "p1", "$everything"),
        403, caller, "10.1.2.3", "GET /Patient/p1/$everything?_count=100", ["Patient/p1/_history/2", "Observation/o1/_history/1"],
        ["Patient/p1"], "紧急调阅 break-glass", new Coding("http://dicom.nema.org/resources/ontology/DCM", "110112", "Query"),
        "http://fhirarchive.cn/fhir/CodeSystem/operation", ["permit ×3: consent", "deny Observation/o2: 严重精神障碍 severe mental disorder"]);

    [Fact]
    public void Every_field_survives_the_binary_record()
    {
        var draft = Full(Clinician);
        var stored = AuditRecordCodec.Encode(draft);
        Assert.Equal(2, stored[0]);
        var back = AuditRecordCodec.Decode(stored, "42");

        Assert.Equal("42", back.Id);
        Assert.Equal(draft.Recorded, back.Recorded);
        Assert.Equal((draft.Interaction.Code, draft.Interaction.Action, draft.Interaction.Operation), (back.Interaction.Code, back.Interaction.Action, back.Interaction.Operation));
        Assert.Equal(403, back.Status);
        Assert.Equal((draft.Address, draft.Query, draft.Description, draft.SubtypeSystem), (back.Address, back.Query, back.Description, back.SubtypeSystem));
        Assert.Equal(draft.Resources, back.Resources);
        Assert.Equal(draft.Patients, back.Patients);
        Assert.Equal(draft.Decisions, back.Decisions);
        Assert.Equal(draft.Type, back.Type);
        var c = back.Caller;
        Assert.Equal((CallerKind.Person, "doctor-li", "李医生 Dr Li"), (c.Kind, c.Subject, c.DisplayName));
        Assert.Equal(["clinician", "family-doctor"], c.Roles.Order(StringComparer.Ordinal));
        Assert.Equal(("Organization/bj-chaoyang-hospital", "Practitioner/li", "ETREAT", "portal"), (c.Organization, c.Practitioner, c.PurposeOfUse, c.ClientId));
        // The AuditEvent an auditor reads is the one the request's own draft renders.
        Assert.Equal(Encoding.UTF8.GetString(AuditEventWriter.Write(draft with { Id = "42" })),
            Encoding.UTF8.GetString(AuditRecordCodec.ToAuditEvent(new AuditRecordRow { Seq = 42, Data = stored })));
    }

    [Fact]
    public void Absent_fields_stay_absent_and_a_system_clients_id_is_its_subject()
    {
        var system = new Caller(CallerKind.System, "chaoyang-his", null, new HashSet<string>(), [], ClientId: "chaoyang-his");
        var draft = new AuditDraft(null, DateTimeOffset.UnixEpoch, new Interaction("read", "R", "Observation", "o1", null), 200, system, null, null, [], []);
        var back = AuditRecordCodec.Decode(AuditRecordCodec.Encode(draft), "1");
        Assert.Equal("chaoyang-his", back.Caller.ClientId);
        Assert.Null(back.Caller.DisplayName);
        Assert.Null(back.Caller.Organization);
        Assert.Null(back.Interaction.Operation);
        Assert.Null(back.Address);
        Assert.Null(back.Query);
        Assert.Null(back.Type);
        Assert.Empty(back.Resources);
        Assert.Empty(back.Caller.Roles);
        Assert.True(back.Decisions is null or { Count: 0 });

        var other = AuditRecordCodec.Decode(AuditRecordCodec.Encode(draft with { Caller = system with { ClientId = "another-app" } }), "1");
        Assert.Equal("another-app", other.Caller.ClientId);
        var none = AuditRecordCodec.Decode(AuditRecordCodec.Encode(draft with { Caller = system with { ClientId = null } }), "1");
        Assert.Null(none.Caller.ClientId);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(42)]
    [InlineData(43)]
    [InlineData(127)]
    [InlineData(128)]
    [InlineData(5000)]
    public void Texts_of_every_length_survive(int length)
    {
        // ASCII, three-byte Chinese and four-byte characters: the one-byte and the longer length prefixes.
        var text = string.Concat(Enumerable.Range(0, length).Select(i => (i % 3) switch { 0 => "a", 1 => "档", _ => "𠀀" }))[..length];
        if (char.IsHighSurrogate(text.LastOrDefault())) text = text[..^1] + "b";
        var draft = Full(Clinician) with { Query = text, Description = text };
        var back = AuditRecordCodec.Decode(AuditRecordCodec.Encode(draft), "1");
        Assert.Equal(text, back.Query);
        Assert.Equal(text, back.Description);
        Assert.Equal(draft.Decisions, back.Decisions);
    }

    [Fact]
    public void A_version_1_json_record_still_reads()
    {
        var stored = Encoding.UTF8.GetBytes("""
            {"v":1,"t":639317325409013586,"i":"read","a":"R","s":200,"k":2,"sub":"chaoyang-his","dn":"朝阳区社区卫生服务中心 HIS","ro":["system"],"org":"Organization/bj-chaoyang-hospital","pou":"TREAT","cl":"chaoyang-his","ip":"127.0.0.1","r":["Observation/obs-1/_history/1"],"p":["Patient/zhang-wei"],"dc":["permit ×1: the record's responsible institution"]}
            """);
        var d = AuditRecordCodec.Decode(stored, "4");
        Assert.Equal(639317325409013586, d.Recorded.UtcTicks);
        Assert.Equal(("read", "R", 200), (d.Interaction.Code, d.Interaction.Action, d.Status));
        Assert.Equal((CallerKind.System, "chaoyang-his", "朝阳区社区卫生服务中心 HIS", "chaoyang-his"), (d.Caller.Kind, d.Caller.Subject, d.Caller.DisplayName, d.Caller.ClientId));
        Assert.Equal(["Observation/obs-1/_history/1"], d.Resources);
        Assert.Equal(["Patient/zhang-wei"], d.Patients);
        Assert.Equal(["permit ×1: the record's responsible institution"], d.Decisions!);
        // Rendered the same way as a binary record of the same event.
        Assert.Equal(AuditRecordCodec.ToAuditEvent(new AuditRecordRow { Seq = 4, Data = stored }),
            AuditRecordCodec.ToAuditEvent(new AuditRecordRow { Seq = 4, Data = AuditRecordCodec.Encode(d) }));
    }

    [Fact]
    public void A_damaged_binary_record_is_a_format_error()
    {
        var stored = AuditRecordCodec.Encode(Full(Clinician));
        for (var cut = 1; cut < stored.Length; cut += 7)
            Assert.Throws<FormatException>(() => AuditRecordCodec.Decode(stored[..cut], "1"));
        Assert.Throws<FormatException>(() => AuditRecordCodec.Decode([.. stored, 0], "1"));
        // A length past any record's size (a varint of five bytes).
        Assert.Throws<FormatException>(() => AuditRecordCodec.Decode([.. stored[..22], 0xFF, 0xFF, 0xFF, 0xFF, 0x0F], "1"));
    }

    [Fact]
    public void The_binary_record_is_smaller_than_the_json_one()
    {
        // The sample's version 1 record (359 bytes) as the binary form holds it.
        var json = """{"v":1,"t":639317325409013586,"i":"read","a":"R","s":200,"k":2,"sub":"chaoyang-his","dn":"朝阳区社区卫生服务中心 HIS","ro":["system"],"org":"Organization/bj-chaoyang-hospital","pou":"TREAT","cl":"chaoyang-his","ip":"127.0.0.1","r":["Observation/obs-1/_history/1"],"p":["Patient/zhang-wei"],"dc":["permit ×1: the record's responsible institution"]}"""u8.ToArray();
        var binary = AuditRecordCodec.Encode(AuditRecordCodec.Decode(json, "4"));
        Assert.True(binary.Length < json.Length * 2 / 3, $"{binary.Length} bytes vs {json.Length}");
    }
}
