using FhirArchive.Storage;
using FhirArchive.Storage.Encryption;
using Microsoft.Extensions.DependencyInjection;

namespace FhirArchive.Tools;

/// <summary>
/// Field encryption: adds a data key and re-seals every sealed version under it, in batches (each its own
/// transaction), printing the counts. The server may keep running: it writes under the new key within its key refresh
/// interval and reads what is re-sealed at once. Interrupted, <c>--resume</c> re-seals what is left under the newest
/// key without adding another. The blind-index key (key 0) never changes, nor does any index row.
/// </summary>
public static class DataKeyRotateCommand
{
    private const string Usage =
        "usage: data-key-rotate --connection <connection string> [--provider sqlite|postgres] (--key-file <file> | env Storage__FieldEncryption__KeyEncryptionKey) [--batch <n>] [--resume]";

    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        var options = new StorageOptions();
        var (batch, resume) = (500, false);
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            try
            {
                switch (args[i])
                {
                    case "--connection": options.ConnectionString = Next(); break;
                    case "--provider": options.Provider = Next(); break;
                    case "--key-file": options.FieldEncryption.KeyEncryptionKeyFile = Next(); break;
                    case "--batch" when int.TryParse(Next(), out var n) && n > 0: batch = n; break;
                    case "--resume": resume = true; break;
                    default: throw new ArgumentException($"unexpected '{args[i]}'");
                }
            }
            catch (ArgumentException e)
            {
                error.WriteLine(e.Message);
                error.WriteLine(Usage);
                return 2;
            }
        }
        options.FieldEncryption.KeyEncryptionKey ??= Environment.GetEnvironmentVariable("Storage__FieldEncryption__KeyEncryptionKey");
        if (options.ConnectionString is null || !options.FieldEncryption.Enabled)
        {
            error.WriteLine(Usage);
            return 2;
        }
        try
        {
            return RunAsync(options, batch, resume, output).GetAwaiter().GetResult();
        }
        catch (InvalidOperationException e)
        {
            error.WriteLine(e.Message);
            return 1;
        }
    }

    private static async Task<int> RunAsync(StorageOptions options, int batch, bool resume, TextWriter output)
    {
        await using var services = new ServiceCollection().AddFhirStorage(options).BuildServiceProvider();
        // Brings the store's schema up to date (the KeyId index) and refuses a database the key does not open.
        await services.GetRequiredService<IResourceStore>().InitializeAsync();
        var encryption = services.GetRequiredService<FieldEncryption>();
        if (resume) output.WriteLine($"data key / 数据密钥: {encryption.ActiveKeyId} (resumed / 继续)");
        else output.WriteLine($"new data key / 新数据密钥: {await encryption.RotateAsync()}");
        var result = await encryption.ResealAsync(batch, n => output.WriteLine($"re-sealed / 已重新加密: {n}"));
        output.WriteLine($"re-sealed {result.Resealed} versions under key {result.KeyId}; {result.Left} left under older keys / " +
            $"共重新加密 {result.Resealed} 个版本，剩余 {result.Left} 个");
        return result.Left == 0 ? 0 : 1;
    }
}
