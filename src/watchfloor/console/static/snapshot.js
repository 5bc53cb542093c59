// The picture beside the selected alarm: the newest snapshot stored with its signals.
// An <img src> cannot send the bearer token, so the picture is fetched with it and shown
// through an object URL, released when another picture (or none) replaces it.
import { token } from "./api.js";

const pane = document.getElementById("detail");
const figure = document.getElementById("snapshot");
const image = document.getElementById("snapshot-image");
const caption = document.getElementById("snapshot-caption");
let shownFor = null; // "alarm id:signal id" of the picture on screen
let objectUrl = null;
let generation = 0;

async function fetchWithToken(path) {
  const response = await fetch(path, { headers: { Authorization: `Bearer ${token()}` } });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return response;
}

function clear() {
  shownFor = null;
  figure.hidden = true;
  image.removeAttribute("src");
  if (objectUrl) URL.revokeObjectURL(objectUrl);
  objectUrl = null;
}

async function refresh() {
  const alarmId = pane.hidden ? null : pane.dataset.alarmId;
  const mine = ++generation;
  if (!alarmId) { clear(); return; }
  try {
    const { items } = await (await fetchWithToken(`/api/alarms/${alarmId}/snapshots`)).json();
    if (mine !== generation) return;
    const newest = items.at(-1);
    if (!newest) { clear(); return; }
    const key = `${alarmId}:${newest.signal_id}`;
    if (key === shownFor) return;
    const blob = await (await fetchWithToken(newest.url)).blob();
    if (mine !== generation) return;
    if (objectUrl) URL.revokeObjectURL(objectUrl);
    objectUrl = URL.createObjectURL(blob);
    image.src = objectUrl;
    image.alt = `Picture of alarm #${alarmId} (signal ${newest.signal_id})`;
    caption.textContent = `Signal ${newest.signal_id} · ${new Date(newest.received_at).toLocaleString()}` +
      (items.length > 1 ? ` · newest of ${items.length}` : "");
    shownFor = key;
    figure.hidden = false;
  } catch {
    // No permission to read images, or the alarm is gone: no picture, nothing else breaks.
    if (mine === generation) clear();
  }
}

// Follow the console: another alarm selected, the pane closed, or a new signal listed.
new MutationObserver(refresh).observe(pane, { attributes: true, attributeFilter: ["data-alarm-id", "hidden"] });
new MutationObserver(refresh).observe(document.getElementById("signals"), { childList: true });
