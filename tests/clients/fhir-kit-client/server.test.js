// Drives a running FhirArchive server (FHIR_BASE_URL) with the third-party fhir-kit-client: what an outside
// JavaScript application would do. Run through ../run.sh, which starts a fresh server with the sample data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Client } from 'fhir-kit-client';

const baseUrl = process.env.FHIR_BASE_URL;
if (!baseUrl) throw new Error('FHIR_BASE_URL is not set (run ../run.sh)');
// Authentication is on: run.sh obtains the hospital system client's token (client_credentials).
const bearerToken = process.env.FHIR_TOKEN;
if (!bearerToken) throw new Error('FHIR_TOKEN is not set (run ../run.sh)');
const client = new Client({ baseUrl, bearerToken });
const run = randomUUID();
const system = `urn:fhirarchive:client-test:${run}`;

const patient = (value, family) => ({
  resourceType: 'Patient',
  identifier: [{ system, value }],
  name: [{ family, given: ['测试'] }],
  gender: 'female',
  birthDate: '1990-07-24',
});

/** The HTTP error fhir-kit-client throws, with the server's OperationOutcome. */
async function failure(promise) {
  try {
    await promise;
  } catch (e) {
    assert.ok(e.response, `not an HTTP error: ${e}`);
    return e.response;
  }
  assert.fail('the request was expected to fail');
}

test('the CapabilityStatement is R4', async () => {
  const cs = await client.capabilityStatement();
  assert.equal(cs.resourceType, 'CapabilityStatement');
  assert.equal(cs.fhirVersion, '4.0.1');
  assert.ok(cs.rest[0].resource.some((r) => r.type === 'Patient'));
});

test('create, read, update and vread a Patient', async () => {
  const created = await client.create({ resourceType: 'Patient', body: patient('crud', '王') });
  assert.equal(created.resourceType, 'Patient');
  assert.equal(created.meta.versionId, '1');
  const read = await client.read({ resourceType: 'Patient', id: created.id });
  assert.deepEqual(read.name[0].family, '王');

  const updated = await client.update({ resourceType: 'Patient', id: created.id, body: { ...read, name: [{ family: '汪' }] } });
  assert.equal(updated.meta.versionId, '2');
  assert.equal((await client.read({ resourceType: 'Patient', id: created.id })).name[0].family, '汪');
  const first = await client.vread({ resourceType: 'Patient', id: created.id, version: '1' });
  assert.equal(first.name[0].family, '王');
});

test('search pages through every match by following the next links', async () => {
  const ids = [];
  for (let i = 0; i < 7; i++) ids.push((await client.create({ resourceType: 'Patient', body: patient(`page-${i}`, '李') })).id);
  let bundle = await client.search({ resourceType: 'Patient', searchParams: { identifier: `${system}|`, family: '李', _count: 3 } });
  const seen = [];
  let pages = 0;
  while (bundle) {
    assert.equal(bundle.type, 'searchset');
    assert.ok((bundle.entry ?? []).length <= 3);
    seen.push(...(bundle.entry ?? []).map((e) => e.resource.id));
    pages++;
    assert.ok(pages <= 10, 'the next links do not end');
    bundle = await client.nextPage({ bundle });
  }
  assert.equal(pages, 3);
  assert.deepEqual([...seen].sort(), [...ids].sort());
});

test('a transaction creates resources that refer to each other', async () => {
  const patientUrl = `urn:uuid:${randomUUID()}`;
  const response = await client.transaction({
    body: {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { fullUrl: patientUrl, resource: patient('tx', '张'), request: { method: 'POST', url: 'Patient' } },
        {
          resource: {
            resourceType: 'Observation',
            status: 'final',
            code: { coding: [{ system: 'http://loinc.org', code: '29463-7' }], text: '体重' },
            subject: { reference: patientUrl },
            valueQuantity: { value: 61, unit: 'kg', system: 'http://unitsofmeasure.org', code: 'kg' },
          },
          request: { method: 'POST', url: 'Observation' },
        },
      ],
    },
  });
  assert.equal(response.type, 'transaction-response');
  assert.deepEqual(response.entry.map((e) => e.response.status), ['201 Created', '201 Created']);
  const patientId = response.entry[0].resource.id;
  const observation = await client.read({ resourceType: 'Observation', id: response.entry[1].resource.id });
  assert.equal(observation.subject.reference, `Patient/${patientId}`);
  const found = await client.search({ resourceType: 'Observation', searchParams: { subject: `Patient/${patientId}`, code: 'http://loinc.org|29463-7' } });
  assert.equal(found.entry.length, 1);
});

test('instance and type history list the versions, newest first', async () => {
  const created = await client.create({ resourceType: 'Patient', body: patient('history', '刘') });
  await client.update({ resourceType: 'Patient', id: created.id, body: { ...created, gender: 'male' } });
  await client.delete({ resourceType: 'Patient', id: created.id });

  const instance = await client.history({ resourceType: 'Patient', id: created.id });
  assert.equal(instance.type, 'history');
  assert.deepEqual(instance.entry.map((e) => e.request.method), ['DELETE', 'PUT', 'POST']);
  assert.equal(instance.entry[1].resource.gender, 'male');

  const type = await client.history({ resourceType: 'Patient' });
  assert.equal(type.type, 'history');
  assert.ok(type.entry.every((e) => e.fullUrl.includes('/Patient/')));
  assert.ok(type.entry.some((e) => e.fullUrl.endsWith(`/Patient/${created.id}`)), 'the newest Patient version is on the first page');

  const gone = await failure(client.read({ resourceType: 'Patient', id: created.id }));
  assert.equal(gone.status, 410);
  assert.equal(gone.data.resourceType, 'OperationOutcome');
});

test('the sample residents are there, with their observations', async () => {
  const resident = await client.read({ resourceType: 'Patient', id: 'zhang-wei' });
  assert.equal(resident.name[0].text, '张伟');
  const observations = await client.compartmentSearch({ resourceType: 'Observation', compartment: { resourceType: 'Patient', id: 'zhang-wei' } });
  assert.equal(observations.entry.length, 2);
});

test('an unknown resource is a 404 OperationOutcome', async () => {
  const r = await failure(client.read({ resourceType: 'Patient', id: `missing-${run}` }));
  assert.equal(r.status, 404);
  assert.equal(r.data.resourceType, 'OperationOutcome');
  assert.equal(r.data.issue[0].code, 'not-found');
});

test('bad writes are a 400 or 422 OperationOutcome and change nothing', async () => {
  const created = await client.create({ resourceType: 'Patient', body: patient('errors', '陈') });
  const mismatch = await failure(client.update({ resourceType: 'Patient', id: created.id, body: { ...created, id: 'another-id' } }));
  assert.equal(mismatch.status, 400);
  assert.equal(mismatch.data.resourceType, 'OperationOutcome');
  assert.match(mismatch.data.issue[0].diagnostics, /does not match/);

  const patch = await failure(client.patch({ resourceType: 'Patient', id: created.id, jsonPatch: [{ op: 'remove', path: '/id' }] }));
  assert.equal(patch.status, 422);
  assert.equal(patch.data.resourceType, 'OperationOutcome');

  assert.equal((await client.read({ resourceType: 'Patient', id: created.id })).meta.versionId, '1');
});
