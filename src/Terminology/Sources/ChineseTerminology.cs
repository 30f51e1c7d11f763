using FhirArchive.Terminology.Model;

namespace FhirArchive.Terminology.Sources;

/// <summary>Canonical URLs of the Chinese code systems and value sets FhirArchive publishes.</summary>
public static class CnTerminology
{
    /// <summary>The canonical base of FhirArchive's own conformance resources.</summary>
    public const string Canonical = "http://fhirarchive.cn/fhir";

    public const string Sex = "urn:oid:2.16.156.10011.2.3.3.4";
    public const string Ethnicity = "urn:oid:2.16.156.10011.2.3.3.3";
    public const string MaritalStatus = "urn:oid:2.16.156.10011.2.3.3.5";
    public const string FamilyRelationship = "urn:oid:2.16.156.10011.2.3.3.8";
    public const string DocumentType = "urn:oid:2.16.156.10011.2.4";
    public const string Education = Canonical + "/CodeSystem/gbt-4658-education";
    public const string Occupation = Canonical + "/CodeSystem/gbt-6565-occupation";
    public const string IdDocumentType = Canonical + "/CodeSystem/cv02-01-101-id-document-type";
    public const string AboBloodType = Canonical + "/CodeSystem/cv04-50-005-abo-blood-type";
    public const string RhBloodType = Canonical + "/CodeSystem/cv04-50-020-rh-blood-type";
    public const string PaymentMethod = Canonical + "/CodeSystem/cv07-10-003-payment-method";
    public const string AdminDivision = Canonical + "/CodeSystem/gbt-2260-admin-division";
    public const string RecordStatus = Canonical + "/CodeSystem/health-record-status";
    public const string KeyPopulation = Canonical + "/CodeSystem/key-population";
    public const string SevereMentalDisorder = Canonical + "/CodeSystem/severe-mental-disorder";
    public const string HealthTag = Canonical + "/CodeSystem/health-tag";
    public const string TransferReason = Canonical + "/CodeSystem/transfer-reason";
    public const string ConfirmationMethod = Canonical + "/CodeSystem/resident-confirmation-method";
    public const string RecordTaskType = Canonical + "/CodeSystem/record-task-type";
    public const string RecordTaskBusinessStatus = Canonical + "/CodeSystem/record-task-business-status";
    public const string RecordDocumentType = Canonical + "/CodeSystem/record-document-type";
    public const string RecordHomepageSection = Canonical + "/CodeSystem/record-homepage-section";
    public const string SharedDocumentSection = Canonical + "/CodeSystem/shared-document-section";
    public const string ConsentCategory = Canonical + "/CodeSystem/consent-category";
    public const string ConsentVerificationMethod = Canonical + "/CodeSystem/consent-verification-method";
    public const string GuardianshipType = Canonical + "/CodeSystem/guardianship-type";
    public const string Sensitivity = Canonical + "/CodeSystem/sensitivity";
    public const string PublicHealthService = Canonical + "/CodeSystem/public-health-service";
    public const string PurposeOfUse = Canonical + "/CodeSystem/purpose-of-use";

    public const string AdministrativeGender = "http://hl7.org/fhir/administrative-gender";
    public const string SexToGenderMap = Canonical + "/ConceptMap/gbt-2261-1-sex-to-administrative-gender";

    /// <summary>The "all codes" value set of a code system.</summary>
    public static string ValueSetFor(CodeSystemInfo cs) => $"{Canonical}/ValueSet/{cs.Name}";
}

/// <summary>
/// Builds the Chinese national and local code systems, their value sets and concept maps from the
/// embedded source lists (Data/SOURCE.md names each origin).
/// </summary>
public static class ChineseTerminology
{
    public sealed record Content(
        IReadOnlyList<CodeSystemInfo> CodeSystems,
        IReadOnlyList<ValueSetInfo> ValueSets,
        IReadOnlyList<ConceptMapInfo> ConceptMaps);

