using FhirArchive.Crypto;

namespace FhirArchive.Tools;

/// <summary>Writes a new SM2 key pair: the private key as PKCS#8 PEM (file mode 600), the public key beside it.</summary>
public static class Sm2KeygenCommand
{
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        if (args.Length is < 1 or > 2)
        {
            error.WriteLine("usage: sm2-keygen <private.pem> [public.pem]");
            return 2;
        }
        var privatePath = args[0];
        var publicPath = args.Length == 2 ? args[1] : Path.ChangeExtension(privatePath, null) + ".pub.pem";
        if (File.Exists(privatePath))
        {
            error.WriteLine($"{privatePath} exists: not overwritten / 文件已存在，未覆盖");
            return 1;
        }
        var key = Sm2Key.Generate();
        Sm2KeyFile.WritePrivateKey(privatePath, key);
        File.WriteAllText(publicPath, key.PublicKeyPem());
        output.WriteLine($"private key / 私钥: {privatePath}");
        output.WriteLine($"public key / 公钥: {publicPath}");
        output.WriteLine($"key id / 密钥标识: {key.KeyId()}");
        return 0;
    }
}
