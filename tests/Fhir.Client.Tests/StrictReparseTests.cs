using System.Net;
using System.Text;
using Hl7.Fhir.Model;
using Hl7.Fhir.Rest;
using Xunit;
using Xunit.Sdk;

namespace FhirArchive.Client.Tests;

/// <summary>The re-parse the client suites rely on is strict: what a lenient parser would let through fails the request.</summary>
public sealed class StrictReparseTests
{
    private static async Task<Exception?> AnswerAsync(string body, string mediaType, ResourceFormat format)
    {
        using var handler = new StrictReparse(format) { InnerHandler = new Canned(body, mediaType) };
        using var http = new HttpClient(handler);
        return await Record.ExceptionAsync(() => http.GetAsync("http://127.0.0.1/Patient/p1"));
    }

    [Theory]
    [InlineData("""{"resourceType":"Patient","id":"p1","gender":"male"}""", "application/fhir+json", ResourceFormat.Json)]
    [InlineData("""<Patient xmlns="http://hl7.org/fhir"><id value="p1"/><gender value="male"/></Patient>""", "application/fhir+xml", ResourceFormat.Xml)]
    public async Task A_valid_answer_passes(string body, string media, ResourceFormat format) =>
        Assert.Null(await AnswerAsync(body, media, format));

    [Theory]
    [InlineData("""{"resourceType":"Patient","id":"p1","nickname":"小张"}""", "application/fhir+json", ResourceFormat.Json)] // unknown element
    [InlineData("""{"resourceType":"Patient","id":"p1","birthDate":"1980-13-45"}""", "application/fhir+json", ResourceFormat.Json)] // bad date
    [InlineData("""{"resourceType":"Patient","id":"p1","active":"yes"}""", "application/fhir+json", ResourceFormat.Json)] // wrong JSON type
    [InlineData("""<Patient xmlns="http://hl7.org/fhir"><id value="p1"/><nickname value="小张"/></Patient>""", "application/fhir+xml", ResourceFormat.Xml)]
    [InlineData("""<Patient xmlns="http://hl7.org/fhir"><id value="p1"/><gender value="男"/></Patient>""", "application/fhir+xml", ResourceFormat.Xml)] // not a code of the binding
    [InlineData("""{"resourceType":"Patient","id":"p1"}""", "application/fhir+json", ResourceFormat.Xml)] // JSON to an XML client
    [InlineData("<html>oops</html>", "text/html", ResourceFormat.Json)]
    public async Task What_a_strict_client_refuses_fails_the_request(string body, string media, ResourceFormat format) =>
        Assert.IsType<XunitException>(await AnswerAsync(body, media, format));

    private sealed class Canned(string body, string mediaType) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct) =>
            Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent(body, Encoding.UTF8, mediaType) });
    }
}
