#!/usr/bin/env bash
# Load benchmark of the FHIR server on 127.0.0.1: ingest of Synthea transactions, then read by id and three searches
# with wrk. Usage: tests/Fhir.LoadTests/run.sh [sqlite|postgres] [--resources N] [--duration S] [--connections C]
#                  [--no-build] [--audit on|off] [--consent on|off] [--only SCENARIO] [--trace DIR] [--pairs N]
#                  [--pg-explain DIR] [--no-ceiling]
# Authentication stays on: the run takes the demo hospital system client's token (scripts/get-token.sh system).
# --audit off measures the same server without its audit trail (Audit:Enabled=false), for the audit's cost;
# --consent off without the consent rules (Consent:Enabled=false), for the cost of deciding every resource shown.
# --only runs one scenario; --trace writes a CPU profile of the ingest and of each timed scenario into DIR (perf record;
# the server writes its JIT symbol map to /tmp/perf-PID.map for perf report).
# --pairs N measures the audit's cost: after one ingest, N rounds each run the scenarios with the audit on, then off
# (the server restarted on the same database between), and a table gives every pair's ratio and the median.
# --only subscriptions skips the ingest and the wrk scenarios: notify.mjs measures write throughput with 50 active
# rest-hook Subscriptions against none (--pairs rounds, default 3), and the notification latency at 100 writes/s (a
# listener on 127.0.0.1).
# --only mhd skips the ingest and the wrk scenarios: mhd.mjs measures IHE MHD ITI-65 Provide Document Bundle
# throughput (documents/s, one 4 KiB document per Bundle, 4 at a time, for --duration s).
# --connections takes a list (4,32): every scenario is timed at each count.
# --pg-explain DIR (postgres): the cluster logs every statement over 20 ms with its EXPLAIN ANALYZE plan (auto_explain);
# the log is kept as DIR/postgres.log and the slowest plans are printed at the end.
# A bare Kestrel app (ceiling/) serving a static 3.5 KB JSON is measured in the same run (the ceiling of a read by id);
# --no-ceiling skips it.
# Everything runs in a temp folder (fresh database, throwaway PostgreSQL cluster) removed at exit, even on failure.
set -euo pipefail

db=sqlite; resources=100000; duration=10; connections=32; build=1; audit=on; consent=on; only=; trace=; pairs=0; pg_explain=; ceiling=1
while [ $# -gt 0 ]; do
  case "$1" in
    sqlite|postgres) db=$1 ;;
    --resources) resources=$2; shift ;;
    --duration) duration=$2; shift ;;
    --connections) connections=$2; shift ;;
    --no-build) build=0 ;;
    --audit) audit=$2; shift ;;
    --consent) consent=$2; shift ;;
    --only) only=$2; shift ;;
    --trace) trace=$(mkdir -p "$2" && cd "$2" && pwd); shift ;;
    --pairs) pairs=$2; shift ;;
    --pg-explain) pg_explain=$(mkdir -p "$2" && cd "$2" && pwd); shift ;;
    --no-ceiling) ceiling=0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
synthea=${SYNTHEA_DIR:-$root/../shared/conformance-data/synthea}
[ -d "$synthea" ] || synthea=/work/shared/conformance-data/synthea
[ -n "$trace" ] && export DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0
for tool in wrk node dotnet python3 ${trace:+perf}; do
  command -v $tool >/dev/null || { echo "$tool is required (wrk: apt-get install wrk)" >&2; exit 1; }
done

tmp=$(mktemp -d /tmp/fhir-load.XXXXXX)
server_pid=""; ceiling_pid=""; pg_data=""; pg_bin=""; pg_user=()
cleanup() {
  set +e
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  [ -n "$ceiling_pid" ] && kill "$ceiling_pid" 2>/dev/null && wait "$ceiling_pid" 2>/dev/null
  [ -n "$pg_explain" ] && [ -f "$tmp/pg.log" ] && cp "$tmp/pg.log" "$pg_explain/postgres.log"
  [ -n "$pg_data" ] && "${pg_user[@]}" "$pg_bin/pg_ctl" -D "$pg_data" -m immediate stop >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# CPU seconds the server has used so far: with other load on the machine this is steadier than wall time.
cpu_seconds() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$server_pid/stat"; }
# The server's peak resident set so far (MB).
peak_rss_mb() { awk '/^VmHWM/ { printf "%d", $2 / 1024 }' "/proc/$server_pid/status"; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }

if [ $build -eq 1 ]; then
  echo "building the server (Release)..."
  dotnet build -c Release "$root/src/Fhir.Server" -nologo -v q >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; exit 1; }
  [ $ceiling -eq 1 ] && { dotnet build -c Release "$here/ceiling" -nologo -v q >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; exit 1; }; }
