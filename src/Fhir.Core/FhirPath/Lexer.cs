using System.Text;

namespace FhirArchive.Fhir.FhirPath;

internal enum TokenKind
{
    End,
    Identifier,      // plain or `delimited`
    String,
    Number,
    LongNumber,      // 10L
    DateTime,        // @2019..., text without '@'
    Time,            // @T10:00, text without "@T"
    Symbol,          // operators and punctuation
    ExternalConstant, // %name, text without '%'
    Special,         // $this, $index, $total
}

internal readonly record struct Token(TokenKind Kind, string Text, int Position, bool Delimited = false)
{
    public bool Is(string symbol) => (Kind == TokenKind.Symbol || Kind == TokenKind.Identifier && !Delimited) && Text == symbol;
}

/// <summary>Splits an expression into tokens; comments and whitespace are dropped.</summary>
internal static class Lexer
{
    public static List<Token> Tokenize(string s)
    {
        var tokens = new List<Token>();
        var i = 0;
        while (true)
        {
            // whitespace and comments
            while (i < s.Length)
            {
                if (char.IsWhiteSpace(s[i])) i++;
                else if (s[i] == '/' && i + 1 < s.Length && s[i + 1] == '/')
                {
                    while (i < s.Length && s[i] != '\n') i++;
                }
                else if (s[i] == '/' && i + 1 < s.Length && s[i + 1] == '*')
                {
                    var end = s.IndexOf("*/", i + 2, StringComparison.Ordinal);
                    if (end < 0) throw new FhirPathSyntaxException("unterminated comment", i);
                    i = end + 2;
                }
                else break;
            }
            if (i >= s.Length)
            {
                tokens.Add(new Token(TokenKind.End, "", i));
                return tokens;
            }
            var start = i;
            var c = s[i];
            if (char.IsLetter(c) || c == '_')
            {
                while (i < s.Length && (char.IsLetterOrDigit(s[i]) || s[i] == '_')) i++;
                tokens.Add(new Token(TokenKind.Identifier, s[start..i], start));
            }
            else if (c == '`')
            {
                tokens.Add(new Token(TokenKind.Identifier, ReadQuoted(s, ref i, '`'), start, true));
            }
            else if (c == '\'')
            {
                tokens.Add(new Token(TokenKind.String, ReadQuoted(s, ref i, '\''), start));
            }
            else if (char.IsDigit(c))
            {
                while (i < s.Length && char.IsDigit(s[i])) i++;
                if (i + 1 < s.Length && s[i] == '.' && char.IsDigit(s[i + 1]))
                {
                    i++;
                    while (i < s.Length && char.IsDigit(s[i])) i++;
                }
                if (i < s.Length && s[i] == 'L' && (i + 1 >= s.Length || !char.IsLetterOrDigit(s[i + 1])))
                {
                    tokens.Add(new Token(TokenKind.LongNumber, s[start..i], start));
                    i++;
                }
                else tokens.Add(new Token(TokenKind.Number, s[start..i], start));
            }
            else if (c == '@')
            {
                i++;
                if (i < s.Length && s[i] == 'T')
                {
                    i++;
                    var ts = i;
                    while (i < s.Length && (char.IsDigit(s[i]) || s[i] == ':' || s[i] == '.' && i + 1 < s.Length && char.IsDigit(s[i + 1]))) i++;
                    tokens.Add(new Token(TokenKind.Time, s[ts..i], start));
                }
                else
                {
                    var ds = i;
                    while (i < s.Length && (char.IsDigit(s[i]) || s[i] is '-' or ':' or 'T' or 'Z' or '+' || s[i] == '.' && i + 1 < s.Length && char.IsDigit(s[i + 1]))) i++;
                    // a trailing '-'/'+' belongs to the next operator only if no digits follow (@2012-01-01 - 1 day)
                    tokens.Add(new Token(TokenKind.DateTime, s[ds..i], start));
                }
            }
            else if (c == '%')
            {
                i++;
                if (i < s.Length && s[i] == '`') tokens.Add(new Token(TokenKind.ExternalConstant, ReadQuoted(s, ref i, '`'), start));
                else if (i < s.Length && s[i] == '\'') tokens.Add(new Token(TokenKind.ExternalConstant, ReadQuoted(s, ref i, '\''), start));
                else
                {
                    var ns = i;
                    while (i < s.Length && (char.IsLetterOrDigit(s[i]) || s[i] is '_' or '-')) i++;
                    if (i == ns) throw new FhirPathSyntaxException("'%' must be followed by a name", start);
                    tokens.Add(new Token(TokenKind.ExternalConstant, s[ns..i], start));
                }
            }
            else if (c == '$')
            {
                i++;
                var ns = i;
                while (i < s.Length && char.IsLetter(s[i])) i++;
                var name = s[ns..i];
                if (name is not ("this" or "index" or "total")) throw new FhirPathSyntaxException($"unknown special variable '${name}'", start);
                tokens.Add(new Token(TokenKind.Special, name, start));
            }
            else
            {
                string? sym = null;
                if (i + 1 < s.Length)
                {
                    var two = s.Substring(i, 2);
                    if (two is "<=" or ">=" or "!=" or "!~") sym = two;
                }
                if (sym is null && "+-*/&|<>=~()[]{},.".Contains(c)) sym = c.ToString();
                if (sym is null) throw new FhirPathSyntaxException($"unexpected character '{c}'", i);
                i += sym.Length;
                tokens.Add(new Token(TokenKind.Symbol, sym, start));
            }
        }
    }

    private static string ReadQuoted(string s, ref int i, char quote)
    {
        var start = i;
        i++;
        var sb = new StringBuilder();
        while (true)
        {
            if (i >= s.Length) throw new FhirPathSyntaxException("unterminated quoted text", start);
            var c = s[i++];
            if (c == quote) return sb.ToString();
            if (c != '\\')
            {
                sb.Append(c);
                continue;
            }
            if (i >= s.Length) throw new FhirPathSyntaxException("unterminated escape", i);
            var e = s[i++];
            switch (e)
            {
                case 't': sb.Append('\t'); break;
                case 'n': sb.Append('\n'); break;
                case 'r': sb.Append('\r'); break;
                case 'f': sb.Append('\f'); break;
                case '\'': case '"': case '`': case '\\': case '/': sb.Append(e); break;
                case 'u':
                    if (i + 4 > s.Length || !int.TryParse(s.AsSpan(i, 4), System.Globalization.NumberStyles.HexNumber, null, out var code))
                        throw new FhirPathSyntaxException("bad \\u escape", i - 2);
                    sb.Append((char)code);
                    i += 4;
                    break;
                default: throw new FhirPathSyntaxException($"unknown escape '\\{e}'", i - 2);
            }
        }
    }
}