    public static Content Load()
    {
        var systems = new List<CodeSystemInfo>
        {
            Flat("gbt2261.1-2003-sex.csv", new CodeSystemInfo(CnTerminology.Sex, "gbt-2261-1-sex", "GB/T 2261.1-2003 人的性别代码")
                { TitleEn = "Sex (GB/T 2261.1-2003)", Oid = "2.16.156.10011.2.3.3.4" },
                en: r => r["fhir_administrative_gender"] switch
                {
                    "male" => "Male",
                    "female" => "Female",
                    "unknown" when r["code"] == "0" => "Unknown",
                    _ => "Not stated",
                }),
            Flat("gb3304-ethnicity.csv", new CodeSystemInfo(CnTerminology.Ethnicity, "gb-3304-ethnicity", "GB 3304-1991 中国各民族名称的罗马字母拼写法和代码")
                { TitleEn = "Ethnic groups of China (GB 3304-1991)", Oid = "2.16.156.10011.2.3.3.3" },
                en: r => r["romanization"], properties: ["letter_code"]),
            Tree("gbt2261.2-2003-marital-status.csv", new CodeSystemInfo(CnTerminology.MaritalStatus, "gbt-2261-2-marital-status", "GB/T 2261.2-2003 婚姻状况代码")
                { TitleEn = "Marital status (GB/T 2261.2-2003)", Oid = "2.16.156.10011.2.3.3.5" }, "parent"),
            Flat("gbt4658-2006-education-major.csv", new CodeSystemInfo(CnTerminology.Education, "gbt-4658-education", "GB/T 4658-2006 学历代码（大类）")
                { TitleEn = "Education (GB/T 4658-2006, major classes)" }),
            Flat("gbt6565-2015-occupation-major.csv", new CodeSystemInfo(CnTerminology.Occupation, "gbt-6565-occupation", "GB/T 6565-2015 职业分类与代码（大类）")
                { TitleEn = "Occupation (GB/T 6565-2015, major groups)" }),
            Flat("cv02.01.101-id-document-type.csv", new CodeSystemInfo(CnTerminology.IdDocumentType, "cv02-01-101-id-document-type", "CV02.01.101 身份证件类别代码")
                { TitleEn = "Identity document type (WS 364 CV02.01.101)" }),
            Flat("cv04.50.005-abo-blood-type.csv", new CodeSystemInfo(CnTerminology.AboBloodType, "cv04-50-005-abo-blood-type", "CV04.50.005 ABO血型代码")
                { TitleEn = "ABO blood type (WS 364 CV04.50.005)" }),
            Flat("cv04.50.020-rh-blood-type.csv", new CodeSystemInfo(CnTerminology.RhBloodType, "cv04-50-020-rh-blood-type", "CV04.50.020 Rh(D)血型代码")
                { TitleEn = "Rh(D) blood type (WS 364 CV04.50.020)" }),
            Flat("cv07.10.003-medical-payment-method.csv", new CodeSystemInfo(CnTerminology.PaymentMethod, "cv07-10-003-payment-method", "CV07.10.003 医疗付费方式代码")
                { TitleEn = "Medical payment method (WS 364 CV07.10.003)" }),
            Tree("gbt4761-2008-family-relationship.csv", new CodeSystemInfo(CnTerminology.FamilyRelationship, "gbt-4761-family-relationship", "GB/T 4761-2008 家庭关系代码")
                { TitleEn = "Family relationship (GB/T 4761-2008)", Oid = "2.16.156.10011.2.3.3.8" }, "category_code"),
            Flat("health-record-status-proposed.csv", new CodeSystemInfo(CnTerminology.RecordStatus, "health-record-status", "居民健康档案状态")
                { TitleEn = "Health record status" }, en: r => r["meaning"]),
            Flat("phs-key-populations.csv", new CodeSystemInfo(CnTerminology.KeyPopulation, "key-population", "基本公共卫生服务重点人群")
                { TitleEn = "Key populations of the basic public health service" }, en: r => r["eligibility_rule"]),
            Flat("smd-6-diseases.csv", new CodeSystemInfo(CnTerminology.SevereMentalDisorder, "severe-mental-disorder", "严重精神障碍（六种）")
                { TitleEn = "Severe mental disorders (the six diseases)" }, properties: ["icd10_indicative"]),
            DocumentTypes(),
            HealthTags(),
            Listed(new CodeSystemInfo(CnTerminology.TransferReason, "transfer-reason", "健康档案转迁原因")
                { TitleEn = "Health record transfer reason", Description = "重庆市居民电子健康档案管理服务规范(试行) 细则 四(三)5" },
                ("1", "居民主动提出", "At the resident's request"), ("2", "居住地变更", "Change of residence"),
                ("3", "外嫁", "Marriage to another place"), ("4", "服兵役", "Military service"),
                ("5", "外出上学", "Study elsewhere"), ("6", "服务不满意", "Dissatisfied with the service"),
                ("7", "流动人员", "Floating population")),
            Listed(new CodeSystemInfo(CnTerminology.ConfirmationMethod, "resident-confirmation-method", "档案转迁居民确认方式")
                { TitleEn = "Resident confirmation method", Description = "重庆市居民电子健康档案管理服务规范(试行) 细则 四(三)4" },
                ("1", "现场签署知情同意书", "Signed informed consent on site"), ("2", "生物识别确认", "Biometric confirmation"),
                ("3", "短信或电话确认", "SMS or telephone confirmation"), ("4", "视频确认", "Video confirmation")),
            Listed(new CodeSystemInfo(CnTerminology.RecordTaskType, "record-task-type", "健康档案业务任务类型")
                { TitleEn = "Health record task type", Description = "转迁、更正审批、工单与异地服务回传（重庆市规范 细则 四）" },
                ("transfer", "档案转迁", "Record transfer"), ("correction", "档案更正", "Record correction (needs an administrator's approval)"),
                ("work-order", "工单", "Work order"), ("off-site-service", "异地服务回传", "Off-site service pushed back to the holding institution")),
            Listed(new CodeSystemInfo(CnTerminology.RecordTaskBusinessStatus, "record-task-business-status", "健康档案业务任务进展")
                { TitleEn = "Health record task business status", Description = "Task.businessStatus: 转迁申请超过7个自然日未确认，提交市级平台（重庆市规范 细则 四(三)1）" },
                ("escalated", "超期未确认，已提交市级平台", "Not answered in time: escalated to the city platform")),
            Listed(new CodeSystemInfo(CnTerminology.RecordDocumentType, "record-document-type", "健康档案文档类型")
                { TitleEn = "Health record document type" },
                ("homepage", "居民电子健康档案首页", "Resident health record homepage")),
            Listed(new CodeSystemInfo(CnTerminology.RecordHomepageSection, "record-homepage-section", "居民电子健康档案首页章节")
                { TitleEn = "Record homepage section", Description = "档案首页的三部分（重庆市规范 细则 一(二)），无LOINC代码者用本地代码 / the homepage's parts without a LOINC code" },
                ("health-tags", "个人健康标识", "Personal health tags"), ("basic-information", "个人基本健康信息", "Basic health information"),
                ("service-timeline", "卫生健康服务活动记录", "Service timeline"), ("record-creation", "建档信息", "Record creation"),
                ("family-doctor-contract", "家庭医生签约", "Family-doctor contract"), ("emergency-contact", "紧急联系人", "Emergency contact")),
            Listed(new CodeSystemInfo(CnTerminology.SharedDocumentSection, "shared-document-section", "健康档案共享文档章节")
                { TitleEn = "Shared-document section", Description = "WS/T 483 共享文档中无LOINC代码的章节（其余章节用LOINC）/ the sections of the WS/T 483 documents without a LOINC code (the others use LOINC)" },
                ("symptoms", "症状", "Symptoms"), ("health-assessment", "健康评价", "Health assessment"),
                ("health-guidance", "健康指导", "Health guidance"), ("growth-development", "生长发育评估", "Growth and development assessment")),
            Listed(new CodeSystemInfo(CnTerminology.ConsentCategory, "consent-category", "档案开放与授权类别")
                { TitleEn = "Record opening and authorisation category", Description = "Consent.category of the Consents that open a record (issue 8)" },
                ("record-access", "居民授权跨机构调阅", "The resident authorises another institution to read the record"),
                ("resident-opening", "向居民本人开放", "The signed family doctor opens the record to its resident"),
                ("minor-opening", "未成年人档案开放", "A statutory guardian applies to open a minor's record"),
                ("voluntary-guardian-opening", "向意定监护人开放", "The record opened to a voluntary guardian"),
                ("break-glass", "紧急破窗访问", "Emergency access without authorisation")),
            Listed(new CodeSystemInfo(CnTerminology.GuardianshipType, "guardianship-type", "监护类型")
                { TitleEn = "Guardianship type", Description = "重庆市居民电子健康档案管理服务规范(试行) 第十五条: 法定监护人与意定监护人" },
                ("statutory", "法定监护", "Statutory guardian"), ("voluntary", "意定监护", "Voluntary guardian (appointed by the person, confirmed by a court)")),
            Listed(new CodeSystemInfo(CnTerminology.Sensitivity, "sensitivity", "敏感信息标签（本地）")
                { TitleEn = "Local sensitivity labels", Description = "Security labels where HL7 v3 ActCode has none (meta.security)" },
                ("classified", "涉密人群", "Classified person: the whole record is closed outside the responsible institution")),
            Listed(new CodeSystemInfo(CnTerminology.ConsentVerificationMethod, "consent-verification-method", "授权核验方式")
                { TitleEn = "Consent verification method" },
                ("sms-code", "短信验证码", "One-time code sent by SMS"), ("health-card", "电子健康卡", "Electronic health card"),
                ("family-doctor", "签约家庭医生授权", "Authorised by the signed family doctor"),
                ("guardian-application", "监护人申请", "Guardian's application"), ("joint-application", "本人与监护人共同申请", "Joint application of the resident and the guardian"),
                ("court-judgement", "法院判决书", "Court judgements (guardianship, loss of capacity)")),
            Listed(new CodeSystemInfo(CnTerminology.PublicHealthService, "public-health-service", "国家基本公共卫生服务项目（服务类别）")
                { TitleEn = "National basic public-health services (kind of service)", Description = "Encounter.type of a basic public-health service; which are free once a year: OffSite:AnnualFreeServices (重庆市规范 细则 五(四))" },
                ("elderly-health-check", "老年人年度健康体检", "Elderly annual health check-up"),
                ("elderly-tcm", "老年人中医体质辨识", "Elderly TCM constitution identification"),
                ("chronic-health-check", "慢性病患者年度健康检查", "Annual health check of a hypertension or diabetes patient"),
                ("hypertension-followup", "高血压患者随访", "Hypertension follow-up"),
                ("diabetes-followup", "2型糖尿病患者随访", "Type 2 diabetes follow-up"),
                ("child-health-check", "0～6岁儿童健康检查", "Health check of a child aged 0-6"),
                ("maternal-visit", "孕产妇健康管理随访", "Maternal health visit")),
            Listed(new CodeSystemInfo(CnTerminology.PurposeOfUse, "purpose-of-use", "档案访问目的（本地）")
                { TitleEn = "Local purposes of use", Description = "Purposes of use where HL7 v3 ActReason has none (AuditEvent.purposeOfEvent, the consent decision)" },
                ("offsite-service", "异地服务", "Off-site service: basic information and follow-up summary of a key-population resident (重庆市规范 细则 五)")),
            AdminDivisions(),
        };

        var valueSets = systems.Select(AllCodes).ToList();
        valueSets.Add(WsT483DocumentTypes());
        valueSets.Add(Filtered("gbt-2260-county", "GB/T 2260 县级行政区划（现行）", CnTerminology.AdminDivision, new ValueSetFilter("county-level", "=", "true")));
        valueSets.Add(Filtered("gbt-2260-province", "GB/T 2260 省级行政区划", CnTerminology.AdminDivision, new ValueSetFilter("level", "=", "province")));

        return new Content(systems, valueSets, [SexToGender()]);
    }

