using System.Net;
using FhirArchive.Server.WebApp;
using Xunit;

namespace FhirArchive.Web.Tests;

/// <summary>How the server serves the app and registers it as a SMART client (no browser needed).</summary>
[Collection(WebAppCollection.Name)]
public sealed class AppHostingTests(WebAppServer server)
{
    private readonly HttpClient _http = new(new HttpClientHandler { AllowAutoRedirect = false });

    [Fact]
    public async Task The_app_is_served_at_app_with_its_own_policy()
    {
        var redirect = await _http.GetAsync(server.Base + "/app");
        Assert.Equal(HttpStatusCode.Redirect, redirect.StatusCode);
        Assert.Equal("/app/", redirect.Headers.Location?.OriginalString);

        var index = await _http.GetAsync(server.AppUrl);
        Assert.Equal(HttpStatusCode.OK, index.StatusCode);
        Assert.Contains("<script type=\"module\" src=\"main.js\">", await index.Content.ReadAsStringAsync());
        var csp = string.Join(";", index.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("script-src 'self'", csp);
        Assert.Contains("frame-ancestors 'none'", csp);

        var script = await _http.GetAsync(server.AppUrl + "main.js");
        Assert.Equal(HttpStatusCode.OK, script.StatusCode);
        Assert.Equal("text/javascript", script.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task An_unknown_app_file_is_a_404_operation_outcome()
    {
        var r = await _http.GetAsync(server.AppUrl + "missing.js");
        Assert.Equal(HttpStatusCode.NotFound, r.StatusCode);
        Assert.Contains("\"resourceType\":\"OperationOutcome\"", await r.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task The_app_is_a_public_client_whose_redirect_is_the_app_and_nothing_else()
    {
        string Authorize(string redirect) => server.Base + "/auth/authorize?response_type=code&client_id=" + WebAppHost.ClientId +
            "&redirect_uri=" + Uri.EscapeDataString(redirect) + "&scope=openid%20fhirUser%20launch%2Fpatient%20patient%2F*.rs&state=s" +
            "&aud=" + Uri.EscapeDataString(server.Base) + "&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256";

        var login = await _http.GetAsync(Authorize(server.AppUrl));
        Assert.Equal(HttpStatusCode.OK, login.StatusCode);
        Assert.Contains("动态验证码 / One-time code", await login.Content.ReadAsStringAsync());

        var elsewhere = await _http.GetAsync(Authorize(server.Base + "/elsewhere/"));
        Assert.Equal(HttpStatusCode.BadRequest, elsewhere.StatusCode);
        Assert.Contains("redirect_uri is not registered", await elsewhere.Content.ReadAsStringAsync());
    }
}
