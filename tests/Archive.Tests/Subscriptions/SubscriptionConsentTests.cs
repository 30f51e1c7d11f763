using System.Net;
using System.Text.Json;
using FhirArchive.Archive.Tests.Consent;
using Xunit;
using static FhirArchive.Archive.Tests.Consent.ConsentData;
using static FhirArchive.Tests.Support.Http;

namespace FhirArchive.Archive.Tests.Subscriptions;

/// <summary>
/// Subscriptions under the consent rules: a notification is decided for its subscriber as a read of theirs would be.
/// The adult's record holder sees the mental-health diagnosis; the hospital the adult authorised sees only ordinary data.
/// </summary>
public abstract class SubscriptionConsentTestsBase<TFixture>(TFixture fx) : IAsyncLifetime where TFixture : ServerFixture
{
    private readonly HttpClient _c = fx.Client;

    public async Task InitializeAsync()
    {
        if (fx is IConsentWorld world) await world.SeedOnceAsync();
    }

    public Task DisposeAsync() => Task.CompletedTask;

    private async Task SubscribeAsync(Uri endpoint, (string, string) subscriber)
    {
        var json = $$$"""
            {"resourceType":"Subscription","status":"requested","reason":"随访提醒 / follow-up","criteria":"Condition?patient=Patient/adult",
             "channel":{"type":"rest-hook","endpoint":"{{{endpoint}}}","payload":"application/fhir+json"}}
            """;
        var r = await _c.SendAsync(HttpMethod.Post, "/Subscription", json, subscriber);
        Assert.True(r.StatusCode == HttpStatusCode.Created, await r.Content.ReadAsStringAsync());
    }

    private async Task<string> ConditionAsync(string code)
    {
        var json = $$$"""{"resourceType":"Condition","code":{"coding":[{"system":"{{{Icd10}}}","code":"{{{code}}}"}]},"subject":{"reference":"Patient/adult"}}""";
        var r = await _c.SendAsync(HttpMethod.Post, "/Condition", json, HolderClinician);
        var body = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == HttpStatusCode.Created, body);
        return JsonDocument.Parse(body).RootElement.GetProperty("id").GetString()!;
    }

    [FhirFact]
    public async Task A_notification_carries_only_what_its_subscriber_may_see()
    {
        await using var holderHook = await HookListener.StartAsync();
        await using var hospitalHook = await HookListener.StartAsync();
        await SubscribeAsync(holderHook.Url, HolderClinician);
        await SubscribeAsync(hospitalHook.Url, AuthorisedDoctor);

        var psy = await ConditionAsync("F20.1");
        var ordinary = await ConditionAsync("J06.9");

        // The holder's clinician gets both, the mental-health diagnosis with its code.
        var toHolder = new[] { await holderHook.NextAsync(), await holderHook.NextAsync() };
        Assert.Equal(new[] { $"/hook/Condition/{ordinary}", $"/hook/Condition/{psy}" }.Order(), toHolder.Select(n => n.Path).Order());
        Assert.Contains("F20.1", toHolder.Single(n => n.Path.EndsWith(psy)).Body);

        // The authorised hospital gets the ordinary one only: nothing at all is sent for the diagnosis hidden from it.
        var toHospital = await hospitalHook.NextAsync();
        Assert.Equal($"/hook/Condition/{ordinary}", toHospital.Path);
        await fx.OutboxEmptiedAsync();
        Assert.Equal(1, hospitalHook.Calls);
        Assert.DoesNotContain("F20", toHospital.Body);
    }
}

public sealed class SubscriptionConsentTests(ConsentFixture fx) : SubscriptionConsentTestsBase<ConsentFixture>(fx), IClassFixture<ConsentFixture>;

public sealed class PostgresSubscriptionConsentTests(PostgresConsentFixture fx)
    : SubscriptionConsentTestsBase<PostgresConsentFixture>(fx), IClassFixture<PostgresConsentFixture>;
