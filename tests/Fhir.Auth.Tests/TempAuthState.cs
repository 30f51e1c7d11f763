using FhirArchive.Storage;
using FhirArchive.Storage.AuthState;
using Microsoft.Extensions.DependencyInjection;

namespace FhirArchive.Auth.Tests;

/// <summary>A migrated SQLite database in a temp folder for the auth services tested without a server.</summary>
public sealed class TempAuthState : IAsyncDisposable
{
    public string Folder { get; } = Path.Combine(Path.GetTempPath(), "fhirarchive-auth-" + Guid.NewGuid().ToString("N"));
    private readonly ServiceProvider _services;
    public AuthStateStore Store { get; }

    private TempAuthState()
    {
        _services = new ServiceCollection().AddFhirStorage(new StorageOptions { DataFolder = Path.Combine(Folder, "db") }).BuildServiceProvider();
        Store = _services.GetRequiredService<AuthStateStore>();
    }

    public static async Task<TempAuthState> CreateAsync()
    {
        var state = new TempAuthState();
        await state._services.GetRequiredService<IResourceStore>().InitializeAsync();
        return state;
    }

    public async ValueTask DisposeAsync()
    {
        await _services.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(Folder, true); } catch (IOException) { }
    }
}
