namespace FhirArchive.Fhir.FhirPath;

/// <summary>The parsed form of an expression; compiled once into closures by <see cref="FhirPathCompiler"/>.</summary>
public abstract record Expr(int Position);

/// <summary>A literal; a null value is the empty collection "{}".</summary>
public sealed record LiteralExpr(object? Value, int Position) : Expr(Position);

/// <summary>An identifier at the start of a path: a child of the focus, or the focus's type name.</summary>
public sealed record IdentifierExpr(string Name, int Position) : Expr(Position);

public sealed record MemberExpr(Expr Target, string Name, int Position) : Expr(Position);

/// <summary>A function call; Target null means the call starts a path (input is the current focus).</summary>
public sealed record FunctionExpr(Expr? Target, string Name, IReadOnlyList<Expr> Args, int Position) : Expr(Position);

public sealed record IndexerExpr(Expr Target, Expr Index, int Position) : Expr(Position);

public sealed record BinaryExpr(string Op, Expr Left, Expr Right, int Position) : Expr(Position);

public sealed record UnaryExpr(string Op, Expr Operand, int Position) : Expr(Position);

/// <summary>"x is T" / "x as T"; the type may be qualified ("System.String", "FHIR.Patient").</summary>
public sealed record TypeExpr(string Op, Expr Operand, string TypeName, int Position) : Expr(Position);

/// <summary>%name</summary>
public sealed record VariableExpr(string Name, int Position) : Expr(Position);

/// <summary>$this, $index, $total</summary>
public sealed record SpecialExpr(string Name, int Position) : Expr(Position);
