// Subscriptions benchmark (loopback only, bounded by time and count):
//  1. write throughput: Observation creates, <concurrency> at a time for <seconds> s, with no Subscription, then with
//     50 active rest-hook Subscriptions (Observation?code=urn:bench|c<i>) and writes none of them matches (the cost
//     of matching), then writes each matching one of them (matching and sending a notification per write); in
//     <pairs> rounds (the 50 are deleted between rounds), after one discarded warm-up run; writes/s and ratios;
//  2. notification latency: with the 50 active, creates paced at <rate>/s for <count> writes; the time from sending
//     the write to the rest-hook PUT reaching a listener on 127.0.0.1, p50/p99 (every notification must arrive).
// Usage: node notify.mjs <baseUrl> [seconds=10] [concurrency=8] [pairs=2] [rate=100] [count=1000]   (FHIR_TOKEN set)
import { createServer } from 'node:http';

const [baseUrl, secArg, concArg, pairsArg, rateArg, countArg] = process.argv.slice(2);
const seconds = Number(secArg ?? 10), concurrency = Number(concArg ?? 8), pairs = Number(pairsArg ?? 2);
const rate = Number(rateArg ?? 100), count = Number(countArg ?? 1000);
if (!baseUrl?.startsWith('http://127.0.0.1:')) throw new Error('loopback only');
const headers = { 'content-type': 'application/fhir+json', accept: 'application/fhir+json', authorization: `Bearer ${process.env.FHIR_TOKEN}` };
const SUBS = 50;

// The rest-hook listener: PUT [endpoint]/Observation/[id] with the resource; the arrival time by id.
const arrived = new Map();
const hook = createServer((req, res) => {
  const at = performance.now();
  req.resume();
  req.on('end', () => {
    const id = req.url.split('/').pop();
    if (!arrived.has(id)) arrived.set(id, at);
    res.writeHead(200).end();
  });
});
await new Promise(r => hook.listen(0, '127.0.0.1', r));
const endpoint = `http://127.0.0.1:${hook.address().port}/hook`;

async function fhir(method, path, body) {
  const r = await fetch(baseUrl + path, { method, headers, body: body && JSON.stringify(body) });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : null;
}

/** An Observation matching Subscription i % 50, or (prefix 'n') none of them. */
const observation = (i, prefix = 'c') => ({
  resourceType: 'Observation', status: 'final',
  code: { coding: [{ system: 'urn:bench', code: `${prefix}${i % SUBS}` }] }, valueQuantity: { value: i, unit: 'mmHg' },
});

async function subscribe() {
  const ids = [];
  for (let i = 0; i < SUBS; i++)
    ids.push((await fhir('POST', '/Subscription', {
      resourceType: 'Subscription', status: 'requested', reason: 'benchmark', criteria: `Observation?code=urn:bench|c${i}`,
      channel: { type: 'rest-hook', endpoint, payload: 'application/fhir+json' },
    })).id);
  return ids;
}

/** Creates as many Observations as it can in `seconds`, `concurrency` at a time; writes/s and the ids. */
async function throughput(prefix = 'c') {
  const ids = [];
  let n = 0;
  const until = performance.now() + seconds * 1000;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < until) ids.push((await fhir('POST', '/Observation', observation(n++, prefix))).id);
  }));
  return { perSecond: ids.length / ((performance.now() - t0) / 1000), ids };
}

async function allArrived(ids, what, limitSeconds = 120) {
  const until = performance.now() + limitSeconds * 1000;
  while (ids.some(id => !arrived.has(id))) {
    if (performance.now() > until) throw new Error(`${what}: ${ids.filter(id => !arrived.has(id)).length} of ${ids.length} notifications missing`);
    await new Promise(r => setTimeout(r, 50));
  }
}

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
const median = sorted => (sorted[(sorted.length - 1) >> 1] + sorted[sorted.length >> 1]) / 2;

// Warm-up (JIT, tiered compilation, connection pools), not counted.
await throughput('n');

const rows = [];
let subs = [];
for (let p = 1; p <= pairs; p++) {
  const none = await throughput();
  subs = await subscribe();
  const unmatched = await throughput('n');
  const fifty = await throughput();
  await allArrived(fifty.ids, `round ${p}`);
  rows.push({ pair: p, none: none.perSecond, unmatched: unmatched.perSecond, fifty: fifty.perSecond });
  if (p < pairs) for (const id of subs.splice(0)) await fhir('DELETE', `/Subscription/${id}`);
}

// Latency at a paced rate, the 50 Subscriptions active.
const sent = new Map();
const answered = [];
const writes = [];
const t0 = performance.now();
for (let i = 0; i < count; i++) {
  const due = t0 + (i * 1000) / rate;
  const wait = due - performance.now();
  if (wait > 0) await new Promise(r => setTimeout(r, wait));
  const start = performance.now();
  writes.push(fhir('POST', '/Observation', observation(i)).then(o => {
    sent.set(o.id, start);
    answered.push(performance.now() - start);
  }));
}
await Promise.all(writes);
const achieved = count / ((performance.now() - t0) / 1000);
await allArrived([...sent.keys()], 'latency run');
const latencies = [...sent].map(([id, start]) => arrived.get(id) - start).sort((a, b) => a - b);
answered.sort((a, b) => a - b);
hook.close();

console.log(`\n| round | writes/s, no Subscription | 50, none matching | ratio | 50, each write matching one | ratio |`);
console.log(`|---|---:|---:|---:|---:|---:|`);
for (const r of rows) console.log(`| ${r.pair} | ${r.none.toFixed(0)} | ${r.unmatched.toFixed(0)} | ${(r.unmatched / r.none).toFixed(2)} | ` +
  `${r.fifty.toFixed(0)} | ${(r.fifty / r.none).toFixed(2)} |`);
const ratio = key => median(rows.map(r => r[key] / r.none).sort((a, b) => a - b)).toFixed(2);
console.log(`\nmedian ratios: none matching ${ratio('unmatched')}, each matching one ${ratio('fifty')} ` +
  `(${concurrency} concurrent writers, ${seconds} s per run)`);
console.log(`latency write -> rest-hook received, ${count} writes at ${rate}/s (achieved ${achieved.toFixed(0)}/s), 50 Subscriptions: ` +
  `p50 ${quantile(latencies, 0.5).toFixed(1)} ms, p99 ${quantile(latencies, 0.99).toFixed(1)} ms, max ${latencies.at(-1).toFixed(1)} ms` +
  ` (the write's own answer: p50 ${quantile(answered, 0.5).toFixed(1)} ms, p99 ${quantile(answered, 0.99).toFixed(1)} ms)`);
