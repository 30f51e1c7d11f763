using System.Diagnostics;
using System.Net;
using System.Text;
using FhirArchive.Fhir.Serialization.Json;
using FhirArchive.Storage.Encryption;
using FhirArchive.Storage.Indexing;
using FhirArchive.Storage.Search;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Xunit;
using static FhirArchive.Tests.Support.Http;

namespace FhirArchive.Storage.Tests;

/// <summary>Field encryption at rest with a blind index, through the whole server (Storage:FieldEncryption on).</summary>
public abstract class FieldEncryptionTestsBase<TFixture>(TFixture fx) where TFixture : ServerFixture
{
    private FhirDbContext Db() => fx.Factory.Services.GetRequiredService<IDbContextFactory<FhirDbContext>>().CreateDbContext();
    private FieldEncryption Encryption => fx.Factory.Services.GetRequiredService<FieldEncryption>();

    private const string IdCardSystem = "urn:oid:2.16.156.10011.1.3";

    /// <summary>A resident with fresh values: ID card number, mobile, e-mail, address line (and the same number in the narrative).</summary>
    private sealed record Resident(string IdCard, string Phone, string Email, string Line)
    {
        public static Resident New()
        {
            var n = Random.Shared.Next(10_000_000, 99_999_999);
            return new Resident($"1101051990{n}", $"139{n}", $"zhang{n}@example.cn", $"建国路{n}号院");
        }

        public IEnumerable<string> Values => [IdCard, Phone, Email, Line];

        public string Json(string? id = null, string family = "张") => $$$"""
            {"resourceType":"Patient",{{{(id is null ? "" : $"\"id\":\"{id}\",")}}}
             "text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">{{{family}}}伟 身份证 {{{IdCard}}} 电话 {{{Phone}}}</div>"},
             "identifier":[{"system":"{{{IdCardSystem}}}","value":"{{{IdCard}}}","type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"NI"}]}}],
             "name":[{"family":"{{{family}}}","given":["伟"]}],"gender":"male","birthDate":"1990-03-07",
             "telecom":[{"system":"phone","value":"{{{Phone}}}","use":"mobile"},{"system":"email","value":"{{{Email}}}"}],
             "address":[{"line":["{{{Line}}}"],"district":"朝阳区","city":"北京市","state":"北京市","postalCode":"100020"}]}
            """;
    }

    private async Task<(string Id, Resident Who)> CreateAsync()
    {
        var who = Resident.New();
        return (await fx.Client.CreateAsync(who.Json()), who);
    }

    [FhirFact]
    public async Task Searches_by_identifier_phone_email_and_address_find_the_resident()
    {
        var (id, who) = await CreateAsync();
        await CreateAsync(); // another resident, who must not match
        string[] urls =
        [
            $"/Patient?identifier={who.IdCard}", $"/Patient?identifier={Uri.EscapeDataString($"{IdCardSystem}|{who.IdCard}")}",
            $"/Patient?identifier:of-type={Uri.EscapeDataString($"http://terminology.hl7.org/CodeSystem/v2-0203|NI|{who.IdCard}")}",
            $"/Patient?phone={who.Phone}", $"/Patient?telecom={Uri.EscapeDataString("phone|" + who.Phone)}", $"/Patient?email={who.Email}",
            $"/Patient?address={Uri.EscapeDataString(who.Line)}", $"/Patient?address:exact={Uri.EscapeDataString(who.Line)}",
            $"/Patient?identifier={who.IdCard}&address-city={Uri.EscapeDataString("北京")}",
            $"/Observation?subject:Patient.identifier={who.IdCard}&_revinclude=Observation:subject", // chained: the inner search is blinded too
        ];
        foreach (var url in urls[..^1]) Assert.Equal([id], await fx.Client.SearchIdsAsync(url));
        Assert.Empty(await fx.Client.SearchIdsAsync(urls[^1]));
        // The clear parts of an address are searched as before: by prefix.
        Assert.Contains(id, await fx.Client.SearchIdsAsync($"/Patient?address={Uri.EscapeDataString("北京")}&identifier={who.IdCard}"));
        // A value nobody has, and the right value of the wrong system, find nothing.
        Assert.Empty(await fx.Client.SearchIdsAsync($"/Patient?identifier={who.IdCard}0"));
        Assert.Empty(await fx.Client.SearchIdsAsync($"/Patient?identifier={Uri.EscapeDataString("urn:other|" + who.IdCard)}"));
        // Conditional create finds the resident through the blind index: no second one.
        var conditional = await fx.Client.SendAsync(HttpMethod.Post, "/Patient", who.Json(), [("If-None-Exist", $"identifier={IdCardSystem}|{who.IdCard}")]);
        Assert.Equal(HttpStatusCode.OK, conditional.StatusCode);
        Assert.Equal([id], await fx.Client.SearchIdsAsync($"/Patient?phone={who.Phone}"));
    }

