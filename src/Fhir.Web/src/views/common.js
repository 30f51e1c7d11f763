// Shared pieces of the screens: a loader for FHIR calls, the error box (the server's OperationOutcome text), a labelled field.
import { useCallback, useEffect, useState } from "preact/hooks";
import { html } from "../html.js";
import { t } from "../i18n.js";

/** Runs load() when deps change: { data, error, loading, reload }. */
export function useLoad(load, deps) {
  const [state, setState] = useState({ data: undefined, error: null, loading: true });
  const run = useCallback(() => {
    let live = true;
    setState(s => ({ ...s, loading: true, error: null }));
    load().then(data => live && setState({ data, error: null, loading: false }),
      error => live && setState({ data: undefined, error, loading: false }));
    return () => { live = false; };
  }, deps);
  useEffect(run, [run]);
  return { ...state, reload: run };
}

/** A form's submit: runs action(), keeps its error (shown by ErrorBox) and whether it is busy. */
export function useSubmit(action) {
  const [state, setState] = useState({ busy: false, error: null, result: undefined });
  const submit = async e => {
    e?.preventDefault();
    setState({ busy: true, error: null, result: undefined });
    try {
      const result = await action();
      setState({ busy: false, error: null, result });
    } catch (error) {
      setState({ busy: false, error, result: undefined });
    }
  };
  return { ...state, submit };
}

export function ErrorBox({ error }) {
  if (!error) return null;
  return html`<div class="error" role="alert"><strong>${t("app.error")}${error.status ? ` (${error.status})` : ""}:</strong> ${error.message}</div>`;
}

export function Notice({ children }) {
  return html`<div class="notice" role="status">${children}</div>`;
}

export function Loading() {
  return html`<p class="loading" role="status">${t("app.loading")}</p>`;
}

/** A labelled input: every field has a visible label tied to it. */
export function Field({ id, label, ...input }) {
  return html`<div class="field"><label for=${id}>${label}</label><input id=${id} name=${id} ...${input} /></div>`;
}

/** A date-time in the reader's language, in Beijing time. */
export function when(value) {
  if (!value) return "-";
  if (/^\d{4}(-\d{2}(-\d{2})?)?$/.test(value)) return value;
  const d = new Date(value);
  return isNaN(d) ? value : d.toLocaleString(document.documentElement.lang, { timeZone: "Asia/Shanghai", dateStyle: "medium", timeStyle: "short" });
}

/** A HumanName or CodeableConcept or Reference in words. */
export function nameOf(r) {
  const n = r?.name?.[0];
  if (typeof r?.name === "string") return r.name;
  if (n) return n.text ?? [n.family, ...(n.given ?? [])].filter(Boolean).join("");
  return r?.display ?? r?.text ?? r?.coding?.[0]?.display ?? r?.reference ?? "-";
}
