using FhirArchive.Server;

var app = FhirServer.Build(args);
app.Lifetime.ApplicationStarted.Register(() =>
{
    foreach (var url in app.Urls)
    {
        Console.WriteLine($"FhirArchive FHIR R4 server listening on {url} (Swagger UI: {url}/swagger)");
        Console.WriteLine($"FhirArchive 居民电子健康档案 FHIR 服务已启动：{url}（接口文档：{url}/swagger）");
    }
});
await app.RunAsync();

public partial class Program;