    [FhirFact]
    public async Task A_partial_match_of_a_protected_value_is_refused_with_400()
    {
        var (_, who) = await CreateAsync();
        var r = await fx.Client.GetAsync($"/Patient?address:contains={Uri.EscapeDataString(who.Line[..4])}");
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        AssertOutcome(await r.JsonAsync(), "address:contains is not available");
        // A type stored in clear keeps :contains.
        Assert.Equal(HttpStatusCode.OK, (await fx.Client.GetAsync("/Organization?address:contains=x")).StatusCode);
    }

    [FhirFact]
    public async Task Modifiers_that_compare_protected_values_by_part_hierarchy_or_order_are_refused_with_400_on_every_search_path()
    {
        var (id, who) = await CreateAsync();
        string[] refused =
        [
            "/Patient?_sort=phone", "/Patient?_sort=-identifier,birthdate", "/Patient?_sort=address",
            $"/Patient?identifier:below={IdCardSystem}|{who.IdCard[..6]}", $"/Patient?identifier:above={IdCardSystem}|{who.IdCard}",
            $"/Patient?telecom:below=phone|{who.Phone[..3]}", $"/Patient?address:contains={Uri.EscapeDataString(who.Line[2..])}",
            $"/Observation?subject:Patient.identifier:below={IdCardSystem}|{who.IdCard[..6]}", // chained
            $"/Patient?_has:Observation:subject:_id=x&_sort=email",
        ];
        foreach (var url in refused)
        {
            var r = await fx.Client.GetAsync(url);
            Assert.True(r.StatusCode == HttpStatusCode.BadRequest, $"{url}: {r.StatusCode}");
            AssertOutcome(await r.JsonAsync(), "is not available");
        }
        // POST _search, a batch entry and a conditional create parse the same way.
        var post = await fx.Client.PostAsync("/Patient/_search", new FormUrlEncodedContent([new("_sort", "phone")]));
        Assert.Equal(HttpStatusCode.BadRequest, post.StatusCode);
        var batch = await (await fx.Client.SendAsync(HttpMethod.Post, "/",
            """{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"Patient?_sort=phone"}}]}""")).JsonAsync();
        Assert.StartsWith("400", batch.GetProperty("entry")[0].GetProperty("response").GetProperty("status").GetString());
        var conditional = await fx.Client.SendAsync(HttpMethod.Post, "/Patient", who.Json(), [("If-None-Exist", $"identifier:below={IdCardSystem}|{who.IdCard[..6]}")]);
        Assert.Equal(HttpStatusCode.BadRequest, conditional.StatusCode);
        // Types and parameters stored in clear keep them.
        Assert.Equal([id], await fx.Client.SearchIdsAsync($"/Patient?identifier={who.IdCard}&_sort=birthdate,-address-city"));
        Assert.Equal(HttpStatusCode.OK, (await fx.Client.GetAsync("/Organization?_sort=address")).StatusCode);
    }

