using System.Globalization;
using System.Text.Json.Nodes;
using FhirArchive.Fhir.Outcomes;
using FhirArchive.Rest.Access;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Rest.Metadata;
using FhirArchive.Rest.Search;
using FhirArchive.Storage;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace FhirArchive.Rest.Bulk;

/// <summary>
/// FHIR Bulk Data Access 2.0 export: the kick-off ($export at system, Patient and Group/[id] level: 202 with
/// Content-Location), the status (<c>/bulk-export/[job]</c>: 202 with X-Progress and Retry-After while it runs, 200 with
/// the manifest when done, 410 once its files expired), its cancellation (DELETE: 202, files removed) and the files
/// (<c>/bulk-export/[job]/[file]</c>). Status and files answer only the requester (the same subject and client; anyone
/// else 404, as for a job that does not exist). Configuration "BulkExport" (<see cref="BulkExportOptions"/>).
/// </summary>
public static class BulkExportEndpoints
{
    public const string Path = "/bulk-export";
    public const string NdjsonType = "application/fhir+ndjson";
    private static readonly FhirOperation SystemExport = FhirOperation.Local(typeof(BulkExportEndpoints).Assembly, "export");
    private static readonly FhirOperation PatientExport = FhirOperation.Local(typeof(BulkExportEndpoints).Assembly, "patient-export");
    private static readonly FhirOperation GroupExport = FhirOperation.Local(typeof(BulkExportEndpoints).Assembly, "group-export");
    /// <summary>The status and file endpoints' interaction: a read of the requester's own job.</summary>
    private static readonly InteractionKind Status = InteractionKind.Operation("$export-status");

    public static IServiceCollection AddBulkExport(this IServiceCollection services, IConfiguration configuration)
    {
        var options = configuration.GetSection("BulkExport").Get<BulkExportOptions>() ?? new BulkExportOptions();
        services.AddSingleton(options);
        services.AddSchemaPart(BulkExportSchema.Part);
        services.AddSingleton<BulkExportJobs>();
        // The domain's policy (registered by a module) decides who exports what; without one, system clients only.
        services.TryAddSingleton<IBulkExportPolicy, SystemClientExportPolicy>();
        services.TryAddSingleton<IBulkExportAudit, NoBulkExportAudit>();
        if (options.Enabled && options.Run)
        {
            services.AddSingleton<BulkExportWorker>();
            services.AddHostedService(sp => sp.GetRequiredService<BulkExportWorker>());
        }
        return services;
    }

    public static void MapBulkExport(this IEndpointRouteBuilder fhir)
    {
        if (!fhir.ServiceProvider.GetRequiredService<BulkExportOptions>().Enabled) return;
        fhir.MapOperation(SystemExport, OperationLevel.System, (HttpContext http, IServiceProvider sp) => KickOffAsync(http, sp, BulkExportLevel.System, null))
            .WithTags("Bulk Data").WithSummary("Bulk Data $export of every resource the caller may export (Prefer: respond-async)");
        fhir.MapOperation(PatientExport, OperationLevel.Type, (HttpContext http, IServiceProvider sp) => KickOffAsync(http, sp, BulkExportLevel.Patient, null))
            .WithTags("Bulk Data").WithSummary("Bulk Data $export of every patient's record data (Prefer: respond-async)");
        fhir.MapOperation(GroupExport, OperationLevel.Instance, (HttpContext http, string id, IServiceProvider sp) => KickOffAsync(http, sp, BulkExportLevel.Group, id))
            .WithTags("Bulk Data").WithSummary("Bulk Data $export of the Group's member patients' record data (Prefer: respond-async)");
        fhir.MapGet(Path + "/{job}", StatusAsync).WithInteraction(Status).WithTags("Bulk Data").WithSummary("export status: 202 while running, 200 with the manifest");
        fhir.MapDelete(Path + "/{job}", CancelAsync).WithInteraction(Status).WithTags("Bulk Data").WithSummary("cancel an export and delete its files");
        fhir.MapGet(Path + "/{job}/{file}", FileAsync).WithInteraction(Status).WithMetadata(new AnswersOwnFormat())
            .WithTags("Bulk Data").WithSummary("one NDJSON file of a completed export");
    }

    private static async Task KickOffAsync(HttpContext http, IServiceProvider sp, BulkExportLevel level, string? group)
    {
        var ct = http.RequestAborted;
        var jobs = sp.GetRequiredService<BulkExportJobs>();
        var options = sp.GetRequiredService<BulkExportOptions>();
        var patients = group is null ? null : await GroupMembersAsync(http, sp, group);
        var requested = await BulkExportRequest.ParseAsync(http, level, group, patients, sp.GetRequiredService<SearchParser>(),
            sp.GetRequiredService<StorageOptions>(), () => jobs.StoredTypesAsync(ct));
        var spec = await sp.GetRequiredService<IBulkExportPolicy>().AuthorizeAsync(http, requested);
        var caller = http.GetCaller();
        if (await jobs.ActiveCountAsync(BulkExportJobs.OwnerOf(caller), ct) >= options.MaxActivePerCaller)
            throw new FhirException(429, "throttled", $"At most {options.MaxActivePerCaller} exports may run at once for one requester; wait for one to finish or cancel one.");
        var job = await jobs.CreateAsync(caller, spec, ct);
        sp.GetService<BulkExportWorker>()?.Nudge();
        http.Response.Headers.ContentLocation = $"{FhirHeaders.BaseUrl(http.Request)}{Path}/{job.Id}";
        await FhirFormats.WriteNodeAsync(http, 202, OperationOutcomes.Create(
            [new FhirIssue(IssueSeverity.Information, "informational", $"Export {job.Id} accepted: poll its Content-Location for the status.")]));
    }

