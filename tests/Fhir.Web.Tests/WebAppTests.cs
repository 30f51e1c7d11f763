using System.Text.RegularExpressions;
using FhirArchive.Server.SampleData;
using Microsoft.Playwright;
using Xunit;
using Xunit.Abstractions;

namespace FhirArchive.Web.Tests;

/// <summary>
/// Each role signs in to the web app with its demo account (password + TOTP on the server's login page) and uses its
/// screens in Chromium; every screen is kept as a screenshot (WebAppServer.Screenshots). The tests share one server
/// and run in order of their names where one changes what another reads (the authorisations of 张伟).
/// </summary>
[Collection(WebAppCollection.Name)]
public sealed class WebAppTests(WebAppServer server, ITestOutputHelper output)
{
    private static readonly string ZhangWeiIdCard = SampleDataLoader.IdCardNumber("110105", "1985-03-12", "031");

    [ChromiumFact]
    public async Task Resident_sees_the_homepage_with_tags_basic_information_and_the_timeline()
    {
        // The responsible institution's clinician reads 张伟's record first: the access log has his read.
        var clinician = await server.SignInAsync("drzhao");
        await clinician.GotoAsync(server.AppUrl + "#/record/zhang-wei");
        await clinician.GetByTestId("timeline").WaitForAsync();

        var page = await server.SignInAsync("zhangwei");
        var timeline = page.GetByTestId("timeline");
        await timeline.WaitForAsync();

        await Assertions.Expect(page.GetByTestId("tags")).ToContainTextAsync("高血压");
        await Assertions.Expect(page.GetByTestId("basic")).ToContainTextAsync("张伟");
        await Assertions.Expect(page.GetByTestId("subject")).ToContainTextAsync("本人");
        // Every item names its institution, its source institution and its collection time.
        var rows = timeline.Locator("tbody tr");
        Assert.Equal(3, await rows.CountAsync());
        foreach (var row in await rows.AllAsync())
        {
            var cells = await row.Locator("td").AllInnerTextsAsync();
            Assert.All(new[] { cells[0], cells[1], cells[4], cells[5] }, c => Assert.False(string.IsNullOrWhiteSpace(c) || c == "-", string.Join(" | ", cells)));
        }
        await Assertions.Expect(timeline).ToContainTextAsync("安贞医院");
        await WebAppServer.ScreenshotAsync(page, "resident-home");

        // English is one switch away; the same data.
        await page.GetByLabel("语言").SelectOptionAsync("en");
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Personal health tags" })).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByTestId("tags")).ToContainTextAsync("Hypertension");
        await WebAppServer.ScreenshotAsync(page, "resident-home-en");
        await page.GetByLabel("Language").SelectOptionAsync("zh-CN");

        // Who viewed my record: Dr 赵磊's read, with his institution and purpose.
        await page.GetByRole(AriaRole.Link, new() { Name = "谁查看了我的档案" }).ClickAsync();
        var doctor = page.GetByTestId("access-log").Locator("tbody tr").Filter(new() { HasText = "赵磊" }).First;
        await Assertions.Expect(doctor).ToContainTextAsync("诊疗");
        await Assertions.Expect(doctor).ToContainTextAsync("朝阳");
        await WebAppServer.ScreenshotAsync(page, "resident-access-log");

        await page.GetByRole(AriaRole.Link, new() { Name = "我的授权" }).ClickAsync();
        await Assertions.Expect(page.GetByTestId("consents")).ToContainTextAsync("吴昊");
        await WebAppServer.ScreenshotAsync(page, "resident-authorisations");

        // On a phone the same screens fit one column.
        var phone = await server.SignInAsync("zhangwei", phone: true);
        await phone.GetByTestId("timeline").WaitForAsync();
        Assert.True(await phone.EvaluateAsync<bool>("document.documentElement.scrollWidth <= window.innerWidth"), "the homepage scrolls sideways on a phone");
        await WebAppServer.ScreenshotAsync(phone, "resident-home-phone");
    }

