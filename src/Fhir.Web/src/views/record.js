// The record homepage (档案首页) from Patient/[id]/$summary: health tags, basic information, the service timeline
// with the source institution and collection time on every item, paged (the Bundle's next link). What the rules
// hide is not in the Bundle, so it is simply absent here (and the page does not say that anything was withheld).
import { useEffect, useState } from "preact/hooks";
import { html } from "../html.js";
import { t } from "../i18n.js";
import { call } from "../fhir.js";
import { ErrorBox, Loading, nameOf, when } from "./common.js";

const pageSize = 10;

/** One page of the homepage, read into what the screen shows. */
async function loadPage(client, url) {
  const bundle = await call(client, url);
  const byRef = new Map();
  for (const e of bundle.entry ?? []) {
    const r = e.resource;
    if (r?.id) byRef.set(`${r.resourceType}/${r.id}`, r);
  }
  const local = ref => ref?.replace(/^.*\/(\w+\/[^/]+)$/, "$1");
  const find = ref => byRef.get(local(ref));
  const composition = bundle.entry?.[0]?.resource;
  const section = code => composition?.section?.find(s => s.code?.coding?.some(c => c.code === code));
  const timeline = (section("service-timeline")?.entry ?? []).map(e => find(e.reference)).filter(r => r?.resourceType === "Encounter");
  return {
    patient: [...byRef.values()].find(r => r.resourceType === "Patient"),
    tags: (bundle.entry ?? []).map(e => e.resource).filter(r => r?.resourceType === "Flag"),
    holder: find(composition?.custodian?.reference),
    items: timeline.map(enc => ({
      id: enc.id,
      time: enc.period?.start ?? enc.meta?.lastUpdated,
      institution: nameOf(find(enc.serviceProvider?.reference) ?? enc.serviceProvider),
      type: (enc.type ?? []).map(nameOf).join("; ") || nameOf(enc.class),
      problems: [...(enc.reasonCode ?? []).map(nameOf), ...(enc.diagnosis ?? []).map(d => d.condition?.display).filter(Boolean)].join("; "),
      source: enc.meta?.source ? nameOf(find(enc.meta.source) ?? { reference: enc.meta.source }) : "-",
      collected: enc.meta?.lastUpdated,
    })),
    next: bundle.link?.find(l => l.relation === "next")?.url,
  };
}

export function RecordHomepage({ client, patientId }) {
  const [pages, setPages] = useState([]);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(true);

  const load = async url => {
    setBusy(true);
    setError(null);
    try {
      const page = await loadPage(client, url);
      setPages(p => [...p, page]);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  useEffect(() => {
    setPages([]);
    load(`Patient/${encodeURIComponent(patientId)}/$summary?_count=${pageSize}`);
  }, [patientId]);

  const first = pages[0];
  const last = pages[pages.length - 1];
  if (!first) return html`${busy ? html`<${Loading} />` : null}<${ErrorBox} error=${error} />`;
  const items = pages.flatMap(p => p.items);
  const p = first.patient;
  return html`
    <section aria-labelledby="tags-h" class="card">
      <h2 id="tags-h">${t("home.tags")}</h2>
      ${first.tags.length === 0 ? html`<p>${t("home.noTags")}</p>` : html`
        <ul class="tags" data-testid="tags">${first.tags.map(f => html`<li class="tag">${f.code?.text ?? nameOf(f.code)}</li>`)}</ul>`}
    </section>
    <section aria-labelledby="basic-h" class="card">
      <h2 id="basic-h">${t("home.basic")}</h2>
      <dl class="facts" data-testid="basic">
        <dt>${t("home.name")}</dt><dd>${nameOf(p)}</dd>
        <dt>${t("home.gender")}</dt><dd>${p?.gender ? t(`gender.${p.gender}`) : "-"}</dd>
        <dt>${t("home.birthDate")}</dt><dd>${p?.birthDate ?? "-"}</dd>
        <dt>${t("home.identifier")}</dt><dd>${p?.identifier?.find(i => i.system === "urn:oid:2.16.156.10011.1.3")?.value ?? "-"}</dd>
        <dt>${t("home.phone")}</dt><dd>${p?.telecom?.find(c => c.system === "phone")?.value ?? "-"}</dd>
        <dt>${t("home.holder")}</dt><dd>${first.holder ? nameOf(first.holder) : "-"}</dd>
      </dl>
    </section>
    <section aria-labelledby="timeline-h" class="card">
      <h2 id="timeline-h">${t("home.timeline")}</h2>
      ${items.length === 0 ? html`<p>${t("home.noTimeline")}</p>` : html`
        <div class="table-wrap"><table data-testid="timeline">
          <thead><tr>
            <th scope="col">${t("home.time")}</th><th scope="col">${t("home.institution")}</th><th scope="col">${t("home.type")}</th>
            <th scope="col">${t("home.problems")}</th><th scope="col">${t("home.source")}</th><th scope="col">${t("home.collected")}</th>
          </tr></thead>
          <tbody>${items.map(i => html`<tr key=${i.id}>
            <td data-label=${t("home.time")}>${when(i.time)}</td><td data-label=${t("home.institution")}>${i.institution}</td>
            <td data-label=${t("home.type")}>${i.type}</td><td data-label=${t("home.problems")}>${i.problems || "-"}</td>
            <td data-label=${t("home.source")}>${i.source}</td><td data-label=${t("home.collected")}>${when(i.collected)}</td>
          </tr>`)}</tbody>
        </table></div>`}
      ${last.next ? html`<button type="button" onClick=${() => load(last.next)} disabled=${busy}>${t("home.more")}</button>` : null}
      <${ErrorBox} error=${error} />
    </section>`;
}
