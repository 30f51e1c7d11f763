using System.Globalization;
using Hl7.Fhir.Model;

namespace FhirArchive.Differential.Tests.Search;

/// <summary>
/// Generates searches from a seed over the parameter types the server supports, drawing values from the loaded data
/// so that most match something. The kinds take turns (every kind is exercised); the seed picks types, parameters,
/// resources, values, prefixes and precisions.
/// </summary>
public sealed class SearchGenerator(SearchOracle oracle, int seed)
{
    private readonly Random _rnd = new(seed);

    private static readonly (string Type, string Param)[] CodeParams =
    [
        ("Observation", "code"), ("Condition", "code"), ("Procedure", "code"), ("Immunization", "vaccine-code"), ("Encounter", "type"),
        ("DiagnosticReport", "code"), ("MedicationRequest", "code"), ("Observation", "category"), ("Patient", "identifier"), ("CarePlan", "category"),
    ];
    private static readonly (string Type, string Param)[] StatusParams =
        [("Observation", "status"), ("Encounter", "status"), ("Patient", "gender"), ("MedicationRequest", "intent"), ("Condition", "clinical-status")];
    private static readonly (string Type, string Param)[] StringParams =
    [
        ("Patient", "name"), ("Patient", "family"), ("Patient", "given"), ("Patient", "address-city"), ("Organization", "name"),
        ("Practitioner", "name"), ("Patient", "address"), ("Organization", "address-city"),
    ];
    private static readonly (string Type, string Param)[] DateParams =
    [
        ("Observation", "date"), ("Encounter", "date"), ("Condition", "onset-date"), ("Immunization", "date"), ("Procedure", "date"),
        ("Patient", "birthdate"), ("MedicationRequest", "authoredon"), ("DiagnosticReport", "date"),
    ];
    private static readonly (string Type, string Param)[] PatientRefParams =
    [
        ("Observation", "patient"), ("Observation", "subject"), ("Encounter", "patient"), ("Condition", "subject"), ("Immunization", "patient"),
        ("Procedure", "patient"), ("MedicationRequest", "subject"), ("DiagnosticReport", "patient"), ("Claim", "patient"),
    ];
    private static readonly (string Type, string Param)[] MissingParams =
    [
        ("Observation", "value-quantity"), ("Observation", "encounter"), ("Condition", "abatement-date"), ("Encounter", "reason-code"),
        ("Patient", "death-date"), ("Observation", "value-concept"), ("Encounter", "participant"),
    ];
    private static readonly string[] DatePrefixes = ["", "eq", "ne", "lt", "gt", "le", "ge", "sa", "eb", "ap"];
    private static readonly string[] NumberPrefixes = ["", "eq", "ne", "lt", "gt", "le", "ge", "sa", "eb", "ap"];

    private delegate SearchCase? Kind(int index);

    public List<SearchCase> Generate(int count)
    {
        (string Name, Kind Make)[] kinds =
        [
            ("token system|code", i => Token(i, "system|code")), ("token code", i => Token(i, "code")), ("token |code", NoSystemToken),
            ("token :not", NotToken), (":missing", Missing), ("string", i => StringSearch(i, null)), ("string :exact", i => StringSearch(i, "exact")),
            ("string :contains", i => StringSearch(i, "contains")), ("date", Date), ("date", Date), ("reference", Reference), ("quantity", Quantity),
            ("number", Number), ("uri", UriSearch), ("composite", Composite), ("OR", Or), ("AND", And), ("_id", IdSearch),
            ("_lastUpdated", LastUpdated), ("chained", Chained), ("_has", Has), ("_sort paging", SortPaging), ("_sort paging", SortPaging),
            ("_include", Include), ("_revinclude", RevInclude), ("_total", TotalSearch),
        ];
        var result = new List<SearchCase>();
        for (var i = 0; result.Count < count; i++)
        {
            if (i > count * 20) throw new InvalidOperationException("the data set does not allow the searches asked");
            var (name, make) = kinds[i % kinds.Length];
            if (make(result.Count) is { } c) result.Add(c with { Kind = name });
        }
        return result;
    }

