// Runs every R4 SearchParameter expression on every example with fhirpath.js, times it, and (given our dump)
// compares the results item by item.
// Usage: node compare.mjs <examples-folder> <searchParams.json> [our-dump.jsonl]
//   examples-folder: the extracted hl7.fhir.r4.examples package (package/*.json)
//   searchParams.json: src/Fhir.Core/Definitions/R4/Bundle-searchParams.json.gz, gunzipped
//   our-dump.jsonl: from `dotnet run --project conformance/Fhir.Conformance -- fhirpath-searchparams <tgz> dump.jsonl`
import fs from 'node:fs';
import path from 'node:path';
import fhirpath from 'fhirpath';
import r4 from 'fhirpath/fhir-context/r4/index.js';

const [folder, spFile, dumpFile] = process.argv.slice(2);
if (!folder || !spFile) {
  console.error('usage: node compare.mjs <examples-folder> <searchParams.json> [our-dump.jsonl]');
  process.exit(2);
}
const byType = new Map();
for (const e of JSON.parse(fs.readFileSync(spFile, 'utf8')).entry) {
  const sp = e.resource;
  if (!sp.expression) continue;
  let fn;
  try { fn = fhirpath.compile(sp.expression, r4); } catch (err) { console.log(`compile ${sp.id}: ${err.message}`); continue; }
  for (const b of sp.base) {
    if (!byType.has(b)) byType.set(b, []);
    byType.get(b).push({ id: sp.id, fn });
  }
}
const files = fs.readdirSync(folder).filter(f => f.endsWith('.json') && f !== 'package.json' && !f.startsWith('.')).sort();
const resources = [];
for (const f of files) {
  try {
    const r = JSON.parse(fs.readFileSync(path.join(folder, f), 'utf8'));
    if (r.resourceType) resources.push({ f, r });
  } catch { /* not a resource */ }
}
const ours = new Map();
if (dumpFile) {
  for (const line of fs.readFileSync(dumpFile, 'utf8').split('\n')) {
    if (!line) continue;
    const d = JSON.parse(line);
    ours.set(`${d.file}|${d.sp}`, d);
  }
}
// fhirpath.js gives primitives as JS values (numbers lose their lexical form) and complex values as objects.
const key = v => v === null || v === undefined ? '' : typeof v === 'object' ? '{}' : String(v);
const ourKey = v => v.startsWith('#object:') ? '{}' : v;
const sameNumber = (a, b) => a !== '' && b !== '' && !isNaN(+a) && !isNaN(+b) && +a === +b;
let evaluations = 0, errors = 0, compared = 0, agree = 0;
const differences = [];
const start = process.hrtime.bigint();
for (const { f, r } of resources) {
  for (const { id, fn } of [...(byType.get(r.resourceType) ?? []), ...(byType.get('Resource') ?? [])]) {
    evaluations++;
    let res;
    try { res = fn(r); } catch (err) { errors++; continue; }
    const mine = ours.get(`${f}|${id}`);
    if (!mine || mine.error) continue;
    compared++;
    const a = res.map(key), b = mine.values.map(ourKey);
    const equal = a.length === b.length && a.every((x, i) => x === b[i] || sameNumber(x, b[i]));
    if (equal) agree++;
    else if (differences.length < 40) differences.push(`${f} ${id}: fhirpath.js ${JSON.stringify(a).slice(0, 200)} vs ours ${JSON.stringify(b).slice(0, 200)}`);
  }
}
const ms = Number(process.hrtime.bigint() - start) / 1e6;
console.log(`fhirpath.js ${JSON.parse(fs.readFileSync(new URL('./node_modules/fhirpath/package.json', import.meta.url))).version}: ` +
  `${resources.length} resources, ${evaluations} evaluations, ${errors} errors, ${ms.toFixed(0)} ms (${(evaluations / ms * 1000).toFixed(0)} evaluations/s)`);
if (dumpFile) {
  console.log(`compared ${compared}: ${agree} agree (${(100 * agree / compared).toFixed(2)}%)`);
  for (const d of differences) console.log('  ' + d);
}
