// The operator console: the live queue of open alarms (highest priority first, then newest) and
// the handling of one alarm from arrival to closed: acknowledge, claim, procedure, notes,
// dispatch, hold, resolve with an outcome, close. The server decides every change and writes
// the timeline; the console asks, and shows what the server says.
import { attachTotpSetup } from "./account.js";
import {
  ApiError, CSRF_KEY, TOKEN_KEY, api, toLogin, token, whenUnauthorized, whoAmI,
} from "./api.js";
import { attachDispatch } from "./dispatch.js";
import { formatTime, tickDeadlines } from "./format.js";
import {
  ALERT_PRIORITY, ALLOWED, DONE_WORDS, OPEN_STATES, compareAlarms, describeError,
} from "./lifecycle.js";
import { attachSoundButton, beep, unlockSound } from "./sound.js";

const USER_KEY = "watchfloor.user";
const MESSAGE_AREAS = [
  "action-message", "dispatch-message", "sop-message", "resolve-message", "note-message",
];

const alarms = new Map(); // id -> alarm, as last heard from the server (highest version wins)
const rows = new Map(); // id -> queue row
let socket = null;
let signedIn = false; // the server accepted our session or token
let retryDelay = 500;
let selectedId = null;
let detail = null; // the selected alarm with signals, timeline and procedure
let busy = false; // an action or resolve is in flight: their buttons wait
let noting = false; // a note is on its way: its button waits (the field stays usable)
let offerTakeOver = false;
let loading = false;
let loadAgain = false;
let writes = Promise.resolve(); // changes go one at a time, in the order asked
let acting = Promise.resolve(); // actions asked (keys included) while one runs wait their turn
let lastDone = null; // the last action that succeeded: pressing it again is no news
const reloads = new Set(); // alarms heard while a full queue reload is on its way
const pendingSteps = new Map(); // step -> done, while its request waits or runs

const $ = (id) => document.getElementById(id);

// Who we are: from /api/me at start, then whoever the server names on our own claim.
function me() { return sessionStorage.getItem(USER_KEY); }

function takeTokenFromHash() {
  const match = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (match) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]));
    history.replaceState(null, "", location.pathname);
  }
}

function remember(alarm) {
  const known = alarms.get(alarm.id);
  if (!known || known.version <= alarm.version) alarms.set(alarm.id, alarm);
  for (const heard of reloads) heard.push(alarm);
}

function announce(event, alarm) {
  if (alarm.priority > ALERT_PRIORITY) return;
  if (event !== "alarm.created" && event !== "alarm.escalated") return;
  const what = `${alarm.type_name}${alarm.site ? ` at ${alarm.site}` : ""}`;
  $("announcer").textContent = event === "alarm.created"
    ? `New P${alarm.priority} alarm: ${what}`
    : `Escalated to P${alarm.priority}: ${what}`;
  beep(alarm.priority);
}

// ---- queue ---------------------------------------------------------------------------------

function openAlarms() {
  return [...alarms.values()].filter((a) => OPEN_STATES.has(a.state)).sort(compareAlarms);
}

function cell(className, text) {
  const td = document.createElement("td");
  td.className = className;
  if (text !== undefined) td.textContent = text;
  return td;
}

function makeRow(id) {
  const tr = document.createElement("tr");
  tr.dataset.alarmId = id;
  const p = cell("priority");
  p.append(document.createElement("span"));
  tr.append(p, cell("type"), cell("site"), cell("device"), cell("zone"), cell("count"),
    cell("state"), cell("held"), cell("escalation"), cell("last"));
  tr.addEventListener("click", () => select(id));
  tr.addEventListener("keydown", (event) => {
    if (event.key === "Enter") { event.preventDefault(); select(id); }
  });
  tr.addEventListener("animationend", (event) => {
    if (event.animationName === "fresh") tr.classList.remove("fresh");
  });
  return tr;
}

