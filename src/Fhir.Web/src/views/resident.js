// The resident's (and guardian's) screens: "who viewed my record" ($access-log) and "my authorisations" (Consent
// search, $revoke). The record homepage is views/record.js.
import { useState } from "preact/hooks";
import { html } from "../html.js";
import { t } from "../i18n.js";
import { call, parameters } from "../fhir.js";
import { ErrorBox, Field, Loading, Notice, nameOf, useLoad, useSubmit, when } from "./common.js";

/** An AuditEvent in the access log: time, institution, person, purpose, what kind of access. */
function accessRow(e, names) {
  const agents = e.agent ?? [];
  const person = agents.find(a => a.requestor) ?? agents[0];
  const institution = agents.map(a => a.who).find(w => w?.reference?.startsWith("Organization/"));
  const purposes = agents.flatMap(a => a.purposeOfUse ?? []).concat(e.purposeOfEvent ?? []).flatMap(p => p.coding ?? []);
  return {
    id: e.id,
    time: e.recorded,
    person: person?.who?.display ?? person?.name ?? "-",
    institution: institution ? institution.display ?? names.get(institution.reference) ?? institution.reference : "-",
    purpose: [...new Set(purposes.map(c => (t(`purpose.${c.code}`) !== `purpose.${c.code}` ? t(`purpose.${c.code}`) : c.display ?? c.code)))].join("; ") || "-",
    action: e.subtype?.map(s => s.display ?? s.code).join("; ") ?? e.action ?? "-",
  };
}

/** A page of the access log, with the names of the institutions it names (one search). */
async function loadLog(client, url) {
  const bundle = await call(client, url);
  const orgs = [...new Set((bundle.entry ?? []).flatMap(x => x.resource.agent ?? []).map(a => a.who?.reference)
    .filter(r => r?.startsWith("Organization/")).map(r => r.slice("Organization/".length)))];
  const names = new Map();
  if (orgs.length) {
    const found = await call(client, `Organization?_id=${orgs.map(encodeURIComponent).join(",")}&_elements=name&_count=${orgs.length}`);
    for (const x of found.entry ?? []) names.set(`Organization/${x.resource.id}`, x.resource.name);
  }
  return { bundle, rows: (bundle.entry ?? []).map(x => accessRow(x.resource, names)) };
}

export function AccessLog({ client, patientId }) {
  const [pages, setPages] = useState([]);
  const first = useLoad(async () => {
    const page = await loadLog(client, `Patient/${encodeURIComponent(patientId)}/$access-log?_count=20`);
    setPages([page]);
    return page;
  }, [patientId]);
  const nextUrl = pages[pages.length - 1]?.bundle.link?.find(l => l.relation === "next")?.url;
  const more = useSubmit(async () => {
    const page = await loadLog(client, nextUrl);
    setPages(p => [...p, page]);
  });
  if (first.loading && pages.length === 0) return html`<${Loading} />`;
  if (first.error) return html`<${ErrorBox} error=${first.error} />`;
  const rows = pages.flatMap(p => p.rows);
  return html`
    <section class="card" aria-labelledby="log-h">
      <h2 id="log-h">${t("log.heading")}</h2>
      ${rows.length === 0 ? html`<p>${t("log.empty")}</p>` : html`
        <div class="table-wrap"><table data-testid="access-log">
          <thead><tr><th scope="col">${t("log.time")}</th><th scope="col">${t("log.institution")}</th><th scope="col">${t("log.person")}</th>
            <th scope="col">${t("log.purpose")}</th><th scope="col">${t("log.action")}</th></tr></thead>
          <tbody>${rows.map(r => html`<tr key=${r.id}>
            <td data-label=${t("log.time")}>${when(r.time)}</td><td data-label=${t("log.institution")}>${r.institution}</td>
            <td data-label=${t("log.person")}>${r.person}</td><td data-label=${t("log.purpose")}>${r.purpose}</td>
            <td data-label=${t("log.action")}>${r.action}</td></tr>`)}</tbody>
        </table></div>`}
      ${nextUrl ? html`<button type="button" onClick=${more.submit} disabled=${more.busy}>${t("log.more")}</button>` : null}
      <${ErrorBox} error=${more.error} />
    </section>`;
}

/** Who a Consent authorises: its provision's actors (the institution and the person), named from the included resources. */
function authorised(c, included) {
  return (c.provision?.actor ?? []).map(a => a.reference?.display ?? nameOf(included.get(a.reference?.reference) ?? a.reference))
    .filter(Boolean).join("、") || "-";
}

export function Consents({ client, patientId }) {
  const list = useLoad(() => call(client, `Consent?patient=Patient/${encodeURIComponent(patientId)}&_include=Consent:actor&_count=50`), [patientId]);
  const [revoking, setRevoking] = useState(null);
  const [done, setDone] = useState(false);
  if (list.loading && !list.data) return html`<${Loading} />`;
  if (list.error) return html`<${ErrorBox} error=${list.error} />`;
  const resources = (list.data.entry ?? []).map(e => e.resource);
  const consents = resources.filter(r => r.resourceType === "Consent");
  const included = new Map(resources.map(r => [`${r.resourceType}/${r.id}`, r]));
  return html`
    <section class="card" aria-labelledby="consents-h">
      <h2 id="consents-h">${t("consents.heading")}</h2>
      ${done ? html`<${Notice}>${t("consents.revoked")}<//>` : null}
      ${consents.length === 0 ? html`<p>${t("consents.empty")}</p>` : html`
        <ul class="consents" data-testid="consents">${consents.map(c => html`<li key=${c.id} class="consent">
          <div><strong>${authorised(c, included)}</strong></div>
          <div class="muted">${t("consents.period")}: ${when(c.provision?.period?.start)} – ${when(c.provision?.period?.end)}
            · ${t("consents.status")}: <span class=${`status-${c.status}`}>${t(`status.${c.status}`)}</span></div>
          ${c.status === "active" && revoking !== c.id ? html`
            <button type="button" class="danger" onClick=${() => { setRevoking(c.id); setDone(false); }}>${t("consents.revoke")}</button>` : null}
          ${revoking === c.id ? html`<${RevokeForm} client=${client} consent=${c}
              onDone=${() => { setRevoking(null); setDone(true); list.reload(); }} onCancel=${() => setRevoking(null)} />` : null}
        </li>`)}</ul>`}
    </section>`;
}

function RevokeForm({ client, consent, onDone, onCancel }) {
  const [reason, setReason] = useState("");
  const form = useSubmit(async () => {
    await call(client, `Consent/${consent.id}/$revoke`, { method: "POST", body: parameters({ reason: { valueString: reason } }) });
    onDone();
  });
  return html`<form class="inline-form" onSubmit=${form.submit}>
    <${Field} id=${`reason-${consent.id}`} label=${t("consents.reason")} value=${reason} onInput=${e => setReason(e.target.value)} />
    <button type="submit" class="danger" disabled=${form.busy}>${t("consents.confirm")}</button>
    <button type="button" onClick=${onCancel}>${t("consents.cancel")}</button>
    <${ErrorBox} error=${form.error} />
  </form>`;
}
