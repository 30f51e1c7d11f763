using System.Text.RegularExpressions;
using FhirArchive.Auth;
using FhirArchive.Fhir.Tests.Support;
using Microsoft.Extensions.Configuration;
using Xunit;

namespace FhirArchive.Server.Tests;

/// <summary>What the server prints at start-up, and the one base URL it shares with the README and the scripts.</summary>
public sealed class StartupBannerTests
{
    [Fact]
    public void The_banner_names_the_FHIR_base_Swagger_the_login_page_and_the_demo_accounts()
    {
        var lines = StartupBanner.Lines(["http://127.0.0.1:5000"], new AuthOptions(), demoAccounts: true);
        var text = string.Join('\n', lines);
        Assert.StartsWith("FhirArchive FHIR R4 server listening on http://127.0.0.1:5000", lines[0]); // tests/clients/server.sh reads it
        Assert.Contains("FHIR base / FHIR 服务地址:       http://127.0.0.1:5000 ", text);
        Assert.Contains("http://127.0.0.1:5000/swagger", text);
        Assert.Contains("Login page / 登录页:             http://127.0.0.1:5000/auth/authorize?response_type=code&client_id=fhirarchive-cli", text);
        Assert.Contains("Demo accounts ON / 演示账户已启用", text);
        Assert.Contains("scripts/get-token.sh resident http://127.0.0.1:5000", text);
        Assert.Contains("有效期 900 s", text);
        Assert.DoesNotContain("Web app", text);
    }

    [Fact]
    public void The_banner_names_the_web_app_first_when_it_is_served()
    {
        var lines = StartupBanner.Lines(["http://127.0.0.1:5000"], new AuthOptions(), demoAccounts: true, webApp: true);
        Assert.Equal("  Web app / Web 应用:              http://127.0.0.1:5000/app", lines[1]);
    }

    [Fact]
    public void The_banner_says_which_health_card_verifier_is_active()
    {
        var text = string.Join('\n', StartupBanner.Lines(["http://127.0.0.1:5000"], new AuthOptions(), demoAccounts: false, healthCard: "card platform: key abc"));
        Assert.Contains("Health card / 电子健康卡:         card platform: key abc", text);
        Assert.DoesNotContain("电子健康卡", string.Join('\n', StartupBanner.Lines(["http://127.0.0.1:5000"], new AuthOptions(), demoAccounts: false)));
    }

    [Fact]
    public void A_configured_base_URL_is_the_one_announced_and_a_wildcard_address_is_opened_on_the_loopback()
    {
        var behindProxy = string.Join('\n', StartupBanner.Lines(["http://0.0.0.0:8080"], new AuthOptions { BaseUrl = "https://fhir.example.cn/r4/" }, demoAccounts: false));
        Assert.Contains("FHIR base / FHIR 服务地址:       https://fhir.example.cn/r4 ", behindProxy);
        Assert.Contains("Demo accounts off / 演示账户未启用", behindProxy);
        Assert.DoesNotContain("get-token.sh", behindProxy);
        var anyAddress = string.Join('\n', StartupBanner.Lines(["http://[::]:8080"], new AuthOptions(), demoAccounts: false));
        Assert.Contains("FHIR base / FHIR 服务地址:       http://127.0.0.1:8080 ", anyAddress);
        var off = string.Join('\n', StartupBanner.Lines(["http://127.0.0.1:5000"], new AuthOptions { Enabled = false }, demoAccounts: true));
        Assert.Contains("Security is OFF", off);
        Assert.DoesNotContain("Login page", off);
    }

    [Theory]
    [InlineData(null, null, false)]
    [InlineData("urls", "http://127.0.0.1:0", true)]
    [InlineData("http_ports", "8080", true)]
    [InlineData("Kestrel:Endpoints:Http:Url", "http://0.0.0.0:80", true)]
    public void The_default_address_applies_only_when_none_is_configured(string? key, string? value, bool configured)
    {
        var settings = key is null ? [] : new Dictionary<string, string?> { [key] = value };
        Assert.Equal(configured, StartupBanner.UrlsConfigured(new ConfigurationBuilder().AddInMemoryCollection(settings).Build()));
    }

    [Fact]
    public void The_README_and_the_scripts_use_the_base_URL_the_server_listens_on_by_default()
    {
        foreach (var file in new[] { "README.md", "scripts/get-token.sh", "scripts/demo.sh" })
        {
            var text = File.ReadAllText(Path.Combine(OfficialExamples.RepoRoot, file));
            Assert.Contains(StartupBanner.DefaultUrl, text);
            // Another loopback name for port 5000 would fetch tokens for another base (accepted, but not the one announced).
            Assert.Empty(Regex.Matches(text, @"https?://(localhost|\[::1\]|0\.0\.0\.0):5000").Select(m => m.Value));
        }
    }
}
