#!/usr/bin/env bash
# Record-rule benchmarks on 127.0.0.1 only, bounded in time: record creation with all checks (records/s) on SQLite
# and PostgreSQL (wrk, 20 s each), and Patient/$match latency (p50/p99) over N loaded records (SQLite; loaded as
# plain Patients through batches, since $match reads only the search indexes).
# Authentication is on: the runs use the demo hospital system client's token (scripts/get-token.sh system), so every
# record is created by an institution (meta.source and a Provenance, as in production).
# Usage: scripts/bench-records/run.sh [records-for-match (default 100000; 0 skips)] [creation: both|sqlite|postgres|none]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd); root=$(cd "$here/../.." && pwd)
n=${1:-100000}; creation=${2:-both}; port=5180; url=http://127.0.0.1:$port
work=$(mktemp -d /tmp/bench-records.XXXXXX); bin=$work/bin
trap 'kill -9 $(cat $work/server.pid 2>/dev/null) 2>/dev/null || true; [ -f $work/pg.started ] && runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D $work/pg -m immediate stop >/dev/null 2>&1 || true; rm -rf $work' EXIT
echo "cores: $(nproc); load: $(cut -d' ' -f1-3 /proc/loadavg)"
dotnet build -c Release -o "$bin" "$root/src/Fhir.Server" -v q -nologo >/dev/null

profile=Validation__RecordProfiles__Patient=http://fhirarchive.cn/fhir/StructureDefinition/cn-resident-patient
start_server() { # extra settings as env
  while curl -s $url/health >/dev/null 2>&1; do sleep 1; done  # the previous server is gone
  # exec: the recorded pid is the server's own
  (cd "$work" && exec env ASPNETCORE_URLS=$url SampleData__Load=false Logging__LogLevel__Default=Warning \
      Records__LostToFollowUpJob=false Security__DemoAccounts=true "$@" dotnet "$bin/FhirArchive.Server.dll") >"$work/server.log" 2>&1 &
  echo $! >"$work/server.pid"
  for _ in $(seq 120); do curl -sf $url/health >/dev/null && break; sleep 1; done
  FHIR_TOKEN=$("$root/scripts/get-token.sh" system "$url"); export FHIR_TOKEN
  curl -sf -X PUT $url/Organization/bench-chc -H "Authorization: Bearer $FHIR_TOKEN" -H 'Content-Type: application/fhir+json' -d '{"resourceType":"Organization","id":"bench-chc","extension":[{"url":"http://fhirarchive.cn/fhir/StructureDefinition/cn-division-code","valueCoding":{"system":"http://fhirarchive.cn/fhir/CodeSystem/gbt-2260-admin-division","code":"500101001"}}],"identifier":[{"system":"urn:oid:2.16.156.10011.1.5","value":"PDY50010100099"}],"name":"bench"}' >/dev/null
}
stop_server() { # SIGTERM, then SIGKILL after 15 s
  local pid; pid=$(cat "$work/server.pid"); kill "$pid"
  for _ in $(seq 15); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
  kill -9 "$pid" 2>/dev/null || true; rm -f "$work/server.pid"
}

if [ "$creation" = both ] || [ "$creation" = sqlite ]; then
echo "== record creation, SQLite (wrk -t2 -c4 -d20s)"
start_server $profile Storage__DataFolder="$work/sqlite"
wrk -t2 -c4 -d20s -s "$here/create-record.lua" $url -- 0 | grep -E "Requests/sec|Latency|requests in|unexpected|Non-2xx"
stop_server
fi

if [ "$creation" = both ] || [ "$creation" = postgres ]; then
echo "== record creation, PostgreSQL 15 (wrk -t2 -c4 -d20s)"
mkdir -p "$work/pg"; chown postgres:postgres "$work" "$work/pg"
runuser -u postgres -- /usr/lib/postgresql/15/bin/initdb -D "$work/pg" -U fhir --auth=trust -E UTF8 --no-locale >/dev/null
runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$work/pg" -o "-p 5499 -k $work -c listen_addresses=127.0.0.1" -l "$work/pg.log" start >/dev/null; touch "$work/pg.started"
sleep 2
start_server $profile Storage__Provider=postgres "Storage__ConnectionString=Host=127.0.0.1;Port=5499;Username=fhir;Database=postgres"
wrk -t2 -c4 -d20s -s "$here/create-record.lua" $url -- 0 | grep -E "Requests/sec|Latency|requests in|unexpected|Non-2xx"
stop_server
fi

[ "$n" -gt 0 ] || exit 0
echo "== Patient/\$match over $n records, SQLite (wrk -t1 -c1 -d20s --latency)"
start_server Audit__Enabled=false Storage__DataFolder="$work/match"
t0=$(date +%s); python3 "$here/load.py" $url "$n"; echo "loaded $n records in $(( $(date +%s) - t0 )) s"
wrk -t1 -c1 -d20s --latency -s "$here/match.lua" $url -- "$n" | grep -E "Requests/sec|50%|99%|requests in|Non-2xx"
stop_server
