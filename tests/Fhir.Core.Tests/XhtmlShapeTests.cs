using System.Text;
using FhirArchive.Conformance;
using FhirArchive.Fhir.Serialization;
using FhirArchive.Fhir.Serialization.Json;
using FhirArchive.Fhir.Serialization.Xml;
using FhirArchive.Fhir.Tests.Support;
using Xunit;

namespace FhirArchive.Fhir.Tests;

/// <summary>
/// The quick narrative recogniser: it may only accept what <see cref="XhtmlChecker"/> accepts (every narrative of
/// the official examples and many near misses of them), and it accepts most real narratives (else it saves nothing).
/// </summary>
public class XhtmlShapeTests
{
    private static readonly Lazy<List<string>> Narratives = new(() =>
    {
        var parser = new FhirJsonParser(ParserOptions.Strict with { ValidatePrimitives = false });
        return ExampleSource.Read(OfficialExamples.PackagePath)
            .Select(f => parser.Parse(f.Content).Resource)
            .SelectMany(r => r is null ? [] : r.Descendants())
            .Where(n => n.Type == "xhtml" && n.HasValue)
            .Select(n => n.Value!)
            .ToList();
    });

    [Fact]
    public void Accepts_most_official_narratives_and_only_well_formed_ones()
    {
        var accepted = 0;
        foreach (var div in Narratives.Value)
        {
            if (!XhtmlShape.Accepts(Encoding.UTF8.GetBytes(div))) continue;
            accepted++;
            Assert.Null(XhtmlChecker.Problem(div));
        }
        Assert.True(Narratives.Value.Count > 3000, $"{Narratives.Value.Count} narratives");
        Assert.True(accepted > Narratives.Value.Count * 9 / 10, $"{accepted} of {Narratives.Value.Count} accepted");
    }

    [Fact]
    public void Near_misses_of_real_narratives_are_accepted_only_when_well_formed()
    {
        var random = new Random(11);
        const string alphabet = "<>/&;=\"' #x:!?-]Z9a";
        var checkedCount = 0;
        foreach (var div in Narratives.Value.Where((_, k) => k % 7 == 0))
            for (var n = 0; n < 20; n++)
            {
                var s = new StringBuilder(div);
                var at = random.Next(s.Length);
                switch (random.Next(3))
                {
                    case 0: s[at] = alphabet[random.Next(alphabet.Length)]; break;
                    case 1: s.Insert(at, alphabet[random.Next(alphabet.Length)]); break;
                    default: s.Remove(at, 1); break;
                }
                var text = s.ToString();
                if (!XhtmlShape.Accepts(Encoding.UTF8.GetBytes(text))) continue;
                checkedCount++;
                Assert.True(XhtmlChecker.Problem(text) is null, $"accepted but not well-formed: {text}");
            }
        Assert.True(checkedCount > 1000, $"{checkedCount} accepted near misses");
    }

    [Theory]
    [InlineData("""<div xmlns="http://www.w3.org/1999/xhtml">王<b>芳</b> &amp; &#x4E2D;&#20013;<br/></div>""", true)]
    [InlineData("""  <div xmlns='http://www.w3.org/1999/xhtml' class="a"/>  """, true)]
    [InlineData("""<div>no namespace</div>""", false)]
    [InlineData("""<div xmlns="http://www.w3.org/1999/xhtml"><p>open</div>""", false)]
    [InlineData("""<div xmlns="http://www.w3.org/1999/xhtml"><p a="1"a="2"/></div>""", false)]
    [InlineData("""<div xmlns="http://www.w3.org/1999/xhtml"><p a="1" a="2"/></div>""", false)]
    [InlineData("""<div xmlns="http://www.w3.org/1999/xhtml">&nbsp;</div>""", false)]
    [InlineData("""<div xmlns="http://www.w3.org/1999/xhtml">&#0;</div>""", false)]
    [InlineData("""<div xmlns="http://www.w3.org/1999/xhtml">]]></div>""", false)]
    [InlineData("""<div xmlns="http://www.w3.org/1999/xhtml"></div><div xmlns="http://www.w3.org/1999/xhtml"></div>""", false)]
    [InlineData("""<div xmlns="http://www.w3.org/1999/xhtml"></div> x""", false)]
    [InlineData("""<div xmlns="http://www.w3.org/1999/xhtml"><x:p/></div>""", false)]
    [InlineData("""<p xmlns="http://www.w3.org/1999/xhtml"></p>""", false)]
    public void Recognises_only_the_plain_well_formed_div(string xhtml, bool accepted)
    {
        Assert.Equal(accepted, XhtmlShape.Accepts(Encoding.UTF8.GetBytes(xhtml)));
        if (accepted) Assert.Null(XhtmlChecker.Problem(xhtml));
    }
}
