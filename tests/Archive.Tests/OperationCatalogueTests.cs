using System.Net;
using System.Text.Json;
using FhirArchive.Rest.Access;
using FhirArchive.Rest.Metadata;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Xunit;
using static FhirArchive.Tests.Support.Http;

namespace FhirArchive.Archive.Tests;

/// <summary>
/// By construction, over the whole server's endpoints (engine, audit, modules): every $operation route is declared
/// through <see cref="Operations.MapOperation"/>, listed in the CapabilityStatement with a resolvable, valid
/// OperationDefinition, answers POST with a Parameters body, and GET exactly when it changes nothing.
/// </summary>
public sealed class OperationCatalogueTests(ServerFixture fx) : IClassFixture<ServerFixture>
{
    private readonly HttpClient _c = fx.Client;

    private IReadOnlyList<RouteEndpoint> OperationRoutes() =>
        [.. fx.Factory.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.RoutePattern.RawText!.Contains("/$", StringComparison.Ordinal) && !e.RoutePattern.RawText.Contains("{operation}", StringComparison.Ordinal))];

    private async Task<List<(string Type, string Name, string Url)>> ListedAsync()
    {
        var rest = (await (await _c.GetAsync("/metadata")).JsonAsync()).GetProperty("rest")[0];
        var listed = rest.GetProperty("operation").EnumerateArray().Select(o => ("", o)).ToList();
        foreach (var r in rest.GetProperty("resource").EnumerateArray())
            if (r.TryGetProperty("operation", out var ops)) listed.AddRange(ops.EnumerateArray().Select(o => (r.GetProperty("type").GetString()!, o)));
        return [.. listed.Select(x => (x.Item1, x.o.GetProperty("name").GetString()!, x.o.GetProperty("definition").GetString()!))];
    }

    [Fact]
    public async Task Every_operation_route_is_declared_listed_and_defined()
    {
        await _c.GetAsync("/health"); // the server is up and its endpoints built
        var routes = OperationRoutes();
        Assert.True(routes.Count >= 24, $"only {routes.Count} operation routes");
        var listed = await ListedAsync();
        foreach (var route in routes)
        {
            var op = route.Metadata.GetMetadata<FhirOperation>();
            Assert.True(op is not null, $"{route.RoutePattern.RawText} is not mapped through Operations.MapOperation");
            Assert.Equal("operation", route.Metadata.GetMetadata<InteractionKind>()?.Code);
            Assert.Contains((op.Type ?? "", op.Code, op.Url), listed);
        }
        // ...and nothing is listed that is not mapped.
        var declared = routes.Select(r => r.Metadata.GetMetadata<FhirOperation>()!).Select(o => (o.Type ?? "", o.Code, o.Url)).ToHashSet();
        Assert.All(listed, l => Assert.Contains(l, declared));
        foreach (var name in new[] { "match", "merge", "close", "reactivate", "purge", "approve", "reject", "grant-access", "request-access", "open-record",
                     "break-glass", "revoke", "verify", "access-log", "everything", "validate", "lookup", "subsumes", "validate-code", "expand", "translate" })
            Assert.Contains(listed, l => l.Name == name);

        foreach (var (_, name, url) in listed)
        {
            var found = await (await _c.GetAsync($"/OperationDefinition?url={Uri.EscapeDataString(url)}")).JsonAsync();
            Assert.True(found.GetProperty("total").GetInt32() == 1, $"{url} does not resolve");
            var id = found.GetProperty("entry")[0].GetProperty("resource").GetProperty("id").GetString();
            var read = await _c.GetAsync($"/OperationDefinition/{id}");
            Assert.Equal(HttpStatusCode.OK, read.StatusCode);
            var definition = await read.Content.ReadAsStringAsync();
            Assert.Equal(name, JsonDocument.Parse(definition).RootElement.GetProperty("code").GetString());
            // Valid against base R4, by the server's own validator.
            var outcome = await (await _c.PostAsync("/OperationDefinition/$validate", Body(definition))).JsonAsync();
            var errors = outcome.GetProperty("issue").EnumerateArray().Where(i => i.GetProperty("severity").GetString() is "error" or "fatal")
                .Select(i => i.GetProperty("diagnostics").GetString()).ToList();
            Assert.True(errors.Count == 0, $"{url}: {string.Join("; ", errors)}");
            if (url.StartsWith(FhirOperation.LocalBase, StringComparison.Ordinal))
            {
                var d = JsonDocument.Parse(definition).RootElement;
                Assert.Matches("[\u4e00-\u9fff]", d.GetProperty("description").GetString()!); // Chinese beside the English
                Assert.True(d.TryGetProperty("affectsState", out _), $"{url} says whether it affects state");
            }
        }
    }

    [Fact]
    public async Task Every_operation_answers_POST_with_Parameters_and_GET_exactly_when_it_changes_nothing()
    {
        await _c.GetAsync("/health");
        foreach (var route in OperationRoutes())
        {
            var op = route.Metadata.GetMetadata<FhirOperation>()!;
            var url = route.RoutePattern.RawText!.Replace("{type}", "Patient").Replace("{id}", "by-construction-missing");
            var methods = route.Metadata.GetMetadata<HttpMethodMetadata>()!.HttpMethods;
            Assert.Contains("POST", methods);
            await Reached(url, await _c.PostAsync(url, Body("""{"resourceType":"Parameters"}""")));
            var get = await _c.GetAsync(url);
            if (op.AllowsGet)
            {
                Assert.False(op.AffectsState);
                await Reached(url, get);
            }
            else
            {
                Assert.Equal(HttpStatusCode.MethodNotAllowed, get.StatusCode);
                Assert.Equal(["POST"], get.Content.Headers.Allow);
                AssertOutcome(await get.JsonAsync(), "POST");
            }
        }
    }

    /// <summary>The operation's handler answered: not the router's 405, not "unknown operation", no server error.</summary>
    private static async Task Reached(string url, HttpResponseMessage r)
    {
        var text = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode != HttpStatusCode.MethodNotAllowed && (int)r.StatusCode < 500 && !text.Contains("Unknown operation", StringComparison.Ordinal),
            $"{r.RequestMessage!.Method} {url}: {(int)r.StatusCode} {text}");
    }
}
