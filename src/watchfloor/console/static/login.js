// The sign-in page: name and password, then the TOTP code when the server asks for it.
// The server sets the HttpOnly session cookie; the CSRF token it returns is kept for the tab.
import { loginRefusal, postLogin } from "./api.js";

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
  const answer = await postLogin(body);
  if (answer.ok) {
    location.replace(next());
    return;
  }
  if (answer.payload.error === "totp_required") {
    $("code-row").hidden = false;
    $("code").required = true;
    $("code").focus();
  }
  $("login-error").textContent = loginRefusal(answer);
}

$("login-reason").textContent = REASONS[new URLSearchParams(location.search).get("reason")] ?? "";
$("login").addEventListener("submit", (event) => {
  signIn(event).catch((err) => { $("login-error").textContent = String(err); });
});
$("name").focus();
