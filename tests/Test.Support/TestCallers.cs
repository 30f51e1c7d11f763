using FhirArchive.Rest.Access;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace FhirArchive.Tests.Support;

/// <summary>
/// Test-only: a request header names the caller ("subject;kind=person;roles=a,b;patient=Patient/1;org=Organization/2").
/// The server side turns it into a real access token for that caller (the role's widest scopes, its first purpose of
/// use), so the request still passes through authentication and the scope and role checks.
/// </summary>
public static class TestCallers
{
    public const string Header = "X-Test-Caller";

    public static void Register(IServiceCollection s) => s.AddTransient<IStartupFilter, Filter>();

    public static (string, string) As(string subject, string roles, string? patient = null, string? org = null, string kind = "person", string? practitioner = null,
        string? jurisdiction = null) =>
        (Header, $"{subject};kind={kind};roles={roles}" + (patient is null ? "" : $";patient={patient}") + (org is null ? "" : $";org={org}")
                 + (practitioner is null ? "" : $";practitioner={practitioner}") + (jurisdiction is null ? "" : $";jurisdiction={jurisdiction}"));

    public static readonly (string, string) Auditor = As("auditor-1", Roles.Auditor);

    private sealed class Filter : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            var tokens = app.ApplicationServices.GetRequiredService<Auth.Tokens.TokenService>();
            app.Use(async (http, nextMiddleware) =>
            {
                if (http.Request.Headers[Header].ToString() is { Length: > 0 } spec)
                {
                    var baseUrl = $"{http.Request.Scheme}://{http.Request.Host}{http.Request.PathBase}";
                    var (token, _) = tokens.CreateAccessToken(Principal(spec), baseUrl);
                    http.Request.Headers.Authorization = "Bearer " + token;
                    http.Request.Headers.Remove(Header);
                }
                await nextMiddleware(http);
            });
            next(app);
        };
    }

    private static Auth.TokenPrincipal Principal(string spec)
    {
        var parts = spec.Split(';');
        var kv = parts.Skip(1).Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
        var roles = kv.GetValueOrDefault("roles", "").Split(',', StringSplitOptions.RemoveEmptyEntries);
        var rules = roles.Select(r => RolePolicy.Rules.GetValueOrDefault(r)).OfType<RolePolicy.Rule>().ToList();
        return new Auth.TokenPrincipal(parts[0], kv.GetValueOrDefault("kind") != "system", parts[0], roles,
            rules.SelectMany(r => r.Ceiling).Distinct().ToList(), kv.GetValueOrDefault("kind") == "system" ? parts[0] : "test-suite",
            Organization: kv.GetValueOrDefault("org"), FhirUser: kv.GetValueOrDefault("practitioner"), Patient: kv.GetValueOrDefault("patient"), Jurisdiction: kv.GetValueOrDefault("jurisdiction"),
            PurposeOfUse: rules.Select(r => r.Purposes[0]).FirstOrDefault());
    }
}