    /// <summary>
    /// Every date prefix against dateTime and instant values of the data at full precision: as written (seconds, with
    /// its zone), at millisecond precision (the same second, and half a second into it) and as the same instant in
    /// another zone (UTC, +08:00). At these precisions a search range equals or lies within an indexed one, where gt
    /// and ge, lt and le, sa and gt part ways.
    /// </summary>
    public List<SearchCase> FullPrecisionDates(int perPrefix)
    {
        var values = DateParams.SelectMany(tp => oracle.All(tp.Type).Select(r => DateText(r, tp.Param)).OfType<string>()
                .Where(t => t.Length > 19 && t[10] == 'T').Select(t => (tp.Type, tp.Param, Text: t)))
            .Concat(oracle.Types.Order(StringComparer.Ordinal).Take(5).SelectMany(type => oracle.All(type).Take(20)
                .Select(r => (Type: type, Param: "_lastUpdated", Text: OracleValues.PrimitiveText(r.Poco.Meta!.LastUpdatedElement!)))))
            .ToList();
        var result = new List<SearchCase>();
        foreach (var prefix in DatePrefixes.Where(p => p.Length > 0))
            for (var k = 0; k < perPrefix; k++)
            {
                var (type, param, text) = Pick(values);
                var instant = DateTimeOffset.Parse(text, CultureInfo.InvariantCulture);
                var value = (k % 5) switch
                {
                    0 => text,
                    1 => instant.ToString("yyyy-MM-dd'T'HH:mm:ss'.000'zzz", CultureInfo.InvariantCulture),
                    2 => instant.AddMilliseconds(500).ToString("yyyy-MM-dd'T'HH:mm:ss.fffzzz", CultureInfo.InvariantCulture),
                    3 => instant.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
                    _ => instant.ToOffset(TimeSpan.FromHours(8)).ToString("yyyy-MM-dd'T'HH:mm:sszzz", CultureInfo.InvariantCulture),
                };
                result.Add(new SearchCase(result.Count, "full-precision date", type, [(param, prefix + value)]));
            }
        return result;
    }

    private T Pick<T>(IReadOnlyList<T> list) => list[_rnd.Next(list.Count)];

    /// <summary>A random resource of the type whose parameter gives values (as <paramref name="read"/> reads them), and one of them.</summary>
    private (OracleResource Resource, T Value)? Draw<T>(string type, string param, Func<Base, IEnumerable<T>> read)
    {
        var candidates = oracle.All(type).Where(r => oracle.Values(r, param).SelectMany(read).Any()).ToList();
        if (candidates.Count == 0) return null;
        var r = Pick(candidates);
        return (r, Pick(oracle.Values(r, param).SelectMany(read).ToList()));
    }

    private OracleResource? AnyOf(string type) => oracle.All(type) is { Count: > 0 } all ? Pick(all) : null;

    private static string TokenText(OracleToken t, string form) => form switch
    {
        "system|code" when t.System is not null => t.System + "|" + Escape(t.Code),
        _ => Escape(t.Code),
    };

    private static string Escape(string v) => v.Replace("\\", "\\\\").Replace(",", "\\,").Replace("|", "\\|").Replace("$", "\\$");

    private SearchCase? Token(int i, string form)
    {
        var (type, param) = Pick(CodeParams);
        return Draw(type, param, OracleValues.Tokens) is { } d ? new SearchCase(i, "", type, [(param, TokenText(d.Value, form))]) : null;
    }

    private SearchCase? NoSystemToken(int i)
    {
        var (type, param) = Pick(StatusParams);
        return Draw(type, param, OracleValues.Tokens) is { } d ? new SearchCase(i, "", type, [(param, (d.Value.System ?? "") + "|" + d.Value.Code)]) : null;
    }

    private SearchCase? NotToken(int i)
    {
        var (type, param) = _rnd.Next(2) == 0 ? Pick(StatusParams) : Pick(CodeParams);
        return Draw(type, param, OracleValues.Tokens) is { } d ? new SearchCase(i, "", type, [(param + ":not", TokenText(d.Value, _rnd.Next(2) == 0 ? "code" : "system|code"))]) : null;
    }

    private SearchCase? Missing(int i)
    {
        var (type, param) = Pick(MissingParams);
        return new SearchCase(i, "", type, [(param + ":missing", _rnd.Next(2) == 0 ? "true" : "false")]);
    }

    private SearchCase? StringSearch(int i, string? modifier)
    {
        var (type, param) = Pick(StringParams);
        if (Draw(type, param, OracleValues.Strings) is not { } d) return null;
        var s = d.Value;
        var value = modifier switch
        {
            "exact" => s,
            "contains" => s.Length <= 3 ? s : Middle(s, _rnd.Next(2, Math.Min(6, s.Length - 1))),
            // A prefix, in other case half of the time (the match ignores case and accents).
            _ => (s[..Math.Max(1, _rnd.Next(1, Math.Min(8, s.Length + 1)))]) is var p && _rnd.Next(2) == 0 ? p.ToUpperInvariant() : p,
        };
        if (modifier == "contains" && _rnd.Next(2) == 0) value = value.ToUpperInvariant();
        return new SearchCase(i, "", type, [(modifier is null ? param : param + ":" + modifier, value)]);
    }