    private static CodeSystemInfo Flat(string file, CodeSystemInfo cs, Func<Dictionary<string, string>, string?>? en = null, string[]? properties = null)
    {
        foreach (var r in Csv.Read(file))
        {
            var c = cs.Add(new Concept(r["code"], r["name_zh"]) { DisplayEn = en?.Invoke(r) is { Length: > 0 } e ? e : null });
            foreach (var p in properties ?? [])
                if (r.TryGetValue(p, out var v) && v.Length > 0) c.Properties[p.Replace('_', '-')] = v;
        }
        return cs;
    }

    private static CodeSystemInfo Tree(string file, CodeSystemInfo cs, string parentColumn)
    {
        var rows = Csv.Read(file).ToList();
        foreach (var r in rows) cs.Add(new Concept(r["code"], r["name_zh"]));
        foreach (var r in rows)
            if (r[parentColumn] is { Length: > 0 } parent)
                cs.Link(cs.Find(r["code"])!, parent);
        return cs;
    }

    private static CodeSystemInfo Listed(CodeSystemInfo cs, params (string Code, string Zh, string En)[] concepts)
    {
        foreach (var (code, zh, en) in concepts) cs.Add(new Concept(code, zh) { DisplayEn = en });
        return cs;
    }

    private static CodeSystemInfo DocumentTypes()
    {
        var cs = new CodeSystemInfo(CnTerminology.DocumentType, "ws-document-type", "卫生信息共享文档规范编码体系")
        {
            TitleEn = "Health information shared-document types (WS/T 483, WS/T 500)",
            Oid = "2.16.156.10011.2.4",
        };
        foreach (var r in Csv.Read("shared-document-types.csv"))
        {
            var c = cs.Add(new Concept(r["document_type_code"], r["title_zh"]));
            c.Properties["standard"] = r["standard_part"];
            if (r["cda_templateId"] is { Length: > 0 } t) c.Properties["cda-template"] = t;
        }
        return cs;
    }

