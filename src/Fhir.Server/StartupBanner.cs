using FhirArchive.Auth;
using FhirArchive.Auth.Endpoints;
using FhirArchive.Auth.Tokens;

namespace FhirArchive.Server;

/// <summary>
/// What the server prints once it listens, in English and Chinese: the addresses to open (the web app, FHIR base, Swagger UI, the
/// login page), the electronic health card verifier and whether the demo accounts are on. The base printed is the one tokens are issued for: the README,
/// scripts/get-token.sh and scripts/demo.sh use the same, <see cref="DefaultUrl"/>.
/// </summary>
public static class StartupBanner
{
    /// <summary>Where the server listens when nothing else is configured (Kestrel's own default would be http://localhost:5000).</summary>
    public const string DefaultUrl = "http://127.0.0.1:5000";

    /// <summary>Whether the start-up configuration names its own addresses (--urls, ASPNETCORE_URLS, ASPNETCORE_HTTP_PORTS, Kestrel:Endpoints).</summary>
    public static bool UrlsConfigured(IConfiguration c) =>
        !string.IsNullOrEmpty(c["urls"]) || !string.IsNullOrEmpty(c["http_ports"]) || !string.IsNullOrEmpty(c["https_ports"])
        || c.GetSection("Kestrel:Endpoints").Exists();

    /// <summary>The lines to print: one "listening on" line per address (tests/clients/server.sh reads it), then where to go.</summary>
    /// <param name="listening">The addresses bound (after start: the real ports).</param>
    /// <param name="auth">Security: Security:BaseUrl, when set, is the base the tokens name whatever the address.</param>
    /// <param name="healthCard">Which electronic health card verifier is active (its description), when known.</param>
    /// <param name="webApp">Whether the web app is served (at <see cref="WebApp.WebAppHost.Path"/>): then it is the first address to open.</param>
    public static IReadOnlyList<string> Lines(IEnumerable<string> listening, AuthOptions auth, bool demoAccounts, string? healthCard = null, bool webApp = false)
    {
        var urls = listening.Select(u => u.TrimEnd('/')).ToList();
        var lines = urls.Select(u => $"FhirArchive FHIR R4 server listening on {u} / 居民电子健康档案 FHIR 服务已启动").ToList();
        if (urls.Count == 0) return lines;
        var fhirBase = auth.BaseUrl?.TrimEnd('/') ?? Reachable(urls[0]);
        if (webApp) lines.Add($"  Web app / Web 应用:              {fhirBase}{WebApp.WebAppHost.Path}");
        lines.Add($"  FHIR base / FHIR 服务地址:       {fhirBase}   (CapabilityStatement / 能力声明: {fhirBase}/metadata)");
        lines.Add($"  Swagger UI / 接口文档:           {fhirBase}/swagger");
        if (healthCard is not null) lines.Add($"  Health card / 电子健康卡:         {healthCard}");
        if (!auth.Enabled)
        {
            lines.Add("  Security is OFF: no token needed / 安全认证已关闭，无需令牌 (Security:Enabled=false)");
            return lines;
        }
        if (demoAccounts)
        {
            lines.Add($"  Login page / 登录页:             {LoginPage(fhirBase)}");
            lines.Add($"  Demo accounts ON / 演示账户已启用 (README \"Security\"; public passwords, never on a real server / 密码公开，切勿用于生产)");
            lines.Add($"  A token / 获取令牌:               scripts/get-token.sh resident {fhirBase}   (roles / 角色: README; valid / 有效期 {auth.AccessTokenLifetime.TotalSeconds:0} s)");
        }
        else
        {
            lines.Add($"  Login / 登录 (SMART App Launch): {fhirBase}{AuthEndpoints.Discovery}");
            lines.Add("  Demo accounts off / 演示账户未启用");
        }
        lines.Add($"  Tokens name this base / 令牌绑定此地址: call the server at {fhirBase} / 请用此地址访问");
        return lines;
    }

    /// <summary>A wildcard address (0.0.0.0, [::], +, *) is no URL to open: this machine's loopback on the same port is.</summary>
    private static string Reachable(string url)
    {
        var u = new Uri(url.Replace("://+", "://0.0.0.0", StringComparison.Ordinal).Replace("://*", "://0.0.0.0", StringComparison.Ordinal));
        return u.Host is "0.0.0.0" or "[::]" ? $"{u.Scheme}://127.0.0.1:{u.Port}" : url;
    }

    /// <summary>The login page as the demo command-line client opens it (PKCE S256 with a fixed challenge: the page only shows the form).</summary>
    private static string LoginPage(string fhirBase) =>
        $"{fhirBase}{AuthEndpoints.PathPrefix}/authorize?response_type=code&client_id=fhirarchive-cli&redirect_uri=http%3A%2F%2F127.0.0.1%2Fcallback" +
        $"&scope=openid%20fhirUser%20user%2F*.rs&state=login&aud={Uri.EscapeDataString(fhirBase)}&code_challenge={Pkce.Challenge("fhirarchive-login-page-" + fhirBase)}&code_challenge_method=S256";
}
