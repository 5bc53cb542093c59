// Call intake, fast from the keyboard alone: type-ahead for type and site, Enter sends,
// Escape clears, and the focus goes back to the type for the next call.
//
// Each refusal is shown at its field, and a new attempt first clears the last call's result:
// a type that matches several lists them to choose from; a site nobody knows is offered the
// known sites like it and is entered as a new site only when Enter is pressed again on it; a
// callback number says what a number may hold. The server's refusals land at their fields too.
import { ApiError, api, toLogin, whenUnauthorized, whoAmI } from "./api.js";

const $ = (id) => document.getElementById(id);
const NUMBER_RULE =
  "use digits, spaces and + ( ) . / - only, 3 to 32 characters, e.g. +31 20 555 0199";
const MAX_CHOICES = 12;

let types = [];
let knownSites = [];
// The unknown site the call-taker was warned about: Enter on it again enters it as new.
let warnedSite = null;

const label = (type) => `${type.code} ${type.name}`;

/** The alarm types the text may mean: one by code or exact name, else all containing it. */
function typeMatches(text) {
  const value = text.trim().toLowerCase();
  if (!value) return [];
  const byCode = /^(\d{1,4})\b/.exec(value);
  if (byCode) return types.filter((t) => t.code === Number(byCode[1]));
  const exact = types.filter((t) => t.name.toLowerCase() === value);
  return exact.length ? exact : types.filter((t) => t.name.toLowerCase().includes(value));
}

function distance(a, b) {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = row;
  }
  return previous[b.length];
}

/** The known site of this name (whatever its case), or null. */
function knownSite(name) {
  const value = name.toLowerCase();
  return knownSites.find((s) => s.toLowerCase() === value) ?? null;
}

/** Known sites a mistyped name may have meant: close in spelling, or containing it. */
function sitesLike(name) {
  const value = name.toLowerCase();
  return knownSites
    .map((site) => [site, distance(value, site.toLowerCase())])
    .filter(([site, d]) => d <= Math.max(2, Math.floor(value.length / 4))
      || site.toLowerCase().includes(value) || value.includes(site.toLowerCase()))
    .sort((x, y) => x[1] - y[1])
    .slice(0, MAX_CHOICES)
    .map(([site]) => site);
}

function choices(list, items, pick) {
  list.replaceChildren(...items.map((text) => {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = text;
    button.addEventListener("click", () => pick(text));
    item.append(button);
    return item;
  }));
}

function fieldProblem(field, text) {
  const input = $(field);
  input.setAttribute("aria-invalid", "true");
  $({ type: "type-problem", site: "site-problem", callback: "callback-error" }[field]).textContent = text;
}

function clearProblems() {
  for (const id of ["error", "type-problem", "site-problem", "callback-error"]) $(id).textContent = "";
  $("type-matches").replaceChildren();
  $("site-matches").replaceChildren();
  for (const id of ["type", "site", "callback"]) $(id).removeAttribute("aria-invalid");
}

function clear() {
  $("call").reset();
  clearProblems();
  warnedSite = null;
  $("type").focus();
}

function refuseType(text, matches) {
  if (matches.length === 0) {
    fieldProblem("type", text.trim()
      ? `No alarm type matches "${text.trim()}": type a code or a name from the list.`
      : "Choose the alarm type (code or name).");
  } else {
    fieldProblem("type", `"${text.trim()}" matches ${matches.length} alarm types: choose one.`);
    choices($("type-matches"), matches.slice(0, MAX_CHOICES).map(label), (chosen) => {
      $("type").value = chosen;
      clearProblems();
      $("site").focus();
    });
  }
  $("type").focus();
}

function warnNewSite(site) {
  const like = sitesLike(site);
  warnedSite = site;
  fieldProblem("site", `"${site}" is not a site we know. ` + (like.length
    ? "Did you mean one of these? Otherwise press Enter again to enter the call for a new site."
    : "Press Enter again to enter the call for a new site, or correct the name."));
  choices($("site-matches"), like, (chosen) => {
    $("site").value = chosen;
    clearProblems();
    warnedSite = null;
    $("callback").focus();
  });
  $("site").focus();
}

/** Put each of the server's problems at its field; true when all found one. */
function showProblems(problems) {
  const fields = { type_code: "type", site: "site", callback_number: "callback" };
  let placed = true;
  for (const { field, message } of problems) {
    const name = field.split(".").at(-1);
    if (name === "callback_number") fieldProblem("callback", `Callback number: ${NUMBER_RULE}.`);
    else if (fields[name]) fieldProblem(fields[name], message);
    else placed = false;
  }
  return placed;
}

async function send() {
  // A new attempt: the last call's "Call entered" and every old problem go.
  $("result").textContent = "";
  clearProblems();
  const matches = typeMatches($("type").value);
  if (matches.length !== 1) { refuseType($("type").value, matches); return; }
  const callback = $("callback");
  if (callback.value.trim() && !callback.validity.valid) {
    fieldProblem("callback", `Callback number: ${NUMBER_RULE}.`);
    callback.focus();
    return;
  }
  if (!$("call").reportValidity()) return;
  const typed = $("site").value.trim();
  const site = knownSite(typed) ?? typed;
  if (site === typed && !knownSite(typed) && warnedSite !== typed) { warnNewSite(typed); return; }
  const body = {
    call_id: crypto.randomUUID(),
    type_code: matches[0].code,
    site,
    callback_number: callback.value.trim(),
    report: $("what").value.trim(),
  };
  try {
    const stored = await api("/api/calls", { method: "POST", body });
    clear();
    $("result").textContent = `Call entered: alarm ${stored.alarm_id} at ${stored.site}`;
    rememberSite(stored.site);
  } catch (err) {
    if (err instanceof ApiError && err.status === 422 && showProblems(err.body.problems ?? [])) return;
    $("error").textContent = err instanceof ApiError ? err.message : "Not sent: no connection.";
  }
}

function rememberSite(site) {
  if (knownSite(site)) return;
  knownSites.push(site);
  $("sites").append(new Option(site, site));
}

async function start() {
  $("call").hidden = false;
  types = (await api("/api/alarm-types")).items.filter((t) => t.raises_alarm);
  $("types").replaceChildren(...types.map((t) => new Option(label(t))));
  try {
    // TODO(#13): the register of site records, once kept, is where known sites come from.
    const sites = new Set((await api("/api/accounts")).items.map((a) => a.site).filter(Boolean));
    for (const alarm of (await api("/api/alarms?order=newest&limit=1000")).items) {
      if (alarm.site) sites.add(alarm.site);
    }
    knownSites = [...sites].sort();
    $("sites").replaceChildren(...knownSites.map((s) => new Option(s, s)));
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
$("site").addEventListener("input", () => { warnedSite = null; });

// Signed in to the console (its session cookie), or opened with a token: otherwise sign in.
whenUnauthorized(() => toLogin("Sign in to enter calls."));
whoAmI().then(start, () => { $("signin").hidden = false; });
