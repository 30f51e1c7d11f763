// The clinician's screens: find a resident (ID card number, or name + birth date), ask for authorisation
// ($request-access → the code the resident reads out → $grant-access), the record, and break-glass with a reason
// (a banner while it lasts). Whether a record opens is the server's decision on every load.
import { useState } from "preact/hooks";
import { html } from "../html.js";
import { t } from "../i18n.js";
import { call, FhirError, parameter, parameters } from "../fhir.js";
import { ErrorBox, Field, Loading, Notice, nameOf, useLoad, useSubmit, when } from "./common.js";
import { RecordHomepage } from "./record.js";
import { go } from "../router.js";

const idCardSystem = "urn:oid:2.16.156.10011.1.3";
const purposes = ["TREAT", "ETREAT", "PUBHLTH"];

export function FindResident({ client }) {
  const [idCard, setIdCard] = useState("");
  const [name, setName] = useState("");
  const [birthDate, setBirthDate] = useState("");
  const search = useSubmit(async () => {
    const query = idCard.trim()
      ? `identifier=${encodeURIComponent(`${idCardSystem}|${idCard.trim().toUpperCase()}`)}`
      : `name=${encodeURIComponent(name.trim())}&birthdate=${encodeURIComponent(birthDate)}`;
    const bundle = await call(client, `Patient?${query}&_count=20`);
    return { patients: (bundle.entry ?? []).map(e => e.resource).filter(r => r.resourceType === "Patient"), idCard: idCard.trim().toUpperCase() };
  });
  const found = search.result;
  return html`
    <section class="card" aria-labelledby="find-h">
      <h2 id="find-h">${t("find.heading")}</h2>
      <form onSubmit=${search.submit} class="stack">
        <${Field} id="idcard" label=${t("find.idCard")} value=${idCard} onInput=${e => setIdCard(e.target.value)} autocomplete="off" />
        <fieldset><legend>${t("find.orName")}</legend>
          <${Field} id="name" label=${t("find.name")} value=${name} onInput=${e => setName(e.target.value)} />
          <${Field} id="birthdate" label=${t("find.birthDate")} type="date" value=${birthDate} onInput=${e => setBirthDate(e.target.value)} />
        </fieldset>
        <button type="submit" class="primary" disabled=${search.busy}>${t("find.submit")}</button>
      </form>
      <${ErrorBox} error=${search.error} />
      ${found && found.patients.length > 0 ? html`<ul class="results" data-testid="results">${found.patients.map(p => html`
        <li key=${p.id}><a href=${`#/record/${encodeURIComponent(p.id)}`}>${nameOf(p)} · ${p.birthDate ?? ""} · ${t("find.open")}</a></li>`)}</ul>` : null}
      ${found && found.patients.length === 0 ? html`<p>${t("find.none")}</p>` : null}
    </section>
    ${found && found.patients.length === 0 && found.idCard ? html`<${RequestAccess} client=${client} identifier=${`${idCardSystem}|${found.idCard}`} />` : null}`;
}

/** $request-access (by ID card number, or for a record id), then $grant-access with the code the resident reads out. */
export function RequestAccess({ client, identifier, patientId }) {
  const [purpose, setPurpose] = useState("TREAT");
  const [days, setDays] = useState("7");
  const [code, setCode] = useState("");
  const request = useSubmit(async () => {
    const url = patientId ? `Patient/${encodeURIComponent(patientId)}/$request-access` : "Patient/$request-access";
    const answer = await call(client, url, {
      method: "POST",
      body: parameters({
        identifier: identifier ? { valueString: identifier } : undefined,
        purpose: { valueCode: purpose },
        days: { valueInteger: Number(days) },
      }),
    });
    return { request: parameter(answer, "request"), phone: parameter(answer, "phone"), expires: parameter(answer, "expires") };
  });
  const grant = useSubmit(async () => {
    const consent = await call(client, "Patient/$grant-access", {
      method: "POST",
      body: parameters({ request: { valueString: request.result.request }, code: { valueString: code.trim() } }),
    });
    const ref = consent.patient?.reference ?? "";
    go(`/record/${ref.split("/").pop()}`);
    return consent;
  });
  return html`
    <section class="card" aria-labelledby="request-h">
      <h2 id="request-h">${t("request.heading")}</h2>
      <form onSubmit=${request.submit} class="stack">
        <div class="field"><label for="purpose">${t("request.purpose")}</label>
          <select id="purpose" value=${purpose} onChange=${e => setPurpose(e.target.value)}>
            ${purposes.map(p => html`<option value=${p}>${t(`purpose.${p}`)}</option>`)}
          </select></div>
        <${Field} id="days" label=${t("request.days")} type="number" value=${days} onInput=${e => setDays(e.target.value)} />
        <button type="submit" class="primary" disabled=${request.busy}>${t("request.submit")}</button>
      </form>
      <${ErrorBox} error=${request.error} />
      ${request.result ? html`
        <${Notice}>${t("request.sent", { phone: request.result.phone ?? "-", expires: when(request.result.expires) })}<//>
        <form onSubmit=${grant.submit} class="stack">
          <${Field} id="code" label=${t("grant.code")} value=${code} onInput=${e => setCode(e.target.value)} inputmode="numeric" autocomplete="one-time-code" />
          <button type="submit" class="primary" disabled=${grant.busy}>${t("grant.submit")}</button>
        </form>
        <${ErrorBox} error=${grant.error} />` : null}
    </section>`;
}

/** The break-glass accesses of this session, by record: shown as a banner while they last. */
const glassKey = "break-glass";
function glassFor(patientId) {
  const all = JSON.parse(sessionStorage.getItem(glassKey) ?? "{}");
  const g = all[patientId];
  return g && (!g.end || new Date(g.end) > new Date()) ? g : null;
}
function keepGlass(patientId, g) {
  const all = JSON.parse(sessionStorage.getItem(glassKey) ?? "{}");
  all[patientId] = g;
  sessionStorage.setItem(glassKey, JSON.stringify(all));
}

/** A record as the clinician may see it now: the homepage, or (refused) the ways to ask for access. */
export function ClinicianRecord({ client, patientId }) {
  const [glass, setGlass] = useState(() => glassFor(patientId));
  const patient = useLoad(async () => {
    try {
      return await call(client, `Patient/${encodeURIComponent(patientId)}`);
    } catch (e) {
      if (e instanceof FhirError && (e.status === 404 || e.status === 403)) return null;
      throw e;
    }
  }, [patientId, glass]);
  const banner = glass ? html`<div class="banner-glass" role="alert" data-testid="break-glass-banner">${t("glass.banner", { reason: glass.reason })}</div>` : null;
  if (patient.loading && patient.data === undefined) return html`${banner}<${Loading} />`;
  if (patient.error) return html`${banner}<${ErrorBox} error=${patient.error} />`;
  return html`
    ${banner}
    <p><a href="#/find">← ${t("record.back")}</a></p>
    ${patient.data ? html`
      <h2 class="record-title">${t("record.heading", { name: nameOf(patient.data) })}</h2>
      <${RecordHomepage} client=${client} patientId=${patientId} />` : html`
      <${Notice}>${t("record.hidden")}<//>
      <${RequestAccess} client=${client} patientId=${patientId} />
      <${BreakGlass} client=${client} patientId=${patientId} onDone=${g => { keepGlass(patientId, g); setGlass(g); }} />`}`;
}

function BreakGlass({ client, patientId, onDone }) {
  const [reason, setReason] = useState("");
  const form = useSubmit(async () => {
    const consent = await call(client, `Patient/${encodeURIComponent(patientId)}/$break-glass`, {
      method: "POST", body: parameters({ reason: { valueString: reason } }),
    });
    onDone({ reason, end: consent.provision?.period?.end ?? null });
  });
  return html`
    <section class="card glass" aria-labelledby="glass-h">
      <h2 id="glass-h">${t("glass.heading")}</h2>
      <form onSubmit=${form.submit} class="stack">
        <${Field} id="glass-reason" label=${t("glass.reason")} value=${reason} onInput=${e => setReason(e.target.value)} />
        <button type="submit" class="danger" disabled=${form.busy}>${t("glass.submit")}</button>
      </form>
      <${ErrorBox} error=${form.error} />
    </section>`;
}