function fillRow(tr, alarm) {
  const text = (selector, value) => {
    const td = tr.querySelector(selector);
    const shown = value ?? "–";
    if (td.textContent !== shown) td.textContent = shown;
  };
  tr.dataset.priority = alarm.priority;
  tr.dataset.state = alarm.state;
  text("td.priority span", `P${alarm.priority}`);
  text("td.type", `${alarm.type_code} ${alarm.type_name}`);
  text("td.site", alarm.site);
  text("td.device", alarm.device);
  text("td.zone", alarm.zone);
  // A flood (one device above its rate) folds many alarms into this one: say so by the count.
  text("td.count", alarm.flooded ? `${alarm.signal_count} ≋ flood` : String(alarm.signal_count));
  text("td.state", alarm.state);
  text("td.held", alarm.claimed_by);
  text("td.escalation", alarm.escalation_count > 0 ? "⬆ escalated" : "");
  text("td.last", formatTime(alarm.last_at));
  // A row flashes from arrival until someone acknowledges (or resolves) the alarm.
  tr.classList.toggle("flash", alarm.priority <= ALERT_PRIORITY && alarm.state === "new");
  const selected = alarm.id === selectedId;
  tr.classList.toggle("selected", selected);
  if (selected) tr.setAttribute("aria-current", "true"); else tr.removeAttribute("aria-current");
  tr.tabIndex = selected ? 0 : -1;
  tr.setAttribute("aria-label",
    `P${alarm.priority} ${alarm.type_name}, ${alarm.site ?? "unknown site"}, ${alarm.state}` +
    (alarm.claimed_by ? `, held by ${alarm.claimed_by}` : "") +
    (alarm.escalation_count > 0 ? ", escalated" : "") +
    (alarm.flooded ? ", flood: many alarms folded into this one" : ""));
}

// Rows are kept and updated in place, so a flash keeps its rhythm and a click its target.
function renderQueue(freshId) {
  const open = openAlarms();
  const body = $("alarms");
  const keep = new Set(open.map((a) => a.id));
  for (const [id, tr] of rows) {
    if (!keep.has(id)) { tr.remove(); rows.delete(id); }
  }
  open.forEach((alarm, index) => {
    let tr = rows.get(alarm.id);
    if (!tr) { tr = makeRow(alarm.id); rows.set(alarm.id, tr); }
    fillRow(tr, alarm);
    if (alarm.id === freshId) tr.classList.add("fresh");
    if (body.children[index] !== tr) body.insertBefore(tr, body.children[index] ?? null);
  });
  $("empty").hidden = open.length > 0;
  const waiting = open.filter((a) => a.state === "new").length;
  $("counts").textContent = `${open.length} open · ${waiting} not acknowledged`;
}

function moveSelection(step) {
  const open = openAlarms();
  if (open.length === 0) return;
  const at = open.findIndex((a) => a.id === selectedId);
  const next = at < 0 ? 0 : Math.min(open.length - 1, Math.max(0, at + step));
  select(open[next].id);
  rows.get(open[next].id)?.scrollIntoView({ block: "nearest" });
}

// ---- detail --------------------------------------------------------------------------------

function select(id) {
  if (id !== selectedId) {
    selectedId = id;
    detail = null;
    offerTakeOver = false;
    pendingSteps.clear();
    // A half-typed note or outcome belongs to the alarm it was typed for.
    $("resolve").reset();
    $("note-form").reset();
    $("override-row").hidden = true;
    showMessage(null);
  }
  $("detail").hidden = false;
  $("workspace").classList.add("with-detail");
  renderQueue();
  renderDetail();
  refreshDetail();
}

function closeDetail() {
  selectedId = null;
  detail = null;
  $("detail").hidden = true;
  $("workspace").classList.remove("with-detail");
  renderQueue();
}

async function refreshDetail() {
  if (selectedId === null) return;
  if (loading) { loadAgain = true; return; }
  const id = selectedId;
  loading = true;
  $("detail-loading").hidden = detail !== null;
  try {
    const fetched = await api(`/api/alarms/${id}`);
    const { signals, timeline, sop, ...alarm } = fetched;
    remember(alarm);
    if (id === selectedId && (!detail || detail.version <= fetched.version)) detail = fetched;
  } catch (err) {
    if (id === selectedId) showMessage("action-message", describeError(err, "load"));
  } finally {
    loading = false;
    $("detail-loading").hidden = true;
  }
  renderQueue();
  renderDetail();
  if (loadAgain) { loadAgain = false; refreshDetail(); }
}

function latest(id) {
  // A stream update may be newer than the last detail fetched; its summary fields win.
  const summary = alarms.get(id);
  const full = detail && detail.id === id ? detail : null;
  if (full && (!summary || summary.version <= full.version)) return full;
  return summary ?? full;
}

function current() { return selectedId === null ? null : latest(selectedId); }

