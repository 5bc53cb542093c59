// The operator console v0: the live queue of open alarms, highest priority first, then newest.
const OPEN_STATES = new Set(["new", "acknowledged", "dispatched"]);
const TOKEN_KEY = "watchfloor.token";
const alarms = new Map();
let socket = null;
let retryDelay = 500;

const $ = (id) => document.getElementById(id);

function token() { return sessionStorage.getItem(TOKEN_KEY); }

function takeTokenFromHash() {
  const match = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (match) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]));
    history.replaceState(null, "", location.pathname);
  }
}

async function api(path) {
  const response = await fetch(path, { headers: { Authorization: `Bearer ${token()}` } });
  if (response.status === 401) { signOut("Token refused: sign in again."); throw new Error("401"); }
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

function compareAlarms(a, b) {
  return a.priority - b.priority || b.id - a.id;
}

function cell(text, className) {
  const td = document.createElement("td");
  if (className) td.className = className;
  td.textContent = text ?? "–";
  return td;
}

function render(freshId) {
  const rows = [...alarms.values()].filter((a) => OPEN_STATES.has(a.state)).sort(compareAlarms);
  const body = $("alarms");
  body.replaceChildren(...rows.map((alarm) => {
    const tr = document.createElement("tr");
    tr.dataset.alarmId = alarm.id;
    tr.dataset.priority = alarm.priority;
    if (alarm.id === freshId) tr.classList.add("fresh");
    const p = cell("", "priority");
    const badge = document.createElement("span");
    badge.textContent = `P${alarm.priority}`;
    p.append(badge);
    tr.append(p, cell(`${alarm.type_code} ${alarm.type_name}`, "type"), cell(alarm.site),
      cell(alarm.device), cell(alarm.zone), cell(String(alarm.signal_count), "count"),
      cell(alarm.state, "state"), cell(new Date(alarm.last_at).toLocaleTimeString()));
    return tr;
  }));
  $("empty").hidden = rows.length > 0;
  $("counts").textContent = `${rows.length} open`;
}

function setConnection(online) {
  const badge = $("connection");
  badge.textContent = online ? "live" : "offline";
  badge.className = `status ${online ? "online" : "offline"}`;
}

async function loadQueue() {
  const page = await api("/api/alarms?limit=1000");
  alarms.clear();
  for (const alarm of page.items) alarms.set(alarm.id, alarm);
  render();
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(`${scheme}://${location.host}/api/stream?token=${encodeURIComponent(token())}`);
  socket.onopen = async () => {
    retryDelay = 500;
    setConnection(true);
    // Reload after (re)connecting so that nothing committed while offline is missed.
    try { await loadQueue(); } catch (err) { console.error(err); }
  };
  socket.onmessage = (message) => {
    const { event, alarm } = JSON.parse(message.data);
    const known = alarms.get(alarm.id);
    if (!known || known.version <= alarm.version) alarms.set(alarm.id, alarm);
    render(event === "alarm.created" ? alarm.id : undefined);
  };
  socket.onclose = (closed) => {
    setConnection(false);
    socket = null;
    if (closed.code === 4401) { signOut("Token refused: sign in again."); return; }
    if (token()) setTimeout(connect, retryDelay);
    retryDelay = Math.min(retryDelay * 2, 10000);
  };
}

function showQueue() {
  $("login").hidden = true;
  $("queue").hidden = false;
  $("logout").hidden = false;
  connect();
}

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  if (socket) socket.close();
  alarms.clear();
  $("queue").hidden = true;
  $("logout").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message ?? "";
}

$("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $("token").value.trim());
  try { await loadQueue(); showQueue(); } catch (err) { if (err.message !== "401") $("login-error").textContent = String(err); }
});
$("logout").addEventListener("click", () => signOut());

takeTokenFromHash();
if (token()) showQueue(); else signOut();
