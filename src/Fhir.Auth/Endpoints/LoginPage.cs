using System.Net;
using System.Security.Cryptography;
using System.Text;
using FhirArchive.Auth.Tokens;
using Microsoft.AspNetCore.Http;

namespace FhirArchive.Auth.Endpoints;

/// <summary>The login page for people (Chinese and English): password and one-time code; the authorize request rides along in hidden fields.</summary>
public static class LoginPage
{
    // The page's only style, inline: the Content-Security-Policy allows exactly this text (by its hash) and no script.
    private const string Style = "body{font-family:system-ui,sans-serif;max-width:24rem;margin:3rem auto;padding:0 1rem}"
        + "label{display:block;margin-top:1rem}input[type=text],input[type=password]{width:100%;padding:.4rem;box-sizing:border-box}"
        + "button{margin-top:1.5rem;padding:.5rem 1.5rem}.error{color:#b00020}.app{color:#555}";

    private static readonly string StyleSource = $"'sha256-{Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(Style)))}'";

    /// <summary>
    /// The headers of every answer of the login page (the page, its error pages, its redirects with a code): never in a
    /// frame (clickjacking: X-Frame-Options and frame-ancestors), nothing but its own style, the form posted only here
    /// or (after the redirect) to the client's redirect URI, not stored (the code rides in the redirect), no referrer.
    /// </summary>
    public static void SetHeaders(HttpResponse response, string? redirectUri)
    {
        var formAction = "'self'" + (Origin(redirectUri) is { } origin ? " " + origin : "");
        var h = response.Headers;
        h.ContentSecurityPolicy = $"default-src 'none'; style-src {StyleSource}; form-action {formAction}; frame-ancestors 'none'; base-uri 'none'";
        h.XFrameOptions = "DENY";
        h.CacheControl = "no-store";
        h.Pragma = "no-cache";
        h["Referrer-Policy"] = "no-referrer";
        h.XContentTypeOptions = "nosniff";
    }

    /// <summary>A CSP source for the redirect URI (browsers check form-action on the redirect after the post too):
    /// its origin for http(s), its scheme for an app's own scheme; null when it is no absolute URI.</summary>
    private static string? Origin(string? uri)
    {
        if (uri is null || !Uri.TryCreate(uri, UriKind.Absolute, out var u)) return null;
        if (u.Scheme is "http" or "https") return $"{u.Scheme}://{u.Authority}";
        return u.Scheme + ":";
    }

    public static string Render(AuthServer.AuthorizeRequest r, string? clientName, string? error)
    {
        static string E(string? s) => WebUtility.HtmlEncode(s ?? "");
        var hidden = new StringBuilder();
        foreach (var (name, value) in new[]
                 {
                     ("response_type", r.ResponseType), ("client_id", r.ClientId), ("redirect_uri", r.RedirectUri), ("scope", r.Scope),
                     ("state", r.State), ("aud", r.Aud), ("code_challenge", r.CodeChallenge), ("code_challenge_method", r.CodeChallengeMethod),
                     ("purpose_of_use", r.PurposeOfUse),
                 })
            if (value is not null) hidden.Append($"""<input type="hidden" name="{name}" value="{E(value)}">""").Append('\n');
        var err = error is null ? "" : $"""<p class="error" role="alert">{E(error)}</p>""";
        return $$"""
            <!DOCTYPE html>
            <html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>登录 · Sign in — FhirArchive</title>
            <style>{{Style}}</style></head>
            <body><h1>居民电子健康档案<br><small>FhirArchive sign in</small></h1>
            <p class="app">应用 / Application: {{E(clientName ?? r.ClientId)}}<br>权限 / Access: {{E(r.Scope)}}</p>
            {{err}}
            <form method="post" action="authorize" autocomplete="off">
            {{hidden}}<label>用户名 / Username <input type="text" name="username" required autofocus></label>
            <label>密码 / Password <input type="password" name="password" required></label>
            <label>动态验证码 / One-time code <input type="text" name="otp" inputmode="numeric" pattern="[0-9]{6}" maxlength="6"></label>
            <button type="submit">登录 / Sign in</button>
            </form></body></html>
            """;
    }
}