function fact(dl, term, value, className) {
  const dt = document.createElement("dt");
  dt.textContent = term;
  const dd = document.createElement("dd");
  if (className) dd.className = className;
  if (value instanceof Node) dd.append(value); else dd.textContent = value ?? "–";
  dl.append(dt, dd);
}

function deadline(iso) {
  const wrap = document.createElement("span");
  const left = document.createElement("span");
  left.className = "countdown";
  left.dataset.deadline = iso;
  wrap.append(`${formatTime(iso)} `, left);
  return wrap;
}

function renderDetail() {
  const alarm = current();
  if (selectedId === null || !alarm) return;
  const pane = $("detail");
  pane.dataset.state = alarm.state;
  pane.dataset.priority = alarm.priority;
  pane.dataset.alarmId = alarm.id;
  $("detail-title").textContent = `P${alarm.priority} · ${alarm.type_name} · #${alarm.id}`;

  const dl = $("facts");
  dl.replaceChildren();
  fact(dl, "Type", `${alarm.type_code} ${alarm.type_name} (${alarm.category})`);
  fact(dl, "Priority", `P${alarm.priority}` +
    (alarm.escalation_count > 0 ? ` · ⬆ escalated ${alarm.escalation_count}×` : ""), "priority");
  fact(dl, "State", alarm.state, "state");
  if (alarm.flooded) fact(dl, "Flood", "device above its alarm rate: new alarms fold in here");
  fact(dl, "Site", alarm.site);
  fact(dl, "Device", alarm.device);
  fact(dl, "Zone", alarm.zone);
  fact(dl, "Held by", alarm.claimed_by ?? "nobody", "held");
  fact(dl, "Signals", String(alarm.signal_count), "count");
  if (alarm.state === "new" && alarm.ack_deadline) {
    fact(dl, "Acknowledge by", deadline(alarm.ack_deadline), "deadline");
  }
  if (alarm.acknowledged_at) {
    fact(dl, "Acknowledged", `${formatTime(alarm.acknowledged_at)} by ${alarm.acknowledged_by ?? "–"}`);
  }
  if (alarm.dispatched_at) fact(dl, "Dispatched", formatTime(alarm.dispatched_at));
  if (alarm.held_from) fact(dl, "Held from", alarm.held_from);
  fact(dl, "First / last signal", `${formatTime(alarm.first_at)} / ${formatTime(alarm.last_at)}`);
  if (alarm.restored_at) fact(dl, "Restored", formatTime(alarm.restored_at));
  if (alarm.resolved_at) {
    fact(dl, "Resolved", `${formatTime(alarm.resolved_at)} by ${alarm.resolved_by ?? "–"}` +
      ` · outcome: ${alarm.outcome ?? "–"}`);
  }
  if (alarm.closed_at) fact(dl, "Closed", formatTime(alarm.closed_at));
  tickDeadlines();

  renderActions(alarm);
  const full = detail && detail.id === selectedId ? detail : null;
  units.render(alarm, full);
  renderSop(alarm, full?.sop ?? null);
  renderTable("timeline", full?.timeline ?? [], (entry) => [
    ["time", formatTime(entry.at)], ["kind", entry.kind], ["actor", entry.actor],
    ["detail", entry.detail ?? ""]], (entry, tr) => { tr.dataset.kind = entry.kind; });
  renderTable("signals", full?.signals ?? [], (signal) => [
    ["time", formatTime(signal.received_at)],
    ["code", `${signal.code_system} ${signal.code}${signal.restore ? " (restore)" : ""}`],
    ["zone", signal.zone ?? "–"], ["extra", describeExtensions(signal.ext)],
    ["raw", signal.raw]]);
}

// Someone else holds it: claiming means taking over (supervisors). Until the console knows
// who its user is, a claim first asks plainly and offers the take-over on a refusal.
function wantsTakeOver(alarm) {
  const user = me();
  return alarm.claimed_by !== null &&
    ((offerTakeOver && alarm.id === selectedId) || (user !== null && alarm.claimed_by !== user));
}

function renderActions(alarm) {
  const user = me();
  for (const button of document.querySelectorAll(".actions button[data-action]")) {
    button.disabled = busy || !ALLOWED[button.dataset.action](alarm, user);
  }
  const claim = document.querySelector('.actions button[data-action="claim"]');
  claim.firstChild.textContent = wantsTakeOver(alarm) ? `Take over from ${alarm.claimed_by} ` : "Claim ";
  const open = OPEN_STATES.has(alarm.state);
  // Fields stay usable while a request runs (r and n must always reach them); buttons wait.
  for (const el of $("resolve").elements) el.disabled = !open;
  $("resolve-button").disabled = busy || !open;
  $("note-button").disabled = noting;
}

