using FhirArchive.Fhir.Definitions;
using FhirArchive.Fhir.FhirPath;
using FhirArchive.Fhir.Model;

namespace FhirArchive.Fhir.Patch;

/// <summary>
/// FHIRPath Patch (FHIR R4 §2.21.9.5): a Parameters resource whose "operation" parameters add, insert,
/// delete, replace or move elements found with FHIRPath. Works on a copy: the input resource is never changed.
/// </summary>
public static class FhirPathPatch
{
    public static ElementNode Apply(ElementNode resource, ElementNode parameters)
    {
        if (parameters.Type != "Parameters") throw new PatchException($"A FHIRPath Patch is a Parameters resource, not a {parameters.Type}.");
        var result = resource.DeepCopy();
        var n = 0;
        foreach (var p in parameters.ChildrenNamed("parameter"))
        {
            var name = p.Child("name")?.Value;
            if (name != "operation") throw new PatchException($"Parameter {n} is '{name}': a FHIRPath Patch has only 'operation' parameters.");
            var op = Operation.Read(p, n);
            try
            {
                Apply(result, op);
            }
            catch (Exception e) when (e is FhirPathSyntaxException or FhirPathEvaluationException)
            {
                throw new PatchException($"Operation {n} ({op.Type} {op.Path}): {e.Message}");
            }
            n++;
        }
        return result;
    }

    /// <summary>One operation's parts.</summary>
    private sealed record Operation(string Type, string Path, string? Name, ElementNode? Value, int? Index, int? Source, int? Destination)
    {
        public static Operation Read(ElementNode parameter, int n)
        {
            ElementNode? Part(string name) => parameter.ChildrenNamed("part").FirstOrDefault(x => x.Child("name")?.Value == name);
            string? Str(string name) => Part(name)?.Child("value")?.Value;
            int? Int(string name) => Str(name) is { } s
                ? int.TryParse(s, out var i) && i >= 0 ? i : throw new PatchException($"Operation {n}: '{name}' must be a non-negative integer.")
                : null;
            var type = Str("type") ?? throw new PatchException($"Operation {n} has no type.");
            var path = Str("path") ?? throw new PatchException($"Operation {n} has no path.");
            return new Operation(type, path, Str("name"), Part("value"), Int("index"), Int("source"), Int("destination"));
        }

        public int Require(int? value, string name) => value ?? throw new PatchException($"{Type} needs '{name}'.");
    }

    private static void Apply(ElementNode resource, Operation op)
    {
        var targets = Select(resource, op.Path);
        switch (op.Type)
        {
            case "add":
            {
                var parent = Single(targets, op, "adding");
                var name = op.Name ?? throw new PatchException("add needs 'name'.");
                var def = parent.TypeDef?.GetElement(name) ?? throw new PatchException($"{parent.Type} has no element '{name}'.");
                if (!def.IsCollection && parent.Child(name) is not null)
                    throw new PatchException($"{op.Path}.{name} already has a value and does not repeat: use replace.");
                parent.InsertInOrder(Build(def, ValueOf(op)));
                break;
            }
            case "insert":
            {
                var index = op.Require(op.Index, "index");
                var (parent, def, list) = ListAt(resource, op.Path, targets);
                if (index > list.Count) throw new PatchException($"index {index} is beyond the end of {op.Path} ({list.Count} items).");
                var node = Build(def, ValueOf(op));
                if (index < list.Count) parent.InsertChild(parent.IndexOf(list[index]), node);
                else if (list.Count > 0) parent.InsertChild(parent.IndexOf(list[^1]) + 1, node);
                else parent.InsertInOrder(node);
                break;
            }
            case "delete":
            {
                // Deleting nothing is not an error: the outcome (the element is absent) holds.
                if (targets.Count == 0) return;
                var doomed = Single(targets, op, "deleting");
                if (doomed.Parent is null) throw new PatchException("The resource itself cannot be deleted.");
                var parent = doomed.Parent;
                parent.Remove(doomed);
                // FHIR has no empty elements: a parent left with nothing in it goes too.
                while (parent is { HasChildren: false, HasValue: false, IsResource: false, Parent: { } up })
                {
                    up.Remove(parent);
                    parent = up;
                }
                break;
            }
            case "replace":
            {
                var old = Single(targets, op, "replacing");
                var parent = old.Parent ?? throw new PatchException("The resource itself cannot be replaced.");
                var node = Build(old.Definition ?? throw new PatchException($"{op.Path} is not a known element."), ValueOf(op));
                var at = parent.IndexOf(old);
                parent.Remove(old);
                parent.InsertChild(at, node);
                break;
            }
            case "move":
            {
                var source = op.Require(op.Source, "source");
                var destination = op.Require(op.Destination, "destination");
                var (parent, _, list) = ListAt(resource, op.Path, targets);
                if (source >= list.Count || destination >= list.Count)
                    throw new PatchException($"move {source} → {destination} is outside {op.Path} ({list.Count} items).");
                var moving = list[source];
                list.RemoveAt(source);
                list.Insert(destination, moving);
                // The list's items keep the block of positions they held; only their order changes.
                var slots = list.Select(parent.IndexOf).Order().ToList();
                foreach (var item in list) parent.Remove(item);
                for (var i = 0; i < list.Count; i++) parent.InsertChild(slots[i], list[i]);
                break;
            }
            default:
                throw new PatchException($"Unknown operation type '{op.Type}'.");
        }
    }

