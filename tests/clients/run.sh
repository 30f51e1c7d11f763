#!/usr/bin/env bash
# Third-party client tests: starts a fresh server (server.sh) and runs each client's `node --test` suite against it
# with the demo hospital system client's token. Prints node's TAP output (ending "# pass N" / "# fail N"); the exit
# status is the tests'. The SMART login test has its own runner (smart/run.sh).
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/server.sh"

# The generic client suite writes plain FHIR resources: the record profiles (tested by the server suites) are off here.
start_server "client tests" Validation__RecordProfiles__Patient= Validation__RecordProfiles__Organization= \
  Validation__RecordProfiles__Practitioner= Validation__RecordProfiles__Encounter= Validation__RecordProfiles__Observation=
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
