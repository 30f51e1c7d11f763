namespace FhirArchive.Rest.Writing;

/// <summary>The registered <see cref="IWriteInterceptor"/>s in registration order; no interceptors, no cost.</summary>
public sealed class WriteInterceptors(IEnumerable<IWriteInterceptor> interceptors)
{
    private readonly IWriteInterceptor[] _all = interceptors.ToArray();

    public bool IsEmpty => _all.Length == 0;

    public async ValueTask BeforeWriteAsync(WriteContext context)
    {
        foreach (var i in _all) await i.BeforeWriteAsync(context);
    }

    public async ValueTask AfterWriteAsync(WriteContext context)
    {
        foreach (var i in _all) await i.AfterWriteAsync(context);
    }
}
