// The sign-in page: name and password, then the TOTP code when the server asks for it.
// The server sets the HttpOnly session cookie; the CSRF token it returns is kept for the tab.
import { CSRF_KEY, TOKEN_KEY } from "./api.js";

const $ = (id) => document.getElementById(id);

const REASONS = {
  expired: "Your session has ended: sign in again.",
  "signed-out": "Signed out.",
  "token-refused": "Token refused: sign in again.",
};

function next() {
  const target = new URLSearchParams(location.search).get("next");
  // Only our own pages: an open redirect would make a convincing phishing link.
  return target && /^\/[A-Za-z0-9_.-]*$/.test(target) ? target : "/";
}

async function signIn(event) {
  event.preventDefault();
  $("login-error").textContent = "";
  const body = { name: $("name").value.trim(), password: $("password").value };
  if (!$("code-row").hidden && $("code").value.trim()) body.code = $("code").value.trim();
  const response = await fetch("/api/login", {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const payload = await response.json().catch(() => ({}));
  if (response.ok) {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.setItem(CSRF_KEY, payload.csrf_token);
    location.replace(next());
    return;
  }
  if (payload.error === "totp_required") {
    $("code-row").hidden = false;
    $("code").required = true;
    $("code").focus();
  }
  if (response.status === 429) {
    const wait = response.headers.get("Retry-After");
    $("login-error").textContent = `Too many failed attempts: try again in ${wait} seconds.`;
    return;
  }
  $("login-error").textContent = payload.detail ? String(payload.detail) : `HTTP ${response.status}`;
}

$("login-reason").textContent = REASONS[new URLSearchParams(location.search).get("reason")] ?? "";
$("login").addEventListener("submit", (event) => {
  signIn(event).catch((err) => { $("login-error").textContent = String(err); });
});
$("name").focus();
