// Warm-up before a timed scenario: GETs every path of the scenario's file once (32 at a time), so the timed run,
// which picks paths at random, does not pay first-read costs (parsing what later reads find cached) on some requests.
// Usage: node warm.mjs <baseUrl> <pathsFile> [concurrency]; the token comes from FHIR_TOKEN.
import { readFileSync } from 'node:fs';

const [baseUrl, file, concArg] = process.argv.slice(2);
if (!baseUrl.startsWith('http://127.0.0.1:')) throw new Error('loopback only');
const paths = readFileSync(file, 'utf8').split('\n').filter(p => p.length > 0);
const headers = { Accept: 'application/fhir+json', Authorization: `Bearer ${process.env.FHIR_TOKEN ?? ''}` };
let next = 0, failed = 0;
async function worker() {
  while (next < paths.length) {
    const res = await fetch(baseUrl + paths[next++], { headers });
    if (!res.ok) failed++;
    await res.arrayBuffer();
  }
}
await Promise.all(Array.from({ length: Number(concArg ?? 32) }, worker));
if (failed > 0) { console.error(`warm-up: ${failed} of ${paths.length} requests failed`); process.exit(1); }
