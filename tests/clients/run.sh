#!/usr/bin/env bash
# Third-party client tests: builds and starts the server on 127.0.0.1 (a port the OS picks) with a fresh SQLite
# database and the sample data in a temp folder, waits for /health, then runs each client's `node --test` suite
# against it. Prints node's TAP output (ending "# pass N" / "# fail N"); the exit status is the tests'.
# The server is always stopped and the temp folder removed.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
config="${CONFIGURATION:-Debug}"
tmp="$(mktemp -d)"
server=""

cleanup() {
  if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
    kill "$server" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$server" 2>/dev/null
    wait "$server" 2>/dev/null
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() { echo "client tests: $*" >&2; [ -f "$tmp/server.log" ] && tail -n 40 "$tmp/server.log" >&2; exit 1; }

echo "client tests: building the server ($config)" >&2
dotnet build "$root/src/Fhir.Server" -c "$config" -nologo -v quiet >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log" >&2; fail "build failed"; }
bin="$root/src/Fhir.Server/bin/$config/net10.0"

# Port 0: Kestrel binds a free port and the server prints the address it listens on.
# The generic client suite writes plain FHIR resources: the record profiles (tested by the server suites) are off here.
(cd "$bin" && exec env Storage__DataFolder="$tmp/data" Storage__Provider=sqlite SampleData__Load=true \
  Validation__RecordProfiles__Patient= Validation__RecordProfiles__Organization= Validation__RecordProfiles__Practitioner= \
  Validation__RecordProfiles__Encounter= Validation__RecordProfiles__Observation= \
  ASPNETCORE_ENVIRONMENT=Production dotnet FhirArchive.Server.dll --urls http://127.0.0.1:0) >"$tmp/server.log" 2>&1 &
server=$!

base=""
for _ in $(seq 240); do
  kill -0 "$server" 2>/dev/null || fail "the server exited"
  base="$(grep -oE 'listening on http://127\.0\.0\.1:[0-9]+' "$tmp/server.log" | head -n1 | sed 's/listening on //')"
  if [ -n "$base" ] && node -e 'fetch(process.argv[1]).then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "$base/health"; then
    break
  fi
  base=""
  sleep 0.5
done
[ -n "$base" ] || fail "the server did not answer /health within 120 s"
echo "client tests: server at $base" >&2
token="$("$root/scripts/get-token.sh" system "$base")" || fail "no token for the system client"

status=0
for dir in "$here"/*/; do
  [ -f "$dir/package.json" ] || continue
  [ "$(basename "$dir")" = smart ] && continue # its own runner (smart/run.sh) drives the login flow
  echo "client tests: $(basename "$dir")" >&2
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2) || fail "npm ci failed in $(basename "$dir")"
  (cd "$dir" && FHIR_BASE_URL="$base" FHIR_TOKEN="$token" node --test --test-reporter=tap) || status=1
done
exit "$status"
