// The cookie example page in headless Chromium (issue 10).
//
//   node cookie_demo.mjs http://127.0.0.1:PORT
//
// Against the axum example app (tests/cookie_browser.rs starts it): log in through the page,
// check the token cookies are HttpOnly and invisible to the page's script, call a protected
// route, write with the CSRF token, refresh, then have pages of other origins post a form to
// the API — one same-site (127.0.0.1, another port: the cookies go along, the CSRF check
// refuses it, 403 csrf_failed) and one cross-site (localhost: SameSite=Lax keeps the cookies
// home, 401) — and log out. Prints one line per check; exits 1 on the first failure.
//
// CHROMIUM overrides the browser (default /usr/bin/chromium). Playwright's own browser
// download is not used: Debian's Chromium is.

import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const BASE = process.argv[2];
if (!BASE) {
  console.error("usage: node cookie_demo.mjs http://127.0.0.1:PORT");
  process.exit(2);
}
const DEMO = `${BASE}/cookie-demo/`;
const API_HOST = new URL(BASE).host;
const API_HOSTNAME = new URL(BASE).hostname;

/** Every cookie the browser holds for the API's host, whatever its path. */
async function jarOf(context) {
  return (await context.cookies()).filter((c) => c.domain === API_HOSTNAME);
}

let checks = 0;
function check(cond, what, detail) {
  if (!cond) {
    const extra = detail === undefined ? "" : `\n    got: ${JSON.stringify(detail)}`;
    throw new Error(`FAILED: ${what}${extra}`);
  }
  checks += 1;
  console.log(`ok - ${what}`);
}

/** Clicks a button of the demo page and waits for its answer in the page's log. */
async function act(page, button, action) {
  const before = await page.locator("#log li").count();
  await page.click(button);
  const li = page.locator("#log li").nth(before);
  await li.waitFor({ timeout: 10_000 });
  const got = {
    action: await li.getAttribute("data-action"),
    status: Number(await li.getAttribute("data-status")),
    body: JSON.parse(await li.getAttribute("data-body")),
  };
  if (got.action !== action) throw new Error(`expected the answer of ${action}, got ${got.action}`);
  return got;
}

/** A one-page "attacker" site: a form that posts itself to the API as soon as it loads. */
function attackerSite(host) {
  const html = `<!doctype html><meta charset="utf-8"><title>a page of another origin</title>
<form id="f" method="POST" action="${BASE}/cookie-demo/api/notes/">
  <input name="text" value="planted by another origin">
</form>
<script>document.getElementById("f").submit();</script>`;
  const server = createServer((req, res) => {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(html);
  });
  return new Promise((resolve) => server.listen(0, host, () => resolve(server)));
}

/** Opens the attacker's page, lets its form post to the API, and returns what came back. */
async function forgedPost(context, origin) {
  const page = await context.newPage();
  const target = `${BASE}/cookie-demo/api/notes/`;
  const answer = page.waitForResponse((r) => r.url() === target && r.request().method() === "POST");
  await page.goto(`${origin}/`);
  const res = await answer;
  const sent = await res.request().allHeaders();
  const out = { status: res.status(), body: await res.json().catch(() => null), cookieSent: /keycard_access=/.test(sent.cookie || ""), origin: sent.origin };
  await page.close();
  return out;
}

