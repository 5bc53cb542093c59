// Units for the selected alarm: the units an operator ticks to send (available ones; the others
// shown disabled with their status) and the alarm's dispatches with the times of each unit's
// progress. The lists are read again whenever the console reloads the alarm, which it does when
// the stream says the alarm changed (a dispatch, or a unit's progress on it). The Dispatch
// button follows the alarm's state as last heard; the server decides, and its refusal is shown.
import { api } from "./api.js";
import { formatTime } from "./format.js";

const DISPATCHABLE = new Set(["acknowledged", "dispatched"]);

/** A dispatch's progress, in order: the time it reached each step, and how the step reads. */
const PROGRESS = [
  ["dispatched_at", "dispatched"], ["acknowledged_at", "acknowledged"],
  ["en_route_at", "en route"], ["on_scene_at", "on scene"], ["cleared_at", "cleared"],
];

const $ = (id) => document.getElementById(id);
const words = (status) => status.replaceAll("_", " ");

/**
 * Wire the units part of the detail pane. `write(id, label, request, hooks)` runs a change the
 * way the console runs every change (in turn, its answer or refusal shown, the alarm reloaded);
 * `refuse(text)` shows why nothing was asked. Returns `render(alarm, full)` for each drawing of the detail (`full`: the alarm as last
 * fetched, or null) and `focus()` for the shortcut.
 */
export function attachDispatch({ write, refuse }) {
  const list = $("unit-list");
  const button = $("dispatch-units");
  const items = new Map(); // unit id -> its list item, kept so that focus and ticks stay put
  let alarm = null; // the alarm shown, as last drawn
  let loadedFrom = null; // the fetched alarm the lists were read for
  let generation = 0; // answers to an older read are dropped
  let sending = false;
  let units = [];

  function boxes() { return [...list.querySelectorAll("input[type=checkbox]")]; }
  function ticked() { return boxes().filter((box) => box.checked && !box.disabled); }

  function unitItem(unit) {
    const li = document.createElement("li");
    const label = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.value = String(unit.id);
    const name = document.createElement("span");
    name.className = "unit-name";
    const status = document.createElement("span");
    status.className = "unit-status";
    label.append(box, name, status);
    li.append(label);
    return li;
  }

  function drawUnits() {
    // `u` pressed while the register loads focuses the list: the first unit takes it once drawn;
    // a box moved into its place keeps the focus it had.
    const focused = document.activeElement;
    const keep = new Set(units.map((unit) => unit.id));
    for (const [id, li] of items) if (!keep.has(id)) { li.remove(); items.delete(id); }
    units.forEach((unit, index) => {
      let li = items.get(unit.id);
      if (!li) { li = unitItem(unit); items.set(unit.id, li); }
      const available = unit.status === "available";
      const box = li.querySelector("input");
      box.disabled = !available;
      if (!available) box.checked = false;
      li.dataset.status = unit.status;
      li.querySelector(".unit-name").textContent = unit.name;
      li.querySelector(".unit-status").textContent = words(unit.status);
      if (list.children[index] !== li) list.insertBefore(li, list.children[index] ?? null);
    });
    $("units-none").hidden = units.length > 0;
    if (focused === list) focus();
    else if (focused && list.contains(focused) && document.activeElement !== focused) focused.focus();
  }

  function drawDispatches(dispatches) {
    const names = new Map(units.map((unit) => [unit.id, unit.name]));
    $("dispatches").replaceChildren(...dispatches.map((dispatch) => {
      const tr = document.createElement("tr");
      tr.dataset.dispatchId = String(dispatch.id);
      const reached = PROGRESS.filter(([field]) => dispatch[field]).at(-1);
      tr.dataset.progress = reached[1];
      const cells = [["unit", names.get(dispatch.unit_id) ?? `unit ${dispatch.unit_id}`],
        ["progress", reached[1]],
        ...PROGRESS.map(([field]) => ["time", dispatch[field] ? formatTime(dispatch[field]) : "–"])];
      for (const [className, text] of cells) {
        const td = document.createElement("td");
        td.className = className;
        td.textContent = text;
        tr.append(td);
      }
      return tr;
    }));
    $("dispatches-none").hidden = dispatches.length > 0;
    $("dispatch-table").hidden = dispatches.length === 0;
  }

  async function load(id) {
    const mine = ++generation;
    try {
      const [found, register] = await Promise.all([
        api(`/api/alarms/${id}/dispatches`), api("/api/units"),
      ]);
      if (mine !== generation) return;
      units = register.items;
      drawUnits();
      drawDispatches(found.items);
      $("units-load").textContent = "";
    } catch (err) {
      if (mine === generation) $("units-load").textContent = `Units not shown: ${err.message}`;
    }
  }

  function drawButton() {
    button.disabled = sending || !alarm || !DISPATCHABLE.has(alarm.state);
  }

  function render(shown, full) {
    if (alarm?.id !== shown.id) {
      // Ticks belong to the alarm they were made for.
      for (const box of boxes()) box.checked = false;
      $("dispatches").replaceChildren();
      $("dispatches-none").hidden = false;
      $("dispatch-table").hidden = true;
      loadedFrom = null;
    }
    alarm = shown;
    drawButton();
    if (full && full !== loadedFrom) { loadedFrom = full; load(shown.id); }
  }

  // Asks the server whatever the console last heard: a refusal (409) says why, in its words.
  async function send() {
    if (!alarm || sending) return;
    const boxesTicked = ticked();
    const id = alarm.id;
    if (boxesTicked.length === 0) {
      refuse("Tick the units to send first.");
      focus();
      return;
    }
    const names = boxesTicked.map((box) => box.closest("li").querySelector(".unit-name").textContent);
    sending = true;
    drawButton();
    await write(id, `Dispatched ${names.join(", ")}`, () => api(`/api/alarms/${id}/dispatch-units`, {
      method: "POST", body: { unit_ids: boxesTicked.map((box) => Number(box.value)) },
    }), {
      onSuccess: () => { for (const box of boxesTicked) box.checked = false; },
    });
    sending = false;
    drawButton();
    // A refusal may come from a unit sent elsewhere meanwhile: show the register as it is.
    if (alarm?.id === id) load(id);
  }

  function focus() {
    const first = boxes().find((box) => !box.disabled) ?? boxes()[0];
    (first ?? list).focus();
  }

  function onListKey(event) {
    const enabled = boxes().filter((box) => !box.disabled);
    const at = enabled.indexOf(event.target);
    if (event.key === "Enter") {
      event.preventDefault();
      send();
    } else if ((event.key === "ArrowDown" || event.key === "ArrowUp") && at >= 0) {
      // Within the list the arrows move between units, not between alarms.
      event.preventDefault();
      event.stopPropagation();
      const next = at + (event.key === "ArrowDown" ? 1 : -1);
      enabled[Math.min(enabled.length - 1, Math.max(0, next))].focus();
    }
  }

  list.addEventListener("keydown", onListKey);
  button.addEventListener("click", send);
  return { render, focus };
}