    [FhirFact]
    public async Task Whole_value_modifiers_missing_text_not_and_of_type_work_on_protected_values()
    {
        var (id, who) = await CreateAsync();
        var card = Resident.New().IdCard;
        var noPhone = await fx.Client.CreateAsync($$$"""
            {"resourceType":"Patient","identifier":[{"system":"{{{IdCardSystem}}}","value":"{{{card}}}","type":{"text":"居民身份证"}}],"name":[{"family":"王"}]}
            """);
        Assert.Equal([id], await fx.Client.SearchIdsAsync($"/Patient?identifier={who.IdCard}&phone:missing=false"));
        Assert.Empty(await fx.Client.SearchIdsAsync($"/Patient?identifier={who.IdCard}&phone:missing=true"));
        Assert.Equal([noPhone], await fx.Client.SearchIdsAsync($"/Patient?identifier={card}&phone:missing=true"));
        Assert.Empty(await fx.Client.SearchIdsAsync($"/Patient?identifier={card}&phone:missing=false"));
        // :text reads the identifier's type text, which is not protected.
        Assert.Equal([noPhone], await fx.Client.SearchIdsAsync($"/Patient?identifier:text={Uri.EscapeDataString("居民身份证")}&identifier={card}"));
        Assert.Empty(await fx.Client.SearchIdsAsync($"/Patient?identifier={who.IdCard}&phone:not={who.Phone}"));
        Assert.Equal([id], await fx.Client.SearchIdsAsync($"/Patient?identifier={who.IdCard}&phone:not={who.Phone}0"));
    }

    [FhirFact]
    public async Task A_subscription_by_identifier_or_phone_fires_for_the_matching_resident_only()
    {
        await using var hook = await HookListener.StartAsync();
        var (who, other) = (Resident.New(), Resident.New());
        foreach (var (criteria, path) in new[] { ($"Patient?identifier={IdCardSystem}|{who.IdCard}", "/id"), ($"Patient?phone={who.Phone}", "/phone") })
            await fx.Client.CreateAsync($$$"""
                {"resourceType":"Subscription","status":"requested","reason":"test","criteria":"{{{criteria}}}",
                 "channel":{"type":"rest-hook","endpoint":"{{{hook.Url}}}{{{path}}}","payload":"application/fhir+json"}}
                """);
        var otherId = await fx.Client.CreateAsync(other.Json());
        var id = await fx.Client.CreateAsync(who.Json());
        var paths = new[] { (await hook.NextAsync()).Path, (await hook.NextAsync()).Path };
        Assert.Equal([$"/hook/id/Patient/{id}", $"/hook/phone/Patient/{id}"], paths.Order());
        await fx.OutboxEmptiedAsync();
        Assert.Equal(2, hook.Calls);
        Assert.DoesNotContain(hook.Pending(), n => n.Path.Contains(otherId));
    }

    [FhirFact]
    public async Task Reads_vreads_history_and_search_pages_serve_the_clear_resource()
    {
        var (id, who) = await CreateAsync();
        var updated = who with { Phone = who.Phone[..^1] + (who.Phone[^1] == '0' ? '1' : '0') };
        await fx.Client.PutAsync(updated.Json(id, "李"));
        Assert.Contains(who.IdCard, await fx.Client.GetStringAsync($"/Patient/{id}"));
        Assert.Contains(who.Phone, await fx.Client.GetStringAsync($"/Patient/{id}/_history/1"));
        Assert.Contains(updated.Phone, await fx.Client.GetStringAsync($"/Patient/{id}/_history/2"));
        var history = await fx.Client.GetStringAsync($"/Patient/{id}/_history");
        Assert.Contains(who.Phone, history);
        Assert.Contains(updated.Phone, history);
        Assert.Contains(who.Line, await fx.Client.GetStringAsync($"/Patient?identifier={who.IdCard}"));
        // Only the current version is indexed: the old phone finds nothing, the new one the resident.
        Assert.Empty(await fx.Client.SearchIdsAsync($"/Patient?phone={who.Phone}"));
        Assert.Equal([id], await fx.Client.SearchIdsAsync($"/Patient?phone={updated.Phone}"));
        var batch = $$$"""{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"Patient/{{{id}}}"}},{"request":{"method":"GET","url":"Patient?identifier={{{who.IdCard}}}"}}]}""";
        var answer = await (await fx.Client.SendAsync(HttpMethod.Post, "/", batch)).Content.ReadAsStringAsync();
        Assert.True(answer.Split(who.IdCard).Length - 1 >= 2, answer);
        Assert.Contains(who.Line, await fx.Client.GetStringAsync($"/Patient/{id}/$everything"));
    }