fi
dll=${FHIR_SERVER_DLL:-$root/src/Fhir.Server/bin/Release/net10.0/FhirArchive.Server.dll}

export ASPNETCORE_ENVIRONMENT=Production SampleData__Load=false Security__DemoAccounts=true Logging__LogLevel__Default=Warning
# Synthea's resources are plain FHIR, not Chinese resident records: the record profiles are off for the load.
export Validation__RecordProfiles__Patient= Validation__RecordProfiles__Organization= Validation__RecordProfiles__Practitioner=
export Validation__RecordProfiles__Encounter= Validation__RecordProfiles__Observation=
[ "$audit" = off ] && export Audit__Enabled=false
[ "$consent" = off ] && export Consent__Enabled=false
if [ "$db" = postgres ]; then
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  pg_data="$tmp/pg"; pg_port=$(free_port)
  explain_settings=
  [ -n "$pg_explain" ] && explain_settings="-c shared_preload_libraries=auto_explain -c auto_explain.log_min_duration=20 \
-c auto_explain.log_analyze=on -c auto_explain.log_buffers=on -c auto_explain.log_timing=off -c log_min_duration_statement=20"
  # initdb refuses to run as root: the cluster then runs as the postgres system user.
  if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$tmp"; pg_user=(runuser -u postgres --); fi
  "${pg_user[@]}" "$pg_bin/initdb" -D "$pg_data" -U fhir --auth=trust -E UTF8 --no-locale >"$tmp/initdb.log" 2>&1
  # Durable writes (fsync on); commits do not wait for the WAL flush, like SQLite's synchronous=NORMAL under WAL.
  "${pg_user[@]}" "$pg_bin/pg_ctl" -D "$pg_data" -l "$tmp/pg.log" -w -t 60 \
    -o "-p $pg_port -k $tmp -c listen_addresses=127.0.0.1 -c synchronous_commit=off -c shared_buffers=256MB $explain_settings" start >/dev/null
  "$pg_bin/psql" -h 127.0.0.1 -p "$pg_port" -U fhir -d postgres -qc "CREATE DATABASE fhir" >/dev/null
  # The audit journal lives in the data folder: keep it in the temp folder too.
  export Storage__Provider=postgres Storage__DataFolder="$tmp/data" Storage__ConnectionString="Host=127.0.0.1;Port=$pg_port;Username=fhir;Database=fhir;Maximum Pool Size=100"
else
  export Storage__Provider=sqlite Storage__DataFolder="$tmp/sqlite"
fi

port=$(free_port); base="http://127.0.0.1:$port"
start_server() {
  dotnet "$dll" --urls "$base" >>"$tmp/server.log" 2>&1 &
  server_pid=$!
  # Up to 5 minutes: on a machine loaded by other builds the start-up took more than the minute allowed before.
  for _ in $(seq 1 600); do
    curl -fs "$base/health" >/dev/null 2>&1 && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$tmp/server.log"; exit 1; }
    sleep 0.5
  done
  curl -fs "$base/health" >/dev/null || { echo "server did not start" >&2; cat "$tmp/server.log"; exit 1; }
  FHIR_TOKEN=$("$root/scripts/get-token.sh" system "$base") || { echo "no token for the system client" >&2; exit 1; }
  export FHIR_TOKEN
}
stop_server() { kill "$server_pid" && wait "$server_pid" || true; server_pid=""; }
# The benchmark's rest-hook listener is on the loopback (refused in Production unless allowed).
[ "$only" = subscriptions ] && export Subscriptions__AllowLoopback=true
start_server

if [ "$only" = subscriptions ]; then
  load_before=$(cut -d' ' -f1-3 /proc/loadavg); cpu0=$(cpu_seconds)
  node "$here/notify.mjs" "$base" "$duration" 8 "$([ "$pairs" -gt 0 ] && echo "$pairs" || echo 3)" 100 1000 || { tail -50 "$tmp/server.log"; exit 1; }
  echo "database: $db, audit: $audit, consent: $consent; server CPU $(echo "$(cpu_seconds) - $cpu0" | bc) s;" \
    "nproc $(nproc); load average $load_before -> $(cut -d' ' -f1-3 /proc/loadavg)"
  exit 0
