// Ingests copies of the Synthea transaction bundles until a target resource count is reached, then writes the
// request paths the wrk scenarios pick from. Each copy gets fresh urn:uuid fullUrls (so every copy creates new
// resources) and its own identifier values (so identifier searches find exactly one copy's resources).
// Usage: node ingest.mjs <baseUrl> <syntheaDir> <targetResources> <outDir> [concurrency]
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';

const [baseUrl, dir, targetArg, outDir, concArg] = process.argv.slice(2);
const target = Number(targetArg);
const concurrency = Number(concArg ?? 2);
if (!baseUrl.startsWith('http://127.0.0.1:')) throw new Error('loopback only');

const templates = readdirSync(dir).filter(f => f.endsWith('.json')).sort()
  .map(f => JSON.parse(readFileSync(join(dir, f), 'utf8')));

/** Sets every Identifier.value under `node` from the original value plus a per-copy suffix. */
function retag(node, suffix) {
  if (Array.isArray(node)) { for (const x of node) retag(x, suffix); return; }
  if (node === null || typeof node !== 'object') return;
  for (const [k, v] of Object.entries(node)) {
    if (k === 'identifier') for (const id of Array.isArray(v) ? v : [v]) {
      if (id && typeof id.value === 'string') { id._orig ??= id.value; id.value = `${id._orig}-${suffix}`; }
    }
    retag(v, suffix);
  }
}

/**
 * One copy of a template as a request body (fresh urn:uuids, suffixed identifiers), with what the scenarios need
 * from it, taken now because the template is retagged again for later copies.
 */
function makeCopy(template, copy) {
  retag(template.entry, `c${copy}`);
  const map = new Map();
  const fresh = u => {
    let n = map.get(u);
    if (!n) map.set(u, (n = randomUUID()));
    return n;
  };
  const body = JSON.stringify(template, (k, v) => (k === '_orig' ? undefined : v))
    .replace(/urn:uuid:([0-9a-fA-F-]{36})/g, (_, u) => `urn:uuid:${fresh(u)}`);
  const renamed = ref => (ref?.startsWith('urn:uuid:') ? `urn:uuid:${fresh(ref.slice(9))}` : ref);
  const plan = template.entry.map(e => {
    const r = e.resource;
    const p = { fullUrl: renamed(e.fullUrl), type: r.resourceType, subject: renamed(r.subject?.reference ?? r.patient?.reference) };
    if (r.resourceType === 'Patient') p.identifier = (r.identifier ?? []).find(x => x.system && x.value);
    if (r.resourceType === 'Observation') { p.coding = r.code?.coding?.[0]; p.day = r.effectiveDateTime?.slice(0, 10); }
    if (p.identifier) p.identifier = `${p.identifier.system}|${p.identifier.value}`;
    return p;
  });
  return { body, plan };
}

// Reservoir samples of request paths for the wrk scenarios.
const sampleSize = 20000;
const kinds = ['read', 'identifier', 'observation', 'include', 'everything', 'chained', 'history'];
const samples = Object.fromEntries(kinds.map(k => [k, []]));
const seen = Object.fromEntries(kinds.map(k => [k, 0]));
function sample(kind, path) {
  const s = samples[kind];
  const n = ++seen[kind];
  if (s.length < sampleSize) s.push(path);
  else { const j = Math.floor(Math.random() * n); if (j < sampleSize) s[j] = path; }
}

/** Records the scenario paths for one ingested copy from its plan and the transaction-response (same order). */
function collect(plan, response) {
  const ids = new Map();
  response.entry.forEach((e, i) => {
    const [type, id] = (e.response?.location ?? '').split('/');
    ids.set(plan[i].fullUrl, id);
    if (type && id) sample('read', `/${type}/${id}`);
  });
  const identifiers = new Map(plan.filter(p => p.type === 'Patient' && p.identifier).map(p => [p.fullUrl, p.identifier]));
  for (const p of plan) {
    const pid = ids.get(p.subject);
    if (p.type === 'Patient' && ids.get(p.fullUrl)) {
      sample('everything', `/Patient/${ids.get(p.fullUrl)}/$everything?_count=100`);
      sample('history', `/Observation?patient=${ids.get(p.fullUrl)}&_sort=-date&_count=50`);
    }
    if (p.type === 'Observation' && p.coding && identifiers.has(p.subject))
      sample('chained', `/Observation?subject:Patient.identifier=${encodeURIComponent(identifiers.get(p.subject))}&code=${encodeURIComponent(`${p.coding.system}|${p.coding.code}`)}`);
    if (p.type === 'Patient' && p.identifier) sample('identifier', `/Patient?identifier=${encodeURIComponent(p.identifier)}`);
    else if (p.type === 'Observation' && pid && p.coding && p.day)
      sample('observation', `/Observation?patient=${pid}&code=${encodeURIComponent(`${p.coding.system}|${p.coding.code}`)}&date=${p.day}`);
    else if (p.type === 'Encounter' && pid)
      sample('include', `/Encounter?patient=${pid}&_include=Encounter:practitioner&_count=20`);
  }
}

let next = 0, ingested = 0, bundles = 0, failures = 0, bytes = 0;
const started = process.hrtime.bigint();

async function worker() {
  while (ingested < target) {
    const n = next++;
    const { body, plan } = makeCopy(templates[n % templates.length], Math.floor(n / templates.length));
    const entries = templates[n % templates.length].entry.length;
    ingested += entries; // claimed before the request so workers stop at the target
    const res = await fetch(`${baseUrl}/`, {
      method: 'POST', body,
      headers: {
        'content-type': 'application/fhir+json', accept: 'application/fhir+json', prefer: 'return=minimal',
        authorization: `Bearer ${process.env.FHIR_TOKEN}`,
      },
    });
    const text = await res.text();
    bytes += body.length;
    if (res.status !== 200) {
      failures++;
      ingested -= entries;
      if (failures > 3) throw new Error(`ingest failed: ${res.status} ${text.slice(0, 500)}`);
      continue;
    }
    bundles++;
    collect(plan, JSON.parse(text));
  }
}

await Promise.all(Array.from({ length: concurrency }, worker));
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
for (const [kind, paths] of Object.entries(samples)) writeFileSync(join(outDir, `${kind}.txt`), paths.join('\n') + '\n');
const result = { resources: ingested, bundles, failures, seconds: +seconds.toFixed(2), resourcesPerSecond: Math.round(ingested / seconds), megabytes: Math.round(bytes / 1e6) };
writeFileSync(join(outDir, 'ingest.json'), JSON.stringify(result));
console.log(JSON.stringify(result));
