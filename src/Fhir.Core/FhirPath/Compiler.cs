using FhirArchive.Fhir.Definitions;
using FhirArchive.Fhir.Model;

namespace FhirArchive.Fhir.FhirPath;

/// <summary>Turns the AST into closures; every closure maps (state, input collection) to an output collection.</summary>
internal static class Compiler
{
    public static readonly FhirPathItem[] Empty = [];

    public static Eval Compile(Expr e) => e switch
    {
        LiteralExpr l => CompileLiteral(l),
        IdentifierExpr id => CompileMember(null, id.Name, root: true),
        MemberExpr m => CompileMember(Compile(m.Target), m.Name, root: false),
        FunctionExpr f => Functions.Compile(f),
        IndexerExpr ix => CompileIndexer(ix),
        BinaryExpr b => Operators.Compile(b),
        UnaryExpr u => Operators.CompileUnary(u),
        TypeExpr t => CompileTypeOp(t),
        VariableExpr v => CompileVariable(v),
        SpecialExpr s => CompileSpecial(s),
        _ => throw new FhirPathSyntaxException("unsupported expression", e.Position),
    };

    private static Eval CompileLiteral(LiteralExpr l)
    {
        FhirPathItem[] value = l.Value is null ? Empty : [FhirPathItem.FromValue(l.Value)];
        return (_, _) => value;
    }

    private static Eval CompileMember(Eval? target, string name, bool root)
    {
        var typeLike = char.IsUpper(name[0]);
        return (env, focus) =>
        {
            var input = target is null ? focus : target(env, focus);
            if (input.Count == 0) return Empty;
            List<FhirPathItem>? result = null;
            for (var i = 0; i < input.Count; i++)
            {
                var item = input[i];
                env.Step();
                var n = item.Node;
                if (n is null)
                {
                    if (item.Value is TypeInfo ti && name is "name" or "namespace")
                        (result ??= []).Add(FhirPathItem.FromValue(name == "name" ? ti.Name : ti.Namespace));
                    continue;
                }
                // "Patient.name": a leading type name selects the focus itself when it is of that type.
                if (root && typeLike && n.IsResource && n.TypeDef is { } td && TypeSystem.NodeIs(n, name, null))
                {
                    (result ??= []).Add(item);
                    continue;
                }
                var found = false;
                foreach (var c in n.Children)
                {
                    if (c.Name != name) continue;
                    (result ??= []).Add(FhirPathItem.FromNode(c));
                    found = true;
                }
                if (!found && n.TypeDef is { } t && t.GetElement(name) is null)
                {
                    if (t.TryGetBySerialName(name, out var def, out var choiceType) && choiceType is not null)
                    {
                        // "valueQuantity": the serialised name of a choice; the spec path is value.ofType(Quantity).
                        throw new FhirPathEvaluationException($"'{name}' is not a FHIRPath name; use {def.Name}.ofType({choiceType})");
                    }
                    else if (env.Ctx.Strict && !(root && typeLike && n.IsResource))
                        throw new FhirPathEvaluationException($"{n.Type} has no element '{name}'");
                    else if (env.Ctx.Strict && root && typeLike && FhirDefinitions.R4.GetType(name) is not null)
                        throw new FhirPathEvaluationException($"the focus is a {n.Type}, not a {name}");
                }
            }
            return result is null ? Empty : result;
        };
    }

    private static Eval CompileIndexer(IndexerExpr ix)
    {
        var target = Compile(ix.Target);
        var index = Compile(ix.Index);
        return (env, focus) =>
        {
            var input = target(env, focus);
            var idx = Values.SingleValue(index(env, focus), "index");
            if (idx is null) return Empty;
            if (idx is not long i) throw new FhirPathEvaluationException("an index must be an integer");
            return i >= 0 && i < input.Count ? [input[(int)i]] : Empty;
        };
    }

    private static Eval CompileTypeOp(TypeExpr t)
    {
        var operand = Compile(t.Operand);
        var type = t.TypeName;
        TypeSystem.CheckKnown(type, t.Position);
        if (t.Op == "is")
        {
            return (env, focus) =>
            {
                var input = operand(env, focus);
                if (input.Count == 0) return Empty;
                if (input.Count > 1) throw new FhirPathEvaluationException("'is' needs a single item");
                return [FhirPathItem.Boolean(TypeSystem.Is(input[0], type))];
            };
        }
        return (env, focus) =>
        {
            var input = operand(env, focus);
            if (input.Count == 0) return Empty;
            // FHIRPath 2.0 makes "as" on several items an error, but R4's own invariants (dom-3) rely on
            // filtering semantics (descendants().as(canonical)), so only strict mode rejects it.
            if (input.Count > 1 && env.Ctx.Strict) throw new FhirPathEvaluationException("'as' needs a single item");
            List<FhirPathItem>? r = null;
            foreach (var it in input)
                if (TypeSystem.Is(it, type, exact: true)) (r ??= []).Add(it);
            return r is null ? Empty : r;
        };
    }