    /// <summary>
    /// Personal health tags of the record homepage (档案首页 个人健康标识): the tag types the Chongqing rules
    /// name — maternal and child, elderly, chronic or key disease, notifiable infectious disease, weight status
    /// (WS/T 428 BMI bands for Chinese adults) and blood type.
    /// </summary>
    private static CodeSystemInfo HealthTags()
    {
        var cs = new CodeSystemInfo(CnTerminology.HealthTag, "health-tag", "居民电子健康档案首页个人健康标识")
        {
            TitleEn = "Personal health tags of the record homepage",
            Description = "重庆市居民电子健康档案管理服务规范(试行) 细则 一(二)1",
        };
        (string Code, string Zh, string En, string? Parent)[] tags =
        [
            ("maternal-child", "妇幼人群", "Maternal and child", null),
            ("child-0-6", "0～6岁儿童", "Child aged 0-6", "maternal-child"),
            ("pregnant", "孕产妇", "Pregnant or postpartum", "maternal-child"),
            ("elderly", "老年人群", "Elderly (65+)", null),
            ("chronic", "慢性病或重点疾病", "Chronic or key disease", null),
            ("hypertension", "高血压", "Hypertension", "chronic"),
            ("diabetes-t2", "2型糖尿病", "Type 2 diabetes", "chronic"),
            ("severe-mental-disorder", "严重精神障碍", "Severe mental disorder", "chronic"),
            ("tuberculosis", "肺结核", "Pulmonary tuberculosis", "chronic"),
            ("infectious", "法定传染病", "Notifiable infectious disease", null),
            ("weight", "体重状况", "Weight status", null),
            ("underweight", "体重过低", "Underweight (BMI < 18.5)", "weight"),
            ("normal-weight", "体重正常", "Normal weight (18.5 ≤ BMI < 24)", "weight"),
            ("overweight", "超重", "Overweight (24 ≤ BMI < 28)", "weight"),
            ("obese", "肥胖", "Obese (BMI ≥ 28)", "weight"),
            ("blood-type", "血型", "Blood type", null),
        ];
        foreach (var (code, zh, en, parent) in tags) cs.Add(new Concept(code, zh) { DisplayEn = en }, parent);
        return cs;
    }

