// The signed-in user's own account: turning on two-factor sign-in (TOTP). The server makes the
// secret and shows its otpauth:// link once; the code from the app confirms the app has it.
import { api } from "./api.js";

const $ = (id) => document.getElementById(id);

async function begin() {
  $("totp-message").textContent = "";
  $("totp-code").value = "";
  $("totp-dialog").showModal();
  try {
    const { otpauth_uri: uri } = await api("/api/me/totp", { method: "POST", body: {} });
    $("totp-uri").textContent = uri;
    $("totp-secret").textContent = new URL(uri).searchParams.get("secret");
    $("totp-code").focus();
  } catch (err) {
    $("totp-message").textContent = String(err.message || err);
  }
}

async function confirm(event) {
  event.preventDefault();
  try {
    await api("/api/me/totp", { method: "POST", body: { code: $("totp-code").value.trim() } });
    $("totp-uri").textContent = "";
    $("totp-secret").textContent = "";
    $("totp-message").textContent = "Two-factor sign-in is on: every sign-in now asks for a code.";
    $("totp-setup").hidden = true;
  } catch (err) {
    $("totp-message").textContent = String(err.message || err);
  }
}

/** Wire the "Two-factor" button and its dialog; shown only to session users not enrolled. */
export function attachTotpSetup() {
  $("totp-setup").addEventListener("click", begin);
  $("totp-form").addEventListener("submit", confirm);
  $("totp-close").addEventListener("click", () => $("totp-dialog").close());
}
