#!/usr/bin/env bash
# The README's demo walk-through (Security → "Walk-through"), run step by step against a running server that holds
# the sample data and the demo accounts as first started (`dotnet run --project src/Fhir.Server`; the walk-through
# revokes and opens Consents, so run it once per fresh data folder):
#   scripts/demo.sh [BASE_URL]      (default http://127.0.0.1:5000; OUTBOX: the server's SMS file, default data/sms-outbox.jsonl)
# Each step prints its request (>>>) and the answer (<<< status, body); an unexpected status or check stops it (exit 1).
# Needs curl and python3. The lines between the walk-through markers are the README's block, word for word.
# 演示脚本：按 README 的演示步骤逐步调用运行中的服务器，打印每个请求与应答，状态码不符即失败退出。
set -euo pipefail
cd "$(dirname "$0")/.."
BASE=${1:-${BASE:-http://127.0.0.1:5000}}
BASE=${BASE%/}

# --- walk-through (README) ---
BASE=${BASE:-http://127.0.0.1:5000}     # a server with the sample data: dotnet run --project src/Fhir.Server
OUTBOX=${OUTBOX:-data/sms-outbox.jsonl}  # where that server writes its text messages (demo: a file)
declare -A TOKEN
login() { TOKEN[$1]=$(scripts/get-token.sh "$1" "$BASE"); }   # a demo role's access token
# fhir STATUS ROLE METHOD PATH [BODY]: prints the request and the answer (kept in $ANSWER); another status fails
fhir() {
  local expect=$1 role=$2 method=$3 path=$4 body=${5:-} out args=()
  [ -n "$body" ] && args=(-H 'Content-Type: application/fhir+json' -d "$body")
  echo ">>> $method $path  (as $role)${body:+  $body}"
  out=$(curl -sS -w '\n%{http_code}' -X "$method" "$BASE$path" -H "Authorization: Bearer ${TOKEN[$role]}" "${args[@]}")
  ANSWER=${out%$'\n'*}
  echo "<<< ${out##*$'\n'}  ${ANSWER:0:1200}"
  [ "${out##*$'\n'}" = "$expect" ] || { echo "!!! expected $expect" >&2; return 1; }
}
# pick EXPR: a Python expression over the last answer `a` (parsed JSON); check EXPR: fails unless it is true
pick() { python3 -c 'import json, sys; a = json.loads(sys.argv[2]); print(eval(sys.argv[1]))' "$1" "$ANSWER"; }
check() { [ "$(pick "$1")" = True ] && echo "ok: $1" || { echo "!!! not true: $1" >&2; return 1; }; }
for role in resident guardian clinician family-doctor record-admin public-health other-clinician; do login $role; done

# 1. 张伟 reads his own record, which his family doctor 陈静 opened to him, and its homepage: health tags, basic
#    information and his services at three institutions, newest first / 居民查看本人档案及档案首页
fhir 200 resident GET /Patient/zhang-wei
fhir 200 resident GET '/Patient/zhang-wei/$summary'
check 'a["type"] == "document" and "hypertension" in json.dumps(a) and [s["text"]["div"].count("<tr>") for s in a["entry"][0]["resource"]["section"] if s["title"].startswith("卫生健康")] == [4]'
#    a shared document (WS/T 483 hypertension follow-up from 北京朝阳), signed by the server with SM2, which verifies / 共享文档及验签
fhir 200 resident GET '/Composition/zhang-wei-hypertension-followup/$document'
DOC=$ANSWER
fhir 200 resident POST '/Bundle/$verify-signature' "$DOC"
check 'next(p["valueBoolean"] for p in a["parameter"] if p["name"] == "valid")'
# 2. Dr 吴昊 (北京安贞医院), authorised by 张伟, reads 张伟's record; to him 王芳's looks missing, a search finds 张伟 only
fhir 200 other-clinician GET /Patient/zhang-wei
fhir 404 other-clinician GET /Patient/wang-fang
fhir 200 other-clinician GET '/Patient?_elements=name'
check '[e["resource"]["id"] for e in a["entry"]] == ["zhang-wei"]'
# 3. the guardian 刘强 reads his son 刘洋's ordinary record, not the mental-health programme's diagnosis, which the
#    responsible institution's clinician 赵磊 reads; the classified 周某 is shown to that institution only
fhir 200 guardian GET /Patient/liu-yang
fhir 404 guardian GET /Condition/liu-yang-smd
fhir 200 clinician GET /Condition/liu-yang-smd
fhir 200 clinician GET /Patient/zhou-mou
fhir 404 public-health GET /Patient/zhou-mou
# 4. Dr 吴昊 asks 王芳 for 3 days of access; she gets a one-time code by SMS (demo: a line of the outbox) / 医生请求授权
#    (or by ID card number: POST /Patient/$request-access with {"name":"identifier","valueString":"urn:oid:2.16.156.10011.1.3|310104199007240424"})
fhir 200 other-clinician POST '/Patient/wang-fang/$request-access' \
  '{"resourceType":"Parameters","parameter":[{"name":"purpose","valueCode":"TREAT"},{"name":"days","valueInteger":3}]}'
REQUEST=$(pick 'next(p["valueString"] for p in a["parameter"] if p["name"] == "request")')
tail -n 1 "$OUTBOX"
CODE=$(python3 -c 'import json, sys; print(json.loads(open(sys.argv[1], encoding="utf-8").read().splitlines()[-1])["code"])' "$OUTBOX")
# 5. she tells him the code and he confirms it: a record-access Consent, her record opens to him / 授权确认
fhir 201 other-clinician POST '/Patient/$grant-access' \
  '{"resourceType":"Parameters","parameter":[{"name":"request","valueString":"'"$REQUEST"'"},{"name":"code","valueString":"'"$CODE"'"}]}'
GRANT=$(pick 'a["id"]')
fhir 200 other-clinician GET /Patient/wang-fang
# 6. at 王芳's request, her responsible institution's record administrator revokes it: the record closes again / 撤销授权
fhir 200 record-admin POST "/Consent/$GRANT/\$revoke" \
  '{"resourceType":"Parameters","parameter":[{"name":"reason","valueString":"居民来电撤回 / withdrawn by the resident by phone"}]}'
fhir 404 other-clinician GET /Patient/wang-fang
# 7. 张伟 lists his authorisations and withdraws Dr 吴昊's: 张伟's record closes to him too / 居民查看并撤销授权
fhir 200 resident GET '/Consent?patient=Patient/zhang-wei&status=active'
WU=$(pick 'next(e["resource"]["id"] for e in a["entry"] if "Practitioner/dr-wu-hao" in [x["reference"]["reference"] for x in e["resource"]["provision"]["actor"]])')
fhir 200 resident POST "/Consent/$WU/\$revoke" \
  '{"resourceType":"Parameters","parameter":[{"name":"reason","valueString":"不再需要 / no longer needed"}]}'
fhir 404 other-clinician GET /Patient/zhang-wei
# 8. emergency: Dr 吴昊 breaks the glass for 王芳 (4 hours, audited; she is told by SMS) / 紧急破窗
fhir 201 other-clinician POST '/Patient/wang-fang/$break-glass' \
  '{"resourceType":"Parameters","parameter":[{"name":"reason","valueString":"昏迷送急诊 / unconscious at the emergency department"}]}'
fhir 200 other-clinician GET /Patient/wang-fang
# 9. the signed family doctor 陈静 opens 王芳's record to her (201); 张伟's is open already: that opening is the answer (200)
fhir 201 family-doctor POST '/Patient/wang-fang/$open-record'
fhir 200 family-doctor POST '/Patient/zhang-wei/$open-record'
# 10. off-site service (异地服务): Dr 吴昊 (北京安贞医院, not her holder) serves 李娜, who has hypertension: he reads her
#     basic information and the list of past follow-ups, not her record; she came a month ago (since: off-site service is
#     for a stay under six months) / 异地服务机构查看基本信息与随访概要（本地居住不足6个月）
fhir 200 other-clinician GET '/Patient/li-na/$offsite-summary?since='"$(python3 -c 'import datetime; print(datetime.date.today() - datetime.timedelta(days=30))')"
check '"hypertension" in json.dumps(a) and "sh-xuhui-fenglin-chc" in json.dumps(a)'
fhir 404 other-clinician GET /Patient/li-na
# 11. her visit in Shanghai was pushed to her holder: 孙敏 finds it in the work list, reads it and acknowledges it / 推送至管档机构
fhir 200 record-admin GET '/Communication?recipient=Organization/bj-chaoyang-hospital&status=in-progress'
PUSH=$(pick 'json.dumps(next({**e["resource"], "status": "completed"} for e in a["entry"] if e["resource"]["id"] == "li-na-offsite-push"))')
fhir 200 record-admin GET /Encounter/li-na-offsite-visit
fhir 200 record-admin PUT /Communication/li-na-offsite-push "$PUSH"
check 'a["status"] == "completed" and "received" in a'
# 12. transfer (档案转迁): the 万州区高笋塘 centre asked for 李娜's record (she moved to Chongqing); her holder's record
#     administrator 孙敏 finds the request in her work list / 管档机构查看待确认的转迁申请
fhir 200 record-admin GET '/Task?code=transfer&owner=Organization/bj-chaoyang-hospital&status=requested'
TASK=$(pick 'next(e["resource"]["id"] for e in a["entry"] if e["resource"]["for"]["reference"] == "Patient/li-na")')
# 13. a refusal needs a reason (400); she confirms: the record moves with its number, protected for 180 days / 确认转出
fhir 400 record-admin POST "/Task/$TASK/\$reject"
fhir 200 record-admin POST "/Task/$TASK/\$approve" '{"resourceType":"Parameters","parameter":[{"name":"comment","valueString":"同意转出 / agreed"}]}'
check 'a["status"] == "completed" and [o["valueDate"] for o in a["output"] if o["type"]["text"] == "protection-end"] != []'
# 14. the old holder reads what it produced (her 2024 check-up), no longer changes her record, and cannot take it
#     back inside the protection period (409, naming its end) / 原管档机构只读，保护期内不可再转迁
fhir 200 clinician GET /Encounter/enc-li-na
fhir 409 record-admin POST '/Patient/li-na/$transfer-request' \
  '{"resourceType":"Parameters","parameter":[{"name":"reason","valueCode":"1"},{"name":"confirmation","valueCode":"1"}]}'
# 15. 吴霞, lost to follow-up in Chongqing, was taken over by 朝阳 at once (a closed record needs no confirmation) / 终止档案直接转迁
fhir 200 record-admin GET '/Task?code=transfer&subject=Patient/cq-wu-xia&status=completed'
fhir 200 clinician GET /Patient/cq-wu-xia
check 'a["managingOrganization"]["reference"] == "Organization/bj-chaoyang-hospital"'
# --- end of the walk-through ---
echo "demo: every step answered as expected"