function renderSop(alarm, steps) {
  const list = $("sop-steps");
  if (!steps) { list.replaceChildren(); $("sop-progress").textContent = ""; return; }
  $("sop-none").hidden = steps.length > 0;
  const done = new Set(alarm.sop_done);
  const mandatory = steps.filter((s) => !s.optional);
  const mandatoryDone = mandatory.filter((s) => done.has(s.step)).length;
  $("sop-progress").textContent = steps.length
    ? `— ${mandatoryDone} of ${mandatory.length} mandatory steps done` : "";
  $("sop").classList.toggle("complete", mandatoryDone === mandatory.length);
  // Rebuild only for another alarm; otherwise update in place, so that no click is lost.
  if (list.dataset.alarmId !== String(alarm.id) || list.children.length !== steps.length) {
    list.dataset.alarmId = String(alarm.id);
    list.replaceChildren(...steps.map(stepItem));
  }
  const open = OPEN_STATES.has(alarm.state);
  for (const box of list.querySelectorAll("input[type=checkbox]")) {
    const step = Number(box.dataset.step);
    box.checked = pendingSteps.has(step) ? pendingSteps.get(step) : done.has(step);
    box.disabled = !open;
    box.closest("li").classList.toggle("done", done.has(step));
  }
}

function stepItem(step) {
  const li = document.createElement("li");
  const label = document.createElement("label");
  const box = document.createElement("input");
  box.type = "checkbox";
  box.dataset.step = String(step.step);
  box.addEventListener("change", () => checkStep(step.step, box.checked));
  const text = document.createElement("span");
  text.textContent = step.text;
  label.append(box, text);
  if (step.optional) {
    const tag = document.createElement("span");
    tag.className = "optional";
    tag.textContent = "optional";
    label.append(" ", tag);
  }
  li.append(label);
  return li;
}

// Newest first: after acting, what just happened is at the top.
// DC-09 extended data blocks, by their first letter. Shown as text, never as live links: the
// content comes from the panel.
const EXTENSIONS = { X: "longitude", Y: "latitude", V: "image", M: "MAC", I: "info",
                     H: "panel time", R: "room", K: "key" };

function describeExtensions(blocks) {
  if (!blocks?.length) return "–";
  return blocks.map((block) => {
    const label = EXTENSIONS[block[0]];
    return label ? `${label} ${block.slice(1)}` : block;
  }).join(" · ");
}

function renderTable(id, items, cellsOf, decorate) {
  $(id).replaceChildren(...[...items].reverse().map((item) => {
    const tr = document.createElement("tr");
    for (const [className, value] of cellsOf(item)) tr.append(cell(className, value));
    decorate?.(item, tr);
    return tr;
  }));
}

// ---- changes -------------------------------------------------------------------------------

/** Show `text` in one message area (by id) and clear the others; null clears all. */
function showMessage(area, text = "", kind = "error") {
  for (const id of MESSAGE_AREAS) {
    const el = $(id);
    el.textContent = id === area ? text : "";
    el.className = `message ${id === area && text ? kind : ""}`;
    // A refusal shows where the operator acted; make sure it is on screen.
    if (id === area && text && kind === "error") el.scrollIntoView({ block: "nearest" });
  }
}

// Run one change after those asked before it, then reload the alarm (its timeline).
function write(id, area, action, label, request, { onSuccess, onFailure } = {}) {
  const run = async () => {
    try {
      const alarm = await request();
      remember(alarm);
      onSuccess?.(alarm);
      if (id === selectedId) showMessage(area, `${label} ✓`, "ok");
    } catch (err) {
      onFailure?.(err);
      if (id === selectedId && signedIn) showMessage(area, describeError(err, action));
    }
    renderQueue();
    if (id === selectedId) await refreshDetail();
  };
  writes = writes.then(run, run);
  return writes;
}

/** Ask for `action` on the selected alarm, after any action still running (keys, quick clicks). */
function act(action) {
  const id = selectedId;
  if (id === null) return;
  acting = acting.then(() => runAction(id, action)).catch((err) => console.error(err));
}

