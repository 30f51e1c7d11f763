// SMART App Launch (standalone, authorization code + PKCE S256) driven by SMART's own JavaScript client, fhirclient,
// against a running FhirArchive server (FHIR_BASE_URL). A tiny app server on 127.0.0.1 hosts the client's /launch and
// /callback pages; a scripted browser follows the redirects and fills in the server's login page (password + TOTP,
// computed from the demo secret the README prints).
import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import crypto from "node:crypto";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const smart = require("fhirclient");

const base = (process.env.FHIR_BASE_URL ?? "").replace(/\/$/, "");
if (!base) throw new Error("FHIR_BASE_URL is not set (run.sh starts a server and sets it)");

const resident = { user: "zhangwei", password: "Zhangwei#2024", totp: "YK2322W5NKNV635SJSKR6EZWLEVXQ6GH" };

function totp(base32, at = Date.now()) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of base32.replace(/=+$/, "")) bits += alphabet.indexOf(c).toString(2).padStart(5, "0");
  const key = Buffer.from(bits.match(/.{8}/g).map(b => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 1000 / 30)));
  const mac = crypto.createHmac("sha1", key).update(counter).digest();
  const o = mac[mac.length - 1] & 15;
  return String((mac.readUInt32BE(o) & 0x7fffffff) % 1_000_000).padStart(6, "0");
}

/** Session storage for fhirclient, keyed by a cookie (what express-session would do). */
const sessions = new Map();
function storageFor(req, res) {
  let sid = /sid=([^;]+)/.exec(req.headers.cookie ?? "")?.[1];
  if (!sid) {
    sid = crypto.randomUUID();
    res.setHeader("Set-Cookie", `sid=${sid}; HttpOnly; Path=/`);
  }
  if (!sessions.has(sid)) sessions.set(sid, new Map());
  const s = sessions.get(sid);
  return {
    async get(k) { return s.get(k); },
    async set(k, v) { s.set(k, v); return v; },
    async unset(k) { return s.delete(k); },
  };
}

/** The SMART app: /launch starts the authorisation, /callback finishes it and reads data with the client. */
function startApp() {
  const app = http.createServer(async (req, res) => {
    const storage = storageFor(req, res);
    try {
      if (req.url.startsWith("/launch")) {
        await smart(req, res, storage).authorize({
          iss: base,
          clientId: "fhirarchive-cli",
          scope: "openid fhirUser launch/patient patient/*.rs offline_access",
          redirectUri: "/callback",
          pkceMode: "required",
        });
        return;
      }
      if (req.url.startsWith("/callback")) {
        const client = await smart(req, res, storage).ready();
        const patient = await client.patient.read();
        const observations = await client.patient.request("Observation", { flat: true });
        let other;
        try { await client.request("Patient/wang-fang"); other = 200; } catch (e) { other = e.status ?? e.statusCode ?? String(e); }
        const before = { ...client.state.tokenResponse };
        await client.refresh();
        const after = client.state.tokenResponse;
        const again = await client.request(`Patient/${client.patient.id}`);
        res.writeHead(200, { "Content-Type": "application/json" });
        res.end(JSON.stringify({
          patientId: client.getPatientId(), name: patient.name?.[0]?.text, fhirUser: client.getFhirUser(),
          scope: client.state.tokenResponse.scope, observations: observations.map(o => o.id).sort(), other,
          newAccessToken: Boolean(after.access_token) && after.access_token !== before.access_token,
          rotatedRefresh: Boolean(after.refresh_token) && after.refresh_token !== before.refresh_token, again: again.id,
        }));
        return;
      }
      res.writeHead(404).end();
    } catch (e) {
      console.error("app error:", e?.stack ?? e);
      if (!res.headersSent) res.writeHead(500, { "Content-Type": "text/plain" }).end(String(e?.stack ?? e));
      else res.end();
    }
  });
  return new Promise(resolve => app.listen(0, "127.0.0.1", () => resolve(app)));
}

