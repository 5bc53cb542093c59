// The phone page of staff on duty: reports that survive a lost signal, and the unit's status.
//
// A report gets its report_id (a UUID) when it is typed and is kept in localStorage until the
// server has stored it; it is sent at once, again on every "online" event and on every load.
// The server stores a report_id once, so a resend after a lost reply is harmless: the report
// is stored exactly once however often the page sends it. The type of each report is chosen
// by the guard every time: the list never defaults to one (a default would be sent unread).
//
// The unit comes over a WebSocket (/api/units/mine/stream): a dispatch shows at once, with a
// tone and a vibration that repeat until the guard acknowledges it. Phones allow sound and
// vibration only after a tap on the page: until then a button asks for one.
const TOKEN_KEY = "watchfloor.patrol.token";
const QUEUE_KEY = "watchfloor.patrol.queue";
const TYPES_KEY = "watchfloor.patrol.types";
const MAX_PHOTO = 2_000_000;
const ALERT_REPEAT_MS = 15000;
const VIBRATION = [400, 200, 400, 200, 400];

const $ = (id) => document.getElementById(id);
const token = () => localStorage.getItem(TOKEN_KEY);
const load = (key, fallback) => JSON.parse(localStorage.getItem(key) ?? "null") ?? fallback;
const save = (key, value) => localStorage.setItem(key, JSON.stringify(value));

