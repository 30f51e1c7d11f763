using System.Globalization;

namespace FhirArchive.Fhir.FhirPath;

/// <summary>Recursive-descent parser for the FHIRPath grammar, with the spec's operator precedence.</summary>
public sealed class Parser
{
    private readonly List<Token> _tokens;
    private int _p;
    private int _depth;
    private const int MaxDepth = 200;

    private Parser(string text) => _tokens = Lexer.Tokenize(text);

    public static Expr Parse(string expression)
    {
        ArgumentNullException.ThrowIfNull(expression);
        var p = new Parser(expression);
        if (p.Peek.Kind == TokenKind.End) throw new FhirPathSyntaxException("empty expression", 0);
        var e = p.ParseExpression(0);
        if (p.Peek.Kind != TokenKind.End) throw new FhirPathSyntaxException($"unexpected '{p.Peek.Text}'", p.Peek.Position);
        return e;
    }

    private Token Peek => _tokens[_p];

    private Token Next() => _tokens[_p++];

    private void Expect(string symbol)
    {
        var t = Next();
        if (!(t.Kind == TokenKind.Symbol && t.Text == symbol))
            throw new FhirPathSyntaxException(t.Kind == TokenKind.End ? $"expected '{symbol}' but the expression ended" : $"expected '{symbol}' but found '{t.Text}'", t.Position);
    }

    // Binary precedence, higher binds tighter.
    private static int Precedence(Token t)
    {
        if (t.Kind == TokenKind.Symbol)
        {
            return t.Text switch
            {
                "*" or "/" => 10,
                "+" or "-" or "&" => 9,
                "|" => 7,
                "<" or ">" or "<=" or ">=" => 6,
                "=" or "~" or "!=" or "!~" => 5,
                _ => -1,
            };
        }
        if (t.Kind == TokenKind.Identifier && !t.Delimited)
        {
            return t.Text switch
            {
                "div" or "mod" => 10,
                "is" or "as" => 8,
                "in" or "contains" => 4,
                "and" => 3,
                "or" or "xor" => 2,
                "implies" => 1,
                _ => -1,
            };
        }
        return -1;
    }

    private Expr ParseExpression(int minPrec)
    {
        if (++_depth > MaxDepth) throw new FhirPathSyntaxException("expression nested too deeply", Peek.Position);
        var left = ParseUnary();
        while (true)
        {
            var t = Peek;
            var prec = Precedence(t);
            if (prec < 0 || prec < minPrec) break;
            Next();
            if (t.Text is "is" or "as")
            {
                left = new TypeExpr(t.Text, left, ParseTypeSpecifier(), t.Position);
                continue;
            }
            var right = ParseExpression(prec + 1); // all binary operators are left-associative
            left = new BinaryExpr(t.Text, left, right, t.Position);
        }
        _depth--;
        return left;
    }

    private string ParseTypeSpecifier()
    {
        var t = Next();
        if (t.Kind != TokenKind.Identifier) throw new FhirPathSyntaxException("expected a type name", t.Position);
        var name = t.Text;
        if (Peek.Kind == TokenKind.Symbol && Peek.Text == "." && _tokens[_p + 1].Kind == TokenKind.Identifier)
        {
            Next();
            name += "." + Next().Text;
        }
        return name;
    }

    private Expr ParseUnary()
    {
        var t = Peek;
        if (t.Kind == TokenKind.Symbol && t.Text is "+" or "-")
        {
            Next();
            if (++_depth > MaxDepth) throw new FhirPathSyntaxException("expression nested too deeply", t.Position);
            var operand = ParseUnary();
            _depth--;
            // Fold "-5" into a literal so "-5.abs()" style and quantities stay literals.
            if (t.Text == "-" && operand is LiteralExpr { Value: long or decimal or Quantity } lit)
                return new LiteralExpr(Negate(lit.Value!), t.Position);
            return t.Text == "+" ? operand : new UnaryExpr("-", operand, t.Position);
        }
        return ParsePostfix(ParseTerm());
    }

    private static object Negate(object v) => v switch
    {
        long l => -l,
        decimal d => -d,
        Quantity q => new Quantity(-q.Value, q.Unit),
        _ => v,
    };

