// IHE MHD ITI-65 throughput (loopback only, bounded by time): Comprehensive Provide Document Bundles — a SubmissionSet,
// one DocumentReference and its Binary of <kb> KiB (hash and size given, so the Recipient checks them) — for one
// Patient, <concurrency> at a time for <seconds> s after a 3 s warm-up; documents/s and the latency p50/p99.
// Usage: node mhd.mjs <baseUrl> [seconds=10] [concurrency=4] [kb=4]   (FHIR_TOKEN set)
import { createHash, randomBytes, randomUUID } from 'node:crypto';

const [baseUrl, secArg, concArg, kbArg] = process.argv.slice(2);
const seconds = Number(secArg ?? 10), concurrency = Number(concArg ?? 4), kb = Number(kbArg ?? 4);
if (!baseUrl?.startsWith('http://127.0.0.1:')) throw new Error('loopback only');
const headers = { 'content-type': 'application/fhir+json', accept: 'application/fhir+json', authorization: `Bearer ${process.env.FHIR_TOKEN}` };
const MHD = 'https://profiles.ihe.net/ITI/MHD/';

async function fhir(method, path, body) {
  const r = await fetch(baseUrl + path, { method, headers, body: body && JSON.stringify(body) });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text.slice(0, 400)}`);
  return text ? JSON.parse(text) : null;
}

const patient = `Patient/${(await fhir('POST', '/Patient', { resourceType: 'Patient', name: [{ family: 'Mhd', text: '文档基准' }] })).id}`;

function bundle() {
  const bytes = randomBytes(kb * 1024);
  const [set, doc, bin] = [randomUUID(), randomUUID(), randomUUID()].map(u => `urn:uuid:${u}`);
  return {
    resourceType: 'Bundle', type: 'transaction', meta: { profile: [`${MHD}StructureDefinition/IHE.MHD.Comprehensive.ProvideBundle`] },
    entry: [
      { fullUrl: set, request: { method: 'POST', url: 'List' }, resource: {
        resourceType: 'List', status: 'current', mode: 'working', date: new Date().toISOString(), subject: { reference: patient },
        extension: [{ url: `${MHD}StructureDefinition/ihe-sourceId`, valueIdentifier: { value: 'urn:oid:1.2.3.4' } }],
        identifier: [{ system: 'urn:ietf:rfc:3986', value: set }],
        code: { coding: [{ system: `${MHD}CodeSystem/MHDlistTypes`, code: 'submissionset' }] }, entry: [{ item: { reference: doc } }] } },
      { fullUrl: doc, request: { method: 'POST', url: 'DocumentReference' }, resource: {
        resourceType: 'DocumentReference', status: 'current', subject: { reference: patient }, date: new Date().toISOString(),
        masterIdentifier: { system: 'urn:ietf:rfc:3986', value: doc },
        type: { coding: [{ system: 'http://loinc.org', code: '34133-9' }] },
        content: [{ attachment: { contentType: 'application/octet-stream', url: bin, size: bytes.length,
          hash: createHash('sha1').update(bytes).digest('base64') } }] } },
      { fullUrl: bin, request: { method: 'POST', url: 'Binary' }, resource: {
        resourceType: 'Binary', contentType: 'application/octet-stream', data: bytes.toString('base64') } },
    ],
  };
}

async function run(ms) {
  const end = performance.now() + ms, latencies = [];
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < end) {
      const body = bundle(), t0 = performance.now();
      await fhir('POST', '/', body);
      latencies.push(performance.now() - t0);
    }
  }));
  return latencies.sort((a, b) => a - b);
}

await run(3000);
const t0 = performance.now();
const lat = await run(seconds * 1000);
const wall = (performance.now() - t0) / 1000;
const pct = p => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))].toFixed(1);
console.log(`ITI-65: ${lat.length} submissions (1 document of ${kb} KiB each) in ${wall.toFixed(1)} s, concurrency ${concurrency}: ` +
  `${(lat.length / wall).toFixed(1)} documents/s, p50 ${pct(0.5)} ms, p99 ${pct(0.99)} ms`);
