return FhirArchive.Tools.Cli.Run(args, Console.Out, Console.Error);
