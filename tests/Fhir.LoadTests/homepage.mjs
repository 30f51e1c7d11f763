// Builds the records the homepage benchmark reads: for each size given, one Patient with that many resources in all
// (a tenth Encounters; per Encounter observations, and a Condition, a DiagnosticReport and a ChargeItem on some), sent
// as transactions of at most 500 entries; then writes homepage-<size>.txt with the record's $summary path.
// Usage: node homepage.mjs <baseUrl> <outDir> <size>... ; the token comes from FHIR_TOKEN.
import { writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';

const [baseUrl, outDir, ...sizes] = process.argv.slice(2);
if (!baseUrl.startsWith('http://127.0.0.1:')) throw new Error('loopback only');
const headers = { 'Content-Type': 'application/fhir+json', Accept: 'application/fhir+json', Authorization: `Bearer ${process.env.FHIR_TOKEN ?? ''}` };

async function transaction(entries) {
  const res = await fetch(baseUrl, { method: 'POST', headers, body: JSON.stringify({ resourceType: 'Bundle', type: 'transaction', entry: entries }) });
  const body = await res.json();
  if (!res.ok) throw new Error(`transaction: ${res.status} ${JSON.stringify(body).slice(0, 500)}`);
  return body;
}
const post = (resource, fullUrl = `urn:uuid:${randomUUID()}`) => ({ fullUrl, resource, request: { method: 'POST', url: resource.resourceType } });
const day = i => new Date(Date.UTC(2010, 0, 1) + i * 86400000 * 3).toISOString().slice(0, 10);

for (const size of sizes.map(Number)) {
  const created = await transaction([post({ resourceType: 'Patient', name: [{ text: `首页基准 ${size}` }], gender: 'female', birthDate: '1950-06-01' })]);
  const patient = created.entry[0].response.location.split('/_history')[0];
  const subject = { reference: patient };
  // The record's resources besides the Patient: per visit an Encounter, then its observations and, on some, more.
  const entries = [];
  for (let v = 0; entries.length < size - 1; v++) {
    const enc = `urn:uuid:${randomUUID()}`;
    entries.push(post({ resourceType: 'Encounter', status: 'finished', class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' },
      type: [{ text: '门诊 / outpatient' }], reasonCode: [{ text: '随访 / follow-up' }], subject, period: { start: `${day(v)}T09:00:00+08:00` } }, enc));
    const context = { reference: enc };
    for (const [code, value, unit] of [['8480-6', 120 + v % 40, 'mmHg'], ['8462-4', 80 + v % 20, 'mmHg'], ['29463-7', 60 + v % 15, 'kg'], ['8867-4', 70 + v % 30, '/min'], ['2339-0', 5 + v % 4, 'mmol/L'], ['39156-5', 22 + v % 8, 'kg/m2']])
      entries.push(post({ resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code }] }, subject, encounter: context,
        effectiveDateTime: `${day(v)}T09:10:00+08:00`, valueQuantity: { value, unit } }));
    if (v % 3 === 0) entries.push(post({ resourceType: 'Condition', clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] },
      code: { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10', code: v % 2 ? 'I10' : 'E11.9' }] }, subject, encounter: context }));
    if (v % 2 === 0) entries.push(post({ resourceType: 'DiagnosticReport', status: 'final', code: { text: '血常规 / blood count' }, subject, encounter: context }));
    entries.push(post({ resourceType: 'ChargeItem', status: 'billed', code: { text: '诊查费' }, subject, context, priceOverride: { value: 25 + v % 50, currency: 'CNY' } }));
  }
  entries.length = size - 1;
  // Transactions of 500 at most; a reference to an Encounter of an earlier transaction is rewritten to its location.
  const located = new Map();
  for (let i = 0; i < entries.length; i += 500) {
    const chunk = entries.slice(i, i + 500);
    for (const e of chunk) for (const key of ['encounter', 'context'])
      if (e.resource[key] && located.has(e.resource[key].reference)) e.resource[key] = { reference: located.get(e.resource[key].reference) };
    const answer = await transaction(chunk);
    chunk.forEach((e, j) => located.set(e.fullUrl, answer.entry[j].response.location.split('/_history')[0]));
  }
  writeFileSync(join(outDir, `homepage-${size}.txt`), `/${patient}/$summary\n`);
  console.error(`homepage: ${patient} with ${size} resources`);
}