const profile = mkdtempSync(join(tmpdir(), "keycard-chromium-"));
let context;
const servers = [];
try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const browserVersion = context.browser()?.version() ?? "(persistent context)";
  console.log(`# chromium ${browserVersion}, playwright-core, ${DEMO}`);
  const page = context.pages()[0] ?? (await context.newPage());
  page.on("pageerror", (e) => console.log(`# page error: ${e.message}`));
  await page.goto(DEMO);
  check((await page.title()).includes("HttpOnly"), "the cookie example page loads");

  // --- log in --------------------------------------------------------------------------
  let a = await act(page, "#login-button", "login");
  check(a.status === 200 && JSON.stringify(a.body) === "{}", "log in: 200 {} (no token in the body)", a);
  const jar = await jarOf(context);
  const byName = Object.fromEntries(jar.map((c) => [c.name, c]));
  const access = byName.keycard_access;
  const refresh = byName.keycard_refresh;
  const csrf = byName.csrftoken;
  check(access && access.httpOnly && access.sameSite === "Lax" && access.path === "/", "access cookie: HttpOnly, SameSite=Lax, Path=/", access);
  check(refresh && refresh.httpOnly && refresh.path === "/cookie-demo/token/", "refresh cookie: HttpOnly, scoped to the token endpoints", refresh);
  check(csrf && !csrf.httpOnly, "CSRF cookie: readable by the page", csrf);
  const lifetime = (c) => Math.round(c.expires - Date.now() / 1000);
  check(Math.abs(lifetime(access) - 300) <= 5 && Math.abs(lifetime(refresh) - 86400) <= 5, "Max-Age: 5 min for access, 1 day for refresh", [lifetime(access), lifetime(refresh)]);
  const seen = await page.evaluate(() => document.cookie);
  check(!seen.includes("keycard_access") && !seen.includes("keycard_refresh") && seen.includes("csrftoken="), "the page's script sees the CSRF cookie only", seen);

  // --- a protected route, a write ------------------------------------------------------
  a = await act(page, "#me", "me");
  check(a.status === 200 && a.body.username === "alice" && a.body.by === "cookie", "GET /api/me/ authenticated by the cookie", a);
  a = await act(page, "#add-note", "add-note");
  check(a.status === 201 && a.body.by === "alice", "POST /api/notes/ with the CSRF header: 201", a);

  // --- refresh -------------------------------------------------------------------------
  a = await act(page, "#refresh", "refresh");
  check(a.status === 200, "refresh from the cookie: 200", a);
  const after = Object.fromEntries((await jarOf(context)).map((c) => [c.name, c.value]));
  check(after.keycard_access !== access.value && after.keycard_refresh !== refresh.value, "refresh rotated the access and refresh cookies");
  a = await act(page, "#me", "me");
  check(a.status === 200 && a.body.by === "cookie", "the new access cookie works", a);

  // --- forged form posts from other origins ---------------------------------------------
  const sameSite = await attackerSite("127.0.0.1");
  servers.push(sameSite);
  const sameSiteOrigin = `http://127.0.0.1:${sameSite.address().port}`;
  let f = await forgedPost(context, sameSiteOrigin);
  check(f.cookieSent, `same-site form from ${sameSiteOrigin}: the browser sent the access cookie`, f);
  check(f.status === 403 && f.body?.code === "csrf_failed", "…and the API refused it: 403 csrf_failed", f);

  const crossSite = await attackerSite("127.0.0.1");
  servers.push(crossSite);
  const crossSiteOrigin = `http://localhost:${crossSite.address().port}`;
  f = await forgedPost(context, crossSiteOrigin);
  check(!f.cookieSent, `cross-site form from ${crossSiteOrigin}: SameSite=Lax kept the cookie home`, f);
  check(f.status === 401 && f.body?.code === "not_authenticated", "…and the API refused it: 401 not_authenticated", f);

  a = await act(page, "#notes", "notes");
  const texts = (a.body?.notes ?? []).map((n) => n.text);
  check(a.status === 200 && texts.length === 1 && !texts.some((t) => t.includes("planted")), "no forged note was stored", a);

  // --- log out -------------------------------------------------------------------------
  a = await act(page, "#logout", "logout");
  check(a.status === 200, "log out: 200", a);
  const left = (await jarOf(context)).map((c) => c.name);
  check(!left.includes("keycard_access") && !left.includes("keycard_refresh") && !left.includes("csrftoken"), "log out cleared the three cookies", left);
  a = await act(page, "#me", "me");
  check(a.status === 401 && a.body.code === "not_authenticated", "after logout: 401 not_authenticated", a);
  // The old access token, replayed by hand: its session has ended.
  const replay = await context.request.get(`${BASE}/cookie-demo/api/me/`, { headers: { cookie: `keycard_access=${after.keycard_access}` } });
  check(replay.status() === 401 && (await replay.json()).code === "token_not_valid", "the logged-out access token is refused at once", replay.status());

  console.log(`# ${checks} checks passed in Chromium against ${API_HOST}`);
} catch (e) {
  console.error(e && e.stack ? e.stack : String(e));
  process.exitCode = 1;
} finally {
  for (const s of servers) s.close();
  if (context) await context.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
}
