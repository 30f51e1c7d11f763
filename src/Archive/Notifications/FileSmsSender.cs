using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

using FhirArchive.Archive.Consent;

namespace FhirArchive.Archive.Notifications;

/// <summary>
/// The demo sender: appends one JSON line per message ({"time","to","kind","code","text"}; "code" only for a one-time
/// code) to a file, UTF-8 without a byte order mark so that every line, the first too, is JSON: whoever runs the demo
/// reads the codes with any JSON tool. Never use it on a real server: the file holds the codes in clear.
/// </summary>
public sealed class FileSmsSender(string path, TimeProvider clock) : ISmsSender
{
    private static readonly JsonSerializerOptions Json = new()
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
    };
    private static readonly UTF8Encoding NoBom = new(encoderShouldEmitUTF8Identifier: false);
    private readonly SemaphoreSlim _gate = new(1, 1);

    public string Path => path;

    public async Task SendAsync(SmsMessage message, CancellationToken ct)
    {
        var line = JsonSerializer.Serialize(new { time = clock.GetUtcNow().ToString("o"), to = message.Phone, kind = message.Kind, code = message.Code, text = message.Text }, Json) + "\n";
        await _gate.WaitAsync(ct);
        try
        {
            if (System.IO.Path.GetDirectoryName(path) is { Length: > 0 } dir) Directory.CreateDirectory(dir);
            await File.AppendAllTextAsync(path, line, NoBom, ct);
        }
        catch (IOException e) { throw new SmsNotSentException($"The SMS file sink could not write {path}.", e); }
        finally { _gate.Release(); }
    }
}
