// Call intake, fast from the keyboard alone: type-ahead for type and site, Enter sends,
// Escape clears, and the focus goes back to the type for the next call.
import { ApiError, api, toLogin, whenUnauthorized, whoAmI } from "./api.js";

const $ = (id) => document.getElementById(id);
let types = [];

function typeCode(text) {
  const value = text.trim().toLowerCase();
  const byCode = /^(\d{1,4})\b/.exec(value);
  if (byCode) return types.find((t) => t.code === Number(byCode[1]))?.code ?? null;
  const matches = types.filter((t) => t.name.toLowerCase().includes(value));
  return matches.length === 1 ? matches[0].code : null;
}

function clear() {
  $("call").reset();
  $("error").textContent = "";
  $("type").focus();
}

async function send() {
  $("error").textContent = "";
  const code = typeCode($("type").value);
  if (code === null) {
    $("error").textContent = "Choose one alarm type from the list (code or name).";
    $("type").focus();
    return;
  }
  if (!$("call").reportValidity()) return;
  const body = {
    call_id: crypto.randomUUID(),
    type_code: code,
    site: $("site").value.trim(),
    callback_number: $("callback").value.trim(),
    report: $("what").value.trim(),
  };
  try {
    const stored = await api("/api/calls", { method: "POST", body });
    $("result").textContent = `Call entered: alarm ${stored.alarm_id} at ${stored.site}`;
    rememberSite(body.site);
    clear();
  } catch (err) {
    $("error").textContent = err instanceof ApiError ? err.message : "Not sent: no connection.";
  }
}

function rememberSite(site) {
  const options = [...$("sites").options].map((o) => o.value);
  if (!options.includes(site)) $("sites").append(new Option(site, site));
}

async function start() {
  $("call").hidden = false;
  types = (await api("/api/alarm-types")).items.filter((t) => t.raises_alarm);
  $("types").replaceChildren(...types.map((t) => new Option(`${t.code} ${t.name}`)));
  try {
    const sites = new Set((await api("/api/accounts")).items.map((a) => a.site).filter(Boolean));
    for (const alarm of (await api("/api/alarms?limit=200")).items) {
      if (alarm.site) sites.add(alarm.site);
    }
    $("sites").replaceChildren(...[...sites].sort().map((s) => new Option(s, s)));
  } catch { /* type-ahead for sites is a help, not a need */ }
  $("type").focus();
}

$("call").addEventListener("submit", (event) => { event.preventDefault(); send(); });
$("call").addEventListener("keydown", (event) => {
  if (event.key === "Escape") { event.preventDefault(); clear(); return; }
  if (event.key === "Enter" && event.target.id === "what" && !event.shiftKey) {
    event.preventDefault();
    send();
  }
});

// Signed in to the console (its session cookie), or opened with a token: otherwise sign in.
whenUnauthorized(() => toLogin("Sign in to enter calls."));
whoAmI().then(start, () => { $("signin").hidden = false; });
