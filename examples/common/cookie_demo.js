// The cookie demo's client: fetch with the browser's cookies, the CSRF cookie echoed in a
// header on every unsafe request. No token ever passes through this script.
"use strict";

const API = "/cookie-demo";

/** The readable CSRF cookie (the token cookies are HttpOnly: not in document.cookie). */
function csrfToken() {
  const pair = document.cookie.split("; ").find((c) => c.startsWith("csrftoken="));
  return pair ? decodeURIComponent(pair.slice("csrftoken=".length)) : "";
}

function showCookies() {
  document.getElementById("script-cookies").textContent = JSON.stringify(document.cookie);
}

/** One request; its answer is appended to the log as a list item the e2e test reads. */
async function call(action, method, path, body) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRFToken"] = csrfToken();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let status = 0;
  let json = null;
  try {
    const res = await fetch(API + path, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    status = res.status;
    json = await res.json().catch(() => null);
  } catch (e) {
    json = { error: String(e) };
  }
  const li = document.createElement("li");
  li.dataset.action = action;
  li.dataset.status = String(status);
  li.dataset.ok = String(status >= 200 && status < 300);
  li.dataset.body = JSON.stringify(json);
  li.textContent = `${action}: ${method} ${API}${path} → ${status} ${JSON.stringify(json)}`;
  document.getElementById("log").appendChild(li);
  showCookies();
  return { status, json };
}

document.getElementById("login").addEventListener("submit", (e) => {
  e.preventDefault();
  call("login", "POST", "/token/", {
    username: document.getElementById("username").value,
    password: document.getElementById("password").value,
  });
});
document.getElementById("me").addEventListener("click", () => call("me", "GET", "/api/me/"));
document.getElementById("add-note").addEventListener("click", () =>
  call("add-note", "POST", "/api/notes/", { text: document.getElementById("note").value }));
document.getElementById("notes").addEventListener("click", () => call("notes", "GET", "/api/notes/"));
// The refresh and logout requests carry no token: the browser sends the refresh cookie
// (scoped to /cookie-demo/token/), and the CSRF header proves the request is this page's.
document.getElementById("refresh").addEventListener("click", () => call("refresh", "POST", "/token/refresh/"));
document.getElementById("logout").addEventListener("click", () => call("logout", "POST", "/token/blacklist/"));

showCookies();