    [ChromiumFact]
    public async Task Guardian_sees_the_ward_record_without_the_mental_health_part()
    {
        // The responsible institution's clinician sees 刘洋's severe-mental-disorder follow-up in the timeline...
        var clinician = await server.SignInAsync("drzhao");
        await clinician.GotoAsync(server.AppUrl + "#/record/liu-yang");
        await Assertions.Expect(clinician.GetByTestId("timeline")).ToContainTextAsync("严重精神障碍");

        // ...his guardian sees the same record without it: nothing says it exists.
        var page = await server.SignInAsync("liuqiang");
        await page.GetByTestId("timeline").WaitForAsync();
        await Assertions.Expect(page.GetByTestId("basic")).ToContainTextAsync("刘洋");
        await Assertions.Expect(page.GetByTestId("subject")).ToContainTextAsync("被监护人");
        var text = await page.Locator("main").InnerTextAsync();
        Assert.DoesNotContain("精神", text);
        Assert.DoesNotContain("F20", text);
        Assert.DoesNotContain("mental", text, StringComparison.OrdinalIgnoreCase);
        await WebAppServer.ScreenshotAsync(page, "guardian-home");
    }

    [ChromiumFact]
    public async Task Clinician_gets_access_with_the_sms_code_and_loses_it_when_the_resident_revokes()
    {
        var resident = await server.SignInAsync("zhangwei");
        // 张伟 withdraws Dr 吴昊's authorisation from the sample data first.
        await RevokeAsync(resident, "吴昊");

        var clinician = await server.SignInAsync("drwu");
        await clinician.GetByLabel("身份证号").FillAsync(ZhangWeiIdCard);
        await clinician.GetByRole(AriaRole.Button, new() { Name = "查找" }).ClickAsync();
        await Assertions.Expect(clinician.GetByText("未找到可查看的档案")).ToBeVisibleAsync();
        await WebAppServer.ScreenshotAsync(clinician, "clinician-find");

        await clinician.GetByRole(AriaRole.Button, new() { Name = "发送验证码" }).ClickAsync();
        await Assertions.Expect(clinician.GetByRole(AriaRole.Status).Filter(new() { HasText = "验证码已发送" })).ToBeVisibleAsync();
        var code = server.LastSmsCode();

        // A wrong code: the server's answer is on the form, the page stays.
        var wrong = string.Concat(code.Select(c => (char)('0' + (c - '0' + 1) % 10)));
        await clinician.GetByLabel("居民告知的验证码").FillAsync(wrong);
        await clinician.GetByRole(AriaRole.Button, new() { Name = "确认授权" }).ClickAsync();
        await Assertions.Expect(clinician.GetByRole(AriaRole.Alert)).ToContainTextAsync("422");
        await WebAppServer.ScreenshotAsync(clinician, "clinician-wrong-code");

        await clinician.GetByLabel("居民告知的验证码").FillAsync(code);
        await clinician.GetByRole(AriaRole.Button, new() { Name = "确认授权" }).ClickAsync();
        await Assertions.Expect(clinician.GetByRole(AriaRole.Heading, new() { Name = "居民档案：张伟" })).ToBeVisibleAsync();
        await clinician.GetByTestId("timeline").WaitForAsync();
        await WebAppServer.ScreenshotAsync(clinician, "clinician-record");

        // The resident revokes the new authorisation; the clinician's next page load no longer shows the record.
        await resident.ReloadAsync();
        await RevokeAsync(resident, "吴昊");
        await clinician.ReloadAsync();
        await Assertions.Expect(clinician.GetByText("无权查看该档案")).ToBeVisibleAsync();
        Assert.Equal(0, await clinician.GetByTestId("timeline").CountAsync());
        await WebAppServer.ScreenshotAsync(clinician, "clinician-revoked");
    }