    /// <summary>A part of <paramref name="s"/> of this length at a random place.</summary>
    private string Middle(string s, int length) => s.Substring(_rnd.Next(s.Length - length + 1), length);

    /// <summary>A date value of the data at a random precision (year, month, day, or as written), with a random prefix.</summary>
    private string DateValue(string text)
    {
        var precision = _rnd.Next(4);
        var cut = precision switch { 0 => text[..4], 1 => text[..Math.Min(7, text.Length)], 2 => text[..Math.Min(10, text.Length)], _ => text };
        return Pick(DatePrefixes) + cut;
    }

    private string? DateText(OracleResource r, string param) =>
        oracle.Values(r, param).SelectMany(v => v switch
        {
            Period p => new[] { p.Start, p.End }.OfType<string>(),
            PrimitiveType pt when pt.JsonValue is not null => [OracleValues.PrimitiveText(pt)],
            _ => [],
        }).FirstOrDefault();

    private SearchCase? Date(int i)
    {
        var (type, param) = Pick(DateParams);
        var candidates = oracle.All(type).Where(r => DateText(r, param) is not null).ToList();
        if (candidates.Count == 0) return null;
        return new SearchCase(i, "", type, [(param, DateValue(DateText(Pick(candidates), param)!))]);
    }

    private SearchCase? Reference(int i)
    {
        var (type, param) = Pick(PatientRefParams);
        if (Draw(type, param, OracleValues.References) is not { } d) return null;
        var id = d.Value.Split('/')[^1];
        return _rnd.Next(4) switch
        {
            0 => new SearchCase(i, "", type, [(param, d.Value)]),
            1 => new SearchCase(i, "", type, [(param, id)]),
            2 => new SearchCase(i, "", type, [(param + ":Patient", id)]),
            _ when type is "Observation" or "Condition" or "Procedure" or "DiagnosticReport" or "MedicationRequest" =>
                new SearchCase(i, "", type, [("encounter:missing", _rnd.Next(2) == 0 ? "true" : "false"), (param, d.Value)]),
            _ => new SearchCase(i, "", type, [(param, d.Value)]),
        };
    }

    /// <summary>A quantity of the data, rounded to 0–2 decimals, with a prefix and a unit form (none, system|code, ||code).</summary>
    private string QuantityValue(OracleQuantity q)
    {
        var number = Math.Round(q.Value, _rnd.Next(3)).ToString(CultureInfo.InvariantCulture);
        var prefix = Pick(NumberPrefixes);
        return _rnd.Next(3) switch
        {
            0 => prefix + number,
            1 when q.System is not null && q.Code is not null => $"{prefix}{number}|{q.System}|{Escape(q.Code)}",
            _ when (q.Code ?? q.Unit) is { } c => $"{prefix}{number}||{Escape(c)}",
            _ => prefix + number,
        };
    }

    private SearchCase? Quantity(int i) =>
        Draw("Observation", "value-quantity", OracleValues.Quantities) is { } d ? new SearchCase(i, "", "Observation", [("value-quantity", QuantityValue(d.Value))]) : null;

    private SearchCase? Number(int i)
    {
        // No number parameter of R4 has values in Synthea's records: these compare the (empty) answers of valid searches.
        (string Type, string Param)[] numbers = [("Encounter", "length"), ("RiskAssessment", "probability"), ("MolecularSequence", "variant-start")];
        var (type, param) = Pick(numbers);
        return new SearchCase(i, "", type, [(param, Pick(NumberPrefixes) + Math.Round(_rnd.NextDouble() * 10, _rnd.Next(3)).ToString(CultureInfo.InvariantCulture))]);
    }

    private SearchCase? UriSearch(int i)
    {
        // Uri parameters with values in the data (meta.source, meta.profile), else a canonical no record claims.
        foreach (var (type, param) in new[] { ("Patient", "_source"), ("Observation", "_profile"), ("Encounter", "_source") }.OrderBy(_ => _rnd.Next()))
            if (Draw(type, param, OracleValues.Uris) is { } d) return new SearchCase(i, "", type, [(param, d.Value)]);
        return new SearchCase(i, "", "Observation", [("_profile", "http://hl7.org/fhir/StructureDefinition/vitalsigns")]);
    }

