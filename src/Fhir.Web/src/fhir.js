// The SMART session: sign-in through the server's own authorisation server (standalone launch, authorization code
// + PKCE S256, fhirclient), the FHIR calls with the user's token, sign-out. The app calls only the public FHIR API.
import FHIR from "fhirclient";

export const clientId = "fhirarchive-web";
/** What each kind of user asks for: residents and guardians their own record (the launch patient), staff their role's reach. */
export const scopes = {
  resident: "openid fhirUser launch/patient patient/*.rs",
  staff: "openid fhirUser user/*.cruds",
};
/** The FHIR base: the server that serves the app (its root). */
export const fhirBase = window.location.origin;

export function signIn(kind) {
  return FHIR.oauth2.authorize({
    iss: fhirBase,
    clientId,
    scope: scopes[kind],
    redirectUri: new URL("./", window.location.href).pathname,
    pkceMode: "required",
  });
}

/** The signed-in client, or null when there is no session yet (no code in the URL, nothing in sessionStorage). */
export async function resume() {
  const params = new URLSearchParams(window.location.search);
  if (params.has("error")) throw new Error(params.get("error_description") || params.get("error"));
  if (!params.has("code") && !sessionStorage.getItem("SMART_KEY")) return null;
  const client = await FHIR.oauth2.ready();
  // The token carries the roles the server gave (a JWT: the payload is read, never trusted for anything but the view).
  return client;
}

export function signOut() {
  sessionStorage.clear();
  window.location.replace(new URL("./", window.location.href).pathname);
}

/** The roles in the access token (for choosing screens; the server decides what each call may do). */
export function rolesOf(client) {
  const token = client.state.tokenResponse?.access_token ?? "";
  try {
    const payload = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
    return [].concat(payload.roles ?? payload.role ?? []);
  } catch {
    return [];
  }
}

/**
 * A FHIR call; a failure becomes an Error whose message is the server's OperationOutcome text (diagnostics or
 * details), with its HTTP status, so every form can show it.
 */
export async function call(client, url, { method = "GET", body } = {}) {
  try {
    return await client.request({
      url,
      method,
      // Revalidate every answer (If-None-Match): the server sends no Cache-Control, and a browser may otherwise reuse a
      // read heuristically — a record whose authorisation was revoked must not show from the cache on the next load.
      cache: "no-cache",
      body: body === undefined ? undefined : JSON.stringify(body),
      headers: body === undefined ? {} : { "Content-Type": "application/fhir+json" },
    });
  } catch (e) {
    throw new FhirError(e.status ?? 0, outcomeText(e.message) ?? e.message);
  }
}

export class FhirError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** The OperationOutcome fhirclient put in its error message ("404 Not Found\nURL: …\n\n{json}"), as text. */
export function outcomeText(message) {
  const start = message?.indexOf("{") ?? -1;
  if (start < 0) return null;
  try {
    const outcome = JSON.parse(message.slice(start));
    const issues = (outcome.issue ?? []).map(i => i.diagnostics ?? i.details?.text ?? i.code).filter(Boolean);
    return issues.length ? issues.join("; ") : null;
  } catch {
    return null;
  }
}

/**
 * A Parameters resource from name → value pairs ({ valueString: … } objects); a value left empty in a form is left
 * out (FHIR has no empty strings), so the server's own answer says what is missing.
 */
export function parameters(values) {
  const given = v => v !== undefined && !Object.values(v).some(x => typeof x === "string" && x.trim() === "");
  return {
    resourceType: "Parameters",
    parameter: Object.entries(values).filter(([, v]) => given(v)).map(([name, v]) => ({ name, ...v })),
  };
}

/** A parameter's value from a Parameters answer. */
export function parameter(params, name) {
  const p = params?.parameter?.find(x => x.name === name);
  if (!p) return undefined;
  const key = Object.keys(p).find(k => k.startsWith("value"));
  return key ? p[key] : p.resource;
}
