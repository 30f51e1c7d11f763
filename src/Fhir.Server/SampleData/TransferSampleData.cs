using FhirArchive.Archive.Records;
using FhirArchive.Archive.Transfer;
using FhirArchive.Rest.Search;
using FhirArchive.Rest.Resources;
using FhirArchive.Storage;
using FhirArchive.Terminology;

namespace FhirArchive.Server.SampleData;

/// <summary>
/// Sample transfers (档案转迁), filed through the same procedure as $transfer-request: 李娜's record, asked for by the
/// 万州区高笋塘 centre because she moved to Chongqing, waits for the confirmation of her holder (the demo record
/// administrator's institution); 吴霞's record, closed as lost to follow-up in Chongqing, was taken over by that
/// institution at once (no confirmation needed) and is inside its 180-day cross-district protection period.
/// </summary>
public static class TransferSampleData
{
    private const string Chongqing = "Organization/cq-wz-gst-chc";
    private const string Chaoyang = "Organization/bj-chaoyang-hospital";

    public static async Task LoadAsync(IServiceProvider services, IWriteSession s, CancellationToken ct)
    {
        var scope = services.GetRequiredService<RecordScope>();
        if (!scope.Options.Enabled) return;
        var writer = services.GetRequiredService<ResourceWriter>();
        var parser = services.GetRequiredService<SearchParser>();
        var terminology = services.GetRequiredService<TerminologyService>();
        var options = services.GetRequiredService<TransferOptions>();
        var now = services.GetRequiredService<TimeProvider>().GetUtcNow();

        LookupResult Reason(string code) => TransferRequestEndpoint.Lookup(terminology, TransferTerms.ReasonSystem, code, "reason");
        LookupResult Confirmation(string code) => TransferRequestEndpoint.Lookup(terminology, TransferTerms.ConfirmationSystem, code, "confirmation");

        // Where the sample residents are not records (a server configured without the record profiles), there is nothing to transfer.
        if (await scope.RecordPatientAsync(s, "li-na", ct) is null || await scope.RecordPatientAsync(s, "cq-wu-xia", ct) is null) return;
        await TransferRequestEndpoint.RequestAsync(s, writer, scope, parser, options, Chongqing, "li-na", Reason("2"), Confirmation("1"),
            "居民已迁居重庆市万州区，现场签署知情同意书 / moved to Wanzhou, Chongqing; consent signed on site", null, now, ct);
        await TransferRequestEndpoint.RequestAsync(s, writer, scope, parser, options, Chaoyang, "cq-wu-xia", Reason("7"), Confirmation("3"),
            "流动人员，现居北京市朝阳区，电话确认 / floating population, now living in Chaoyang, confirmed by phone", null, now, ct);
    }
}
