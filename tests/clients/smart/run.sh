#!/usr/bin/env bash
# SMART login flow test: builds and starts the server on 127.0.0.1 (a port the OS picks) with a fresh SQLite
# database, the sample data and the demo accounts in a temp folder, runs smart-login.mjs (fhirclient, authorization
# code + PKCE) against it with node's TAP reporter (ending "# pass N" / "# fail N"), then stops the server and removes
# the folder. The exit status is the tests'.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
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
fail() { echo "smart client test: $*" >&2; [ -f "$tmp/server.log" ] && tail -n 40 "$tmp/server.log" >&2; exit 1; }

dotnet build "$root/src/Fhir.Server" -c "$config" -nologo -v quiet >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log" >&2; fail "build failed"; }
bin="$root/src/Fhir.Server/bin/$config/net10.0"
(cd "$bin" && exec env Storage__DataFolder="$tmp/data" Storage__Provider=sqlite SampleData__Load=true Security__DemoAccounts=true \
  ASPNETCORE_ENVIRONMENT=Production dotnet FhirArchive.Server.dll --urls http://127.0.0.1:0) >"$tmp/server.log" 2>&1 &
server=$!

base=""
for _ in $(seq 240); do
  kill -0 "$server" 2>/dev/null || fail "the server exited"
  base="$(grep -oE 'listening on http://127\.0\.0\.1:[0-9]+' "$tmp/server.log" | head -n1 | sed 's/listening on //')"
  if [ -n "$base" ] && node -e 'fetch(process.argv[1]).then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "$base/health"; then break; fi
  base=""
  sleep 0.5
done
[ -n "$base" ] || fail "the server did not answer /health within 120 s"

(cd "$here" && npm ci --no-audit --no-fund --loglevel=error >&2) || fail "npm ci failed"
cd "$here" && FHIR_BASE_URL="$base" node --test --test-reporter=tap smart-login.mjs