    /// <summary>The Patients a Group names as members, when the caller may see the Group (else 404, as for a missing one).</summary>
    private static async Task<IReadOnlyList<string>> GroupMembersAsync(HttpContext http, IServiceProvider sp, string id)
    {
        var guard = sp.GetRequiredService<ReadGuard>();
        var stored = await sp.GetRequiredService<IResourceStore>().ReadAsync("Group", id, http.RequestAborted);
        var shown = await guard.RunAsync(http, "read", "Group", async access => await guard.ShowOrGoneAsync(access, stored));
        if (shown is null) throw FhirException.NotFound($"Group/{id} is not known.");
        if (shown.IsDeleted) throw FhirException.Gone($"Group/{id} has been deleted.");
        var node = FhirFormats.ParseStored(shown.Json!);
        return [.. node.ChildrenNamed("member").Select(m => m.Child("entity")?.Child("reference")?.Value)
            .OfType<string>().Where(r => r.StartsWith("Patient/", StringComparison.Ordinal)).Select(r => r["Patient/".Length..]).Distinct()];
    }

    /// <summary>The requester's job (anyone else: 404, as for a job that does not exist).</summary>
    private static async Task<BulkExportJobRow> OwnJobAsync(HttpContext http, BulkExportJobs jobs, string id)
    {
        var job = await jobs.FindAsync(id, http.RequestAborted);
        if (job is null || job.Owner != BulkExportJobs.OwnerOf(http.GetCaller())) throw FhirException.NotFound($"No export {id} of yours is known.");
        return job;
    }

    private static async Task StatusAsync(HttpContext http, string job, BulkExportJobs jobs, BulkExportOptions options, TimeProvider clock)
    {
        var row = await OwnJobAsync(http, jobs, job);
        var spec = BulkExportSpec.FromJson(row.Spec);
        var progress = BulkExportProgress.FromJson(row.Progress);
        switch (row.Status)
        {
            case BulkExportJobs.Accepted or BulkExportJobs.Running:
                var done = progress.Files.Sum(f => f.Count);
                http.Response.Headers["X-Progress"] = row.Status == BulkExportJobs.Accepted ? "queued"
                    : $"type {Math.Min(progress.TypeIndex + 1, spec.Types.Count)} of {spec.Types.Count}, {done} resources written";
                http.Response.Headers.RetryAfter = options.RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
                http.Response.StatusCode = 202;
                return;
            case BulkExportJobs.Failed:
                throw new FhirException(500, "exception", row.Error ?? "The export failed.");
            case BulkExportJobs.Completed when row.Expires > clock.GetUtcNow().UtcTicks:
                var baseUrl = FhirHeaders.BaseUrl(http.Request);
                var manifest = new JsonObject
                {
                    ["transactionTime"] = new DateTimeOffset(row.Created, TimeSpan.Zero).ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture),
                    ["request"] = spec.Request,
                    ["requiresAccessToken"] = true,
                    ["output"] = new JsonArray([.. progress.Files.Select(f => (JsonNode)new JsonObject
                    {
                        ["type"] = f.Type, ["url"] = $"{baseUrl}{Path}/{row.Id}/{f.Name}", ["count"] = f.Count,
                    })]),
                    ["error"] = new JsonArray(),
                };
                http.Response.Headers.Expires = new DateTimeOffset(row.Expires!.Value, TimeSpan.Zero).ToString("R", CultureInfo.InvariantCulture);
                http.Response.StatusCode = 200;
                http.Response.ContentType = "application/json";
                await http.Response.Body.WriteAsync(FhirFormats.Utf8(manifest), http.RequestAborted);
                return;
            default:
                throw FhirException.Gone($"Export {row.Id} has expired: its files were deleted.");
        }
    }

    private static async Task CancelAsync(HttpContext http, string job, BulkExportJobs jobs)
    {
        var row = await OwnJobAsync(http, jobs, job);
        await jobs.DeleteAsync(row.Id, http.RequestAborted);
        await FhirFormats.WriteNodeAsync(http, 202, OperationOutcomes.Create(
            [new FhirIssue(IssueSeverity.Information, "informational", $"Export {row.Id} cancelled; its files are deleted.")]));
    }

    private static async Task FileAsync(HttpContext http, string job, string file, BulkExportJobs jobs, TimeProvider clock)
    {
        var row = await OwnJobAsync(http, jobs, job);
        if (row.Status == BulkExportJobs.Expired || (row.Status == BulkExportJobs.Completed && row.Expires <= clock.GetUtcNow().UtcTicks))
            throw FhirException.Gone($"Export {row.Id} has expired: its files were deleted.");
        var entry = row.Status == BulkExportJobs.Completed ? BulkExportProgress.FromJson(row.Progress).Files.FirstOrDefault(f => f.Name == file) : null;
        var path = entry is null ? null : System.IO.Path.Combine(jobs.FolderOf(row.Id), entry.Name);
        if (path is null || !File.Exists(path)) throw FhirException.NotFound($"Export {row.Id} has no file '{file}'.");
        http.Response.StatusCode = 200;
        http.Response.ContentType = NdjsonType;
        http.Response.ContentLength = new FileInfo(path).Length;
        await http.Response.SendFileAsync(path, http.RequestAborted);
    }
}
