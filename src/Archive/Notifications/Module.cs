using FhirArchive.Archive.Consent;

namespace FhirArchive.Archive.Notifications;

/// <summary>Messages to residents (one-time codes, break-glass notices): the SMS sender the configuration names.</summary>
public static class NotificationsModule
{
    /// <summary>Configuration "Consent:Sms" (<see cref="SmsOptions"/>): a file outbox under the data folder, or an HTTP gateway.</summary>
    public static IServiceCollection AddNotifications(this IServiceCollection services, IConfiguration configuration, string dataFolder)
    {
        var sms = configuration.GetSection("Consent:Sms").Get<SmsOptions>() ?? new SmsOptions();
        services.AddSingleton(sms);
        services.AddSingleton<ISmsSender>(sp => sms.Sender switch
        {
            "file" => new FileSmsSender(Path.Combine(dataFolder, sms.File), sp.GetRequiredService<TimeProvider>()),
            "http" => new HttpSmsSender(sms),
            _ => throw new InvalidOperationException($"Consent:Sms:Sender '{sms.Sender}' is not known: use file or http."),
        });
        return services;
    }
}
