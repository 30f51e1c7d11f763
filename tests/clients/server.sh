# Sourced by the client test runners. `start_server LABEL [VAR=value ...]` builds the server, starts it on 127.0.0.1
# (a port the OS picks) with a fresh SQLite database and the sample data in a temp folder (plus the given settings),
# waits for /health and sets $base to its URL. On exit the server is always stopped and the folder removed.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
config="${CONFIGURATION:-Debug}"
tmp="$(mktemp -d)"
server=""
label="client tests"

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

fail() { echo "$label: $*" >&2; [ -f "$tmp/server.log" ] && tail -n 40 "$tmp/server.log" >&2; exit 1; }

start_server() {
  label=$1; shift
  echo "$label: building the server ($config)" >&2
  dotnet build "$root/src/Fhir.Server" -c "$config" -nologo -v quiet >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log" >&2; fail "build failed"; }
  local bin="$root/src/Fhir.Server/bin/$config/net10.0"
  # Port 0: Kestrel binds a free port and the server prints the address it listens on.
  (cd "$bin" && exec env Storage__DataFolder="$tmp/data" Storage__Provider=sqlite SampleData__Load=true "$@" \
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
  echo "$label: server at $base" >&2
}
