#!/usr/bin/env bash
# Reruns the core benchmarks (BenchmarkDotNet, Release). Usage: tests/Fhir.Benchmarks/run.sh [--filter '*Json*']
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
if [ -z "${FHIR_R4_EXAMPLES:-}" ]; then
  mkdir -p "$root/artifacts"
  [ -f "$root/artifacts/hl7.fhir.r4.examples-4.0.1.tgz" ] ||
    (cd "$root/artifacts" && npm pack --silent hl7.fhir.r4.examples@4.0.1 >/dev/null)
  export FHIR_R4_EXAMPLES="$root/artifacts/hl7.fhir.r4.examples-4.0.1.tgz"
fi
echo "cores: $(nproc)"
cd "$root"
if [ $# -eq 0 ]; then set -- --filter '*'; fi
dotnet run -c Release --project tests/Fhir.Benchmarks -- "$@" --artifacts "$root/artifacts/benchmarks"
