// The operator console: the live queue (queue.js: highest priority first, then the longest
// waiting) and the handling of one alarm from arrival to closed: what the source said first,
// then acknowledge, claim, procedure, units, hold, resolve with an outcome, close. The server
// decides every change and writes the timeline; the console asks, and shows what the server
// says. presence.js keeps the console watched (start prompt, lock, keep-alive) and sound.js
// sounds while P1/P2 alarms wait.
import { attachTotpSetup } from "./account.js";
import {
  ApiError, CSRF_KEY, TOKEN_KEY, api, toLogin, token, whenUnauthorized, whoAmI,
} from "./api.js";
import { attachDispatch } from "./dispatch.js";
import { describeExtensions, renderEvent } from "./event.js";
import { formatTime, tickDeadlines } from "./format.js";
import {
  ALERT_PRIORITY, ALLOWED, DONE_WORDS, OPEN_STATES, compareAlarms, describeError, escalationText,
  isAlerting, isOverdue,
} from "./lifecycle.js";
import { attachPresence } from "./presence.js";
import { createQueue } from "./queue.js";
import { CALL_KEYS, attachSiteRecord, siteLink } from "./siterecord.js";
import { attachSnapshot } from "./snapshot.js";
import { attachSoundButton, startAlerts } from "./sound.js";

const USER_KEY = "watchfloor.user";
const MESSAGE_AREAS = [
  "action-message", "dispatch-message", "sop-message", "resolve-message", "note-message",
  "call-message",
];
/** The states the queue loads: the open ones, and resolved ones until someone closes them. */
const LOADED_STATES = ["new", "acknowledged", "dispatched", "held", "resolved"];
const PAGE = 1000;
/** Actions shown only when the alarm's state allows them; the others stay in place, disabled. */
const OCCASIONAL = new Set(["mute", "release", "hold", "resume", "close", "reopen"]);
/** The pause in a walk through the queue after which the selected alarm's record is read. */
const DETAIL_AFTER_MS = 150;
/** How long `m` silences one alarm's tone (the server records it on the timeline). */
const MUTE_MS = 60000;

const alarms = new Map(); // id -> alarm, as last heard from the server (highest version wins)
const mutedUntil = new Map(); // id -> when its tone may sound again (Date.now() ms)
let socket = null;
let signedIn = false; // the server accepted our session or token
let viaSession = false; // signed in with a session (not a token): the lock applies
let supervising = false; // the user may override procedures (supervisors, admins)
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
let detailTimer = null; // the read of a selected alarm's full record, while j and k move
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
  if (!known || known.version <= alarm.version) {
    // A closed alarm leaves the console's memory (its detail stays open while shown).
    if (alarm.state === "closed" && alarm.id !== selectedId) alarms.delete(alarm.id);
    else alarms.set(alarm.id, alarm);
  }
  for (const heard of reloads) heard.push(alarm);
}

function announce(event, alarm) {
  if (alarm.priority > ALERT_PRIORITY) return;
  if (event !== "alarm.created" && event !== "alarm.escalated") return;
  const what = `${alarm.type_name}${alarm.site ? ` at ${alarm.site}` : ""}`;
  $("announcer").textContent = event === "alarm.created"
    ? `New P${alarm.priority} alarm: ${what}`
    : `Overdue P${alarm.priority} alarm: ${what}`;
}

function isMuted(id) {
  const until = mutedUntil.get(id);
  if (until === undefined) return false;
  if (until > Date.now()) return true;
  mutedUntil.delete(id);
  return false;
}

/** The most urgent priority waiting for an acknowledgement and not muted, or null. */
function waitingPriority() {
  let most = null;
  for (const alarm of alarms.values()) {
    if (!isAlerting(alarm) || isMuted(alarm.id)) continue;
    if (most === null || alarm.priority < most) most = alarm.priority;
  }
  return most;
}

// ---- queue ---------------------------------------------------------------------------------

const queue = createQueue({
  alarms, selected: () => selectedId, me, onSelect: (id) => select(id), muted: isMuted,
});

function renderQueue(freshId) {
  queue.update(freshId);
  presence.refresh();
}

function waitingSummary() {
  const waiting = [...alarms.values()].filter((a) => a.state === "new");
  if (waiting.length === 0) return "No alarm waits for acknowledgement.";
  const urgent = waiting.reduce((a, b) => (compareAlarms(b, a) < 0 ? b : a));
  const newest = waiting.reduce((a, b) => (b.id > a.id ? b : a));
  const name = (a) => `P${a.priority} ${a.type_name}${a.site ? ` at ${a.site}` : ""}`;
  return `${waiting.length} alarms wait for acknowledgement. Most urgent: ${name(urgent)}, ` +
    `since ${formatTime(urgent.first_at)}.` +
    (newest === urgent ? "" : ` Newest: ${name(newest)}, ${formatTime(newest.first_at)}.`);
}