    [FhirFact]
    public async Task Versions_of_protected_types_are_sealed_and_their_index_rows_hold_the_blind_index()
    {
        var (id, who) = await CreateAsync();
        using var db = Db();
        var row = db.Resources.Single(r => r.ResourceType == "Patient" && r.ResourceId == id && r.IsCurrent);
        Assert.Equal(Encryption.ActiveKeyId, row.KeyId);
        // The sealed bytes are not the compressed resource (that would start the same as its compression).
        var clear = Compression.Compress(await fx.Client.GetByteArrayAsync($"/Patient/{id}"));
        Assert.NotEqual(clear[..8], row.Data![..8]);
        Assert.Contains(db.Tokens, t => t.ResourceRowId == row.Id && t.Param == "identifier" && t.Code == Encryption.Blind("Patient.identifier", who.IdCard));
        Assert.Contains(db.Tokens, t => t.ResourceRowId == row.Id && t.Param == "phone" && t.Code == Encryption.Blind("Patient.phone", who.Phone));
        Assert.Contains(db.Strings, s => s.ResourceRowId == row.Id && s.Param == "address" && s.Normalized == Encryption.Blind("Patient.address", who.Line));
        Assert.Contains(db.Strings, s => s.ResourceRowId == row.Id && s.Param == "address-city" && s.Value == "北京市");
        // Other types are stored and indexed as before.
        var org = await fx.Client.CreateAsync("""{"resourceType":"Organization","name":"明文机构","identifier":[{"value":"ORG-1"}]}""");
        var orgRow = db.Resources.Single(r => r.ResourceType == "Organization" && r.ResourceId == org);
        Assert.Null(orgRow.KeyId);
        Assert.Contains("明文机构", Encoding.UTF8.GetString(Compression.Decompress(orgRow.Data!)));
    }

    [FhirFact]
    public async Task The_same_value_in_two_domains_gives_unrelated_index_rows_and_both_are_found()
    {
        // One number as a resident's identifier and as a relative's phone: equal tags would link the two people.
        var (id, who) = await CreateAsync();
        var relative = await fx.Client.CreateAsync($$$"""
            {"resourceType":"RelatedPerson","patient":{"reference":"Patient/{{{id}}}"},"telecom":[{"system":"phone","value":"{{{who.IdCard}}}"}]}
            """);
        using (var db = Db())
        {
            var patientRow = db.Resources.Single(r => r.ResourceType == "Patient" && r.ResourceId == id && r.IsCurrent).Id;
            var relativeRow = db.Resources.Single(r => r.ResourceType == "RelatedPerson" && r.ResourceId == relative && r.IsCurrent).Id;
            var patientTag = db.Tokens.Single(t => t.ResourceRowId == patientRow && t.Param == "identifier").Code;
            var relativeTags = db.Tokens.Where(t => t.ResourceRowId == relativeRow && (t.Param == "telecom" || t.Param == "phone")).Select(t => t.Code).ToList();
            Assert.Equal(2, relativeTags.Count);
            Assert.StartsWith(FieldEncryption.BlindPrefix, patientTag);
            Assert.DoesNotContain(patientTag, relativeTags);
            Assert.Equal(Encryption.Blind("RelatedPerson.phone", who.IdCard), relativeTags.Single(t => t != Encryption.Blind("RelatedPerson.telecom", who.IdCard)));
            Assert.NotEqual(Encryption.Blind("Patient.identifier", who.IdCard), Encryption.Blind(FieldEncryption.UniqueDomain("id-card"), who.IdCard));
        }
        Assert.Equal([id], await fx.Client.SearchIdsAsync($"/Patient?identifier={who.IdCard}"));
        Assert.Equal([relative], await fx.Client.SearchIdsAsync($"/RelatedPerson?telecom={who.IdCard}"));
        Assert.Equal([relative], await fx.Client.SearchIdsAsync($"/RelatedPerson?phone={who.IdCard}"));
        Assert.Empty(await fx.Client.SearchIdsAsync($"/RelatedPerson?identifier={who.IdCard}"));
    }

