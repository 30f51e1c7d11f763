return FhirArchive.Conformance.Cli.Run(args);