async function call(path, { method = "GET", body } = {}) {
  const init = { method, headers: { Authorization: `Bearer ${token()}` } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  let payload = null;
  try { payload = await response.json(); } catch { payload = null; }
  if (response.status === 401) signOut();
  if (!response.ok) {
    const error = new Error(payload?.detail ? String(payload.detail) : `HTTP ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return payload;
}

// -- reports and their queue ------------------------------------------------------------------

let position = null;
let flushing = false;

function render() {
  const list = $("reports");
  list.replaceChildren(...load(QUEUE_KEY, []).map((item) => {
    const li = document.createElement("li");
    li.dataset.state = item.state;
    li.dataset.reportId = item.report.report_id;
    const what = document.createElement("span");
    what.textContent = `${item.label} - ${item.report.site ?? "my position"}`;
    const state = document.createElement("span");
    state.className = "state";
    state.textContent = item.state === "sent" ? `sent (alarm ${item.alarmId ?? "-"})`
      : item.state === "refused" ? `refused: ${item.error}` : "queued";
    li.append(what, state);
    return li;
  }));
  $("outbox").hidden = list.children.length === 0;
}

function update(reportId, change) {
  save(QUEUE_KEY, load(QUEUE_KEY, []).map(
    (item) => (item.report.report_id === reportId ? { ...item, ...change } : item)));
  render();
}

async function flush() {
  if (flushing || !token()) return;
  flushing = true;
  try {
    for (const item of load(QUEUE_KEY, []).filter((entry) => entry.state === "queued")) {
      try {
        const stored = await call("/api/reports", { method: "POST", body: item.report });
        update(item.report.report_id, { state: "sent", alarmId: stored.alarm_id });
      } catch (err) {
        // No answer (offline) or the server could not store it (503): keep it queued.
        if (err.status && err.status >= 400 && err.status < 500 && err.status !== 401) {
          update(item.report.report_id, { state: "refused", error: err.message });
        } else {
          break;
        }
      }
    }
  } finally {
    flushing = false;
  }
  const sent = load(QUEUE_KEY, []);
  if (sent.length > 20) save(QUEUE_KEY, sent.filter((e, i) => e.state === "queued" || i >= sent.length - 20));
}

function readPhoto(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(",", 2)[1]);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

async function submitReport(event) {
  event.preventDefault();
  $("report-error").textContent = "";
  if (!$("type").value) {
    $("report-error").textContent = "Choose what you found.";
    $("type").focus();
    return;
  }
  const site = $("site").value.trim();
  if (!site && !position) {
    $("report-error").textContent = "Give the site, or use your position.";
    $("site").focus();
    return;
  }
  const file = $("photo").files[0];
  if (file && file.size > MAX_PHOTO) {
    $("report-error").textContent = "The photo is larger than 2 MB.";
    return;
  }
  const report = {
    report_id: crypto.randomUUID(),
    type_code: Number($("type").value),
    text: $("text").value.trim() || null,
  };
  if (site) report.site = site;
  else Object.assign(report, position);
  if (file) report.photo = await readPhoto(file);
  const label = $("type").selectedOptions[0]?.textContent ?? String(report.type_code);
  save(QUEUE_KEY, [...load(QUEUE_KEY, []), { report, label, state: "queued" }]);
  $("report").reset();
  position = null;
  $("position").textContent = "";
  render();
  await flush();
}

function locate() {
  if (!navigator.geolocation) {
    $("position").textContent = "This phone cannot give a position; type the site.";
    return;
  }
  $("position").textContent = "Finding your position...";
  navigator.geolocation.getCurrentPosition(
    (found) => {
      position = { latitude: found.coords.latitude, longitude: found.coords.longitude };
      $("position").textContent =
        `Position ${position.latitude.toFixed(5)}, ${position.longitude.toFixed(5)}`;
    },
    () => { $("position").textContent = "No position (not allowed or not found); type the site."; },
    { enableHighAccuracy: true, timeout: 15000 },
  );
}

async function loadTypes() {
  let types = load(TYPES_KEY, []);
  try {
    const fresh = (await call("/api/alarm-types")).items.filter((t) => t.raises_alarm);
    types = fresh.map((t) => ({ code: t.code, name: t.name }));
    save(TYPES_KEY, types);
  } catch { /* offline: the list kept from last time */ }
  // The placeholder is the default: the form's reset after each report comes back to it.
  const placeholder = new Option("Choose what you found", "", true, true);
  placeholder.disabled = true;
  $("type").replaceChildren(placeholder,
    ...types.map((t) => new Option(`${t.code} ${t.name}`, String(t.code))));
}

// -- my unit, pushed -----------------------------------------------------------------------------

let unit = null;
let stream = null;
let retryDelay = 1000;
let audio = null;
let alerting = null;

function showUnit(shown) {
  unit = shown ?? null;
  $("unit").hidden = unit === null;
  if (unit === null) { stopAlert(); return; }
  $("unit-name").textContent = unit.name;
  $("unit-status").textContent = unit.status.replace("_", " ");
  for (const button of document.querySelectorAll("[data-status]")) {
    button.setAttribute("aria-pressed", String(button.dataset.status === unit.status));
  }
  const dispatch = unit.dispatch;
  $("dispatch").hidden = dispatch === null;
  if (!dispatch) { stopAlert(); return; }
  const zone = dispatch.zone_name ?? (dispatch.zone ? `zone ${dispatch.zone}` : null);
  $("dispatch-text").textContent = `Go to ${dispatch.site ?? "?"}${zone ? `, ${zone}` : ""}: ` +
    `${dispatch.type_name ?? "alarm"} (priority ${dispatch.priority ?? "?"})`;
  // The site's address comes with the dispatch once site records are kept (issue #13).
  $("dispatch-where").textContent = dispatch.address ?? "";
  $("acknowledge").hidden = dispatch.acknowledged_at !== null;
  if (dispatch.acknowledged_at === null) startAlert(dispatch.id); else stopAlert();
}

/** The unit to show of those the guard reports for: the one sent somewhere, if any. */
function pickUnit(units) {
  return units.find((u) => u.dispatch && u.dispatch.acknowledged_at === null)
    ?? units.find((u) => u.dispatch) ?? units[0];
}

async function refreshUnit() {
  try {
    showUnit(pickUnit((await call("/api/units/mine")).items));
  } catch { /* the stream brings it when the signal returns */ }
}

function showLive(live) {
  $("live").dataset.live = String(live);
  $("live").textContent = live ? "live" : "reconnecting...";
}

function connectUnit() {
  if (stream || !token()) return;
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const url = `${scheme}://${location.host}/api/units/mine/stream?token=${encodeURIComponent(token())}`;
  stream = new WebSocket(url);
  stream.onopen = () => { retryDelay = 1000; showLive(true); };
  stream.onmessage = (message) => { showUnit(pickUnit(JSON.parse(message.data).items)); };
  stream.onclose = (closed) => {
    stream = null;
    showLive(false);
    if (closed.code === 4401) { signOut(); return; }
    if (closed.code === 4403) return; // not a crew's token: no unit to follow
    if (token()) setTimeout(connectUnit, retryDelay);
    retryDelay = Math.min(retryDelay * 2, 30000);
  };
}

// Sound and vibration: phones allow both only after a tap on the page.
function unlockAlerts() {
  try {
    audio ??= new AudioContext();
    if (audio.state === "suspended") audio.resume().then(showAlertsButton, () => {});
  } catch { /* no Web Audio: vibration and the banner remain */ }
  showAlertsButton();
}

function showAlertsButton() {
  $("alerts").hidden = audio !== null && audio.state === "running";
}

function tone() {
  if (!audio || audio.state !== "running") return;
  const start = audio.currentTime;
  for (const [offset, pitch] of [[0, 880], [0.25, 660], [0.5, 880]]) {
    const oscillator = audio.createOscillator();
    const gain = audio.createGain();
    oscillator.frequency.value = pitch;
    gain.gain.setValueAtTime(0.4, start + offset);
    gain.gain.exponentialRampToValueAtTime(0.001, start + offset + 0.22);
    oscillator.connect(gain).connect(audio.destination);
    oscillator.start(start + offset);
    oscillator.stop(start + offset + 0.22);
  }
}

function alertOnce() {
  tone();
  if (navigator.vibrate) navigator.vibrate(VIBRATION);
}

function startAlert(dispatchId) {
  if (alerting?.dispatchId === dispatchId) return;
  stopAlert();
  alertOnce();
  alerting = { dispatchId, timer: setInterval(alertOnce, ALERT_REPEAT_MS) };
}

function stopAlert() {
  if (alerting) clearInterval(alerting.timer);
  alerting = null;
}

async function reportStatus(status) {
  $("unit-error").textContent = "";
  try {
    showUnit(await call(`/api/units/${unit.id}/status`, { method: "POST", body: { status } }));
  } catch (err) {
    $("unit-error").textContent = err.message;
    await refreshUnit();
  }
}

async function acknowledge() {
  $("unit-error").textContent = "";
  stopAlert();
  try {
    await call(`/api/dispatches/${unit.dispatch.id}/acknowledge`, { method: "POST" });
  } catch (err) {
    $("unit-error").textContent = err.message;
  }
  await refreshUnit();
}

// -- start ---------------------------------------------------------------------------------------

function showNetwork() {
  $("network").dataset.online = String(navigator.onLine);
  $("network").textContent = navigator.onLine ? "online" : "offline";
}

function signOut() {
  localStorage.removeItem(TOKEN_KEY);
  stopAlert();
  stream?.close();
  $("signin").hidden = false;
  $("report").hidden = true;
  $("unit").hidden = true;
}

async function start() {
  $("signin").hidden = true;
  $("report").hidden = false;
  render();
  showAlertsButton();
  await loadTypes();
  connectUnit();
  await flush();
}

$("signin").addEventListener("submit", (event) => {
  event.preventDefault();
  localStorage.setItem(TOKEN_KEY, $("token").value.trim());
  unlockAlerts();
  start();
});
$("report").addEventListener("submit", submitReport);
$("locate").addEventListener("click", locate);
$("acknowledge").addEventListener("click", acknowledge);
$("alerts").addEventListener("click", unlockAlerts);
// Any first tap unlocks them too; on "click", not "pointerdown", so that the alert button's
// going away does not move the page under the finger before the tap lands.
document.addEventListener("click", unlockAlerts, { once: true });
for (const button of document.querySelectorAll("[data-status]")) {
  button.addEventListener("click", () => reportStatus(button.dataset.status));
}
window.addEventListener("online", () => { showNetwork(); flush(); connectUnit(); });
window.addEventListener("offline", showNetwork);
// The outbox is retried now and then too (a report refused by a 503 waits for no event).
setInterval(() => { if (token()) flush(); }, 30000);

const fromLink = /(?:^#|&)token=([^&]+)/.exec(location.hash);
if (fromLink) {
  localStorage.setItem(TOKEN_KEY, decodeURIComponent(fromLink[1]));
  history.replaceState(null, "", location.pathname);
}
showNetwork();
if (token()) start(); else signOut();
