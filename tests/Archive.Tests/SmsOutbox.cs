using System.Text;
using System.Text.Json;
using FhirArchive.Archive.Notifications;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace FhirArchive.Archive.Tests;

/// <summary>The text messages a test server sent (its file sink, Consent:Sms:Sender=file).</summary>
public static class SmsOutbox
{
    public static string PathOf(IServiceProvider services) => ((FileSmsSender)services.GetRequiredService<ISmsSender>()).Path;

    /// <summary>
    /// The last text message sent to the phone, and its one-time code (null when none). The outbox is read as any JSON
    /// tool reads it: raw bytes, one JSON object a line (a byte order mark would break the first line).
    /// </summary>
    public static (string? Text, string? Code) Last(string outbox, string phone)
    {
        if (!File.Exists(outbox)) return (null, null);
        var bytes = File.ReadAllBytes(outbox);
        Assert.False(bytes is [0xEF, 0xBB, 0xBF, ..], "the SMS outbox starts with a byte order mark");
        var last = Encoding.UTF8.GetString(bytes).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement)
            .LastOrDefault(m => m.GetProperty("to").GetString() == phone);
        if (last.ValueKind == JsonValueKind.Undefined) return (null, null);
        var text = last.GetProperty("text").GetString()!;
        var code = last.TryGetProperty("code", out var c) ? c.GetString() : null;
        // The code field and the text agree: the resident reads the same code the file lists (授权码 / 确认码).
        if (code is not null) Assert.Contains($"码 {code}", text);
        return (text, code);
    }
}
