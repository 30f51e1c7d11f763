using System.Text;
using FhirArchive.Fhir.Model;
using FhirArchive.Rest.Access;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Rest.Writing;
using Microsoft.Extensions.DependencyInjection;

namespace FhirArchive.Rest.Tests;

/// <summary>One interceptor call, as a line: "A before Update? v2 current=1", "B after Delete v4 current=3 no-http companion".</summary>
public sealed record WriteCall(string Interceptor, string Phase, string ResourceType, string Id, string Line);

public sealed class WriteLog
{
    private readonly List<WriteCall> _calls = [];

    public void Add(string interceptor, string phase, WriteContext c)
    {
        var line = $"{interceptor} {phase} {c.Interaction}{(c.Conditional ? "?" : "")} v{c.Version} current={c.Current?.Version.ToString() ?? "-"}"
                   + (c.CreatesResource ? " creates" : "") + (c.Http is null ? " no-http" : "") + (c.Parent is null ? "" : " companion");
        lock (_calls) _calls.Add(new WriteCall(interceptor, phase, c.ResourceType, c.Id, line));
    }

    public List<string> For(string type, string id)
    {
        lock (_calls) return _calls.Where(c => c.ResourceType == type && c.Id == id).Select(c => c.Line).ToList();
    }

    public List<WriteCall> All()
    {
        lock (_calls) return [.. _calls];
    }
}

/// <summary>Records its calls; registered twice (A first, B last) to show the order.</summary>
public sealed class RecordingInterceptor(string name, WriteLog log) : IWriteInterceptor
{
    public ValueTask BeforeWriteAsync(WriteContext context)
    {
        if (context.Stored is not null) throw new InvalidOperationException("Stored is set before the write");
        log.Add(name, "before", context);
        return ValueTask.CompletedTask;
    }

    public ValueTask AfterWriteAsync(WriteContext context)
    {
        if (context.Stored is not { } s || s.Version != context.Version || s.Id != context.Id) throw new InvalidOperationException("Stored is not the written version");
        log.Add(name, "after", context);
        return ValueTask.CompletedTask;
    }
}

/// <summary>Stamps meta.source and a security label on every written resource (what the labelling issue will do).</summary>
public sealed class StampingInterceptor : IWriteInterceptor
{
    public const string Source = "urn:fhirarchive:test-interceptor";
    public const string LabelSystem = "urn:fhirarchive:test-labels";

    public ValueTask BeforeWriteAsync(WriteContext context)
    {
        if (context.Resource is not { } r) return ValueTask.CompletedTask;
        var meta = r.Child("meta") ?? r.Add("meta");
        meta.RemoveAll("source");
        meta.Add("source", Source);
        if (!meta.ChildrenNamed("security").Any(l => l.Child("system")?.Value == LabelSystem))
        {
            var label = meta.Add("security");
            label.Add("system", LabelSystem);
            label.Add("code", "stamped");
        }
        return ValueTask.CompletedTask;
    }

    public ValueTask AfterWriteAsync(WriteContext context) => ValueTask.CompletedTask;
}

/// <summary>
/// Refuses resources holding the value "Forbidden" (409, before the write), deletions of resources holding
/// "Undeletable" (409) and, after the write, resources holding "LateVeto" (422: the written version must roll back).
/// </summary>
public sealed class RejectingInterceptor : IWriteInterceptor
{
    public const string Message = "refused by the test interceptor";

    public ValueTask BeforeWriteAsync(WriteContext context)
    {
        if (context.Resource is { } r && Holds(r, "Forbidden")) throw FhirException.Conflict($"{context.ResourceType}: {Message}.");
        if (context.Interaction == WriteInteraction.Delete && Encoding.UTF8.GetString(context.Current!.Json!).Contains("Undeletable"))
            throw FhirException.Conflict($"Deletion {Message}.");
        return ValueTask.CompletedTask;
    }

    public ValueTask AfterWriteAsync(WriteContext context)
    {
        if (context.Resource is { } r && Holds(r, "LateVeto")) throw FhirException.Unprocessable($"After the write: {Message}.");
        return ValueTask.CompletedTask;
    }