/** A browser that keeps cookies per host and follows redirects by hand (to see each hop). */
async function browse(url, init = {}, jar = new Map()) {
  const hops = [];
  for (let i = 0; i < 10; i++) {
    const u = new URL(url);
    const headers = { ...(init.headers ?? {}) };
    if (jar.has(u.host)) headers.cookie = jar.get(u.host);
    const r = await fetch(url, { ...init, headers, redirect: "manual" });
    const cookie = r.headers.get("set-cookie");
    if (cookie) jar.set(u.host, cookie.split(";")[0]);
    hops.push(`${r.status} ${url}`);
    if (r.status >= 300 && r.status < 400) {
      url = new URL(r.headers.get("location"), url).href;
      init = {};
      continue;
    }
    return { response: r, url, hops, jar };
  }
  throw new Error("too many redirects: " + hops.join(" → "));
}

test("discovery advertises what fhirclient needs", async () => {
  const conf = await (await fetch(`${base}/.well-known/smart-configuration`)).json();
  assert.ok(conf.code_challenge_methods_supported.includes("S256"));
  assert.equal(conf.token_endpoint, `${base}/auth/token`);
  const unauthenticated = await fetch(`${base}/Patient/zhang-wei`);
  assert.equal(unauthenticated.status, 401);
  assert.match(unauthenticated.headers.get("www-authenticate"), /^Bearer/);
});

test("fhirclient logs a resident in with authorization code + PKCE and reads only her record", async () => {
  const app = await startApp();
  const appBase = `http://127.0.0.1:${app.address().port}`;
  try {
    // 1. The app redirects to the server's login page, with a PKCE S256 challenge.
    const login = await browse(`${appBase}/launch`);
    assert.equal(login.response.status, 200, login.hops.join(" → "));
    const loginUrl = new URL(login.url);
    assert.equal(loginUrl.pathname, "/auth/authorize");
    assert.equal(loginUrl.searchParams.get("code_challenge_method"), "S256");
    assert.ok(loginUrl.searchParams.get("code_challenge"));
    assert.equal(loginUrl.searchParams.get("aud"), base);
    const html = await login.response.text();
    assert.match(html, /动态验证码 \/ One-time code/);

    // 2. The person fills in the form; the server redirects back to the app, which finishes with fhirclient.
    const form = new URLSearchParams();
    for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g))
      form.set(m[1], m[2].replaceAll("&amp;", "&").replaceAll("&quot;", '"').replaceAll("&#39;", "'").replaceAll("&lt;", "<").replaceAll("&gt;", ">"));
    form.set("username", resident.user);
    form.set("password", "wrong password");
    form.set("otp", totp(resident.totp));
    const refused = await fetch(new URL("/auth/authorize", base), { method: "POST", body: form, redirect: "manual" });
    assert.equal(refused.status, 401);
    form.set("password", resident.password);
    const done = await browse(new URL("/auth/authorize", base).href, { method: "POST", body: form }, login.jar);
    const text = await done.response.text();
    assert.equal(done.response.status, 200, `${done.hops.join(" → ")}\n${text}`);
    const result = JSON.parse(text);

    assert.equal(result.patientId, "zhang-wei");
    assert.equal(result.name, "张伟");
    assert.equal(result.fhirUser, "Patient/zhang-wei");
    assert.match(result.scope, /patient\/\*\.rs/);
    assert.deepEqual(result.observations, ["obs-1", "obs-2"]);
    // Another resident's record looks missing to her (consent rules: a refused resource answers like an unknown id).
    assert.equal(result.other, 404);
    // Refresh with rotation: a new access token and a new refresh token.
    assert.equal(result.newAccessToken, true);
    assert.equal(result.rotatedRefresh, true);
    assert.equal(result.again, "zhang-wei");
  } finally {
    app.closeAllConnections();
    app.close();
  }
});
