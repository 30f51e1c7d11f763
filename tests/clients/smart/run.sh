#!/usr/bin/env bash
# SMART login flow test: starts a fresh server with the sample data and the demo accounts (../server.sh), runs
# smart-login.mjs (fhirclient, authorization code + PKCE) against it with node's TAP reporter (ending "# pass N" /
# "# fail N"). The exit status is the tests'.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/../server.sh"

start_server "smart client test" Security__DemoAccounts=true
(cd "$here" && npm ci --no-audit --no-fund --loglevel=error >&2) || fail "npm ci failed"
cd "$here" && FHIR_BASE_URL="$base" node --test --test-reporter=tap smart-login.mjs
