using System.Text;
using Xunit;

namespace FhirArchive.Crypto.Tests;

/// <summary>The electronic health card QR code: the format's fields, its signature input, the time checks and every refusal.</summary>
public class HealthCardCodeTests
{
    private static readonly Sm2Key Platform = Sm2Key.Generate();
    private static readonly DateTimeOffset T0 = new(2026, 12, 7, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Skew = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan Max = TimeSpan.FromMinutes(5);

    private static (HealthCardCodeStatus Status, HealthCardCode? Code) Check(string text, DateTimeOffset now, Sm2Key? key = null) =>
        HealthCardCode.Verify(text, key ?? Platform, now, Skew, Max);

    [Fact]
    public void A_code_carries_its_fields_as_documented_and_the_signature_covers_the_text_before_the_last_dot()
    {
        var text = HealthCardCode.Issue(Platform, "E1000广东00042", T0, TimeSpan.FromSeconds(60));
        var parts = text.Split('.');
        Assert.Equal(6, parts.Length);
        Assert.Equal("EHC1", parts[0]);
        Assert.Equal("E1000广东00042", Encoding.UTF8.GetString(Convert.FromBase64String(B64(parts[1]))));
        Assert.Equal(T0.ToUnixTimeSeconds().ToString(), parts[2]);
        Assert.Equal((T0.ToUnixTimeSeconds() + 60).ToString(), parts[3]);
        Assert.Equal(16, Convert.FromBase64String(B64(parts[4])).Length);
        // r ‖ s over the ASCII text before the last dot, SM3 with Z_A of the default user id: what any SM2 library checks.
        var signature = Convert.FromBase64String(B64(parts[5]));
        Assert.Equal(64, signature.Length);
        Assert.True(Sm2Key.FromPem(Platform.PublicKeyPem()).Verify(Encoding.ASCII.GetBytes(string.Join('.', parts[..5])), Sm2Key.RawToDer(signature)));

        var (status, code) = Check(text, T0.AddSeconds(10));
        Assert.Equal(HealthCardCodeStatus.Valid, status);
        Assert.Equal("E1000广东00042", code!.CardId);
        Assert.Equal(T0, code.Issued);
        Assert.Equal(T0.AddSeconds(60), code.Expires);
        Assert.Equal(parts[1] + "." + parts[4], code.Key);
        // Each code is new: the nonce differs, so two codes for one card in one second are two names.
        Assert.NotEqual(code.Key, Check(HealthCardCode.Issue(Platform, "E1000广东00042", T0, TimeSpan.FromSeconds(60)), T0).Code!.Key);
    }

    [Fact]
    public void The_validity_is_held_with_the_clock_skew_on_either_side()
    {
        var text = HealthCardCode.Issue(Platform, "HC1", T0, TimeSpan.FromSeconds(60));
        Assert.Equal(HealthCardCodeStatus.Valid, Check(text, T0.AddSeconds(-30)).Status);
        Assert.Equal(HealthCardCodeStatus.NotYetValid, Check(text, T0.AddSeconds(-31)).Status);
        Assert.Equal(HealthCardCodeStatus.Valid, Check(text, T0.AddSeconds(89)).Status);
        Assert.Equal(HealthCardCodeStatus.Expired, Check(text, T0.AddSeconds(90)).Status);
        Assert.Equal(HealthCardCodeStatus.TooLong, Check(HealthCardCode.Issue(Platform, "HC1", T0, TimeSpan.FromMinutes(6)), T0).Status);
    }

    [Fact]
    public void A_code_signed_by_another_key_or_altered_in_any_field_does_not_verify()
    {
        var text = HealthCardCode.Issue(Platform, "HC1", T0, TimeSpan.FromSeconds(60));
        Assert.Equal(HealthCardCodeStatus.BadSignature, Check(HealthCardCode.Issue(Sm2Key.Generate(), "HC1", T0, TimeSpan.FromSeconds(60)), T0).Status);
        var parts = text.Split('.');
        string With(int i, string value) { var p = (string[])parts.Clone(); p[i] = value; return string.Join('.', p); }
        Assert.Equal(HealthCardCodeStatus.BadSignature, Check(With(1, Sm2Key.Base64Url("HC2"u8)), T0).Status);
        Assert.Equal(HealthCardCodeStatus.BadSignature, Check(With(3, (T0.ToUnixTimeSeconds() + 120).ToString()), T0).Status);
        Assert.Equal(HealthCardCodeStatus.BadSignature, Check(With(4, Sm2Key.Base64Url(new byte[16])), T0).Status);
        var sig = Convert.FromBase64String(B64(parts[5]));
        sig[10] ^= 1;
        Assert.Equal(HealthCardCodeStatus.BadSignature, Check(With(5, Sm2Key.Base64Url(sig)), T0).Status);
    }

    [Theory]
    [InlineData("")]
    [InlineData("HC110105198001010012")]
    [InlineData("EHC1")]
    [InlineData("EHC1.....")]
    [InlineData("EHC2.SEMx.1796644800.1796644860.AAAAAAAAAAAAAAAAAAAAAA.sig")]
    [InlineData("EHC1.SEMx.1796644800.1796644860.AAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("EHC1.SEMx.-1.1796644860.AAAAAAAAAAAAAAAAAAAAAA.x")]
    public void Garbage_is_malformed(string text) => Assert.Equal(HealthCardCodeStatus.Malformed, Check(text, T0).Status);

    [Fact]
    public void Non_canonical_spellings_and_impossible_times_are_malformed_not_a_second_name_for_a_code()
    {
        var parts = HealthCardCode.Issue(Platform, "HC1", T0, TimeSpan.FromSeconds(60)).Split('.');
        string With(int i, string value) { var p = (string[])parts.Clone(); p[i] = value; return string.Join('.', p); }
        Assert.Equal(HealthCardCodeStatus.Malformed, Check(With(1, parts[1] + "="), T0).Status);         // padding
        Assert.Equal(HealthCardCodeStatus.Malformed, Check(With(4, parts[4] + "A"), T0).Status);         // a nonce of 17 bytes
        Assert.Equal(HealthCardCodeStatus.Malformed, Check(With(2, "0" + parts[2]), T0).Status);         // leading zero
        Assert.Equal(HealthCardCodeStatus.Malformed, Check(With(3, parts[2]), T0).Status);               // expires = issued
        Assert.Equal(HealthCardCodeStatus.Malformed, Check(With(3, "999999999999"), T0).Status);         // past DateTimeOffset
        Assert.Equal(HealthCardCodeStatus.Malformed, Check(With(1, Sm2Key.Base64Url(new byte[65])), T0).Status);
        Assert.Equal(HealthCardCodeStatus.Malformed, Check(With(1, Sm2Key.Base64Url([0xff, 0xfe])), T0).Status); // not UTF-8
        Assert.Equal(HealthCardCodeStatus.Malformed, Check(new string('A', 5000), T0).Status);
    }

    [Fact]
    public void Issue_refuses_an_empty_card_id_and_a_validity_that_is_not_positive()
    {
        Assert.Throws<ArgumentException>(() => HealthCardCode.Issue(Platform, "", T0, TimeSpan.FromSeconds(60)));
        Assert.Throws<ArgumentException>(() => HealthCardCode.Issue(Platform, "HC1", T0, TimeSpan.Zero));
        Assert.Throws<InvalidOperationException>(() => HealthCardCode.Issue(Sm2Key.FromPem(Platform.PublicKeyPem()), "HC1", T0, TimeSpan.FromSeconds(1)));
    }

    private static string B64(string url)
    {
        var s = url.Replace('-', '+').Replace('_', '/');
        return s + new string('=', (4 - s.Length % 4) % 4);
    }
}
