// Supervisor statistics: counts, time to acknowledge/resolve and false-alarm rates, as bars.
import { authenticated, toLogin, token } from "./api.js";

const $ = (id) => document.getElementById(id);

// The window is written in local time on the 24-hour clock, as the console shows times; a
// browser's date-time field would show the 12-hour clock of its locale instead.
const pad = (n) => String(n).padStart(2, "0");
const LOCAL_TIME = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})$/;

function localInput(date) {
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

function readTime(id, label) {
  const match = LOCAL_TIME.exec($(id).value.trim());
  const date = match && new Date(+match[1], match[2] - 1, +match[3], +match[4], +match[5]);
  if (!date || date.getMonth() !== match[2] - 1 || date.getDate() !== +match[3] ||
      date.getHours() !== +match[4] || date.getMinutes() !== +match[5]) {
    $(id).focus();
    throw new Error(`${label}: write a local time as YYYY-MM-DD HH:MM (24-hour), e.g. 2026-01-15 22:00.`);
  }
  return date.toISOString();
}

function query(format) {
  const from = readTime("from", "From");
  const to = readTime("to", "To");
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
  // No value (nothing acknowledged yet) is no bar, not a bar of zero.
  div.className = `bar ${className}${value === null ? " none" : ""}`;
  div.style.width = `${max && value !== null ? (100 * value) / max : 0}%`;
  div.title = title;
  return div;
}

// A round top for an axis: 1, 2 or 5 times a power of ten, at least `value`.
function niceMax(value) {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((m) => m * power).find((top) => top >= value);
}

const TICKS = 4;

function span(className, text) {
  const el = document.createElement("span");
  el.className = className;
  el.textContent = text;
  return el;
}

/** An axis under a column of bars: ticks at equal steps from 0 to `top`, and its title. */
function axis(top, unit, title) {
  const div = document.createElement("div");
  div.className = "axis";
  const ticks = document.createElement("div");
  ticks.className = "ticks";
  for (let i = 0; i <= TICKS; i += 1) {
    const value = (top * i) / TICKS;
    const shown = String(Number(value.toFixed(3))); // 0.25, 2.5, 250: no more digits than it has
    const tick = span("tick", `${shown}${unit}`);
    tick.style.left = `${(100 * i) / TICKS}%`;
    ticks.append(tick);
  }
  div.append(ticks, span("axis-title", title));
  return div;
}

const GROUPS = { type: "alarm type", site: "site", operator: "operator", hour: "hour of day (UTC)" };

function render(stats) {
  const { rows, total } = stats;
  $("summary").textContent = `${total.alarms} alarms, ${total.acknowledged} acknowledged, ` +
    `${total.resolved} resolved, false-alarm rate ${percent(total.false_rate)}, ` +
    `${total.escalations} escalations; time to acknowledge p50 ${seconds(total.to_acknowledge.p50)}.`;
  const maxCount = niceMax(Math.max(0, ...rows.map((r) => r.alarms)));
  const maxAck = niceMax(Math.max(0, ...rows.map((r) => r.to_acknowledge.p50 ?? 0)));
  const lines = rows.map((row) => {
    const line = document.createElement("div");
    line.className = "bar-row";
    line.append(span("bar-label", row.label),
      bar(row.alarms, maxCount, "count", `${row.alarms} alarms`),
      bar(row.to_acknowledge.p50, maxAck, "ack", `ack p50 ${seconds(row.to_acknowledge.p50)}`));
    return line;
  });
  const axes = document.createElement("div");
  axes.className = "bar-row axes";
  axes.append(span("axis-title group", `by ${GROUPS[$("by").value] ?? $("by").value}`),
    axis(maxCount, "", "alarms"), axis(maxAck, " s", "seconds to acknowledge (median)"));
  $("chart").replaceChildren(...lines, axes);
  $("chart").setAttribute("aria-label", `Bars per ${GROUPS[$("by").value]}: alarms from 0 to ` +
    `${maxCount}, median seconds to acknowledge from 0 to ${maxAck}`);
  $("table").tBodies[0].replaceChildren(...[...rows, total].map((row) => {
    const tr = document.createElement("tr");
    tr.append(cell(row.label), cell(row.alarms), cell(row.acknowledged), cell(row.resolved),
      cell(percent(row.false_rate)), cell(row.escalations), cell(triple(row.to_acknowledge)),
      cell(triple(row.to_resolve)));
    return tr;
  }));
}

let asked = 0; // an answer to an older question is not drawn over a newer one

async function show() {
  const mine = ++asked;
  $("error").textContent = "";
  try {
    const stats = await (await get(query("json"))).json();
    if (mine === asked) render(stats);
  } catch (err) {
    if (mine === asked) $("error").textContent = String(err.message || err);
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
