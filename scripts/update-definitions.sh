#!/usr/bin/env bash
# Regenerates src/Fhir.Core/Definitions/R4 from the official FHIR R4 4.0.1 package.
# The npm package hl7.fhir.r4.examples@4.0.1 (CC0-1.0) carries the official, unmodified definition
# Bundles beside the examples. They are copied byte for byte and gzip-compressed (-n: reproducible).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out="$here/src/Fhir.Core/Definitions/R4"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent hl7.fhir.r4.examples@4.0.1 >/dev/null && tar xzf hl7.fhir.r4.examples-4.0.1.tgz)
files=(Bundle-resources.json Bundle-types.json Bundle-searchParams.json Bundle-valuesets.json
       Bundle-v2-valuesets.json Bundle-v3-valuesets.json Bundle-extensions.json Bundle-conceptmaps.json
       Bundle-profiles-others.json CompartmentDefinition-patient.json CompartmentDefinition-encounter.json
       CompartmentDefinition-relatedPerson.json CompartmentDefinition-practitioner.json
       CompartmentDefinition-device.json)
rm -f "$out"/*.json.gz
for f in "${files[@]}"; do
  gzip -9 -n -c "$work/package/$f" > "$out/$f.gz"
  echo "$f  $(sha256sum "$work/package/$f" | cut -c1-16)  $(stat -c %s "$out/$f.gz") bytes gz"
done
