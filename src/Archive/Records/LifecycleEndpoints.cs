using System.Globalization;
using FhirArchive.Fhir.Model;
using FhirArchive.Rest.Access;
using FhirArchive.Rest.Metadata;
using FhirArchive.Rest.Resources;
using FhirArchive.Rest.Search;
using FhirArchive.Rest.Writing;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Storage;
using FhirArchive.Storage.Indexing;

namespace FhirArchive.Archive.Records;

/// <summary>
/// The record's lifecycle (Chongqing rules 六): Patient/{id}/$close seals a record (reason lost / deceased / moved out,
/// date, cause of death), Patient/{id}/$reactivate brings a lost or moved-out one back, and Patient/{id}/$purge lets
/// an administrator remove a record sealed longer than the retention period. Closing and reactivating are for whoever
/// maintains the record (<see cref="RecordMaintainer"/>). Every call is audited by the audit trail.
/// </summary>
public static class LifecycleEndpoints
{
    public static void Map(IEndpointRouteBuilder app)
    {
        var local = typeof(LifecycleEndpoints).Assembly;
        app.MapOperation(FhirOperation.Local(local, "Patient-close"), OperationLevel.Instance, Close).WithTags("Records").WithSummary("seal a record: reason (inactive-lost | inactive-death | inactive-moved), date, cause (档案终止)");
        app.MapOperation(FhirOperation.Local(local, "Patient-reactivate"), OperationLevel.Instance, Reactivate).WithTags("Records").WithSummary("bring a lost or moved-out record back into active management (重新启用)");
        app.MapOperation(FhirOperation.Local(local, "Patient-purge"), OperationLevel.Instance, Purge).WithTags("Records").WithSummary("administrators: remove a record sealed for longer than the retention period");
    }

    private static async Task Close(HttpContext ctx, string id, IResourceStore store, ResourceWriter writer, RecordScope scope, TimeProvider clock)
    {
        RequireInstitution(ctx);
        var p = await OperationParameters.ReadAsync(ctx);
        var reason = p.Required("reason");
        if (!RecordStatus.CloseReasons.Contains(reason))
            throw FhirException.BadRequest($"Unknown reason '{reason}': use {string.Join(", ", RecordStatus.CloseReasons)}.");
        var date = p.Value("date") ?? clock.GetUtcNow().ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        if (!DateTimeOffset.TryParse(date, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out _) && !DateOnly.TryParse(date, CultureInfo.InvariantCulture, out _))
            throw FhirException.BadRequest($"'{date}' is not a date.");
        var cause = p.Value("cause");
        if (reason == RecordStatus.Deceased && cause is null)
            throw FhirException.BadRequest("A deceased record needs the cause of death ('cause') / 死亡终止须录入死因");
        var stored = await ResourceEndpoints.InSessionAsync(ctx, store, async s =>
        {
            var patient = await ActiveRecordAsync(s, scope, id, ctx.RequestAborted);
            RecordMaintainer.Demand(ctx.GetCaller(), patient, id, clock.GetUtcNow());
            var status = RecordStatus.Get(patient);
            if (RecordStatus.IsSealed(status)) throw FhirException.Conflict($"Patient/{id} is already sealed (record status {status}).");
            RecordStatus.Set(patient, reason);
            if (reason == RecordStatus.Deceased)
            {
                patient.RemoveAll("deceased");
                patient.Add("deceased", date, "dateTime");
            }
            return await WriteAsync(s, writer, ctx.GetCaller(), patient, id, reason, date, cause, ctx.RequestAborted);
        });
        await FhirFormats.WriteJsonBytesAsync(ctx, 200, stored.Json!);
    }

    private static async Task Reactivate(HttpContext ctx, string id, IResourceStore store, ResourceWriter writer, RecordScope scope, TimeProvider clock)
    {
        RequireInstitution(ctx);
        var p = await OperationParameters.ReadAsync(ctx);
        var stored = await ResourceEndpoints.InSessionAsync(ctx, store, async s =>
        {
            var patient = await ActiveRecordAsync(s, scope, id, ctx.RequestAborted);
            RecordMaintainer.Demand(ctx.GetCaller(), patient, id, clock.GetUtcNow());
            var status = RecordStatus.Get(patient);
            switch (status)
            {
                case null or RecordStatus.Active: throw FhirException.Conflict($"Patient/{id} is active already.");
                case RecordStatus.Deceased: throw FhirException.Conflict($"Patient/{id} is the record of a deceased person: it is not reactivated or transferred / 死亡终止的档案不再启用");
                case RecordStatus.Merged: throw FhirException.Conflict($"Patient/{id} was merged into another record: use that one.");
            }
            RecordStatus.Set(patient, RecordStatus.Active);
            var date = clock.GetUtcNow().ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
            return await WriteAsync(s, writer, ctx.GetCaller(), patient, id, RecordStatus.Active, date, p.Value("reason"), ctx.RequestAborted);
        });
        await FhirFormats.WriteJsonBytesAsync(ctx, 200, stored.Json!);
    }

