// What the source said, first in the alarm's detail: the panel's event text and zone, the
// caller's words and callback number, the guard's report; newest signal first. Everything is
// set as text, never as markup: it comes from panels, cameras and people.
import { formatTime } from "./format.js";

const SOURCES = {
  dc09: "Panel", hikvision: "Camera", onvif: "Camera", frigate: "Camera (Frigate)",
  patrol: "Guard's report", call: "Call", supervision: "Supervision",
};

/** Signals listed in full; older ones are counted (all stay in the raw list below). */
const SHOWN = 5;

// DC-09 extended data blocks, by their first letter.
const EXTENSIONS = { X: "longitude", Y: "latitude", V: "image", M: "MAC", I: "info",
                     H: "panel time", R: "room", K: "key" };

export function describeExtensions(blocks) {
  if (!blocks?.length) return "–";
  return blocks.map((block) => {
    const label = EXTENSIONS[block[0]];
    return label ? `${label} ${block.slice(1)}` : block;
  }).join(" · ");
}

// Calls and reports keep their submission as JSON in `raw` (written by our own API).
function submitted(signal) {
  if (signal.source !== "call" && signal.source !== "patrol") return {};
  try { return JSON.parse(signal.raw) ?? {}; } catch { return {}; }
}

function line(label, text, className) {
  const div = document.createElement("div");
  div.className = `said ${className ?? ""}`.trim();
  const term = document.createElement("span");
  term.className = "said-label";
  term.textContent = label;
  const value = document.createElement("span");
  value.className = "said-text";
  value.textContent = text;
  div.append(term, " ", value);
  return div;
}

function zoneText(alarm, signal) {
  if (!signal.zone) return null;
  return signal.zone === alarm.zone && alarm.zone_name
    ? `${signal.zone} — ${alarm.zone_name}` : signal.zone;
}

function signalItem(alarm, signal) {
  const li = document.createElement("li");
  li.dataset.source = signal.source;
  const head = document.createElement("div");
  head.className = "said-head";
  head.textContent = `${formatTime(signal.received_at)} · ${SOURCES[signal.source] ?? signal.source}` +
    ` · ${signal.code_system} ${signal.code}${signal.restore ? " (restore)" : ""}`;
  li.append(head);
  const form = submitted(signal);
  if (signal.source === "call") {
    li.append(line("Caller said:", signal.text ?? form.report ?? "–", "words"));
    if (form.callback_number) li.append(line("Call back:", form.callback_number, "callback"));
    li.append(line("Taken by:", signal.device.replace(/^call-taker:/, "")));
  } else if (signal.source === "patrol") {
    li.append(line("Guard reported:", signal.text ?? "(no words)", "words"));
    li.append(line("Guard:", signal.device.replace(/^patrol:/, "")));
    if (form.photo) li.append(line("Photo:", "beside the facts below"));
  } else if (signal.text) {
    li.append(line("Event text:", signal.text, "words"));
  }
  const zone = zoneText(alarm, signal);
  if (zone) li.append(line("Zone:", zone));
  if (signal.ext?.length) li.append(line("Data:", describeExtensions(signal.ext)));
  return li;
}

/** Show what the alarm's signals said (`signals` oldest first, as the API gives them). */
export function renderEvent(alarm, signals) {
  const list = document.getElementById("event-list");
  const newest = [...(signals ?? [])].reverse();
  list.replaceChildren(...newest.slice(0, SHOWN).map((signal) => signalItem(alarm, signal)));
  const more = document.getElementById("event-more");
  more.hidden = newest.length <= SHOWN;
  more.textContent = `${newest.length - SHOWN} earlier signals: see "Signals as received".`;
  document.getElementById("event-none").hidden = signals === null || newest.length > 0;
}