fi

if [ "$only" = mhd ]; then
  load_before=$(cut -d' ' -f1-3 /proc/loadavg); cpu0=$(cpu_seconds)
  node "$here/mhd.mjs" "$base" "$duration" 4 4 || { tail -50 "$tmp/server.log"; exit 1; }
  echo "database: $db, audit: $audit, consent: $consent; server CPU $(echo "$(cpu_seconds) - $cpu0" | bc) s;" \
    "nproc $(nproc); load average $load_before -> $(cut -d' ' -f1-3 /proc/loadavg)"
  exit 0
fi

# --only homepage skips the Synthea ingest: records of 50, 500 and 5,000 resources (homepage.mjs), then
# Patient/[id]/$summary of each (the default first page of the timeline) with wrk.
if [ "$only" = homepage ]; then
  node "$here/homepage.mjs" "$base" "$tmp" 50 500 5000 || { tail -50 "$tmp/server.log"; exit 1; }
  scenarios=(summary-50:homepage-50 summary-500:homepage-500 summary-5000:homepage-5000)
fi

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
cpu0=$(cpu_seconds)
if [ "$only" = homepage ]; then
  ingest='{"resources":0,"bundles":0,"megabytes":0,"seconds":0,"resourcesPerSecond":0,"failures":0}'
else
  echo "ingesting $resources resources into $db..."
  # --trace profiles the ingest too (until it ends): DIR/ingest-<db>-audit-<on|off>-consent-<on|off>.perf.data.
  if [ -n "$trace" ]; then
    perf record -F 499 -e cpu-clock -g -p "$server_pid" -o "$trace/ingest-$db-audit-$audit-consent-$consent.perf.data" \
      >"$tmp/trace-ingest.log" 2>&1 &
    ingest_trace_pid=$!
    sleep 1
  fi
  ingest=$(node "$here/ingest.mjs" "$base" "$synthea" "$resources" "$tmp" 2) || { tail -50 "$tmp/server.log"; exit 1; }
  [ -n "$trace" ] && { kill -INT "$ingest_trace_pid"; wait "$ingest_trace_pid" || cat "$tmp/trace-ingest.log"; }
fi
ingest_cpu=$(echo "$(cpu_seconds) - $cpu0" | bc)
# Database size on disk after the ingest (SQLite: the database folder with its WAL; PostgreSQL: the database).
if [ "$db" = postgres ]; then
  # After a bulk load the statistics lag (autovacuum analyses a table after 10% of it changed, on its own schedule):
  # the documented step is an ANALYZE once the load is in.
  "$pg_bin/psql" -h 127.0.0.1 -p "$pg_port" -U fhir -d fhir -qc "ANALYZE" >/dev/null
  db_bytes=$("$pg_bin/psql" -h 127.0.0.1 -p "$pg_port" -U fhir -d fhir -Atc "SELECT pg_database_size('fhir')")
else
  db_bytes=$(du -sb "$tmp/sqlite" | cut -f1)
fi
echo "data: $(node -e 'console.log(JSON.parse(process.argv[1]).resources)' "$ingest") resources, $((db_bytes / 1000000)) MB on disk; nproc $(nproc), load average $(cut -d' ' -f1-3 /proc/loadavg)"

# scenario name -> paths file
[ "$only" = homepage ] || scenarios=(read:read identifier:identifier observation:observation include:include everything:everything
  chained:chained history:history)
declare -A label=([read]="read by id (GET [type]/[id])" [identifier]="Patient?identifier=system|value"
  [observation]="Observation?patient&code&date" [include]="Encounter?patient&_include=Encounter:practitioner"
  [everything]="Patient/[id]/\$everything?_count=100 (first page)"
  [chained]="Observation?subject:Patient.identifier=system|value&code=system|code"
  [history]="Observation?patient=…&_sort=-date&_count=50" [ceiling]="bare Kestrel, a static 3.5 KB JSON (ceiling/)"
  [summary-50]="Patient/[id]/\$summary, a record of 50 resources" [summary-500]="… of 500 resources" [summary-5000]="… of 5,000 resources")