async function runAction(id, asked) {
  const alarm = latest(id);
  if (!alarm) return;
  const action = asked === "hold-or-resume" ? (alarm.state === "held" ? "resume" : "hold") : asked;
  if (!ALLOWED[action](alarm, me())) {
    // Pressing again what just succeeded (a double press) is no news; anything else is.
    if (action !== lastDone && id === selectedId) {
      showMessage("action-message", `Cannot ${action} now: the alarm is ${alarm.state}.`);
    }
    return;
  }
  lastDone = null;
  const takeOver = action === "claim" && wantsTakeOver(alarm);
  busy = true;
  renderDetail();
  if (id === selectedId) showMessage("action-message", "Saving…", "info");
  await write(id, "action-message", action, takeOver ? "Taken over" : DONE_WORDS[action],
    () => api(`/api/alarms/${id}/${action}`, {
      method: "POST", body: action === "claim" ? { take_over: takeOver } : undefined,
    }), {
      onSuccess: (changed) => {
        lastDone = action;
        if ((action === "claim" || action === "acknowledge") && changed.claimed_by) {
          sessionStorage.setItem(USER_KEY, changed.claimed_by);
        }
        if (action === "claim") offerTakeOver = false;
      },
      onFailure: (err) => {
        if (action === "claim" && err instanceof ApiError && err.body.error === "conflict") {
          offerTakeOver = true;
        }
      },
    });
  busy = false;
  renderDetail();
}

async function resolve(event) {
  event.preventDefault();
  const alarm = current();
  if (selectedId === null || !alarm || busy) return;
  const outcome = $("outcome").value;
  if (!outcome) {
    showMessage("resolve-message", "Choose an outcome before resolving.");
    $("outcome").focus();
    return;
  }
  const body = { outcome };
  const note = $("resolve-note").value.trim();
  const override = $("override").value.trim();
  if (note) body.note = note;
  if (override && !$("override-row").hidden) body.override_reason = override;
  const id = selectedId;
  busy = true;
  renderActions(alarm);
  showMessage("resolve-message", "Saving…", "info");
  await write(id, "resolve-message", "resolve", "Resolved",
    () => api(`/api/alarms/${id}/resolve`, { method: "POST", body }), {
      onSuccess: () => { $("resolve").reset(); $("override-row").hidden = true; },
      onFailure: (err) => {
        if (err instanceof ApiError && err.body.error === "sop_incomplete") {
          $("override-row").hidden = false;
        }
      },
    });
  busy = false;
  renderDetail();
}

function checkStep(step, done) {
  const id = selectedId;
  if (id === null) return;
  pendingSteps.set(step, done);
  const settle = () => { if (pendingSteps.get(step) === done) pendingSteps.delete(step); };
  write(id, "sop-message", "check a step of", `Step ${step} ${done ? "done" : "not done"}`,
    () => api(`/api/alarms/${id}/sop/${step}`, { method: "POST", body: { done } }),
    { onSuccess: settle, onFailure: settle });
}

async function addNote(event) {
  event.preventDefault();
  const id = selectedId;
  const text = $("note").value.trim();
  if (id === null || noting) return;
  if (!text) { showMessage("note-message", "Write the note first."); $("note").focus(); return; }
  noting = true;
  renderDetail();
  await write(id, "note-message", "add a note to", "Note added",
    () => api(`/api/alarms/${id}/notes`, { method: "POST", body: { text } }), {
      onSuccess: () => { if ($("note").value.trim() === text) $("note").value = ""; },
    });
  noting = false;
  renderDetail();
}

// ---- keyboard ------------------------------------------------------------------------------

function isTyping(target) {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable || ["TEXTAREA", "SELECT"].includes(target.tagName)) return true;
  return target.tagName === "INPUT" &&
    !["checkbox", "radio", "button", "submit", "reset"].includes(target.type);
}

const KEYS = {
  ArrowDown: () => moveSelection(1),
  j: () => moveSelection(1),
  ArrowUp: () => moveSelection(-1),
  k: () => moveSelection(-1),
  Escape: () => closeDetail(),
  a: () => act("acknowledge"),
  c: () => act("claim"),
  d: () => act("dispatch"),
  h: () => act("hold-or-resume"),
  r: () => { if (selectedId !== null) $("outcome").focus(); },
  n: () => { if (selectedId !== null) $("note").focus(); },
  u: () => { if (selectedId !== null) units.focus(); },
};
const REPEATABLE = new Set(["ArrowDown", "ArrowUp", "j", "k"]);

