#!/usr/bin/env bash
# Installs what the integration tests need beyond the .NET SDK: PostgreSQL server binaries (the Postgres test
# fixture starts its own throwaway cluster from /usr/lib/postgresql/*/bin; no service is configured or started).
set -euo pipefail
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "PostgreSQL binaries already present: $(ls -d /usr/lib/postgresql/*/bin | tail -1)"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends postgresql >/dev/null
echo "PostgreSQL installed: $(ls -d /usr/lib/postgresql/*/bin | tail -1)"
