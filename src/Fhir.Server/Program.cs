using FhirArchive.Fhir.Definitions;

// Stub host (issue 2): the REST server, storage and sample data come with the server issue.
var builder = WebApplication.CreateBuilder(args);
var app = builder.Build();

app.MapGet("/", () => Results.Text("FhirArchive FHIR R4 server (stub) · 居民电子健康档案 FHIR 服务器（开发中）\n", "text/plain; charset=utf-8"));
app.MapGet("/health", () => Results.Json(new { status = "ok", fhirVersion = "4.0.1" }));
app.MapGet("/metadata", () => Results.Json(new
{
    resourceType = "CapabilityStatement",
    status = "draft",
    kind = "instance",
    fhirVersion = "4.0.1",
    format = new[] { "json" },
    software = new { name = "FhirArchive" },
    rest = new[] { new { mode = "server", resource = Array.Empty<object>() } },
}, contentType: "application/fhir+json"));

app.Lifetime.ApplicationStarted.Register(() =>
{
    foreach (var url in app.Urls) Console.WriteLine($"FhirArchive listening on {url} · 服务地址 {url}");
    Console.WriteLine($"FHIR R4 definitions: {FhirDefinitions.R4.ResourceTypes.Count} resource types loaded in {FhirDefinitions.R4.LoadTime.TotalMilliseconds:F0} ms");
});
app.Run();

public partial class Program;