results=()
[ -n "$only" ] && [ "$only" != homepage ] && scenarios=("$only:$only")
IFS=, read -ra connection_counts <<<"$connections"
# Runs every scenario once per connection count (warm-up, then timed); appends
# "name req/s p50 p99 requests errors non2xx cpu peak-rss-MB" to results (name/c<N> when several counts are swept).
run_scenarios() {
  for s in "${scenarios[@]}"; do
    for connections in "${connection_counts[@]}"; do
    name=${s%%:*}; file="$tmp/${s##*:}.txt"
    [ ${#connection_counts[@]} -gt 1 ] && name="$name/c$connections"
    # Warm-up: every path once (first reads parse what later reads find cached), then 2 s as timed (JIT tiers settle).
    node "$here/warm.mjs" "$base" "$file" "$connections"
    wrk -t2 -c"$connections" -d2s --timeout 5s -s "$here/paths.lua" "$base" -- "$file" >/dev/null
    if [ -n "$trace" ]; then
      perf record -F 499 -e cpu-clock -g -p "$server_pid" -o "$trace/$name-$db-audit-$audit-consent-$consent.perf.data" \
        -- sleep "$duration" >"$tmp/trace.log" 2>&1 &
      trace_pid=$!
      sleep 1
    fi
    cpu0=$(cpu_seconds)
    out=$(wrk -t2 -c"$connections" -d"${duration}s" --timeout 5s -s "$here/paths.lua" "$base" -- "$file")
    [ -n "$trace" ] && { wait "$trace_pid" || cat "$tmp/trace.log"; }
    results+=("$name $(grep '^RESULT' <<<"$out" | cut -d' ' -f2-) $(echo "$(cpu_seconds) - $cpu0" | bc) $(peak_rss_mb)")
    done
  done
}
# The ceiling: a bare Kestrel app answering a static 3.5 KB JSON, timed by the same wrk runs as the read by id.
run_ceiling() {
  local cport; cport=$(free_port)
  dotnet "$here/ceiling/bin/Release/net10.0/Ceiling.dll" --urls "http://127.0.0.1:$cport" >"$tmp/ceiling.log" 2>&1 &
  ceiling_pid=$!
  for _ in $(seq 1 60); do curl -fs "http://127.0.0.1:$cport/ceiling.json" >/dev/null 2>&1 && break; sleep 0.5; done
  echo "/ceiling.json" >"$tmp/ceiling.txt"
  for connections in "${connection_counts[@]}"; do
    local name=ceiling; [ ${#connection_counts[@]} -gt 1 ] && name="ceiling/c$connections"
    wrk -t2 -c"$connections" -d2s --timeout 5s -s "$here/paths.lua" "http://127.0.0.1:$cport" -- "$tmp/ceiling.txt" >/dev/null
    local c0; c0=$(awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$ceiling_pid/stat")
    out=$(wrk -t2 -c"$connections" -d"${duration}s" --timeout 5s -s "$here/paths.lua" "http://127.0.0.1:$cport" -- "$tmp/ceiling.txt")
    local c1; c1=$(awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$ceiling_pid/stat")
    local rss; rss=$(awk '/^VmHWM/ { printf "%d", $2 / 1024 }' "/proc/$ceiling_pid/status")
    results+=("$name $(grep '^RESULT' <<<"$out" | cut -d' ' -f2-) $(echo "$c1 - $c0" | bc) $rss")
  done
  kill "$ceiling_pid"; wait "$ceiling_pid" 2>/dev/null || true; ceiling_pid=""
}
if [ "$pairs" -gt 0 ]; then
  pair_rows=()
  for round in $(seq 1 "$pairs"); do
    for audit in on off; do
      stop_server
      if [ "$audit" = off ]; then export Audit__Enabled=false; else unset Audit__Enabled; fi
      start_server
      results=()
      run_scenarios
      pair_rows+=("$round $audit ${results[*]}")
      echo "round $round, audit $audit: ${results[*]}"
    done
  done
  node -e '
const rows = process.argv.slice(1).map(r => r.split(" "));
const byKey = new Map();
for (const [round, audit, ...rest] of rows)
  for (let i = 0; i < rest.length; i += 9) {
    const [name, rps, , p99, requests, , , cpu] = rest.slice(i, i + 9);
    const key = `${round} ${name}`;
    byKey.set(key, { ...byKey.get(key), [audit]: { rps: +rps, p99, cpu: Math.round(1e6 * cpu / requests) } });
  }
console.log("\n| round | scenario | audit on req/s | audit off req/s | ratio | CPU µs/request on / off | p99 ms on / off |");
console.log("|---:|---|---:|---:|---:|---|---|");
const ratios = {};
for (const [key, { on, off }] of byKey) {
  const [round, name] = key.split(" ");
  const ratio = on.rps / off.rps;
  (ratios[name] ??= []).push(ratio);
  console.log(`| ${round} | ${name} | ${on.rps} | ${off.rps} | ${ratio.toFixed(2)} | ${on.cpu} / ${off.cpu} | ${on.p99} / ${off.p99} |`);
}
for (const [name, r] of Object.entries(ratios)) {
  r.sort((a, b) => a - b);
  const median = r.length % 2 ? r[(r.length - 1) / 2] : (r[r.length / 2 - 1] + r[r.length / 2]) / 2;
  console.log(`${name}: audit on/off ratio median ${median.toFixed(2)} (min ${r[0].toFixed(2)}, max ${r[r.length - 1].toFixed(2)}, ${r.length} pairs, ${require("os").cpus().length} cores)`);
}
' "${pair_rows[@]}"
  exit 0
fi
run_scenarios
[ $ceiling -eq 1 ] && [ -z "$only" -o "$only" = read ] && run_ceiling
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

node -e '
const [ingest, ingestCpu, db, cores, conns, dur, before, after, ...rows] = process.argv.slice(1);
const i = JSON.parse(ingest);
console.log(`\nFhirArchive load test: ${db}, audit '"$audit"', consent '"$consent"', ${cores} cores, load ${before} -> ${after}`);
console.log(`ingest: ${i.resources} resources in ${i.bundles} transactions (${i.megabytes} MB) in ${i.seconds} s = ${i.resourcesPerSecond} resources/s, ${i.failures} failed`);
console.log(`        server CPU ${ingestCpu} s = ${Math.round(1000 * ingestCpu / i.resources * 1000) / 1000} ms per resource`);
console.log(`wrk: ${conns} connections, 2 threads, ${dur} s per scenario\n`);
console.log("| scenario | req/s | p50 ms | p99 ms | requests | errors | non-2xx | server CPU µs/request | server peak RSS MB |");
console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
const rps = {};
for (const r of rows) {
  const [n, ...v] = r.split(" ");
  rps[n] = Number(v[0]);
  const rss = v.pop();
  const cpu = Number(v.pop());
  v.push(Number(v[3]) > 0 ? Math.round(1e6 * cpu / Number(v[3])) : "-");
  // wrk counts nothing when no request at all completed within the run.
  if (v[3] === "0") v.splice(0, 3, "none answered", "-", "-");
  v.push(rss);
  console.log(`| ${n} | ${v.join(" | ")} |`);
}
for (const n of Object.keys(rps).filter(n => n.startsWith("read")))
  if (rps[n.replace("read", "ceiling")]) console.log(`${n}: ${(rps[n] / rps[n.replace("read", "ceiling")]).toFixed(2)} of the bare Kestrel ceiling`);
' "$ingest" "$ingest_cpu" "$db" "$(nproc)" "$connections" "$duration" "$load_before" "$load_after" "${results[@]}"
for s in "${scenarios[@]}"; do echo "  ${s%%:*}: ${label[${s%%:*}]}"; done
if [ -n "$pg_explain" ]; then
  # The slowest statements the cluster logged during the whole run, each with its plan (auto_explain).
  echo; echo "slowest statements (auto_explain, log kept in $pg_explain/postgres.log):"
  cp "$tmp/pg.log" "$pg_explain/postgres.log"
  python3 - "$pg_explain/postgres.log" <<'PY'
import re, sys
text = open(sys.argv[1], errors="replace").read()
plans = [(float(m.group(1)), m.group(0)) for m in re.finditer(r"LOG:  duration: ([0-9.]+) ms  plan:\n(?:(?!\n\S).)*", text, re.S)]
for ms, plan in sorted(plans, key=lambda p: -p[0])[:5]:
    print(plan[:4000]); print()
PY
fi