    /// <summary>
    /// GB/T 2260 divisions in one hierarchy: province → prefecture → county (current, NBS 2023) → township
    /// (9 digits, the second segment of the 17-digit record number); every county-level code ever issued
    /// since 1980 is kept as an inactive concept, because an ID card keeps the code of its first issue.
    /// </summary>
    private static CodeSystemInfo AdminDivisions()
    {
        var cs = new CodeSystemInfo(CnTerminology.AdminDivision, "gbt-2260-admin-division", "GB/T 2260 中华人民共和国行政区划代码（含乡级）")
        {
            TitleEn = "Administrative divisions of China (GB/T 2260, with townships)",
            Version = "2023",
        };
        static string Pad(string code) => code.PadRight(6, '0');
        Concept Add(string code, string name, string level, string? parent, bool inactive = false)
        {
            var c = cs.Add(new Concept(code, name) { Inactive = inactive }, parent);
            c.Properties["level"] = level;
            return c;
        }
        foreach (var r in Csv.Read("nbs2023/provinces.csv")) Add(Pad(r["code"]), r["name"], "province", null);
        foreach (var r in Csv.Read("nbs2023/cities.csv")) Add(Pad(r["code"]), r["name"], "prefecture", Pad(r["provinceCode"]));
        foreach (var r in Csv.Read("nbs2023/areas.csv"))
        {
            // Prefecture-level cities without districts (东莞, 中山, 儋州...) are their own county-level unit.
            var county = cs.Find(r["code"]) ?? Add(r["code"], r["name"], "county", Pad(r["cityCode"]));
            county.Properties["county-level"] = "true";
        }
        foreach (var r in Csv.Read("nbs2023/streets.csv.gz")) Add(r["code"], r["name"], "township", r["areaCode"]);

        foreach (var r in Csv.Read("gbt2260-union-1980-2023.tsv.gz", '\t'))
        {
            var code = r["code"];
            if (code.Length != 6 || cs.Find(code) is not null) continue;
            var level = code[2..] == "0000" ? "province" : code[4..] == "00" ? "prefecture" : "county";
            string? parent = level switch
            {
                "province" => null,
                "prefecture" => code[..2] + "0000",
                _ => cs.Find(code[..4] + "00") is not null ? code[..4] + "00" : code[..2] + "0000",
            };
            if (parent is not null && cs.Find(parent) is null) parent = null;
            var c = Add(code, r["name_latest"], level, parent, inactive: true);
            c.Properties["last-seen"] = r["last_seen"];
            if (level == "county") c.Properties["county-level"] = "true";
        }
        return cs;
    }