    private SearchCase? Composite(int i)
    {
        var param = _rnd.Next(2) == 0 ? "code-value-quantity" : "component-code-value-quantity";
        var elements = oracle.All("Observation").Select(r => (Observation)r.Poco).SelectMany(o => param == "code-value-quantity"
            ? (o.Value is Quantity q ? o.Code.Coding.Select(c => (Coding: c, Quantity: q)) : [])
            : o.Component.SelectMany(c => c.Value is Quantity q ? c.Code.Coding.Select(cd => (Coding: cd, Quantity: q)) : [])).ToList();
        if (elements.Count == 0) return null;
        var (coding, quantity) = Pick(elements);
        var code = _rnd.Next(2) == 0 ? $"{coding.System}|{coding.Code}" : coding.Code;
        return new SearchCase(i, "", "Observation", [(param, $"{code}${QuantityValue(new OracleQuantity(quantity.Value!.Value, quantity.System, quantity.Code, quantity.Unit))}")]);
    }

    private SearchCase? Or(int i)
    {
        var (type, param) = Pick(CodeParams);
        if (Draw(type, param, OracleValues.Tokens) is not { } a || Draw(type, param, OracleValues.Tokens) is not { } b) return null;
        if (_rnd.Next(2) == 0)
            return new SearchCase(i, "", type, [(param, TokenText(a.Value, "system|code") + "," + TokenText(b.Value, "code"))]);
        var (dt, dp) = Pick(DateParams);
        var dates = oracle.All(dt).Select(r => DateText(r, dp)).OfType<string>().ToList();
        return dates.Count == 0 ? null : new SearchCase(i, "", dt, [(dp, Pick(dates)[..10] + "," + Pick(dates)[..7])]);
    }

    private SearchCase? And(int i)
    {
        switch (_rnd.Next(3))
        {
            case 0:
                // The HIS query: patient + code + date.
                if (Draw("Observation", "code", OracleValues.Tokens) is not { } d) return null;
                var patient = oracle.ReferencedKeys(d.Resource, "patient").FirstOrDefault();
                var date = DateText(d.Resource, "date");
                if (patient is null || date is null) return null;
                return new SearchCase(i, "", "Observation", [("patient", patient), ("code", TokenText(d.Value, "system|code")), ("date", "ge" + date[..4]), ("date", "le" + date[..10])]);
            case 1:
                var (type, param) = Pick(DateParams);
                var dates = oracle.All(type).Select(r => DateText(r, param)).OfType<string>().Order(StringComparer.Ordinal).ToList();
                if (dates.Count < 2) return null;
                var (x, y) = (Pick(dates), Pick(dates));
                if (string.CompareOrdinal(x, y) > 0) (x, y) = (y, x);
                return new SearchCase(i, "", type, [(param, "ge" + x[..7]), (param, "lt" + y)]);
            default:
                // Repeated token parameter: both codings must be present (Observation.category and code).
                if (Draw("Observation", "category", OracleValues.Tokens) is not { } c) return null;
                var code = oracle.Values(c.Resource, "code").SelectMany(OracleValues.Tokens).First();
                return new SearchCase(i, "", "Observation", [("category", TokenText(c.Value, "system|code")), ("code", TokenText(code, "code"))]);
        }
    }

    private SearchCase? IdSearch(int i)
    {
        var type = Pick(oracle.Types.Order(StringComparer.Ordinal).ToList());
        var ids = Enumerable.Range(0, _rnd.Next(1, 4)).Select(_ => Pick(oracle.All(type)).Id).Distinct().ToList();
        if (_rnd.Next(4) == 0) ids.Add("no-such-id");
        return new SearchCase(i, "", type, [("_id", string.Join(',', ids))]);
    }

    private SearchCase? LastUpdated(int i)
    {
        var type = Pick(oracle.Types.Order(StringComparer.Ordinal).ToList());
        var text = OracleValues.PrimitiveText(Pick(oracle.All(type)).Poco.Meta!.LastUpdatedElement!);
        // Seconds precision (the whole load happens within minutes), or the day, with a prefix.
        var value = _rnd.Next(3) == 0 ? text[..10] : text[..19] + text[^6..];
        return new SearchCase(i, "", type, [("_lastUpdated", Pick(DatePrefixes) + value)]);
    }

