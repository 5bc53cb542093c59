// The picture beside the selected alarm's facts: the newest snapshot stored with its signals
// (a camera's JPEG, a guard's photo). Fetched through the console's session or token as every
// other request (api.js) and shown through an object URL, released when another picture (or
// none) replaces it. The list is asked once per alarm and again only when a signal joins it;
// a refusal is remembered, so that it is never asked again in a loop (each request is audited).
import { api, authenticated } from "./api.js";
import { formatTime } from "./format.js";

const $ = (id) => document.getElementById(id);

export function attachSnapshot() {
  const figure = $("snapshot");
  const image = $("snapshot-image");
  const caption = $("snapshot-caption");
  const refused = new Set(); // alarms whose pictures we may not see
  let asked = null; // "alarm id:signal count" last asked for
  let shown = null; // "alarm id:signal id" on screen
  let objectUrl = null;
  let generation = 0;

  function clear() {
    shown = null;
    figure.hidden = true;
    image.removeAttribute("src");
    if (objectUrl) URL.revokeObjectURL(objectUrl);
    objectUrl = null;
  }

  async function load(alarmId, mine) {
    try {
      const { items } = await api(`/api/alarms/${alarmId}/snapshots`);
      if (mine !== generation) return;
      const newest = items.at(-1);
      if (!newest) { clear(); return; }
      const key = `${alarmId}:${newest.signal_id}`;
      if (key === shown) return;
      const response = await fetch(newest.url, authenticated());
      if (!response.ok) throw Object.assign(new Error(`HTTP ${response.status}`), { status: response.status });
      const blob = await response.blob();
      if (mine !== generation) return;
      if (objectUrl) URL.revokeObjectURL(objectUrl);
      objectUrl = URL.createObjectURL(blob);
      image.src = objectUrl;
      image.alt = `Picture of alarm #${alarmId} (signal ${newest.signal_id})`;
      caption.textContent = `Signal ${newest.signal_id} · ${formatTime(newest.received_at)}` +
        (items.length > 1 ? ` · newest of ${items.length}` : "");
      shown = key;
      figure.hidden = false;
    } catch (err) {
      // Not allowed, or gone: no picture, and no asking again for this alarm. (A 401 is the
      // session's end: the console locks, and this alarm is asked again once reselected.)
      if (err.status === 403 || err.status === 404) refused.add(alarmId);
      if (mine === generation) clear();
    }
  }

  /** Show the picture of the alarm with `signalCount` signals (null: no alarm selected). */
  function show(alarmId, signalCount) {
    const key = alarmId === null ? null : `${alarmId}:${signalCount}`;
    if (key === asked) return;
    asked = key;
    const mine = ++generation;
    if (alarmId === null || refused.has(alarmId)) { clear(); return; }
    if (shown && !shown.startsWith(`${alarmId}:`)) clear();
    load(alarmId, mine);
  }

  return { show };
}
