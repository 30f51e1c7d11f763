#!/usr/bin/env bash
# Obtains an access token for a demo role from a running FhirArchive server and prints it.
#   scripts/get-token.sh ROLE [BASE_URL]      (BASE_URL default http://127.0.0.1:5000; env FHIR_BASE also works)
# ROLE: resident guardian clinician family-doctor record-admin public-health health-admin researcher auditor system
#       other-clinician (Dr 吴昊 of 北京安贞医院, authorised by 张伟) mental-health (精防 staff of 成都市武侯区)
# People log in through the authorization-code flow with PKCE, driven here: password + TOTP code (computed from the
# demo secret, as an authenticator app would); the system client uses client_credentials. -v prints the whole answer.
# A token is valid for 900 s (Security:AccessTokenLifetime) and only at the base URL it was fetched from (or that
# server's loopback aliases while Security:BaseUrl is unset): use the base the server announces at start-up.
# 用法：scripts/get-token.sh 角色 [服务地址]，输出访问令牌（有效期 900 秒）。
set -euo pipefail
verbose=0
if [ "${1:-}" = "-v" ]; then verbose=1; shift; fi
role=${1:?usage: get-token.sh [-v] ROLE [BASE_URL]}
base=${2:-${FHIR_BASE:-http://127.0.0.1:5000}}
base=${base%/}

# The demo accounts (README, the table at the top): user, password, TOTP secret, scopes asked for.
person_scopes="openid fhirUser offline_access"
case "$role" in
  resident)      user=zhangwei     pass='Zhangwei#2024'    secret=YK2322W5NKNV635SJSKR6EZWLEVXQ6GH scope="$person_scopes launch/patient patient/*.rs" ;;
  guardian)      user=liuqiang     pass='Liuqiang#2024'    secret=JCRCRMELDIGI6TDHGGECBBKKYYSNHGW4 scope="$person_scopes launch/patient patient/*.rs" ;;
  clinician)     user=drzhao       pass='Drzhao#2024'      secret=2IGDL36NY7ED4VIY7EYMLFL6ZB5PQDTQ scope="$person_scopes user/*.cruds" ;;
  family-doctor) user=drchen       pass='Drchen#2024'      secret=F5B4XZDB2YKL7S2I27W6IOAGFTTTQL5R scope="$person_scopes user/*.cruds" ;;
  record-admin)  user=recadmin     pass='Recadmin#2024'    secret=74EMPDRFE4PVQBRTO7UDFYLOCFBG4VB5 scope="$person_scopes user/*.cruds" ;;
  public-health) user=cdc-chaoyang pass='CdcChaoyang#2024' secret=NBW4DGFO3AMIKPLATDM7RYYQFNZ7X633 scope="$person_scopes user/*.rs" ;;
  health-admin)  user=hc-shanghai  pass='HcShanghai#2024'  secret=3CI44D65JXHZKV3OI236WGN7MVNPC62O scope="$person_scopes user/*.rs" ;;
  researcher)    user=researcher   pass='Researcher#2024'  secret=VSBCLUR5FMLAMABCNOIIM3IO5MR75QMO scope="$person_scopes user/*.rs" ;;
  other-clinician) user=drwu     pass='Drwu#2024'        secret=EEINCQZKVKFEIHDJDGMT5SFPEDSUP7P5 scope="$person_scopes user/*.cruds" ;;
  mental-health) user=mh-wuhou     pass='MhWuhou#2024'     secret=KKN5MMLYVE6FG5N7WBLP72CZOHT2KRM2 scope="$person_scopes user/*.rs" ;;
  auditor)       user=auditor      pass='Auditor#2024'     secret=5ZMLHEF5BOAMG2N2CIJXT3OU6WSRWIKA scope="$person_scopes user/AuditEvent.rs user/Provenance.rs" ;;
  system)        user="" ;;
  *) echo "unknown role '$role' (resident guardian clinician family-doctor record-admin public-health health-admin researcher auditor system other-clinician mental-health)" >&2; exit 2 ;;
esac

answer() { # prints the access token (or the whole JSON with -v); fails with the OAuth error
  python3 -c 'import json,sys
a=json.load(sys.stdin)
if "access_token" not in a: sys.exit("token request failed: %s" % json.dumps(a, ensure_ascii=False))
print(json.dumps(a, indent=2, ensure_ascii=False) if sys.argv[1] == "1" else a["access_token"])' "$verbose"
}

if [ -z "$user" ]; then
  curl -sS -u 'chaoyang-his:chaoyang-his-secret-2024' "$base/auth/token" \
    --data-urlencode grant_type=client_credentials --data-urlencode 'scope=system/*.cruds' | answer
  exit
fi

read -r verifier challenge otp < <(python3 - "$secret" <<'PY'
import base64, hashlib, hmac, secrets, struct, sys, time
verifier = secrets.token_urlsafe(48)
challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
key = base64.b32decode(sys.argv[1] + "=" * (-len(sys.argv[1]) % 8))
mac = hmac.new(key, struct.pack(">Q", int(time.time()) // 30), hashlib.sha1).digest()
o = mac[-1] & 15
print(verifier, challenge, "%06d" % ((struct.unpack(">I", mac[o:o + 4])[0] & 0x7FFFFFFF) % 1000000))
PY
)
redirect=http://127.0.0.1/callback
location=$(curl -sS -o /dev/null -w '%{redirect_url}' "$base/auth/authorize" \
  --data-urlencode response_type=code --data-urlencode client_id=fhirarchive-cli --data-urlencode "redirect_uri=$redirect" \
  --data-urlencode "scope=$scope" --data-urlencode state=get-token --data-urlencode "aud=$base" \
  --data-urlencode "code_challenge=$challenge" --data-urlencode code_challenge_method=S256 \
  --data-urlencode "username=$user" --data-urlencode "password=$pass" --data-urlencode "otp=$otp")
code=$(python3 -c 'import sys,urllib.parse as u; q=u.parse_qs(u.urlparse(sys.argv[1]).query); print(q.get("code",[""])[0])' "$location")
if [ -z "$code" ]; then echo "login failed (a one-time code works once: wait 30 s and retry): ${location:-no redirect}" >&2; exit 1; fi
curl -sS "$base/auth/token" --data-urlencode grant_type=authorization_code --data-urlencode "code=$code" \
  --data-urlencode "redirect_uri=$redirect" --data-urlencode "code_verifier=$verifier" --data-urlencode client_id=fhirarchive-cli | answer