    private SearchCase? Chained(int i)
    {
        if (AnyOf("Patient") is not { } p) return null;
        var (type, date) = Pick(new[] { ("Observation", "date"), ("Encounter", "date"), ("Condition", "onset-date"), ("Immunization", "date") });
        var patient = (Patient)p.Poco;
        var name = patient.Name.First().Family ?? "";
        return _rnd.Next(3) switch
        {
            0 => new SearchCase(i, "", type, [((type == "Immunization" ? "patient" : "subject") + ":Patient.name", name[..Math.Min(name.Length, 3 + _rnd.Next(4))])]),
            1 => new SearchCase(i, "", type, [("patient.birthdate", DateValue(patient.BirthDate ?? "1900"))]),
            _ => new SearchCase(i, "", type, [("patient.gender", patient.Gender?.ToString().ToLowerInvariant() ?? "unknown"), (date, "ge" + (2000 + _rnd.Next(20)))]),
        };
    }

    private SearchCase? Has(int i)
    {
        var (source, param, target) = Pick(new[] { ("Observation", "patient", "Patient"), ("Condition", "encounter", "Encounter"), ("Encounter", "patient", "Patient"), ("Procedure", "encounter", "Encounter") });
        var codeParam = source == "Encounter" ? "type" : "code";
        return Draw(source, codeParam, OracleValues.Tokens) is { } d
            ? new SearchCase(i, "", target, [($"_has:{source}:{param}:{codeParam}", TokenText(d.Value, _rnd.Next(2) == 0 ? "code" : "system|code"))])
            : null;
    }

    private SearchCase? SortPaging(int i)
    {
        var count = _rnd.Next(3, 30);
        var patient = AnyOf("Patient")?.Key;
        if (patient is null) return null;
        return _rnd.Next(6) switch
        {
            0 => new SearchCase(i, "", "Observation", [("patient", patient)]) { Sort = "-date", Count = count },
            1 => new SearchCase(i, "", "Encounter", [("subject", patient)]) { Sort = "date", Count = count },
            2 => new SearchCase(i, "", "Patient", []) { Sort = _rnd.Next(2) == 0 ? "birthdate" : "-birthdate", Count = _rnd.Next(2, 5) },
            3 => new SearchCase(i, "", "Immunization", [("patient", patient)]) { Sort = "-_lastUpdated", Count = count },
            4 => new SearchCase(i, "", "Condition", []) { Sort = _rnd.Next(2) == 0 ? "_id" : "-_id", Count = count },
            _ => new SearchCase(i, "", "Observation", [("patient", patient), ("category", "vital-signs")]) { Sort = "status,-date", Count = count },
        };
    }

    private SearchCase? Include(int i)
    {
        var patient = AnyOf("Patient")?.Key;
        if (patient is null) return null;
        return _rnd.Next(4) switch
        {
            0 => Draw("Observation", "code", OracleValues.Tokens) is { } d
                ? new SearchCase(i, "", "Observation", [("code", TokenText(d.Value, "system|code")), ("date", "ge" + (2010 + _rnd.Next(10)))]) { Include = "Observation:patient" } : null,
            1 => new SearchCase(i, "", "Encounter", [("patient", patient)]) { Include = "Encounter:service-provider" },
            2 => new SearchCase(i, "", "Encounter", [("patient", patient)]) { Include = "Encounter:participant:Practitioner" },
            _ => new SearchCase(i, "", "MedicationRequest", [("subject", patient)]) { Include = "MedicationRequest:requester" },
        };
    }

    private SearchCase? RevInclude(int i)
    {
        if (AnyOf("Patient") is not { } p || AnyOf("Encounter") is not { } e) return null;
        return _rnd.Next(3) switch
        {
            0 => new SearchCase(i, "", "Patient", [("_id", p.Id)]) { RevInclude = "Encounter:patient" },
            1 => new SearchCase(i, "", "Encounter", [("_id", e.Id)]) { RevInclude = "Observation:encounter" },
            _ => new SearchCase(i, "", "Encounter", [("patient", p.Key), ("date", "ge" + (2012 + _rnd.Next(8)))]) { RevInclude = "Condition:encounter", Count = _rnd.Next(3, 10) },
        };
    }

    private SearchCase? TotalSearch(int i) =>
        Draw("Observation", "code", OracleValues.Tokens) is { } d
            ? new SearchCase(i, "", "Observation", [("code", TokenText(d.Value, "system|code"))]) { Total = true, Count = _rnd.Next(1, 10) }
            : null;
}
