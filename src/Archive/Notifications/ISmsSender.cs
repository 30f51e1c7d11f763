using FhirArchive.Archive.Consent;

namespace FhirArchive.Archive.Notifications;

/// <summary>
/// One text message to one mobile number; <see cref="Kind"/> says what it is for (access-code, break-glass);
/// <see cref="Code"/> is the one-time code the text carries, if any (the demo's file sink lists it on its own).
/// </summary>
public sealed record SmsMessage(string Phone, string Text, string Kind, string? Code = null);

/// <summary>
/// Sends text messages to residents and guardians (one-time authorisation codes, break-glass notices). Pluggable:
/// a file sink for the demo (<see cref="FileSmsSender"/>), an HTTP gateway in production (<see cref="HttpSmsSender"/>).
/// A sender that cannot deliver throws <see cref="SmsNotSentException"/>.
/// </summary>
public interface ISmsSender
{
    Task SendAsync(SmsMessage message, CancellationToken ct);
}

public sealed class SmsNotSentException(string message, Exception? inner = null) : Exception(message, inner);
