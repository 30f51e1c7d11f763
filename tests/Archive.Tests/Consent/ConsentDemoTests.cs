using System.Net;
using Xunit;

namespace FhirArchive.Archive.Tests.Consent;

/// <summary>The security fixture (sample data, demo accounts, real logins) with the consent rules on, as shipped.</summary>
public sealed class ConsentDemoFixture() : SecurityFixture(new Dictionary<string, string> { ["Consent:Enabled"] = "true" });

/// <summary>Each consent rule at work on the sample data with the demo accounts, as README's walk-through shows it.</summary>
public sealed class ConsentDemoTests(ConsentDemoFixture fx) : IClassFixture<ConsentDemoFixture>
{
    private async Task<HttpClient> As(string user, string scope) => fx.With(await fx.DemoTokenAsync(user, scope));

    [Fact]
    public async Task The_sample_data_shows_each_rule_to_the_demo_accounts()
    {
        // The resident's record was opened by the family doctor; the minor's is not.
        var resident = await As("zhangwei", "launch/patient patient/*.rs");
        Assert.Equal(HttpStatusCode.OK, (await resident.GetAsync("/Patient/zhang-wei")).StatusCode);
        Assert.Equal(2, (await resident.SearchIdsAsync("/Observation")).Count);
        Assert.Contains("zhang-wei-anzhen", await resident.SearchIdsAsync("/Consent"));

        // The guardian sees his son's ordinary record, not the mental-health programme's part.
        var guardian = await As("liuqiang", "launch/patient patient/*.rs");
        Assert.Equal(HttpStatusCode.OK, (await guardian.GetAsync("/Patient/liu-yang")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await guardian.GetAsync("/Condition/liu-yang-smd")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await guardian.GetAsync("/Encounter/liu-yang-smd-followup")).StatusCode);
        Assert.Contains("enc-liu-yang", await guardian.SearchIdsAsync("/Encounter"));

        // Dr 吴昊 at another hospital: 张伟 authorised him, nobody else did.
        var other = await As("drwu", "user/*.cruds");
        Assert.Equal(HttpStatusCode.OK, (await other.GetAsync("/Patient/zhang-wei")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await other.GetAsync("/Patient/wang-fang")).StatusCode);
        Assert.Equal(["zhang-wei"], await other.SearchIdsAsync("/Patient"));

        // The holder's clinician sees all of its records, the classified person's and the programme's included.
        var holder = await As("drzhao", "user/*.cruds");
        Assert.Equal(HttpStatusCode.OK, (await holder.GetAsync("/Patient/zhou-mou")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await holder.GetAsync("/Condition/liu-yang-smd")).StatusCode);

        // The mental-health programme staff of the resident's county see the programme's records; the CDC officer
        // of another county sees nothing of it, and nobody outside the holder sees the classified person.
        var mh = await As("mh-wuhou", "user/*.rs");
        Assert.Equal(HttpStatusCode.OK, (await mh.GetAsync("/Condition/liu-yang-smd")).StatusCode);
        var cdc = await As("cdc-chaoyang", "user/*.rs");
        Assert.Equal(HttpStatusCode.NotFound, (await cdc.GetAsync("/Condition/liu-yang-smd")).StatusCode);
        foreach (var c in new[] { other, mh, cdc, resident })
            Assert.Equal(HttpStatusCode.NotFound, (await c.GetAsync("/Patient/zhou-mou")).StatusCode);

        // Researchers never read records.
        var researcher = await As("researcher", "user/*.rs");
        Assert.Empty(await researcher.SearchIdsAsync("/Patient"));
    }
}
