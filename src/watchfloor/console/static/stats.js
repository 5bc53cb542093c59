// Supervisor statistics: counts, time to acknowledge/resolve and false-alarm rates, as bars.
import { authenticated, toLogin, token } from "./api.js";

const $ = (id) => document.getElementById(id);

function localInput(date) {
  const shifted = new Date(date.getTime() - date.getTimezoneOffset() * 60000);
  return shifted.toISOString().slice(0, 16);
}

function query(format) {
  const from = new Date($("from").value).toISOString();
  const to = new Date($("to").value).toISOString();
  const params = new URLSearchParams({ from, to, by: $("by").value, format });
  // Exports are audited with the reason given (the server refuses one without).
  if (format === "csv") params.set("reason", $("reason").value.trim());
  return `/api/stats?${params}`;
}

async function get(path) {
  const response = await fetch(path, authenticated());
  if (response.status === 401) toLogin(token() ? "token-refused" : undefined);
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    throw new Error(body.detail || `HTTP ${response.status}`);
  }
  return response;
}

const seconds = (value) => (value === null ? "–" : `${Math.round(value)} s`);
const triple = (d) => `${seconds(d.p50)} / ${seconds(d.p90)} / ${seconds(d.p99)}`;
const percent = (value) => (value === null ? "–" : `${(value * 100).toFixed(1)} %`);

function cell(text) {
  const td = document.createElement("td");
  td.textContent = text;
  return td;
}

function bar(value, max, className, title) {
  const div = document.createElement("div");
  div.className = `bar ${className}`;
  div.style.width = `${max ? (100 * value) / max : 0}%`;
  div.title = title;
  return div;
}

function render(stats) {
  const { rows, total } = stats;
  $("summary").textContent = `${total.alarms} alarms, ${total.acknowledged} acknowledged, ` +
    `${total.resolved} resolved, false-alarm rate ${percent(total.false_rate)}, ` +
    `${total.escalations} escalations; time to acknowledge p50 ${seconds(total.to_acknowledge.p50)}.`;
  const maxCount = Math.max(0, ...rows.map((r) => r.alarms));
  const maxAck = Math.max(0, ...rows.map((r) => r.to_acknowledge.p50 ?? 0));
  $("chart").replaceChildren(...rows.map((row) => {
    const line = document.createElement("div");
    line.className = "bar-row";
    const label = document.createElement("span");
    label.className = "bar-label";
    label.textContent = row.label;
    line.append(label, bar(row.alarms, maxCount, "count", `${row.alarms} alarms`),
      bar(row.to_acknowledge.p50 ?? 0, maxAck, "ack", `ack p50 ${seconds(row.to_acknowledge.p50)}`));
    return line;
  }));
  $("table").tBodies[0].replaceChildren(...[...rows, total].map((row) => {
    const tr = document.createElement("tr");
    tr.append(cell(row.label), cell(row.alarms), cell(row.acknowledged), cell(row.resolved),
      cell(percent(row.false_rate)), cell(row.escalations), cell(triple(row.to_acknowledge)),
      cell(triple(row.to_resolve)));
    return tr;
  }));
}

async function show() {
  $("error").textContent = "";
  try {
    render(await (await get(query("json"))).json());
  } catch (err) {
    $("error").textContent = String(err.message || err);
  }
}

async function exportCsv() {
  try {
    const response = await get(query("csv"));
    const link = document.createElement("a");
    link.href = URL.createObjectURL(await response.blob());
    link.download = `watchfloor-stats-${$("by").value}.csv`;
    link.click();
    URL.revokeObjectURL(link.href);
  } catch (err) {
    $("error").textContent = String(err.message || err);
  }
}

// The inputs hold whole minutes: "to" is the next minute, so that alarms of the current
// minute are included.
const now = new Date(Math.ceil(Date.now() / 60000) * 60000);
$("to").value = localInput(now);
$("from").value = localInput(new Date(now.getTime() - 24 * 3600 * 1000));
$("filters").addEventListener("submit", (event) => { event.preventDefault(); show(); });
$("csv").addEventListener("click", exportCsv);
show();