function onKey(event) {
  if ($("workspace").hidden || event.ctrlKey || event.metaKey || event.altKey) return;
  if (isTyping(event.target)) {
    if (event.key === "Escape") event.target.blur();
    return;
  }
  const handler = KEYS[event.key];
  if (!handler) return;
  event.preventDefault();
  // Holding a key down must not fire an action twice.
  if (event.repeat && !REPEATABLE.has(event.key)) return;
  handler();
}

// ---- stream and session --------------------------------------------------------------------

function setConnection(online) {
  const badge = $("connection");
  badge.textContent = online ? "live" : "offline";
  badge.className = `status ${online ? "online" : "offline"}`;
}

async function loadQueue() {
  // What the stream or a reply brings while the list is on its way may be newer than the list.
  const heard = [];
  reloads.add(heard);
  try {
    const page = await api("/api/alarms?limit=1000");
    alarms.clear();
    for (const alarm of page.items) alarms.set(alarm.id, alarm);
  } finally {
    reloads.delete(heard);
  }
  for (const alarm of heard) remember(alarm);
  renderQueue();
  if (selectedId !== null) refreshDetail();
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  // With a token it goes in the URL; a session's cookie goes along by itself.
  const query = token() ? `?token=${encodeURIComponent(token())}` : "";
  socket = new WebSocket(`${scheme}://${location.host}/api/stream${query}`);
  socket.onopen = async () => {
    retryDelay = 500;
    setConnection(true);
    // Reload after (re)connecting so that nothing committed while offline is missed.
    try { await loadQueue(); } catch (err) { console.error(err); }
  };
  socket.onmessage = (message) => {
    const { event, alarm } = JSON.parse(message.data);
    remember(alarm);
    renderQueue(event === "alarm.created" ? alarm.id : undefined);
    announce(event, alarm);
    if (alarm.id === selectedId) { renderDetail(); refreshDetail(); }
  };
  socket.onclose = (closed) => {
    setConnection(false);
    socket = null;
    if (closed.code === 4401) { signOut(token() ? "token-refused" : "expired"); return; }
    if (signedIn) setTimeout(connect, retryDelay);
    retryDelay = Math.min(retryDelay * 2, 10000);
  };
}

function showQueue(who) {
  signedIn = true;
  sessionStorage.setItem(USER_KEY, who.user);
  $("whoami").textContent = `${who.user} (${who.role})`;
  for (const id of ["workspace", "logout", "sound", "shortcuts"]) $(id).hidden = false;
  $("end-all").hidden = who.via !== "session";
  $("totp-setup").hidden = who.via !== "session" || who.totp_enrolled;
  connect();
}

// Leave for the sign-in page; a reason says why (see login.js).
function signOut(reason) {
  // A CSRF token kept in this tab means a session was open here: it has ended.
  const wasSignedIn = signedIn || sessionStorage.getItem(CSRF_KEY) !== null;
  signedIn = false;
  sessionStorage.removeItem(USER_KEY);
  if (socket) socket.close();
  toLogin(wasSignedIn || token() ? reason : undefined);
}

async function endSession(path) {
  try {
    if (!token()) await api(path, { method: "POST" });
  } finally {
    signOut("signed-out");
  }
}

whenUnauthorized(() => signOut(token() ? "token-refused" : "expired"));
$("logout").addEventListener("click", () => endSession("/api/logout"));
$("end-all").addEventListener("click", () => endSession("/api/sessions/end-all"));
attachSoundButton($("sound"));
attachTotpSetup();
for (const button of document.querySelectorAll(".actions button[data-action]")) {
  button.addEventListener("click", () => act(button.dataset.action));
}
const units = attachDispatch({
  write: (id, label, request, hooks) =>
    write(id, "dispatch-message", "dispatch units to", label, request, hooks),
  refuse: (text) => showMessage("dispatch-message", text),
});
$("resolve").addEventListener("submit", resolve);
$("note-form").addEventListener("submit", addNote);
$("note").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    $("note-form").requestSubmit();
  }
});
$("detail-close").addEventListener("click", closeDetail);
document.addEventListener("keydown", onKey);
// After a reload there was no sign-in click: the first click or key press unlocks audio.
for (const type of ["pointerdown", "keydown"]) {
  document.addEventListener(type, () => { if (signedIn) unlockSound(); }, { once: true });
}
setInterval(tickDeadlines, 1000);

takeTokenFromHash();
whoAmI().then(showQueue).catch((err) => {
  if (err.status !== 401) $("start-error").textContent = String(err.message || err);
});