    private static async Task Purge(HttpContext ctx, string id, IResourceStore store, RecordScope scope, SearchParser parser, TimeProvider clock)
    {
        var caller = ctx.GetCaller();
        if (!caller.HasRole(Roles.RecordAdministrator))
            throw new FhirException(403, "forbidden", "Only a record administrator may purge a record.");
        var purged = await ResourceEndpoints.InSessionAsync(ctx, store, async s =>
        {
            var current = await s.ReadAsync("Patient", id, ctx.RequestAborted);
            var patient = RecordScope.Parse(current);
            if (current is null || patient is null || !scope.IsRecordPatient(patient)) throw FhirException.NotFound($"Patient/{id} is not a record.");
            var status = RecordStatus.Get(patient);
            if (!RecordStatus.IsSealed(status)) throw FhirException.Conflict($"Patient/{id} is active: only sealed records are purged.");
            // Sealed records take no writes, so the sealed version's time is the time of archiving.
            var until = current.LastUpdated.AddYears(scope.Options.RetentionYears);
            if (clock.GetUtcNow() < until)
                throw FhirException.Conflict($"Patient/{id} was sealed on {current.LastUpdated:yyyy-MM-dd}: it is kept until {until:yyyy-MM-dd} ({scope.Options.RetentionYears} years) / 已归档档案至少保存{scope.Options.RetentionYears}年");
            var count = 0;
            foreach (var type in scope.Options.ServiceRecordTypes)
            {
                var param = SearchParameterRegistry.R4.Get(type, "subject") is not null ? "subject" : SearchParameterRegistry.R4.Get(type, "patient") is not null ? "patient" : null;
                if (param is null) continue;
                while (true)
                {
                    var (query, _) = await parser.ParseAsync(type, [new(param, "Patient/" + id)], strict: true, ctx.RequestAborted, s);
                    query.Count = 100;
                    query.IncludeTotal = false;
                    var page = (await s.SearchAsync(query, ctx.RequestAborted)).Matches;
                    foreach (var r in page) await s.PurgeAsync(r.ResourceType, r.Id, ctx.RequestAborted);
                    count += page.Count;
                    if (page.Count < query.Count) break;
                }
            }
            await s.PurgeAsync("Patient", id, ctx.RequestAborted);
            await s.ReleaseUniqueAsync(IdentityKeyInterceptor.KeyScope, "Patient/" + id, [], ctx.RequestAborted);
            return count;
        });
        var result = FhirParameters.Create();
        FhirParameters.Add(result, "purged", $"Patient/{id}", "string");
        FhirParameters.Add(result, "serviceRecords", purged.ToString(CultureInfo.InvariantCulture), "integer");
        await FhirFormats.WriteNodeAsync(ctx, 200, result);
    }

    /// <summary>Status changes are made for an institution (the server's own jobs too); anonymous callers may not.</summary>
    private static void RequireInstitution(HttpContext ctx)
    {
        var caller = ctx.GetCaller();
        if (caller.Organization is null && !caller.HasRole(Roles.Server))
            throw new FhirException(403, "forbidden", "Closing or reactivating a record is done for an institution: the caller acts for none.");
    }

    private static async Task<ElementNode> ActiveRecordAsync(IWriteSession s, RecordScope scope, string id, CancellationToken ct)
    {
        var current = await s.ReadAsync("Patient", id, ct);
        if (current is null || current.IsDeleted) throw FhirException.NotFound($"Patient/{id} is not known.");
        var patient = RecordScope.Parse(current)!;
        if (!scope.IsRecordPatient(patient)) throw FhirException.Unprocessable($"Patient/{id} is not a resident record (profile {scope.Options.PatientProfile}).");
        return patient;
    }

    /// <summary>Writes the new status as a lifecycle procedure, with a Provenance saying what changed, when, and why.</summary>
    public static async Task<StoredResource> WriteAsync(IWriteSession s, ResourceWriter writer, Caller caller, ElementNode patient, string id,
        string status, string date, string? reason, CancellationToken ct)
    {
        var stored = (await writer.UpdateAsync(s, patient, "Patient", id, null, ct, WriteIntent.Update.For(RecordProcedure.Lifecycle))).Stored;
        var provenance = new ProvenanceBuilder(stored, date, FhirInstant.Of(stored.LastUpdated))
            .Activity(RecordStatus.System, status)
            .Reason(reason)
            .Actor("author", caller)
            .Build();
        await writer.CreateAsync(s, provenance, "Provenance", null, ct, intent: WriteIntent.Create.For(RecordProcedure.Lifecycle));
        return stored;
    }
}
