using FhirArchive.Auth.Accounts;
using FhirArchive.Rest.Access;

namespace FhirArchive.Server.SampleData;

/// <summary>
/// One demo person or client per role, linked to the sample residents, doctors and institution, so each role can
/// be tried at once (README, the table at the top, lists the passwords and one-time-code secrets). Only the PBKDF2
/// hashes are kept here. Never enable them on a real server (Security:DemoAccounts).
/// </summary>
public static class DemoAccounts
{
    public const string Hospital = "Organization/bj-chaoyang-hospital";
    public const string CliClient = "fhirarchive-cli";
    public const string HospitalClient = "chaoyang-his";

    /// <summary>Demo people: username, name, role, password hash, TOTP secret, links.</summary>
    public static readonly (string User, string Name, string Role, string Hash, string Totp, string? FhirUser, string? Patient, string? Org, string? Division)[] People =
    [
        ("zhangwei", "张伟", Roles.Resident, "pbkdf2-sha256$210000$TtG5wiQUBEtCCC7h6N9Hwg==$b2pdN2/oFvD9UDWV+otnbSIIRr96TKjLBqYmTDyomts=", "YK2322W5NKNV635SJSKR6EZWLEVXQ6GH", "Patient/zhang-wei", "Patient/zhang-wei", null, null),
        ("liuqiang", "刘强", Roles.Guardian, "pbkdf2-sha256$210000$TO1VCn1nxPLQ5uMj8orNRg==$R69TH0T4WrHAo4+I1Tom+v9hZEZkaqnUAR3mvjb3ZxE=", "JCRCRMELDIGI6TDHGGECBBKKYYSNHGW4", "RelatedPerson/liu-qiang", "Patient/liu-yang", null, null),
        ("drzhao", "赵磊", Roles.Clinician, "pbkdf2-sha256$210000$xo7C4ISKhM4z22G80MuijQ==$oGkEovo/tCI5inu8tkgKUcGZVIoTiv6vFrdKfBrYiqg=", "2IGDL36NY7ED4VIY7EYMLFL6ZB5PQDTQ", "Practitioner/dr-zhao-lei", null, Hospital, null),
        ("drchen", "陈静", Roles.FamilyDoctor, "pbkdf2-sha256$210000$07yLMmFmaDfXXzDVYUICWQ==$rlpVgSBF6cqeLao+nPOpy60ng50IRP/VbA8XtI238W4=", "F5B4XZDB2YKL7S2I27W6IOAGFTTTQL5R", "Practitioner/dr-chen-jing", null, Hospital, null),
        ("recadmin", "孙敏", Roles.RecordAdministrator, "pbkdf2-sha256$210000$+4uDgjFFVtbbJ110t2oLVg==$ZtjVbygmiC5KxnBxNuYs2CdXHfH6Of8l5+zoM3p/DtU=", "74EMPDRFE4PVQBRTO7UDFYLOCFBG4VB5", null, null, Hospital, null),
        ("cdc-chaoyang", "周涛", Roles.PublicHealthOfficer, "pbkdf2-sha256$210000$BwWpXXX0I4DE7I/9sozKyg==$EKAk8+SrXeJ7EOi/Nl/DmWZ99JLHMuyErxDRw9FwYUg=", "NBW4DGFO3AMIKPLATDM7RYYQFNZ7X633", null, null, null, "110105"),
        ("hc-shanghai", "吴刚", Roles.HealthAdministrationOfficer, "pbkdf2-sha256$210000$ZGfUqVWQw/bJFLuys4fCkQ==$50Iq0fbVWE4HtcKF6v35Sv5GyDb3DaiPneKy98NM9LY=", "3CI44D65JXHZKV3OI236WGN7MVNPC62O", null, null, null, "310000"),
        ("researcher", "郑华", Roles.Researcher, "pbkdf2-sha256$210000$zCXI9IXapWmK51dhWrwhZw==$jpf42QA4NcnLYxiHA/s4YeKy/8yFWkWVQlnCOEzgOGI=", "VSBCLUR5FMLAMABCNOIIM3IO5MR75QMO", null, null, null, null),
        ("drwu", "吴昊", Roles.Clinician, "pbkdf2-sha256$210000$IrPt0h8aTLburSCqCRj7qQ==$YF4rnoT6zHqGc/5BCrjxq2h5UqtNQy/BC9Wfck99+P4=", "EEINCQZKVKFEIHDJDGMT5SFPEDSUP7P5", ConsentSampleData.AnzhenDoctor, null, ConsentSampleData.Anzhen, null),
        ("mh-wuhou", "何芸", Roles.MentalHealthStaff, "pbkdf2-sha256$210000$rupGnLzPzYUUsPuYxkKRQQ==$DC0yHXvp7s0ahaNJRNYcNYCsuxZ1giBWguJ/2FohRGQ=", "KKN5MMLYVE6FG5N7WBLP72CZOHT2KRM2", null, null, null, "510107"),
        ("auditor", "钱丽", Roles.Auditor, "pbkdf2-sha256$210000$T8xm9TxBqADfH4CnjIrm1A==$YdwCyEemEwbGvS2m9RskMNVdPbYek4LzIt5KC4lCFOs=", "5ZMLHEF5BOAMG2N2CIJXT3OU6WSRWIKA", null, null, null, null),
    ];

    private const string HospitalSecretHash = "pbkdf2-sha256$210000$Jrc6YHfDHhhXAZGo5ABYsA==$O/eTWEAXTMbcB2FmGcE6lNDsCK8/V8kXFuDRQ0JmrNc=";

    private static readonly string[] PersonExtras = ["openid", "fhirUser", "launch/patient", "offline_access", "online_access"];

    public static void AddTo(InMemoryAuthDirectory directory)
    {
        foreach (var p in People)
        {
            var rule = RolePolicy.Rules[p.Role];
            directory.Add(new UserAccount(p.User, p.Name, p.Hash, p.Totp, [p.Role], [.. rule.Ceiling, .. PersonExtras], rule.Purposes,
                p.FhirUser, p.Patient, p.Org, p.Division));
        }
        // The public app people log in with (get-token.sh, SMART apps on this machine): PKCE, loopback redirect.
        directory.Add(new ClientRegistration(CliClient, "FhirArchive 命令行 / command line", null, null,
            ["http://127.0.0.1/callback", "http://localhost/callback"], [], [], []));
        var his = RolePolicy.Rules[Roles.SystemClient];
        directory.Add(new ClientRegistration(HospitalClient, "朝阳区社区卫生服务中心 HIS", HospitalSecretHash, null, [],
            [Roles.SystemClient], his.Ceiling, his.Purposes, Hospital));
    }
}
