// The ceiling of a read by id on this machine: Kestrel with no middleware answering GET /ceiling.json with a static
// 3.5 KB FHIR JSON (a Patient about the size of a stored Synthea resource). No auth, no database, no audit.
using System.Text;

var body = Encoding.UTF8.GetBytes(StaticJson());
var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
var app = builder.Build();
app.MapGet("/ceiling.json", (HttpContext context) =>
{
    context.Response.ContentType = "application/fhir+json";
    context.Response.ContentLength = body.Length;
    return context.Response.Body.WriteAsync(body).AsTask();
});
app.Run();

static string StaticJson()
{
    var names = string.Join(",", Enumerable.Range(0, 40).Select(i =>
        $$"""{"use":"official","family":"Family{{i:D2}}","given":["Given{{i:D2}}","Middle{{i:D2}}"],"text":"Given{{i:D2}} Middle{{i:D2}} Family{{i:D2}}"}"""));
    var json = $$"""{"resourceType":"Patient","id":"ceiling","meta":{"versionId":"1","lastUpdated":"2026-12-07T00:00:00Z"},"name":[{{names}}],"gender":"female","birthDate":"1970-01-01"}""";
    return json.Length >= 3584 ? json[..json.LastIndexOf(",{", 3580, StringComparison.Ordinal)] + "]}" : json;
}