    [FhirFact]
    public async Task Key_rotation_new_writes_use_the_new_key_and_both_stay_readable_and_searchable()
    {
        var (before, old) = await CreateAsync();
        var oldKey = Encryption.ActiveKeyId;
        var newKey = await Encryption.RotateAsync();
        Assert.Equal(oldKey + 1, newKey);
        var (after, young) = await CreateAsync();
        using (var db = Db())
        {
            Assert.Equal(oldKey, db.Resources.Single(r => r.ResourceType == "Patient" && r.ResourceId == before).KeyId);
            Assert.Equal(newKey, db.Resources.Single(r => r.ResourceType == "Patient" && r.ResourceId == after).KeyId);
        }
        Assert.Contains(old.IdCard, await fx.Client.GetStringAsync($"/Patient/{before}"));
        Assert.Contains(young.IdCard, await fx.Client.GetStringAsync($"/Patient/{after}"));
        Assert.Equal([before], await fx.Client.SearchIdsAsync($"/Patient?identifier={old.IdCard}"));
        Assert.Equal([after], await fx.Client.SearchIdsAsync($"/Patient?identifier={young.IdCard}"));
        // Updating the old resident seals its new version under the new key; its first version still opens under the old one.
        await fx.Client.PutAsync(old.Json(before, "王"));
        using (var db = Db())
            Assert.Equal([oldKey, newKey], db.Resources.Where(r => r.ResourceType == "Patient" && r.ResourceId == before).OrderBy(r => r.Version).Select(r => r.KeyId!.Value).ToList());
        Assert.Contains(old.IdCard, await fx.Client.GetStringAsync($"/Patient/{before}/_history/1"));
        Assert.Equal([before], await fx.Client.SearchIdsAsync($"/Patient?phone={old.Phone}"));
    }

    /// <summary>The SQL of "Patient?identifier=" as the store runs it under encryption, with its parameters.</summary>
    protected System.Data.Common.DbCommand IdentifierSearchCommand(FhirDbContext db, string value)
    {
        var query = new SearchQuery { ResourceType = "Patient", SnapshotRowId = long.MaxValue };
        query.Criteria.Add(new SearchCriterion([new TokenPredicate("identifier", IdCardSystem, true, value, true)]));
        var criteria = Encryption.BlindCriteria("Patient", query.Criteria);
        Assert.Equal(Encryption.Blind("Patient.identifier", value), ((TokenPredicate)Assert.Single(criteria.Single().AnyOf)).Code);
        return SearchQueryBuilder.Order(db, SearchQueryBuilder.Build(db, query, criteria), []).Take(20).CreateDbCommand();
    }

    [FhirFact]
    public async Task Nothing_in_the_database_holds_a_protected_value_in_clear()
    {
        var people = new List<Resident>();
        for (var i = 0; i < 3; i++)
        {
            var (id, who) = await CreateAsync();
            people.Add(who);
            // History too: a second version, and searches (their query strings are audited).
            await fx.Client.PutAsync(who.Json(id, "赵"));
            Assert.Equal([id], await fx.Client.SearchIdsAsync($"/Patient?identifier={who.IdCard}"));
            Assert.Equal([id], await fx.Client.SearchIdsAsync($"/Patient?phone={who.Phone}&address={Uri.EscapeDataString(who.Line)}"));
        }
        var values = people.SelectMany(p => p.Values).ToList();
        using (var db = Db())
        {
            // The test is not vacuous: the values were written, and open from their sealed versions.
            foreach (var p in people) Assert.Contains(p.IdCard, await fx.Client.GetStringAsync($"/Patient?identifier={p.IdCard}"));
            // Every compressed payload, decompressed: those stored in clear hold none of the values.
            foreach (var row in db.Resources.Where(r => r.Data != null).ToList())
            {
                if (row.KeyId is not null) continue;
                var json = Encoding.UTF8.GetString(Compression.Decompress(row.Data!));
                Assert.DoesNotContain(values, v => json.Contains(v, StringComparison.Ordinal));
            }
            Assert.True(db.Resources.Count(r => r.ResourceType == "Patient" && r.KeyId != null) >= 6);
        }
        await AssertNoClearValuesAsync(values);
    }

