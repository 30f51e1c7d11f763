using FhirArchive.Profiles;

namespace FhirArchive.Conformance;

/// <summary>`package [out.tgz]`: writes FhirArchive's FHIR package (profiles, terminology, naming systems, examples).</summary>
public static class PackageCommand
{
    public static int Run(string[] args)
    {
        var path = args.Length > 0 ? args[0] : $"{ImplementationGuidePackage.Name}-{ImplementationGuidePackage.Version}.tgz";
        using (var file = File.Create(path)) ImplementationGuidePackage.Write(file);
        Console.WriteLine($"wrote {path} ({new FileInfo(path).Length:N0} bytes)");
        return 0;
    }
}
