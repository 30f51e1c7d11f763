using FhirArchive.Archive.Grants;
using FhirArchive.Auth;
using FhirArchive.Server;
using FhirArchive.Server.WebApp;

var app = FhirServer.Build(args);
app.Lifetime.ApplicationStarted.Register(() =>
{
    // After start app.Urls holds the bound addresses (a port 0 resolved): the URLs to open, the base tokens name.
    foreach (var line in StartupBanner.Lines(app.Urls, app.Services.GetRequiredService<AuthOptions>(), FhirServer.DemoAccountsOn(app.Configuration),
                 app.Services.GetRequiredService<IHealthCardVerifier>().Description, WebAppHost.Served(app.Configuration)))
        Console.WriteLine(line);
});
await app.RunAsync();

public partial class Program;