    private static Eval CompileVariable(VariableExpr v)
    {
        var name = v.Name;
        switch (name)
        {
            case "ucum": return Constant("http://unitsofmeasure.org");
            case "sct": return Constant("http://snomed.info/sct");
            case "loinc": return Constant("http://loinc.org");
            case "context": return (env, _) => env.Context;
            case "resource":
                return (env, _) => env.Resource is { } r ? [FhirPathItem.FromNode(r)] : Empty;
            case "rootResource":
                return (env, _) => env.RootResource is { } r ? [FhirPathItem.FromNode(r)] : Empty;
        }
        if (name.StartsWith("vs-", StringComparison.Ordinal)) return Constant("http://hl7.org/fhir/ValueSet/" + name[3..]);
        if (name.StartsWith("ext-", StringComparison.Ordinal)) return Constant("http://hl7.org/fhir/StructureDefinition/" + name[4..]);
        var pos = v.Position;
        return (env, _) =>
        {
            if (env.Defined is { } d && d.TryGetValue(name, out var defined)) return defined;
            if (env.Ctx.Variables.TryGetValue(name, out var value)) return value;
            throw new FhirPathEvaluationException($"unknown variable '%{name}' (at position {pos})");
        };
    }

    private static Eval Constant(string s)
    {
        FhirPathItem[] value = [FhirPathItem.FromValue(s)];
        return (_, _) => value;
    }

    private static Eval CompileSpecial(SpecialExpr s) => s.Name switch
    {
        "this" => (env, focus) => env.This is { } t ? [t] : focus,
        "index" => (env, _) => env.This is null ? Empty : [FhirPathItem.FromValue((long)env.Index)],
        _ => (env, _) => env.Total ?? Empty,
    };
}

/// <summary>A type as type() returns it: namespace ("System" or "FHIR") and name.</summary>
public sealed record TypeInfo(string Namespace, string Name)
{
    public override string ToString() => $"{Namespace}.{Name}";
}

/// <summary>Type tests for "is", "as" and ofType() over FHIR and System types.</summary>
internal static class TypeSystem
{
    private static readonly HashSet<string> SystemTypes =
        ["Boolean", "String", "Integer", "Long", "Decimal", "Date", "DateTime", "Time", "Quantity", "Any"];

    /// <summary>
    /// Type test. <paramref name="exact"/> (as/ofType) does not let a FHIR primitive pass as its base primitive
    /// (code is a string for "is", but code.as(string) is empty), as the official tests require.
    /// </summary>
    public static bool Is(FhirPathItem item, string typeName, bool exact = false)
    {
        string? ns = null;
        var dot = typeName.IndexOf('.');
        if (dot > 0)
        {
            ns = typeName[..dot];
            typeName = typeName[(dot + 1)..];
        }
        if (item.Node is { } n) return IsNode(n, ns, typeName, exact);
        if (ns == "FHIR") return false;
        var actual = item.TypeName;
        return actual == typeName || typeName == "Any";
    }

    /// <summary>The type test of an element; <paramref name="typeName"/> may be qualified ("FHIR.Quantity").</summary>
    public static bool IsNode(ElementNode n, string typeName, bool exact)
    {
        var dot = typeName.IndexOf('.');
        return dot > 0 ? IsNode(n, typeName[..dot], typeName[(dot + 1)..], exact) : IsNode(n, null, typeName, exact);
    }

    private static bool IsNode(ElementNode n, string? ns, string typeName, bool exact)
    {
        if (ns == "System") return false;
        if (exact && n.IsPrimitive) return n.Type == typeName;
        return NodeIs(n, typeName, ns);
    }

    public static bool NodeIs(ElementNode n, string typeName, string? ns)
    {
        var t = n.Type;
        if (t is null) return false;
        if (t == typeName) return true;
        return FhirDefinitions.R4.IsSubtypeOf(t, typeName);
    }

    public static bool IsKnownSystemType(string name) => SystemTypes.Contains(name);

    /// <summary>Unknown type names are errors ("as(string1)"), not silently empty results.</summary>
    public static void CheckKnown(string typeName, int position)
    {
        var dot = typeName.IndexOf('.');
        var (ns, name) = dot > 0 ? (typeName[..dot], typeName[(dot + 1)..]) : (null, typeName);
        var known = ns switch
        {
            "System" => SystemTypes.Contains(name),
            "FHIR" => FhirDefinitions.R4.GetType(name) is not null,
            null => SystemTypes.Contains(name) || FhirDefinitions.R4.GetType(name) is not null,
            _ => false,
        };
        if (!known && !(ns == "System" && FhirDefinitions.R4.GetType(name) is not null))
            throw new FhirPathSyntaxException($"unknown type '{typeName}'", position);
    }

    public static TypeInfo TypeOf(FhirPathItem item) =>
        item.Node is { } n ? new TypeInfo("FHIR", n.Type ?? "Element") : new TypeInfo("System", item.TypeName);
}
