namespace FhirArchive.Rest.Infrastructure;

/// <summary>
/// HEAD is answered wherever GET is (R4 http.html), as the GET it stands for: from here on the request is a GET, so
/// routing, the access rules and the audit see the GET (minimal APIs map no HEAD for MapGet), and the answer's body
/// is dropped: status and headers (ETag, Last-Modified, Content-Type, Content-Length) are the GET's.
/// </summary>
public static class HeadRequests
{
    /// <summary>First in the pipeline, so error answers (OperationOutcomes) lose their body too.</summary>
    public static void UseHeadAsGet(this IApplicationBuilder app) => app.Use((ctx, next) =>
    {
        if (HttpMethods.IsHead(ctx.Request.Method))
        {
            ctx.Request.Method = HttpMethods.Get;
            ctx.Response.Body = Stream.Null;
        }
        return next(ctx);
    });
}
