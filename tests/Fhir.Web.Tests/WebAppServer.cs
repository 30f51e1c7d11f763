using System.Text.Json;
using FhirArchive.Auth.Accounts;
using FhirArchive.Server.SampleData;
using Microsoft.Playwright;
using Xunit;

namespace FhirArchive.Web.Tests;

/// <summary>
/// The real host on 127.0.0.1 (a port the OS picks) with the sample data and the demo accounts, serving the web app
/// at /app, and one headless Chromium — the Debian package (<see cref="ChromiumPath"/>), never a browser Playwright
/// downloads — for the tests to open pages in. Each sign-in gets its own browser context (its own sessionStorage).
/// </summary>
public sealed class WebAppServer() : ServerFixture(Settings, null, shippedRecordProfiles: true, kestrel: true), IAsyncLifetime
{
    private static readonly Dictionary<string, string> Settings = new()
    {
        ["SampleData:Load"] = "true",
        ["Security:DemoAccounts"] = "true",
        ["Records:LostToFollowUpJob"] = "false",
    };

    /// <summary>The browser: CHROMIUM_PATH, else the Debian package's /usr/bin/chromium.</summary>
    public static string ChromiumPath => Environment.GetEnvironmentVariable("CHROMIUM_PATH") is { Length: > 0 } p ? p : "/usr/bin/chromium";

    /// <summary>Where the screenshots of the main screens are kept (a test artifact): screenshots/ in the test output.</summary>
    public static string Screenshots { get; } = Path.Combine(AppContext.BaseDirectory, "screenshots");

    public string Base => BaseAddress.ToString().TrimEnd('/');
    public string AppUrl => Base + "/app/";

    private IPlaywright? _playwright;
    private IBrowser? _browser;
    private readonly Dictionary<string, HashSet<long>> _usedSteps = [];
    private readonly SemaphoreSlim _login = new(1, 1);

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(Screenshots);
        if (!File.Exists(ChromiumPath)) return;
        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            // As root (CI) Chromium needs --no-sandbox; /dev/shm may be small in containers.
            Args = ["--no-sandbox", "--disable-dev-shm-usage"],
        });
    }

    public async Task DisposeAsync()
    {
        if (_browser is not null) await _browser.DisposeAsync();
        _playwright?.Dispose();
    }

    /// <summary>A fresh page (its own context: storage, cookies) in Chinese, at a phone width when asked.</summary>
    public async Task<IPage> NewPageAsync(bool phone = false)
    {
        var context = await _browser!.NewContextAsync(new BrowserNewContextOptions
        {
            Locale = "zh-CN",
            ViewportSize = phone ? new ViewportSize { Width = 390, Height = 844 } : new ViewportSize { Width = 1280, Height = 900 },
        });
        context.SetDefaultTimeout(30_000);
        return await context.NewPageAsync();
    }

    /// <summary>
    /// Opens the app and signs in as a demo person through the server's login page (password + TOTP): "resident" for
    /// residents and guardians, "staff" for the others. Returns once the app shows its navigation.
    /// </summary>
    public async Task<IPage> SignInAsync(string user, bool phone = false)
    {
        var person = DemoAccounts.People.Single(p => p.User == user);
        var page = await NewPageAsync(phone);
        await page.GotoAsync(AppUrl);
        var resident = person.Patient is not null;
        await page.GetByRole(AriaRole.Button, new() { Name = resident ? "居民 / 监护人登录" : "医务人员 / 管理员登录" }).ClickAsync();
        await page.WaitForURLAsync(url => url.Contains("/auth/authorize", StringComparison.Ordinal));
        await page.GetByLabel("用户名 / Username").FillAsync(person.User);
        await page.GetByLabel("密码 / Password").FillAsync(Password(user));
        await page.GetByLabel("动态验证码 / One-time code").FillAsync(await OneTimeCodeAsync(user, person.Totp));
        await page.Locator("form button[type=submit], form input[type=submit]").First.ClickAsync();
        await page.WaitForURLAsync(url => url.StartsWith(AppUrl, StringComparison.Ordinal) && !url.Contains("code=", StringComparison.Ordinal));
        await page.GetByRole(AriaRole.Navigation).WaitForAsync();
        return page;
    }

    /// <summary>The demo passwords (README, the demo accounts table): the login name with a capital, "#2024".</summary>
    private static string Password(string user) => user switch
    {
        "cdc-chaoyang" => "CdcChaoyang#2024",
        "hc-shanghai" => "HcShanghai#2024",
        "mh-wuhou" => "MhWuhou#2024",
        _ => char.ToUpperInvariant(user[0]) + user[1..] + "#2024",
    };

    /// <summary>
    /// A one-time code this account has not used yet: the server takes each 30-second step once and accepts one step
    /// either side, so a test that signs the same person in again takes the next step (waiting for one if both the
    /// current and the next are used; never the previous one, which may be out of the window by the time it is posted).
    /// </summary>
    private async Task<string> OneTimeCodeAsync(string user, string secret)
    {
        await _login.WaitAsync();
        try
        {
            var used = _usedSteps.TryGetValue(user, out var u) ? u : _usedSteps[user] = [];
            while (true)
            {
                var now = DateTimeOffset.UtcNow;
                var step = now.ToUnixTimeSeconds() / 30;
                foreach (var s in new[] { step, step + 1 })
                    if (used.Add(s)) return Totp.Compute(secret, DateTimeOffset.FromUnixTimeSeconds(s * 30));
                await Task.Delay(TimeSpan.FromSeconds(30 - now.ToUnixTimeSeconds() % 30 + 1));
            }
        }
        finally { _login.Release(); }
    }

    /// <summary>The one-time code of the newest access-code message in the SMS outbox (the demo's file sink).</summary>
    public string LastSmsCode()
    {
        var lines = File.ReadAllLines(Path.Combine(Folder, "sms-outbox.jsonl"));
        return lines.Reverse().Select(l => JsonDocument.Parse(l).RootElement)
            .First(m => m.TryGetProperty("code", out var c) && c.ValueKind == JsonValueKind.String).GetProperty("code").GetString()!;
    }

    /// <summary>Keeps a full-page screenshot of the screen as a test artifact (screenshots/NAME.png).</summary>
    public static Task ScreenshotAsync(IPage page, string name) =>
        page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Screenshots, name + ".png"), FullPage = true });
}

/// <summary>
/// A test that needs the browser: on a developer's machine without the chromium package it is skipped, saying why;
/// in CI (CI=true, where .ci/run installs it) it runs, so a missing browser fails instead of passing unseen.
/// </summary>
public sealed class ChromiumFactAttribute : FactAttribute
{
    public ChromiumFactAttribute()
    {
        if (!File.Exists(WebAppServer.ChromiumPath) && Environment.GetEnvironmentVariable("CI") != "true")
            Skip = $"no Chromium at {WebAppServer.ChromiumPath}: apt-get install chromium (or set CHROMIUM_PATH)";
    }
}

[CollectionDefinition(Name)]
public sealed class WebAppCollection : ICollectionFixture<WebAppServer>
{
    public const string Name = "the web app in Chromium against the running server";
}
