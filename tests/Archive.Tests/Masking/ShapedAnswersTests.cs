using System.Net;
using System.Text;
using System.Text.Json;
using FhirArchive.Archive.Masking;
using Xunit;
using static FhirArchive.Tests.Support.Http;

namespace FhirArchive.Archive.Tests.Masking;

/// <summary>
/// The cache of shaped answers (<see cref="ShapedAnswers"/>): a resource read again is served from what masking made of
/// it, so every read after the first must be exactly as masked as the first — for each view, each caller's own numbers,
/// and whatever content the resource holds (a Patient's identifiers, a phone in an Observation's note or extension).
/// </summary>
public sealed class ShapedAnswersTests(MaskingFixture fx) : IClassFixture<MaskingFixture>, IAsyncLifetime
{
    private readonly HttpClient _c = fx.Client;
    public Task InitializeAsync() => fx.SeedOnceAsync();
    public Task DisposeAsync() => Task.CompletedTask;

    private async Task<string> Get(string url, (string, string) caller)
    {
        var r = await _c.SendAsync(HttpMethod.Get, url, null, caller);
        var text = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == HttpStatusCode.OK, $"GET {url}: {r.StatusCode} {text}");
        return text;
    }

    private static List<string> Labels(string json) => MaskingPathTests.Labels(JsonDocument.Parse(json).RootElement);

    [Fact]
    public async Task A_patient_read_again_is_masked_again_with_its_label_and_its_bundle_s()
    {
        for (var i = 0; i < 3; i++)
        {
            var patient = await Get("/Patient/mk-p", MaskingWorld.AuthorisedDoctor);
            Assert.Contains(MaskingWorld.MaskedIdCard, patient);
            Assert.DoesNotContain(MaskingWorld.IdCard, patient);
            Assert.DoesNotContain(MaskingWorld.Mobile, patient);
            Assert.Contains(MaskingPathTests.Masked, Labels(patient));
            // A search shows the same content: the Bundle is labelled MASKED from the cached answer too.
            var bundle = await Get("/Patient?_id=mk-p", MaskingWorld.AuthorisedDoctor);
            Assert.DoesNotContain(MaskingWorld.IdCard, bundle);
            Assert.Contains(MaskingPathTests.Masked, Labels(bundle));
        }
    }

    [Fact]
    public async Task The_same_content_is_full_masked_or_de_identified_by_the_reader_in_any_order()
    {
        // Interleaved: a full view between masked ones, the de-identified view (names masked) between the others.
        foreach (var (caller, idCard, name) in new[]
        {
            (MaskingWorld.HolderClinician, MaskingWorld.IdCard, "张伟"),
            (MaskingWorld.AuthorisedDoctor, MaskingWorld.MaskedIdCard, "张伟"),
            (MaskingWorld.HealthAdmin, MaskingWorld.MaskedIdCard, "张*"),
            (MaskingWorld.HolderClinician, MaskingWorld.IdCard, "张伟"),
            (MaskingWorld.HealthAdmin, MaskingWorld.MaskedIdCard, "张*"),
            (MaskingWorld.AuthorisedDoctor, MaskingWorld.MaskedIdCard, "张伟"),
        })
        {
            var patient = JsonDocument.Parse(await Get("/Patient/mk-p", caller)).RootElement;
            Assert.Equal(idCard, patient.GetProperty("identifier")[0].GetProperty("value").GetString());
            Assert.Equal(name, patient.GetProperty("name")[0].GetProperty("text").GetString());
            Assert.Equal(idCard != MaskingWorld.IdCard, MaskingPathTests.Labels(patient).Contains(MaskingPathTests.Masked));
        }
    }

    [Fact]
    public async Task A_phone_in_an_observation_s_note_or_extension_is_masked_on_every_read()
    {
        const string phone = "13600004444";
        var json = $$"""
            {"resourceType":"Observation","id":"mk-obs-ext","status":"final",
             "extension":[{"url":"http://example.org/fhir/StructureDefinition/contact-note","valueString":"紧急联系 {{phone}}"}],
             "code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}],"text":"收缩压"},
             "subject":{"reference":"Patient/mk-p"},"effectiveDateTime":"2026-11-02T09:00:00+08:00","valueQuantity":{"value":126,"unit":"mmHg"},
             "note":[{"text":"家属电话{{MaskingWorld.NoteMobile}}"}]}
            """;
        var put = await _c.SendAsync(HttpMethod.Put, "/Observation/mk-obs-ext", json, MaskingWorld.HolderClinician);
        Assert.True(put.StatusCode is HttpStatusCode.OK or HttpStatusCode.Created, await put.Content.ReadAsStringAsync());
        for (var i = 0; i < 3; i++)
        {
            var obs = await Get("/Observation/mk-obs-ext", MaskingWorld.AuthorisedDoctor);
            Assert.Contains("紧急联系 136****4444", obs);
            Assert.Contains("家属电话136****3333", obs);
            Assert.DoesNotContain(phone, obs);
            Assert.DoesNotContain(MaskingWorld.NoteMobile, obs);
            Assert.Contains(MaskingPathTests.Masked, Labels(obs));
            var full = await Get("/Observation/mk-obs-ext", MaskingWorld.HolderClinician);
            Assert.Contains(phone, full);
            Assert.DoesNotContain("MASKED", full);
        }
    }

    [Fact]
    public async Task A_long_decimal_is_a_number_not_a_phone_and_stays_valid_json()
    {
        // 0.13812345678: its digits after the point read like a mobile number (138 1234 5678).
        var json = """
            {"resourceType":"Observation","id":"mk-obs-decimal","status":"final",
             "code":{"coding":[{"system":"http://loinc.org","code":"2339-0"}],"text":"血糖"},
             "subject":{"reference":"Patient/mk-p"},"effectiveDateTime":"2026-11-02T09:00:00+08:00",
             "valueQuantity":{"value":0.13812345678,"unit":"mmol/L"},
             "note":[{"text":"复查电话13812345678"}]}
            """;
        var put = await _c.SendAsync(HttpMethod.Put, "/Observation/mk-obs-decimal", json, MaskingWorld.HolderClinician);
        Assert.True(put.StatusCode is HttpStatusCode.OK or HttpStatusCode.Created, await put.Content.ReadAsStringAsync());
        for (var i = 0; i < 2; i++)
        {
            var obs = JsonDocument.Parse(await Get("/Observation/mk-obs-decimal", MaskingWorld.AuthorisedDoctor)).RootElement;
            Assert.Equal(0.13812345678m, obs.GetProperty("valueQuantity").GetProperty("value").GetDecimal());
            Assert.Equal("复查电话138****5678", obs.GetProperty("note")[0].GetProperty("text").GetString());
        }
    }

    [Fact]
    public void Answers_are_kept_apart_by_content_view_and_own_systems()
    {
        var answers = new ShapedAnswers();
        var a = ShapedAnswers.ContentKey("""{"resourceType":"Patient","id":"a"}"""u8);
        var b = ShapedAnswers.ContentKey("""{"resourceType":"Patient","id":"b"}"""u8);
        Assert.NotEqual(a, b);
        Assert.Equal(a, ShapedAnswers.ContentKey(Encoding.UTF8.GetBytes("""{"resourceType":"Patient","id":"a"}""")));
        var own = ShapedAnswers.OwnKey(new HashSet<string> { "urn:b", "urn:a" });
        Assert.Equal(own, ShapedAnswers.OwnKey(new HashSet<string> { "urn:a", "urn:b" }));
        Assert.Equal("", ShapedAnswers.OwnKey(null));
        Assert.Equal("", ShapedAnswers.OwnKey(new HashSet<string>()));
        var masked = new ShapedAnswer([1, 2, 3], true, false);
        answers.Set(a, MaskView.Masked, own, masked);
        Assert.True(answers.TryGet(a, MaskView.Masked, own, out var hit));
        Assert.Same(masked, hit);
        Assert.False(answers.TryGet(b, MaskView.Masked, own, out _));
        Assert.False(answers.TryGet(a, MaskView.MaskedBirthYear, own, out _));
        Assert.False(answers.TryGet(a, MaskView.Deidentified, own, out _));
        Assert.False(answers.TryGet(a, MaskView.Masked, "", out _));
        Assert.False(answers.TryGet(a, MaskView.Masked, "urn:a", out _));
    }
}
