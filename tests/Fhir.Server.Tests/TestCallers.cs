using FhirArchive.Server.Access;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace FhirArchive.Server.Tests;

/// <summary>Test-only: a request header names the caller ("subject;kind=person;roles=a,b;patient=Patient/1;org=Organization/2").</summary>
public static class TestCallers
{
    public const string Header = "X-Test-Caller";

    public static void Register(IServiceCollection s) => s.AddTransient<IStartupFilter, Filter>();

    public static (string, string) As(string subject, string roles, string? patient = null, string? org = null, string kind = "person", string? practitioner = null) =>
        (Header, $"{subject};kind={kind};roles={roles}" + (patient is null ? "" : $";patient={patient}") + (org is null ? "" : $";org={org}")
                 + (practitioner is null ? "" : $";practitioner={practitioner}"));

    public static readonly (string, string) Auditor = As("auditor-1", Roles.Auditor);

    private sealed class Filter : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use(async (http, nextMiddleware) =>
            {
                if (http.Request.Headers[Header].ToString() is { Length: > 0 } spec) http.SetCaller(Parse(spec));
                await nextMiddleware(http);
            });
            next(app);
        };
    }

    private static Caller Parse(string spec)
    {
        var parts = spec.Split(';');
        var kv = parts.Skip(1).Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
        return new Caller(kv.GetValueOrDefault("kind") == "system" ? CallerKind.System : CallerKind.Person, parts[0], parts[0],
            kv.GetValueOrDefault("roles", "").Split(',', StringSplitOptions.RemoveEmptyEntries).ToHashSet(), [],
            Organization: kv.GetValueOrDefault("org"), Practitioner: kv.GetValueOrDefault("practitioner"), Patient: kv.GetValueOrDefault("patient"), PurposeOfUse: "TREAT");
    }
}