    private Expr ParsePostfix(Expr e)
    {
        while (true)
        {
            var t = Peek;
            if (t.Kind == TokenKind.Symbol && t.Text == ".")
            {
                Next();
                var id = Next();
                if (id.Kind != TokenKind.Identifier) throw new FhirPathSyntaxException("expected a name after '.'", id.Position);
                e = Peek.Kind == TokenKind.Symbol && Peek.Text == "(" && !id.Delimited
                    ? new FunctionExpr(e, id.Text, ParseArgs(), id.Position)
                    : new MemberExpr(e, id.Text, id.Position);
            }
            else if (t.Kind == TokenKind.Symbol && t.Text == "[")
            {
                Next();
                var index = ParseExpression(0);
                Expect("]");
                e = new IndexerExpr(e, index, t.Position);
            }
            else return e;
        }
    }

    private List<Expr> ParseArgs()
    {
        Expect("(");
        var args = new List<Expr>();
        if (Peek.Kind == TokenKind.Symbol && Peek.Text == ")")
        {
            Next();
            return args;
        }
        while (true)
        {
            args.Add(ParseExpression(0));
            var t = Next();
            if (t.Kind == TokenKind.Symbol && t.Text == ")") return args;
            if (!(t.Kind == TokenKind.Symbol && t.Text == ","))
                throw new FhirPathSyntaxException(t.Kind == TokenKind.End ? "missing ')'" : $"expected ',' or ')' but found '{t.Text}'", t.Position);
        }
    }

    private static readonly HashSet<string> CalendarUnits =
    [
        "year", "years", "month", "months", "week", "weeks", "day", "days", "hour", "hours",
        "minute", "minutes", "second", "seconds", "millisecond", "milliseconds",
    ];

    private Expr ParseTerm()
    {
        var t = Next();
        switch (t.Kind)
        {
            case TokenKind.End:
                throw new FhirPathSyntaxException("unexpected end of expression", t.Position);
            case TokenKind.String:
                return new LiteralExpr(t.Text, t.Position);
            case TokenKind.LongNumber:
                return new LiteralExpr(long.Parse(t.Text, CultureInfo.InvariantCulture), t.Position);
            case TokenKind.Number:
            {
                object value;
                if (t.Text.Contains('.'))
                    value = decimal.Parse(t.Text, CultureInfo.InvariantCulture);
                else if (long.TryParse(t.Text, NumberStyles.None, CultureInfo.InvariantCulture, out var l) && l <= int.MaxValue + 1L)
                    value = l;
                else throw new FhirPathSyntaxException($"integer '{t.Text}' is too large", t.Position);
                var u = Peek;
                if (u.Kind == TokenKind.String)
                {
                    Next();
                    return new LiteralExpr(new Quantity(Convert.ToDecimal(value), u.Text), t.Position);
                }
                if (u.Kind == TokenKind.Identifier && !u.Delimited && CalendarUnits.Contains(u.Text))
                {
                    Next();
                    return new LiteralExpr(new Quantity(Convert.ToDecimal(value), Quantity.NormalizeUnit(u.Text)), t.Position);
                }
                return new LiteralExpr(value, t.Position);
            }
            case TokenKind.DateTime:
                if (!PartialDateTime.TryParseLiteral(t.Text, out var dt))
                    throw new FhirPathSyntaxException($"invalid date/time literal '@{t.Text}'", t.Position);
                return new LiteralExpr(dt, t.Position);
            case TokenKind.Time:
                if (!PartialDateTime.TryParseTime(t.Text, out var tm))
                    throw new FhirPathSyntaxException($"invalid time literal '@T{t.Text}'", t.Position);
                return new LiteralExpr(tm, t.Position);
            case TokenKind.ExternalConstant:
                return new VariableExpr(t.Text, t.Position);
            case TokenKind.Special:
                return new SpecialExpr(t.Text, t.Position);
            case TokenKind.Identifier:
                if (!t.Delimited && t.Text is "true" or "false") return new LiteralExpr(t.Text == "true", t.Position);
                if (!t.Delimited && Peek.Kind == TokenKind.Symbol && Peek.Text == "(")
                    return new FunctionExpr(null, t.Text, ParseArgs(), t.Position);
                return new IdentifierExpr(t.Text, t.Position);
            case TokenKind.Symbol when t.Text == "(":
            {
                var e = ParseExpression(0);
                Expect(")");
                return e;
            }
            case TokenKind.Symbol when t.Text == "{":
                Expect("}");
                return new LiteralExpr(null, t.Position);
            default:
                throw new FhirPathSyntaxException($"unexpected '{t.Text}'", t.Position);
        }
    }
}
