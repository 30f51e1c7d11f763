using FhirArchive.Fhir.Model;
using FhirArchive.Rest.Access;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Rest.Metadata;
using FhirArchive.Rest.Resources;
using FhirArchive.Rest.Writing;
using FhirArchive.Storage;

namespace FhirArchive.Archive.Records;

/// <summary>
/// A record workflow decided by Task/{id}/$approve and $reject: the Task's code (record-task-type) says which one
/// (correction, transfer…). Each module registers its workflow; the one pair of operations dispatches to it, inside
/// one write session, so a decision and everything it changes commit together.
/// </summary>
public interface ITaskWorkflow
{
    /// <summary>The record-task-type code this workflow decides.</summary>
    string Code { get; }

    /// <summary>Approves the open Task (already read in <paramref name="d"/>); returns the Task as stored afterwards.</summary>
    Task<StoredResource> ApproveAsync(TaskDecision d);

    /// <summary>Rejects the open Task for <see cref="TaskDecision.Reason"/>; returns the Task as stored afterwards.</summary>
    Task<StoredResource> RejectAsync(TaskDecision d);
}

/// <summary>One decision on a Task: the session, the Task as it stands, who decides, when, and their words.</summary>
public sealed record TaskDecision(IWriteSession Session, string Id, ElementNode Task, Caller Caller, DateTimeOffset Now, string? Comment, string? Reason, CancellationToken Ct)
{
    public string NowInstant => FhirInstant.Of(Now);
}

/// <summary>Task/{id}/$approve and $reject for every registered <see cref="ITaskWorkflow"/>.</summary>
public static class TaskDecisions
{
    public const string TaskTypeSystem = "http://fhirarchive.cn/fhir/CodeSystem/record-task-type";

    public static void Map(IEndpointRouteBuilder app)
    {
        var local = typeof(TaskDecisions).Assembly;
        app.MapOperation(FhirOperation.Local(local, "Task-approve"), OperationLevel.Instance, Approve).WithTags("Records").WithSummary("approve a record task: a correction, a transfer (审批)");
        app.MapOperation(FhirOperation.Local(local, "Task-reject"), OperationLevel.Instance, Reject).WithTags("Records").WithSummary("reject a record task (reason)");
    }

    private static async Task Approve(HttpContext ctx, string id, IServiceProvider sp)
    {
        var p = await OperationParameters.ReadAsync(ctx);
        await DecideAsync(ctx, id, sp, p.Value("comment"), null, (w, d) => w.ApproveAsync(d));
    }

    private static async Task Reject(HttpContext ctx, string id, IServiceProvider sp)
    {
        var p = await OperationParameters.ReadAsync(ctx);
        // The seed (四(二)): an institution may not refuse without a reason; every workflow's refusal names one.
        var reason = p.Value("reason") is { Length: > 0 } r && !string.IsNullOrWhiteSpace(r) ? r
            : throw FhirException.BadRequest("A rejection needs its reason ('reason') / 驳回须说明理由");
        await DecideAsync(ctx, id, sp, p.Value("comment"), reason, (w, d) => w.RejectAsync(d));
    }

    private static async Task DecideAsync(HttpContext ctx, string id, IServiceProvider sp,
        string? comment, string? reason, Func<ITaskWorkflow, TaskDecision, Task<StoredResource>> decide)
    {
        var (store, workflows, clock) = (sp.GetRequiredService<IResourceStore>(), sp.GetServices<ITaskWorkflow>().ToList(), sp.GetRequiredService<TimeProvider>());
        var caller = ctx.GetCaller();
        var task = await ResourceEndpoints.InSessionAsync(ctx, store, async s =>
        {
            var node = RecordScope.Parse(await s.ReadAsync("Task", id, ctx.RequestAborted)) ?? throw FhirException.NotFound($"Task/{id} is not known.");
            var code = CodeOf(node);
            var workflow = workflows.FirstOrDefault(w => w.Code == code)
                ?? throw FhirException.Unprocessable($"Task/{id} is not a record task decided by $approve / $reject (code {TaskTypeSystem}|{string.Join(" or ", workflows.Select(w => w.Code))}) / 该任务不是可审批的档案业务任务");
            return await decide(workflow, new TaskDecision(s, id, node, caller, clock.GetUtcNow(), comment, reason, ctx.RequestAborted));
        });
        await FhirFormats.WriteJsonBytesAsync(ctx, 200, task.Json!);
    }

    /// <summary>The Task's record-task-type code, or null.</summary>
    public static string? CodeOf(ElementNode? task) =>
        task?.Child("code")?.ChildrenNamed("coding").FirstOrDefault(c => c.Child("system")?.Value == TaskTypeSystem)?.Child("code")?.Value;

    /// <summary>Whether the Task still waits for a decision.</summary>
    public static bool IsOpen(ElementNode task) => task.Child("status")?.Value is "draft" or "requested" or "received" or "ready";

    /// <summary>Sets status and lastModified.</summary>
    public static void SetStatus(ElementNode task, string status, string now)
    {
        task.RemoveAll("status");
        task.Add("status", status);
        task.RemoveAll("lastModified");
        task.Add("lastModified", now);
    }
}