function moveSelection(step) {
  const id = queue.neighbour(step);
  if (id === null) return;
  queue.reveal(id);
  // Walking the queue with j and k: the alarm's full record is read once the walk pauses.
  select(id, DETAIL_AFTER_MS);
}

// ---- detail --------------------------------------------------------------------------------

function select(id, delay = 0) {
  clearTimeout(detailTimer);
  if (id !== selectedId) {
    selectedId = id;
    detail = null;
    offerTakeOver = false;
    pendingSteps.clear();
    // A half-typed note or outcome belongs to the alarm it was typed for.
    $("resolve").reset();
    $("note-form").reset();
    $("override-row").hidden = true;
    $("raw").open = false;
    snapshot.show(null); // another alarm's picture never stands beside this one's facts
    showMessage(null);
  }
  $("detail").hidden = false;
  $("workspace").classList.add("with-detail");
  queue.draw();
  renderDetail();
  if (delay > 0 && detail === null) detailTimer = setTimeout(refreshDetail, delay);
  else refreshDetail();
}

function closeDetail() {
  clearTimeout(detailTimer);
  selectedId = null;
  detail = null;
  $("detail").hidden = true;
  $("workspace").classList.remove("with-detail");
  snapshot.show(null);
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

function renderFacts(alarm) {
  const dl = $("facts");
  dl.replaceChildren();
  fact(dl, "State", alarm.state, "state");
  fact(dl, "Held by", alarm.claimed_by ?? "nobody", "held");
  fact(dl, "Site", alarm.site ? siteLink(alarm.site) : null);
  fact(dl, "Device", alarm.device);
  fact(dl, "Zone", alarm.zone_name ? `${alarm.zone ?? ""} ${alarm.zone_name}`.trim() : alarm.zone);
  fact(dl, "Type", `${alarm.type_code} ${alarm.type_name} (${alarm.category})`);
  fact(dl, "Priority", `P${alarm.priority}`, "priority");
  if (isOverdue(alarm) || escalationText(alarm)) {
    fact(dl, "Escalation", [isOverdue(alarm) ? "overdue" : "", escalationText(alarm)]
      .filter(Boolean).join(" · "), "escalation");
  }
  if (alarm.flooded) fact(dl, "Flood", "device above its alarm rate: new alarms fold in here");
  fact(dl, "Signals", String(alarm.signal_count), "count");
  if (alarm.state === "new" && alarm.ack_deadline) {
    fact(dl, "Acknowledge by", deadline(alarm.ack_deadline), "deadline");
  }
  if (alarm.acknowledged_at) {
    fact(dl, "Acknowledged", `${formatTime(alarm.acknowledged_at)} by ${alarm.acknowledged_by ?? "–"}`);
  }
  if (alarm.dispatched_at) fact(dl, "Dispatched", formatTime(alarm.dispatched_at));
  if (alarm.held_from) fact(dl, "Held from", alarm.held_from);
  fact(dl, "First / last", `${formatTime(alarm.first_at)} / ${formatTime(alarm.last_at)}`);
  if (alarm.restored_at) fact(dl, "Restored", formatTime(alarm.restored_at));
  if (alarm.resolved_at) {
    fact(dl, "Resolved", `${formatTime(alarm.resolved_at)} by ${alarm.resolved_by ?? "–"}` +
      ` · outcome: ${alarm.outcome ?? "–"}`);
  }
  if (alarm.closed_at) fact(dl, "Closed", formatTime(alarm.closed_at));
}

function renderMuted(alarm) {
  const muted = isMuted(alarm.id);
  $("detail-muted").hidden = !muted;
  if (muted) $("detail-muted").textContent = `🔇 muted until ${formatTime(new Date(mutedUntil.get(alarm.id)).toISOString())}`;
}

function renderDetail() {
  const alarm = current();
  if (selectedId === null || !alarm) return;
  const pane = $("detail");
  pane.dataset.state = alarm.state;
  pane.dataset.priority = alarm.priority;
  pane.dataset.alarmId = alarm.id;
  pane.classList.toggle("overdue", isOverdue(alarm));
  $("detail-title").textContent = `P${alarm.priority} · ${alarm.type_name}` +
    `${alarm.site ? ` · ${alarm.site}` : ""} · #${alarm.id}`;
  renderMuted(alarm);
  const full = detail && detail.id === selectedId ? detail : null;
  renderEvent(alarm, full?.signals ?? null);
  siteRecord.render(alarm, full, OPEN_STATES.has(alarm.state));
  renderFacts(alarm);
  // The picture follows the full record, so that walking the queue asks for none.
  if (full) snapshot.show(alarm.id, alarm.signal_count);
  tickDeadlines();

  renderActions(alarm);
  units.render(alarm, full);
  renderSop(alarm, full?.sop ?? null);
  renderTable("timeline", full?.timeline ?? [], (entry) => [
    ["time", formatTime(entry.at)], ["kind", entry.kind], ["actor", entry.actor],
    ["detail", entry.detail ?? ""]], (entry, tr) => { tr.dataset.kind = entry.kind; });
  const signals = full?.signals ?? [];
  $("signals-count").textContent = full ? `(${signals.length})` : "";
  renderTable("signals", signals, (signal) => [
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
    const allowed = ALLOWED[button.dataset.action](alarm, user);
    button.disabled = busy || !allowed;
    button.classList.toggle("idle", !allowed && OCCASIONAL.has(button.dataset.action));
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
  const key = document.createElement("kbd");
  key.textContent = String(step.step);
  if (step.step <= 9) box.setAttribute("aria-keyshortcuts", String(step.step)); else key.hidden = true;
  const text = document.createElement("span");
  text.textContent = step.text;
  label.append(box, key, text);
  if (step.optional) {
    const tag = document.createElement("span");
    tag.className = "optional";
    tag.textContent = "optional";
    label.append(" ", tag);
  }
  li.append(label);
  return li;
}

function renderTable(id, items, cellsOf, decorate) {
  // Newest first: after acting, what just happened is at the top.
  $(id).replaceChildren(...[...items].reverse().map((item) => {
    const tr = document.createElement("tr");
    for (const [className, value] of cellsOf(item)) {
      const td = document.createElement("td");
      td.className = className;
      td.textContent = value;
      tr.append(td);
    }
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
      if (id === selectedId && signedIn) showMessage(area, describeError(err, action, supervising));
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
        if (action === "mute") mutedUntil.set(id, Date.now() + MUTE_MS);
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
  if (override && supervising && !$("override-row").hidden) body.override_reason = override;
  const id = selectedId;
  busy = true;
  renderActions(alarm);
  showMessage("resolve-message", "Saving…", "info");
  await write(id, "resolve-message", "resolve", "Resolved",
    () => api(`/api/alarms/${id}/resolve`, { method: "POST", body }), {
      onSuccess: () => {
        $("resolve").reset();
        $("override-row").hidden = true;
        // The fields close with the alarm's resolution: keys act on the alarm again (x closes).
        if (id === selectedId) $("detail").focus();
      },
      onFailure: (err) => {
        // Only supervisors may resolve with steps missing: the field is theirs alone.
        if (supervising && err instanceof ApiError && err.body.error === "sop_incomplete") {
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

/** A number key: tick (or untick) that step of the selected alarm's procedure. */
function toggleStep(step) {
  const alarm = current();
  const box = $("sop-steps").querySelector(`input[data-step="${step}"]`);
  if (!alarm || !box) {
    if (alarm && detail) showMessage("sop-message", `This procedure has no step ${step}.`);
    return;
  }
  if (box.disabled) return;
  box.checked = !box.checked;
  checkStep(step, box.checked);
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

// Esc steps out one level: from a control in the detail (a unit or step checkbox, a button)
// back to the alarm; only from there does it close the alarm.
function escape(target) {
  const pane = $("detail");
  if (!pane.hidden && target instanceof HTMLElement && target !== pane && pane.contains(target)) {
    pane.focus();
    return;
  }
  closeDetail();
}

const KEYS = {
  ArrowDown: () => moveSelection(1),
  j: () => moveSelection(1),
  ArrowUp: () => moveSelection(-1),
  k: () => moveSelection(-1),
  a: () => act("acknowledge"),
  m: () => act("mute"),
  c: () => act("claim"),
  d: () => act("dispatch"),
  h: () => act("hold-or-resume"),
  x: () => act("close"),
  r: () => { if (selectedId !== null) $("outcome").focus(); },
  n: () => { if (selectedId !== null) $("note").focus(); },
  u: () => { if (selectedId !== null) units.focus(); },
  g: () => { if (selectedId !== null) queue.toggleGroupOf(selectedId); },
  p: () => { if (selectedId !== null) siteRecord.focusPassphrase(); },
  "/": () => $("filter-search").focus(),
};
for (const [key, outcome] of Object.entries(CALL_KEYS)) KEYS[key] = () => siteRecord.call(outcome);
for (let step = 1; step <= 9; step += 1) KEYS[String(step)] = () => toggleStep(step);
const REPEATABLE = new Set(["ArrowDown", "ArrowUp", "j", "k"]);

function onKey(event) {
  if ($("workspace").hidden || presence.isLocked() || event.ctrlKey || event.metaKey || event.altKey) return;
  if (isTyping(event.target)) {
    if (event.key === "Escape") event.target.blur();
    return;
  }
  if (event.key === "Escape") { event.preventDefault(); escape(event.target); return; }
  // A capital without Shift is Caps Lock: the lower-case key's action, never a call outcome.
  const key = /^[A-Z]$/.test(event.key) && !event.shiftKey ? event.key.toLowerCase() : event.key;
  const handler = KEYS[key];
  if (!handler) return;
  // Space and Enter keep their meaning on a focused control; letters and digits are ours.
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

async function fetchState(state) {
  const found = [];
  let after = null;
  for (;;) {
    const query = new URLSearchParams({ state, limit: String(PAGE) });
    if (after !== null) query.set("after", String(after));
    const { items } = await api(`/api/alarms?${query}`);
    found.push(...items);
    if (items.length < PAGE) return found;
    after = items.at(-1).id;
  }
}

async function loadQueue() {
  // What the stream or a reply brings while the list is on its way may be newer than the list.
  const heard = [];
  reloads.add(heard);
  try {
    const pages = await Promise.all(LOADED_STATES.map(fetchState));
    alarms.clear();
    for (const alarm of pages.flat()) alarms.set(alarm.id, alarm);
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
  const opened = new WebSocket(`${scheme}://${location.host}/api/stream${query}`);
  socket = opened;
  opened.onopen = async () => {
    retryDelay = 500;
    setConnection(true);
    // Reload after (re)connecting so that nothing committed while offline is missed.
    try { await loadQueue(); } catch (err) { console.error(err); }
  };
  opened.onmessage = (message) => {
    const { event, alarm } = JSON.parse(message.data);
    remember(alarm);
    renderQueue(event === "alarm.created" ? alarm.id : undefined);
    announce(event, alarm);
    if (alarm.id === selectedId) { renderDetail(); refreshDetail(); }
  };
  opened.onclose = (closed) => {
    if (socket !== opened) return; // replaced on purpose (a new sign-in)
    setConnection(false);
    socket = null;
    if (closed.code === 4401) { sessionEnded(); return; }
    if (signedIn) setTimeout(connect, retryDelay);
    retryDelay = Math.min(retryDelay * 2, 10000);
  };
}

function reconnect() {
  const old = socket;
  socket = null;
  old?.close();
  connect();
}

function showUser(who) {
  sessionStorage.setItem(USER_KEY, who.user);
  viaSession = who.via === "session";
  supervising = (who.permissions ?? []).includes("supervise_alarms");
  $("whoami").textContent = `${who.user} (${who.role})`;
  $("stats-link").hidden = !(who.permissions ?? []).includes("read_statistics");
  $("end-all").hidden = !viaSession;
  $("totp-setup").hidden = !viaSession || who.totp_enrolled;
}

function showQueue(who) {
  signedIn = true;
  showUser(who);
  for (const id of ["workspace", "logout", "sound", "shortcuts"]) $(id).hidden = false;
  presence.start(who);
  connect();
}

// The server no longer knows this session (or token). A session console locks, loudly, and
// keeps what it shows until someone signs in; a token console goes to the sign-in page.
function sessionEnded() {
  if (viaSession && signedIn) { presence.lock("ended"); return; }
  signOut(token() ? "token-refused" : "expired");
}

function unlocked(who) {
  showUser(who);
  reconnect(); // the stream belongs to the session it was opened with
}

// Leave for the sign-in page; a reason says why (see login.js).
function signOut(reason) {
  // A CSRF token kept in this tab means a session was open here: it has ended.
  const wasSignedIn = signedIn || sessionStorage.getItem(CSRF_KEY) !== null;
  signedIn = false;
  sessionStorage.removeItem(USER_KEY);
  const old = socket;
  socket = null;
  old?.close();
  toLogin(wasSignedIn || token() ? reason : undefined);
}

async function endSession(path) {
  try {
    if (!token()) await api(path, { method: "POST" });
  } finally {
    signOut("signed-out");
  }
}

const presence = attachPresence({ onUnlock: unlocked, summary: waitingSummary });
const snapshot = attachSnapshot();
const siteRecord = attachSiteRecord({
  write: (id, label, request) => write(id, "call-message", "record a call on", label, request),
  say: (text, kind) => showMessage("call-message", text, kind),
});
whenUnauthorized(sessionEnded);
$("logout").addEventListener("click", () => endSession("/api/logout"));
$("end-all").addEventListener("click", () => endSession("/api/sessions/end-all"));
attachSoundButton($("sound"));
startAlerts(waitingPriority);
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
setInterval(() => {
  tickDeadlines();
  queue.tick();
  const alarm = current();
  if (alarm) renderMuted(alarm);
}, 1000);

takeTokenFromHash();
whoAmI().then(showQueue).catch((err) => {
  if (err.status !== 401) $("start-error").textContent = String(err.message || err);
});