    private static List<ElementNode> Select(ElementNode resource, string path)
    {
        var items = FhirPathCompiler.Default.Compile(path).Evaluate(resource);
        if (items.Any(i => !i.IsNode)) throw new PatchException($"'{path}' selects values that are not elements of the resource.");
        return items.Select(i => i.Node!).ToList();
    }

    private static ElementNode Single(List<ElementNode> targets, Operation op, string doing) => targets.Count switch
    {
        1 => targets[0],
        0 => throw new PatchException($"No content found at {op.Path} when {doing}"),
        _ => throw new PatchException($"{op.Path} matches {targets.Count} elements; {op.Type} needs exactly one."),
    };

    /// <summary>
    /// The repeating element a path names (for insert and move): its parent, definition and current items.
    /// An empty list has no items to find its parent by, so the path without its last step is evaluated instead.
    /// </summary>
    private static (ElementNode Parent, ElementDef Def, List<ElementNode> Items) ListAt(ElementNode resource, string path, List<ElementNode> items)
    {
        if (items.Count > 0)
        {
            var parent = items[0].Parent ?? throw new PatchException($"{path} is not a list inside the resource.");
            if (items.Any(i => i.Parent != parent || i.Name != items[0].Name))
                throw new PatchException($"{path} does not name a single list.");
            return (parent, items[0].Definition!, items);
        }
        var dot = path.LastIndexOf('.');
        var last = dot < 0 ? "" : path[(dot + 1)..];
        if (dot < 0 || !last.All(c => char.IsAsciiLetterOrDigit(c) || c == '_'))
            throw new PatchException($"No content found at {path}");
        var owner = Select(resource, path[..dot]);
        if (owner.Count != 1) throw new PatchException($"No content found at {path}");
        var def = owner[0].TypeDef?.GetElement(last) ?? throw new PatchException($"{owner[0].Type} has no element '{last}'.");
        return (owner[0], def, []);
    }

    private static ElementNode ValueOf(Operation op) => op.Value ?? throw new PatchException($"{op.Type} needs a 'value'.");

    /// <summary>
    /// A new element for <paramref name="def"/> from a value part: either value[x] (a typed value) or nested
    /// parts (an anonymous backbone element, one part per child element).
    /// </summary>
    private static ElementNode Build(ElementDef def, ElementNode valuePart)
    {
        if (valuePart.Child("value") is { } typed) return FromTyped(def, typed);
        if (valuePart.Child("resource") is { } resource)
        {
            var node = ElementNode.CreateResourceIn(def, resource.TypeDef!);
            foreach (var c in resource.Children) node.Add(c.DeepCopy());
            return node;
        }
        var parts = valuePart.ChildrenNamed("part").ToList();
        if (parts.Count == 0) throw new PatchException($"The value for {def.Path} is empty.");
        if (def.Backbone is null && def.SingleType is null) throw new PatchException($"{def.Path} needs a typed value, not parts.");
        var complex = ElementNode.Create(def);
        foreach (var part in parts)
        {
            var name = part.Child("name")?.Value ?? throw new PatchException($"A part of the value for {def.Path} has no name.");
            var childDef = complex.TypeDef!.GetElement(name) ?? throw new PatchException($"{def.Path} has no element '{name}'.");
            complex.InsertInOrder(Build(childDef, part));
        }
        return complex;
    }

    private static ElementNode FromTyped(ElementDef def, ElementNode value)
    {
        var valueType = value.Type ?? throw new PatchException($"The value for {def.Path} has no type.");
        string type;
        if (def.IsChoice)
        {
            if (!def.Types.Any(t => t.Code == valueType)) throw new PatchException($"{def.Path} cannot hold a {valueType}.");
            type = valueType;
        }
        else
        {
            type = def.SingleType ?? throw new PatchException($"{def.Path} has no single type.");
            // A primitive may be given as another primitive (valueString for a code); complex types must match.
            var sameKind = value.IsPrimitive ? FhirDefinitions.R4.GetType(type)?.Kind == TypeKind.Primitive : valueType == type;
            if (!sameKind) throw new PatchException($"{def.Path} is a {type}; the value is a {valueType}.");
        }
        var node = ElementNode.Create(def, type);
        if (value.HasValue) node.Value = value.Value;
        foreach (var c in value.Children) node.Add(c.DeepCopy());
        return node;
    }
}