    [ChromiumFact]
    public async Task Break_glass_opens_the_record_under_a_visible_banner()
    {
        var page = await server.SignInAsync("drwu");
        await page.GotoAsync(server.AppUrl + "#/record/wang-fang");
        await Assertions.Expect(page.GetByText("无权查看该档案")).ToBeVisibleAsync();

        // Without a reason the server refuses, and says why.
        await page.GetByRole(AriaRole.Button, new() { Name = "紧急访问" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync("须填写紧急情况说明");

        await page.GetByLabel("破窗原因").FillAsync("昏迷送急诊 / unconscious at the emergency department");
        await page.GetByRole(AriaRole.Button, new() { Name = "紧急访问" }).ClickAsync();
        await Assertions.Expect(page.GetByTestId("break-glass-banner")).ToContainTextAsync("昏迷送急诊");
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "居民档案：王芳" })).ToBeVisibleAsync();
        await WebAppServer.ScreenshotAsync(page, "clinician-break-glass");
    }

    [ChromiumFact]
    public async Task Administrator_sees_the_pending_transfer_and_a_rejection_without_reason_shows_the_server_message()
    {
        var page = await server.SignInAsync("recadmin");
        var transfers = page.GetByTestId("tasks-transfer");
        await Assertions.Expect(transfers.Locator(".task").First).ToBeVisibleAsync();
        await transfers.GetByRole(AriaRole.Button, new() { Name = "拒绝" }).First.ClickAsync();
        await Assertions.Expect(transfers.GetByRole(AriaRole.Alert)).ToContainTextAsync("驳回须说明理由");
        await WebAppServer.ScreenshotAsync(page, "admin-reviews");
    }

    [ChromiumFact]
    public async Task First_page_of_the_resident_portal_measured()
    {
        // A first visit (an empty cache): the sign-in screen, and the app's files as transferred (compressed).
        var cold = await server.NewPageAsync();
        await cold.GotoAsync(server.AppUrl);
        await cold.GetByRole(AriaRole.Button, new() { Name = "居民 / 监护人登录" }).WaitForAsync();
        var coldLoad = await LoadEventAsync(cold);
        var bytes = await cold.EvaluateAsync<double>("performance.getEntriesByType('resource').filter(r => r.name.includes('/app/'))" +
                                                     ".reduce((s, r) => s + r.transferSize, 0) + performance.getEntriesByType('navigation')[0].transferSize");

        // The signed-in portal loaded again (the session is in sessionStorage): until the homepage's timeline shows.
        var page = await server.SignInAsync("zhangwei");
        await page.GetByTestId("timeline").WaitForAsync();
        var started = DateTime.UtcNow;
        await page.ReloadAsync();
        await page.GetByTestId("timeline").WaitForAsync();
        var shown = (DateTime.UtcNow - started).TotalMilliseconds;
        var load = await LoadEventAsync(page);

        var line = $"resident portal on loopback: first visit load event {coldLoad:0} ms, {bytes / 1024:0.0} KiB transferred; " +
                   $"signed-in reload: load event {load:0} ms, homepage with timeline shown {shown:0} ms";
        output.WriteLine(line);
        File.WriteAllText(Path.Combine(WebAppServer.Screenshots, "timing.txt"), line + Environment.NewLine);
        Assert.True(coldLoad > 0 && load > 0 && bytes > 0, line);
    }

    private static Task<double> LoadEventAsync(IPage page) =>
        page.EvaluateAsync<double>("performance.getEntriesByType('navigation')[0].loadEventEnd");

    /// <summary>On the resident's "my authorisations" screen, revokes the active authorisation naming this person.</summary>
    private static async Task RevokeAsync(IPage resident, string person)
    {
        await resident.GetByRole(AriaRole.Link, new() { Name = "我的授权" }).ClickAsync();
        var item = resident.GetByTestId("consents").Locator("li").Filter(new() { HasText = person })
            .Filter(new() { Has = resident.GetByRole(AriaRole.Button, new() { Name = "撤销" }) });
        await item.GetByRole(AriaRole.Button, new() { Name = "撤销" }).ClickAsync();
        await item.GetByLabel("撤销原因").FillAsync("不再需要 / no longer needed");
        await item.GetByRole(AriaRole.Button, new() { Name = "确认撤销" }).ClickAsync();
        await Assertions.Expect(resident.GetByText("已撤销授权。")).ToBeVisibleAsync();
    }
}