    private static ValueSetInfo AllCodes(CodeSystemInfo cs)
    {
        var vs = new ValueSetInfo(CnTerminology.ValueSetFor(cs), cs.Name, cs.Title) { Description = cs.TitleEn };
        vs.Includes.Add(new ValueSetInclude(cs.Url, null, [], []));
        return vs;
    }

    private static ValueSetInfo Filtered(string name, string title, string system, ValueSetFilter filter)
    {
        var vs = new ValueSetInfo($"{CnTerminology.Canonical}/ValueSet/{name}", name, title);
        vs.Includes.Add(new ValueSetInclude(system, null, [filter], []));
        return vs;
    }

    private static ValueSetInfo WsT483DocumentTypes()
    {
        var vs = new ValueSetInfo($"{CnTerminology.Canonical}/ValueSet/wst-483-document-type", "wst-483-document-type",
            "WS/T 483 健康档案共享文档类型 (B0001–B0020)") { Description = "Health-record shared documents (WS/T 483.1–20)" };
        vs.Includes.Add(new ValueSetInclude(CnTerminology.DocumentType, Enumerable.Range(1, 20).Select(i => $"B{i:D4}").ToList(), [], []));
        return vs;
    }

    private static ConceptMapInfo SexToGender()
    {
        var map = new ConceptMapInfo(CnTerminology.SexToGenderMap, "gbt-2261-1-sex-to-administrative-gender",
            "GB/T 2261.1 性别 → FHIR AdministrativeGender", "http://fhirarchive.cn/fhir/ValueSet/gbt-2261-1-sex",
            "http://hl7.org/fhir/ValueSet/administrative-gender");
        foreach (var r in Csv.Read("gbt2261.1-2003-sex.csv"))
            map.Mappings.Add(new ConceptMapping(CnTerminology.Sex, r["code"], CnTerminology.AdministrativeGender,
                r["fhir_administrative_gender"], null, r["code"] == "9" ? "wider" : "equivalent"));
        return map;
    }
}
