namespace FhirArchive.Conformance;

/// <summary>The conformance runner: one verb per suite. Each suite ends with "name: P passed, F failed, S skipped".</summary>
public static class Cli
{
    private const string Usage = """
        FhirArchive conformance runner / 一致性测试运行器
          examples <folder-or-tgz>     JSON/XML round-trip of the official R4 examples (hl7.fhir.r4.examples@4.0.1)
          fhirpath "<expr>" <file>     evaluate a FHIRPath expression on a resource; prints the result as JSON
          fhirpath-suite <folder>      the official FHIRPath R4 test suite (tests-fhir-r4.xml + input/)
          fhirpath-searchparams <examples> [dump.jsonl]   all SearchParameter expressions over the examples (timing, optional dump)
          definitions                  start-up cost of the embedded R4 definitions (time, memory)
          validator-suite <folder>     the HL7 validator test cases (R4): agreement with the reference validator
          package [out.tgz]            writes the FhirArchive FHIR package (profiles, terminology, naming systems, examples)
          testscript <folder|file> --server <base> [--token T] [--token role=T] [--var name=value] [--out DIR]
                                       runs FHIR TestScripts against a server; TestReport JSON, report.html, junit.xml
        """;

    public static int Run(string[] args)
    {
        if (args.Length == 0)
        {
            Console.Error.WriteLine(Usage);
            return 2;
        }
        var rest = args[1..];
        return args[0] switch
        {
            "examples" => ExamplesSuite.Run(rest),
            "fhirpath" => FhirPathCommand.Run(rest),
            "fhirpath-suite" => FhirPathSuite.Run(rest),
            "fhirpath-searchparams" => SearchParamDump.Run(rest),
            "definitions" => DefinitionsInfo.Run(),
            "package" => PackageCommand.Run(rest),
            "validator-suite" => ValidatorSuite.Run(rest),
            "testscript" => TestScripts.TestScriptCommand.Run(rest),
            _ => Fail($"unknown suite '{args[0]}'"),
        };
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine(message);
        Console.Error.WriteLine(Usage);
        return 2;
    }
}
