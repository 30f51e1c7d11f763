// The record administrator's screen: the pending record tasks — transfer requests and corrections — with
// Task/[id]/$approve (optional comment) and $reject (a reason: the server says so when it is missing).
import { useState } from "preact/hooks";
import { html } from "../html.js";
import { t } from "../i18n.js";
import { call, parameters } from "../fhir.js";
import { ErrorBox, Loading, Notice, nameOf, useLoad, useSubmit, when } from "./common.js";

const taskTypes = "http://fhirarchive.cn/fhir/CodeSystem/record-task-type";

export function AdminReviews({ client }) {
  return html`
    <h2>${t("admin.heading")}</h2>
    <${TaskList} client=${client} code="transfer" title=${t("admin.transfers")} />
    <${TaskList} client=${client} code="correction" title=${t("admin.corrections")} />`;
}

function TaskList({ client, code, title }) {
  const list = useLoad(() => call(client, `Task?code=${encodeURIComponent(`${taskTypes}|${code}`)}&status=requested&_count=50`), [code]);
  const [done, setDone] = useState(false);
  const tasks = (list.data?.entry ?? []).map(e => e.resource).filter(r => r?.resourceType === "Task");
  return html`
    <section class="card" aria-label=${title} data-testid=${`tasks-${code}`}>
      <h3>${title}</h3>
      ${done ? html`<${Notice}>${t("admin.done")}<//>` : null}
      ${list.loading && !list.data ? html`<${Loading} />` : null}
      <${ErrorBox} error=${list.error} />
      ${list.data && tasks.length === 0 ? html`<p>${t("admin.none")}</p>` : null}
      <ul class="tasks">${tasks.map(task => html`<li key=${task.id} class="task">
        <div><strong>${nameOf(task.for)}</strong> · ${t("admin.requester")}: ${nameOf(task.requester)} · ${t("admin.authored")}: ${when(task.authoredOn)}</div>
        ${task.description ? html`<div class="muted">${task.description}</div>` : null}
        <${Decide} client=${client} task=${task} onDone=${() => { setDone(true); list.reload(); }} />
      </li>`)}</ul>
    </section>`;
}

function Decide({ client, task, onDone }) {
  const [comment, setComment] = useState("");
  const id = `comment-${task.id}`;
  const decide = verb => useSubmit(async () => {
    const name = verb === "approve" ? "comment" : "reason";
    await call(client, `Task/${task.id}/$${verb}`, { method: "POST", body: parameters({ [name]: { valueString: comment } }) });
    onDone();
  });
  const approve = decide("approve");
  const reject = decide("reject");
  return html`<div class="inline-form">
    <div class="field"><label for=${id}>${t("admin.comment")}</label><input id=${id} value=${comment} onInput=${e => setComment(e.target.value)} /></div>
    <button type="button" class="primary" onClick=${approve.submit} disabled=${approve.busy || reject.busy}>${t("admin.approve")}</button>
    <button type="button" class="danger" onClick=${reject.submit} disabled=${approve.busy || reject.busy}>${t("admin.reject")}</button>
    <${ErrorBox} error=${approve.error ?? reject.error} />
  </div>`;
}