    /// <summary>Greps the provider's bytes at rest (SQLite: the data folder's files, the WAL among them; PostgreSQL: a dump).</summary>
    protected abstract Task AssertNoClearValuesAsync(IReadOnlyList<string> values);

    protected static void AssertNotIn(byte[] haystack, IReadOnlyList<string> values, string where)
    {
        foreach (var v in values)
        {
            var utf8 = Encoding.UTF8.GetBytes(v);
            Assert.True(haystack.AsSpan().IndexOf(utf8) < 0, $"{where} holds '{v}' in clear");
            // Binary columns dumped as hex (PostgreSQL's bytea text form) would show the bytes so.
            var hex = Encoding.ASCII.GetBytes(Convert.ToHexStringLower(utf8));
            Assert.True(haystack.AsSpan().IndexOf(hex) < 0, $"{where} holds '{v}' as hex");
        }
    }
}

public sealed class SqliteFieldEncryptionTests(EncryptedServerFixture fx) : FieldEncryptionTestsBase<EncryptedServerFixture>(fx), IClassFixture<EncryptedServerFixture>
{
    private readonly EncryptedServerFixture _fx = fx;

    protected override async Task AssertNoClearValuesAsync(IReadOnlyList<string> values)
    {
        var files = Directory.GetFiles(_fx.Folder, "*", SearchOption.AllDirectories);
        Assert.Contains(files, f => f.EndsWith("fhirarchive.db", StringComparison.Ordinal));
        Assert.Contains(files, f => f.EndsWith("fhirarchive.db-wal", StringComparison.Ordinal));
        foreach (var file in files) AssertNotIn(await ReadLockedAsync(file), values, Path.GetFileName(file));
    }

    /// <summary>The file's bytes, read by cat: the server holds the audit journal with .NET's exclusive (advisory) lock.</summary>
    private static async Task<byte[]> ReadLockedAsync(string file)
    {
        using var p = Process.Start(new ProcessStartInfo("cat", [file]) { RedirectStandardOutput = true })!;
        using var bytes = new MemoryStream();
        await p.StandardOutput.BaseStream.CopyToAsync(bytes);
        await p.WaitForExitAsync();
        Assert.Equal(0, p.ExitCode);
        return bytes.ToArray();
    }

    /// <summary>The search by identifier under encryption is the same single probe of the token index as in clear.</summary>
    [Fact]
    public async Task A_search_by_identifier_is_one_probe_of_the_token_index()
    {
        await using var db = _fx.Factory.Services.GetRequiredService<IDbContextFactory<FhirDbContext>>().CreateDbContext();
        await db.Database.OpenConnectionAsync();
        await using var cmd = IdentifierSearchCommand(db, "110105199003071234");
        cmd.CommandText = "EXPLAIN QUERY PLAN " + cmd.CommandText;
        var plan = new List<string>();
        await using (var reader = await cmd.ExecuteReaderAsync())
            while (await reader.ReadAsync()) plan.Add(reader.GetString(3));
        Assert.Contains(plan, l => l.Contains("USING INTEGER PRIMARY KEY"));
        Assert.Contains(plan, l => l.Contains("COVERING INDEX IX_TokenIndex_Param"));
        Assert.DoesNotContain(plan, l => l.StartsWith("SCAN", StringComparison.Ordinal) && !l.Contains("INDEX"));
    }
}

public sealed class PostgresFieldEncryptionTests(EncryptedPostgresServerFixture fx) : FieldEncryptionTestsBase<EncryptedPostgresServerFixture>(fx), IClassFixture<EncryptedPostgresServerFixture>
{
    private readonly EncryptedPostgresServerFixture _fx = fx;

