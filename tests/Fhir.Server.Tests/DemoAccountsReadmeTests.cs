using System.Text.RegularExpressions;
using FhirArchive.Auth;
using FhirArchive.Fhir.Tests.Support;
using Xunit;

namespace FhirArchive.Server.Tests;

/// <summary>The README's demo-accounts table and token lifetime say what scripts/get-token.sh and the server do.</summary>
public sealed class DemoAccountsReadmeTests
{
    private static string Read(string file) => File.ReadAllText(Path.Combine(OfficialExamples.RepoRoot, file)).ReplaceLineEndings("\n");

    [Fact]
    public void The_demo_accounts_table_names_every_role_get_token_accepts()
    {
        // The roles of the script's case statement ("  resident)  user=..."), and the table's get-token.sh column.
        var script = Regex.Matches(Read("scripts/get-token.sh"), @"^\s+([a-z-]+)\)\s+user=", RegexOptions.Multiline).Select(m => m.Groups[1].Value).Order();
        var table = Regex.Matches(Read("README.md"), @"^\| [^|]+ \| `([a-z-]+)` \| (?:`[^`]+`|client `[^`]+`) \|", RegexOptions.Multiline).Select(m => m.Groups[1].Value).Order();
        Assert.Equal(12, script.Count()); // eleven people and the hospital system
        Assert.Equal(script, table);
    }

    [Fact]
    public void The_README_and_get_token_state_the_access_token_lifetime()
    {
        var seconds = new AuthOptions().AccessTokenLifetime.TotalSeconds;
        Assert.Contains($"A token is valid for {seconds:0} s", Read("README.md"));
        Assert.Contains($"A token is valid for {seconds:0} s", Read("scripts/get-token.sh"));
    }
}
