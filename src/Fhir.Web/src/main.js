// The app: sign-in (SMART standalone launch against this server), then the screens of the signed-in person's role.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { html } from "./html.js";
import { languages, language, setLanguage, t } from "./i18n.js";
import { useSignal } from "./state.js";
import { route, go } from "./router.js";
import { resume, rolesOf, signIn, signOut } from "./fhir.js";
import { ErrorBox, Loading } from "./views/common.js";
import { RecordHomepage } from "./views/record.js";
import { AccessLog, Consents } from "./views/resident.js";
import { ClinicianRecord, FindResident } from "./views/clinician.js";
import { AdminReviews } from "./views/admin.js";

/** Which screens a role has: residents and guardians their record, clinicians the search, record administrators the reviews. */
function screensFor(roles) {
  if (roles.includes("resident") || roles.includes("guardian")) return "resident";
  if (roles.includes("clinician") || roles.includes("family-doctor")) return "clinician";
  if (roles.includes("record-admin")) return "admin";
  return null;
}

function App() {
  useSignal(language);
  const path = useSignal(route);
  const [session, setSession] = useState({ loading: true });
  useEffect(() => {
    resume().then(client => setSession({ client }), error => setSession({ error }));
  }, []);

  if (session.loading) return html`<${Shell}><${Loading} /><//>`;
  if (!session.client) return html`<${Shell}><${Login} error=${session.error} /><//>`;
  const client = session.client;
  const kind = screensFor(rolesOf(client));
  const who = client.getIdToken()?.name ?? client.getIdToken()?.sub ?? client.getFhirUser() ?? "";
  const nav = {
    resident: [["/home", "nav.home"], ["/access-log", "nav.accessLog"], ["/consents", "nav.consents"]],
    clinician: [["/find", "nav.find"]],
    admin: [["/admin", "nav.admin"]],
  }[kind] ?? [];
  if (nav.length && (path === "/" || !nav.some(([p]) => path.startsWith(p)) && !path.startsWith("/record/"))) {
    go(nav[0][0]);
    return html`<${Shell} who=${who} nav=${nav} path=${path}><${Loading} /><//>`;
  }
  return html`<${Shell} who=${who} nav=${nav} path=${path}>${screen(kind, client, path)}<//>`;
}

function screen(kind, client, path) {
  if (kind === "resident") {
    const patientId = client.patient.id;
    const body = path.startsWith("/access-log") ? html`<${AccessLog} client=${client} patientId=${patientId} />`
      : path.startsWith("/consents") ? html`<${Consents} client=${client} patientId=${patientId} />`
      : html`<${RecordHomepage} client=${client} patientId=${patientId} />`;
    return html`<${Subject} client=${client} />${body}`;
  }
  if (kind === "clinician") {
    const m = /^\/record\/([^/]+)/.exec(path);
    return m ? html`<${ClinicianRecord} key=${m[1]} client=${client} patientId=${decodeURIComponent(m[1])} />` : html`<${FindResident} client=${client} />`;
  }
  if (kind === "admin") return html`<${AdminReviews} client=${client} />`;
  return html`<p>${t("forbidden")}</p>`;
}

/**
 * Whose record is shown: the token's launch patient — the resident's own record, or a guardian's ward. The server
 * gives one launch patient per sign-in, so a guardian of several wards signs in for each.
 */
function Subject({ client }) {
  const own = client.getFhirUser() === `Patient/${client.patient.id}`;
  return html`<p class="subject" data-testid="subject">${t("subject.viewing")}: <strong>${own ? t("subject.self") : t("subject.ward")}</strong></p>`;
}

function Login({ error }) {
  const [failure, setFailure] = useState(null);
  const start = kind => signIn(kind).catch(setFailure);
  return html`
    <section class="card login" aria-labelledby="login-h">
      <h2 id="login-h">${t("login.heading")}</h2>
      <p>${t("login.intro")}</p>
      <div class="actions">
        <button type="button" class="primary" onClick=${() => start("resident")}>${t("login.resident")}</button>
        <button type="button" onClick=${() => start("staff")}>${t("login.staff")}</button>
      </div>
      <${ErrorBox} error=${failure ?? error} />
    </section>`;
}

/** Whether a navigation entry is the current screen (a record opened from the search belongs to the search). */
function current(entry, path = "") {
  return path.startsWith(entry) || (entry === "/find" && path.startsWith("/record/"));
}

function Shell({ who, nav = [], path, children }) {
  return html`
    <a class="skip" href="#main">跳到正文 / Skip to content</a>
    <header class="top">
      <h1>${t("app.title")}</h1>
      <div class="tools">
        <label for="lang">${t("app.language")}</label>
        <select id="lang" value=${language.get()} onChange=${e => setLanguage(e.target.value)}>
          ${languages.map(([code, label]) => html`<option value=${code}>${label}</option>`)}
        </select>
        ${who ? html`<span class="who">${t("app.signedInAs", { who })}</span>
          <button type="button" onClick=${signOut}>${t("app.signOut")}</button>` : null}
      </div>
    </header>
    ${nav.length ? html`<nav aria-label=${t("app.nav")}><ul>${nav.map(([p, key]) => html`
      <li><a href=${`#${p}`} aria-current=${current(p, path) ? "page" : undefined}>${t(key)}</a></li>`)}</ul></nav>` : null}
    <main id="main" tabindex="-1">${children}</main>`;
}

const root = document.getElementById("root");
root.replaceChildren();
render(html`<${App} />`, root);