    protected override async Task AssertNoClearValuesAsync(IReadOnlyList<string> values)
    {
        var cs = new Npgsql.NpgsqlConnectionStringBuilder(_fx.Factory.Services.GetRequiredService<StorageOptions>().ConnectionString);
        var bin = Path.GetDirectoryName(PgDump())!;
        var start = new ProcessStartInfo(Path.Combine(bin, "pg_dump"), ["-w", "-h", cs.Host!, "-p", cs.Port.ToString(), "-U", cs.Username!, "-d", cs.Database!])
            { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(start)!;
        using var dump = new MemoryStream();
        var copy = p.StandardOutput.BaseStream.CopyToAsync(dump);
        var errors = p.StandardError.ReadToEndAsync();
        using (var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2))) await p.WaitForExitAsync(timeout.Token);
        await copy;
        Assert.True(p.ExitCode == 0, await errors);
        Assert.Contains("ResourceVersion", Encoding.UTF8.GetString(dump.ToArray()));
        AssertNotIn(dump.ToArray(), values, "pg_dump");
    }

    private static string PgDump() =>
        (Environment.GetEnvironmentVariable("FHIRARCHIVE_PG_BIN") is { Length: > 0 } env ? [Path.Combine(env, "pg_dump")]
            : Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin", "pg_dump")))
        .First(File.Exists);

    /// <summary>PostgreSQL: the search by identifier uses the token index (statistics of a tiny test database
    /// would prefer a scan, so scans are priced out: the test is that the index can answer the blinded query).</summary>
    [FhirFact]
    public async Task A_search_by_identifier_uses_the_token_index()
    {
        await using var db = _fx.Factory.Services.GetRequiredService<IDbContextFactory<FhirDbContext>>().CreateDbContext();
        await db.Database.OpenConnectionAsync();
        await db.Database.ExecuteSqlRawAsync("SET enable_seqscan = off");
        await using var cmd = IdentifierSearchCommand(db, "110105199003071234");
        cmd.CommandText = "EXPLAIN " + cmd.CommandText;
        var plan = new List<string>();
        await using (var reader = await cmd.ExecuteReaderAsync())
            while (await reader.ReadAsync()) plan.Add(reader.GetString(0));
        Assert.Contains(plan, l => l.Contains("IX_TokenIndex_Param"));
    }
}

/// <summary>The blind index in the extracted rows (no server).</summary>
public sealed class BlindIndexTests
{
    private static readonly FhirPathSearchEvaluator Evaluator = new();
    private static readonly FieldEncryption Encryption = new(
        new FieldEncryptionOptions { KeyEncryptionKey = FhirArchive.Tests.Support.EncryptedStorage.KeyEncryptionKey }, SearchParameterRegistry.R4, Evaluator);

    [Fact]
    public void Protected_values_and_parameters_are_found_and_the_content_index_leaves_the_values_out()
    {
        var patient = new FhirJsonParser().Parse("""
            {"resourceType":"Patient","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">身份证 110105199003071234</div>"},
             "identifier":[{"system":"s","value":"110105199003071234"}],"telecom":[{"system":"phone","value":"13912345678"}],
             "address":[{"line":["建国路88号"],"city":"北京市","text":"北京市朝阳区建国路88号"}],"name":[{"family":"张"}]}
            """).GetResourceOrThrow();
        var values = Encryption.ProtectedValues(patient);
        Assert.Equal(new[] { "110105199003071234", "13912345678", "建国路88号", "北京市朝阳区建国路88号" }.Order(StringComparer.Ordinal), values.Order(StringComparer.Ordinal));
        var set = new IndexSet();
        TextIndex.Add(set, patient, values);
        var content = string.Join(" ", set.Strings.Select(s => s.Normalized));
        Assert.Contains("身份证", content);
        Assert.Contains("张", content);
        Assert.DoesNotContain(values, v => content.Contains(v, StringComparison.Ordinal));
        Assert.True(Encryption.IsBlinded("Patient", "identifier"));
        Assert.True(Encryption.IsBlinded("Patient", "phone"));
        Assert.True(Encryption.IsBlinded("Patient", "identifier:of-type"));
        Assert.True(Encryption.IsBlinded("Patient", "address"));
        Assert.False(Encryption.IsBlinded("Patient", "address-city"));
        Assert.False(Encryption.IsBlinded("Patient", "name"));
        Assert.False(Encryption.IsBlinded("Patient", "active"));
        Assert.False(Encryption.IsBlinded("Observation", "identifier"));
        Assert.True(Encryption.IsBlinded(null, "telecom"));
    }
}
