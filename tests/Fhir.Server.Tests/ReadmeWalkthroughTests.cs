using FhirArchive.Fhir.Tests.Support;
using Xunit;

namespace FhirArchive.Server.Tests;

/// <summary>The README's demo walk-through is what scripts/demo.sh runs (.ci/run runs the script against a fresh server).</summary>
public sealed class ReadmeWalkthroughTests
{
    private const string Begin = "# --- walk-through (README) ---\n", End = "# --- end of the walk-through ---\n";

    [Fact]
    public void The_readme_walkthrough_is_the_demo_script_word_for_word()
    {
        var script = File.ReadAllText(Path.Combine(OfficialExamples.RepoRoot, "scripts", "demo.sh")).ReplaceLineEndings("\n");
        var steps = script[(script.IndexOf(Begin, StringComparison.Ordinal) + Begin.Length)..script.IndexOf(End, StringComparison.Ordinal)];
        var readme = File.ReadAllText(Path.Combine(OfficialExamples.RepoRoot, "README.md")).ReplaceLineEndings("\n");
        var intro = readme.IndexOf("runs exactly this", StringComparison.Ordinal);
        Assert.True(intro > 0, "README no longer introduces the walk-through as what scripts/demo.sh runs");
        var open = readme.IndexOf("```sh\n", intro, StringComparison.Ordinal) + "```sh\n".Length;
        var block = readme[open..readme.IndexOf("```\n", open, StringComparison.Ordinal)];
        Assert.Equal(steps, block);
    }
}