    private static bool Holds(ElementNode r, string value) => r.Descendants().Any(n => n.Value == value);
}

/// <summary>Accepts resources holding "Warned" with a warning (WriteContext.Warn): the write stands and the answer says so.</summary>
public sealed class WarningInterceptor : IWriteInterceptor
{
    public const string Message = "accepted with a test warning / 测试警告";

    public ValueTask BeforeWriteAsync(WriteContext context)
    {
        if (context.Resource is { } r && r.Descendants().Any(n => n.Value == "Warned"))
            context.Warn(new FhirArchive.Fhir.Outcomes.FhirIssue(FhirArchive.Fhir.Outcomes.IssueSeverity.Warning, "business-rule", Message));
        return ValueTask.CompletedTask;
    }

    public ValueTask AfterWriteAsync(WriteContext context) => ValueTask.CompletedTask;
}

/// <summary>Writes a Provenance for every Encounter version, in the same session (what the provenance issue will do).</summary>
public sealed class ProvenanceInterceptor : IWriteInterceptor
{
    public ValueTask BeforeWriteAsync(WriteContext context) => ValueTask.CompletedTask;

    public ValueTask AfterWriteAsync(WriteContext context)
    {
        if (context.ResourceType != "Encounter" || context.Resource is null || context.Parent is not null) return ValueTask.CompletedTask;
        var s = context.Stored!;
        var json = $$$"""
            {"resourceType":"Provenance","target":[{"reference":"Encounter/{{{s.Id}}}/_history/{{{s.Version}}}"}],
             "recorded":"{{{s.LastUpdated.UtcDateTime:yyyy-MM-dd'T'HH:mm:ss.fff'Z'}}}",
             "agent":[{"who":{"display":"test interceptor"}}]}
            """;
        context.AddCompanion(FhirFormats.Parse(Encoding.UTF8.GetBytes(json), FhirFormat.Json));
        return ValueTask.CompletedTask;
    }
}

/// <summary>Hides resources holding "policy-hidden"; records the interactions it was asked about.</summary>
public sealed class HidingAccessPolicy : IAccessPolicy
{
    public List<string> Interactions { get; } = [];

    public ValueTask OnStartAsync(AccessContext context)
    {
        lock (Interactions) Interactions.Add(context.Interaction);
        return ValueTask.CompletedTask;
    }

    public ValueTask<Storage.StoredResource?> ShowAsync(AccessContext context, Storage.StoredResource resource) =>
        ValueTask.FromResult<Storage.StoredResource?>((resource.Json is null || !Encoding.UTF8.GetString(resource.Json).Contains("policy-hidden")) ? resource : null);

    public ValueTask OnEndAsync(AccessContext context) => ValueTask.CompletedTask;
}

public static class WriteInterceptorSetup
{
    /// <summary>Sample data loads too: the loader's writes must go through the interceptors.</summary>
    public static readonly Dictionary<string, string> Settings = new() { ["SampleData:Load"] = "true" };

    public static void Register(IServiceCollection s)
    {
        s.AddSingleton<WriteLog>();
        s.AddSingleton<IWriteInterceptor>(sp => new RecordingInterceptor("A", sp.GetRequiredService<WriteLog>()));
        s.AddSingleton<IWriteInterceptor, StampingInterceptor>();
        s.AddSingleton<IWriteInterceptor, RejectingInterceptor>();
        s.AddSingleton<IWriteInterceptor, WarningInterceptor>();
        s.AddSingleton<IWriteInterceptor, ProvenanceInterceptor>();
        s.AddSingleton<IWriteInterceptor>(sp => new RecordingInterceptor("B", sp.GetRequiredService<WriteLog>()));
        s.AddSingleton<HidingAccessPolicy>();
        s.AddSingleton<IAccessPolicy>(sp => sp.GetRequiredService<HidingAccessPolicy>());
    }
}

public sealed class InterceptorFixture() : ServerFixtureWith(WriteInterceptorSetup.Settings, WriteInterceptorSetup.Register);

public sealed class PostgresInterceptorFixture() : PostgresServerFixture(WriteInterceptorSetup.Settings, WriteInterceptorSetup.Register);
