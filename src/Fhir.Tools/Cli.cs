namespace FhirArchive.Tools;

/// <summary>
/// The operator's tools, one verb each (one file per verb). Each verb writes its result to <c>output</c> and its
/// complaints to <c>error</c>, and returns the process exit code: 0 done, 1 a check failed, 2 bad usage.
/// </summary>
public static class Cli
{
    private delegate int Verb(string[] args, TextWriter output, TextWriter error);

    private static readonly (string Name, string Help, Verb Run)[] Verbs =
    [
        ("sm2-keygen", "sm2-keygen <private.pem> [public.pem]   a new SM2 key pair (PKCS#8 and SubjectPublicKeyInfo PEM) / 生成 SM2 密钥对", Sm2KeygenCommand.Run),
        ("health-card-issue", "health-card-issue <platform-private.pem> <card-id> [seconds]   a signed electronic health card QR code (demo platform) / 签发电子健康卡动态码（演示）", HealthCardIssueCommand.Run),
        ("audit-checkpoint-verify", "audit-checkpoint-verify <checkpoint.json> <public.pem> [--events <chain.json> [--after <earlier.json>]]   check a signed audit checkpoint / 校验审计检查点", AuditCheckpointVerifyCommand.Run),
        ("data-key-rotate", "data-key-rotate --connection <connection string> [--provider sqlite|postgres] --key-file <kek> [--batch <n>] [--resume]   a new field-encryption data key; every sealed version re-sealed under it / 轮换数据密钥并重新加密", DataKeyRotateCommand.Run),
    ];

    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        var verb = args.Length == 0 ? default : Verbs.FirstOrDefault(v => v.Name == args[0]);
        if (verb.Run is null)
        {
            if (args.Length > 0) error.WriteLine($"unknown verb '{args[0]}'");
            error.WriteLine("FhirArchive tools / 运维工具");
            foreach (var v in Verbs) error.WriteLine("  " + v.Help);
            return 2;
        }
        return verb.Run(args[1..], output, error);
    }
}
