// The alarm queue as the operator works it: filtered (priority, site, state, claimed by me,
// search by site or device), in order (priority, then the longest waiting first), the alarms
// of one device and priority grouped after the oldest of them, which folds the others away,
// and drawn as a window: only the rows on
// screen (and a few around them) are in the page, so that moving through a thousand alarms
// costs what moving through thirty does. The rows keep a fixed height for that; the window's
// place comes from the scroll position.
import { formatAge, formatTime } from "./format.js";
import {
  OPEN_STATES, compareAlarms, escalationText, isAlerting, isOverdue,
} from "./lifecycle.js";

const $ = (id) => document.getElementById(id);

/** Rows drawn beyond the visible ones, above and below, so that scrolling shows no gap. */
const OVERSCAN = 12;
/** The row height until one is measured; console.css draws rows of this height. */
const DEFAULT_ROW = 34;

const PRIORITY_RANGES = {
  all: [1, 5], 1: [1, 1], "1-2": [1, 2], "1-3": [1, 3], "4-5": [4, 5],
};

const COLUMNS = ["priority", "waiting", "type", "site", "device", "zone", "count", "state",
  "held", "escalation", "last"];

/**
 * Wire the queue. `alarms` is the console's map of alarms (id -> alarm); `selected()` the id
 * of the alarm shown in the detail (or null); `me()` the signed-in user; `onSelect(id)` opens
 * an alarm; `muted(id)` whether its tone is silenced.
 */
export function createQueue({ alarms, selected, me, onSelect, muted }) {
  const scroller = $("queue-scroll");
  const body = $("alarms");
  const padTop = $("pad-top").querySelector("td");
  const padBottom = $("pad-bottom").querySelector("td");
  const filter = { priority: "all", site: "", state: "open", mine: false, search: "" };
  const collapsed = new Set(); // group keys folded by the operator
  let view = []; // in order: {key, alarm, lead?: {key, members, folded}, grouped?}
  let order = []; // the ids of the alarms drawn, in view order (j and k walk it)
  let drawn = new Map(); // entry key -> row on the page
  let rowHeight = 0;
  let freshId = null;
  // The scroller's geometry, kept from its scroll and resize events: reading it from the page
  // while drawing would make the browser lay the whole page out again at every key press.
  const box = { top: 0, height: 1000, head: 0 };

  // ---- what is shown ---------------------------------------------------------------------

  function matches(alarm) {
    if (filter.state === "open" ? !OPEN_STATES.has(alarm.state) : alarm.state !== filter.state) {
      return false;
    }
    const [low, high] = PRIORITY_RANGES[filter.priority] ?? PRIORITY_RANGES.all;
    if (alarm.priority < low || alarm.priority > high) return false;
    if (filter.site && alarm.site !== filter.site) return false;
    if (filter.mine && (me() === null || alarm.claimed_by !== me())) return false;
    if (filter.search) {
      const haystack = `${alarm.site ?? ""}\n${alarm.device}\n${alarm.zone_name ?? ""}`.toLowerCase();
      if (!haystack.includes(filter.search)) return false;
    }
    return true;
  }

  // One device's alarms of one priority go together: a group never lifts a lower priority
  // above another device's more urgent alarm.
  const groupKey = (alarm) => `${alarm.priority}\u0000${alarm.site ?? ""}\u0000${alarm.device}`;

  function update(fresh) {
    if (fresh !== undefined) freshId = fresh;
    const shown = [];
    let hidden = 0;
    let hiddenAlerting = 0;
    for (const alarm of alarms.values()) {
      if (matches(alarm)) shown.push(alarm);
      else if (OPEN_STATES.has(alarm.state)) {
        hidden += 1;
        if (isAlerting(alarm)) hiddenAlerting += 1;
      }
    }
    shown.sort(compareAlarms);
    const byDevice = new Map();
    for (const alarm of shown) {
      const key = groupKey(alarm);
      if (!byDevice.has(key)) byDevice.set(key, []);
      byDevice.get(key).push(alarm);
    }
    const entries = [];
    const placed = new Set();
    for (const alarm of shown) {
      const key = groupKey(alarm);
      const members = byDevice.get(key);
      if (members.length < 2) { entries.push({ key: `a${alarm.id}`, alarm }); continue; }
      if (placed.has(key)) continue;
      placed.add(key);
      // The group stands where its most urgent alarm would; that one stays in sight when the
      // group is folded, with the count of the others.
      const folded = collapsed.has(key);
      entries.push({ key: `a${alarm.id}`, alarm, lead: { key, members, folded } });
      if (!folded) {
        for (const member of members.slice(1)) entries.push({ key: `a${member.id}`, alarm: member, grouped: true });
      }
    }
    view = entries;
    order = entries.map((e) => e.alarm.id);
    drawCounts(hidden, hiddenAlerting);
    draw();
  }

  function drawCounts(hidden, hiddenAlerting) {
    let open = 0;
    let waiting = 0;
    let overdue = 0;
    let resolved = 0;
    const sites = new Set();
    const now = Date.now();
    for (const alarm of alarms.values()) {
      if (alarm.site) sites.add(alarm.site);
      if (alarm.state === "resolved") resolved += 1;
      if (!OPEN_STATES.has(alarm.state)) continue;
      open += 1;
      if (alarm.state === "new") waiting += 1;
      if (isOverdue(alarm, now)) overdue += 1;
    }
    $("counts").textContent = `${open} open · ${waiting} not acknowledged` +
      (overdue ? ` · ${overdue} overdue` : "");
    $("counts").classList.toggle("overdue", overdue > 0);
    const toClose = $("to-close");
    toClose.hidden = resolved === 0 || filter.state === "resolved";
    toClose.textContent = `${resolved} resolved to close`;
    const note = $("filter-hidden");
    note.textContent = hidden === 0 ? "" : `${hidden} open alarms hidden by the filter` +
      (hiddenAlerting ? ` — ${hiddenAlerting} P1/P2 not acknowledged!` : "");
    note.classList.toggle("alert", hiddenAlerting > 0);
    $("filter-clear").hidden = !isFiltered();
    $("empty").hidden = view.length > 0;
    $("empty").textContent = isFiltered() ? "No alarm matches the filter." : "No open alarms.";
    fillSites(sites);
  }

  function fillSites(sites) {
    const select = $("filter-site");
    const wanted = ["", ...[...sites].sort((a, b) => a.localeCompare(b))];
    if (filter.site && !sites.has(filter.site)) wanted.push(filter.site);
    const have = [...select.options].map((o) => o.value);
    if (have.length === wanted.length && have.every((v, i) => v === wanted[i])) return;
    select.replaceChildren(...wanted.map((site) => {
      const option = document.createElement("option");
      option.value = site;
      option.textContent = site || "all sites";
      return option;
    }));
    select.value = filter.site;
  }

  function isFiltered() {
    return filter.priority !== "all" || filter.site !== "" || filter.state !== "open" ||
      filter.mine || filter.search !== "";
  }

  // ---- drawing the window ----------------------------------------------------------------

  function cell(className) {
    const td = document.createElement("td");
    td.className = className;
    return td;
  }

  function makeRow(id) {
    const tr = document.createElement("tr");
    tr.dataset.alarmId = id;
    for (const name of COLUMNS) tr.append(cell(name));
    tr.querySelector("td.priority").append(document.createElement("span"));
    tr.addEventListener("click", () => onSelect(id));
    tr.addEventListener("keydown", (event) => {
      if (event.key === "Enter") { event.preventDefault(); onSelect(id); }
    });
    tr.addEventListener("animationend", (event) => {
      if (event.animationName === "fresh") tr.classList.remove("fresh");
    });
    return tr;
  }

  function setText(td, value) {
    const shown = value ?? "–";
    if (td.textContent !== shown) td.textContent = shown;
  }

  function fillRow(tr, entry, now) {
    const { alarm, grouped, lead } = entry;
    const [p, , type, site, device, zone, count, state, held, escalation, last] = tr.children;
    tr.dataset.priority = alarm.priority;
    tr.dataset.state = alarm.state;
    setText(p.firstChild, `P${alarm.priority}`);
    setText(type, `${alarm.type_code} ${alarm.type_name}`);
    setText(site, alarm.site);
    fillDevice(device, alarm, lead);
    setText(zone, alarm.zone_name ? `${alarm.zone ?? ""} ${alarm.zone_name}`.trim() : alarm.zone);
    // A flood (one device above its rate) folds many alarms into this one: say so by the count.
    setText(count, alarm.flooded ? `${alarm.signal_count} ≋ flood` : String(alarm.signal_count));
    setText(state, alarm.state);
    setText(held, alarm.claimed_by);
    setText(escalation, escalationText(alarm) + (muted(alarm.id) ? " 🔇" : ""));
    setText(last, formatTime(alarm.last_at));
    for (const td of [type, site, zone]) if (td.title !== td.textContent) td.title = td.textContent;
    fillWaiting(tr, alarm, now);
    tr.classList.toggle("grouped", Boolean(grouped));
    tr.classList.toggle("lead", Boolean(lead));
    if (lead) tr.dataset.group = String(lead.members.length); else delete tr.dataset.group;
    // A row flashes from arrival until someone acknowledges (or resolves) the alarm.
    tr.classList.toggle("flash", isAlerting(alarm) || Boolean(lead?.folded && lead.members.some(isAlerting)));
    const isSelected = alarm.id === selected();
    tr.classList.toggle("selected", isSelected);
    if (isSelected) tr.setAttribute("aria-current", "true"); else tr.removeAttribute("aria-current");
    tr.tabIndex = isSelected ? 0 : -1;
    tr.setAttribute("aria-label",
      `P${alarm.priority} ${alarm.type_name}, ${alarm.site ?? "unknown site"}, ${alarm.state}` +
      (isOverdue(alarm, now) ? ", overdue" : "") +
      (alarm.claimed_by ? `, held by ${alarm.claimed_by}` : "") +
      (escalationText(alarm) ? `, ${escalationText(alarm).slice(2)}` : "") +
      (alarm.flooded ? ", flood: many alarms folded into this one" : ""));
  }

  // The first alarm of a device with several carries the fold: "▾ 4321 (3)" / "▸ 4321 +2".
  function fillDevice(td, alarm, lead) {
    if (!lead) {
      if (td.firstElementChild) td.replaceChildren();
      setText(td, alarm.device);
      td.title = alarm.device;
      return;
    }
    let button = td.querySelector("button");
    if (!button) {
      button = document.createElement("button");
      button.type = "button";
      button.className = "fold";
      button.tabIndex = -1;
      button.addEventListener("click", (event) => {
        event.stopPropagation();
        toggle(button.dataset.key);
      });
      td.replaceChildren(button);
    }
    const others = lead.members.length - 1;
    button.dataset.key = lead.key;
    button.setAttribute("aria-expanded", String(!lead.folded));
    const waiting = lead.members.filter((a) => a.state === "new").length;
    setText(button, lead.folded ? `▸ ${alarm.device} +${others}` : `▾ ${alarm.device} ${others + 1}`);
    td.title = `${lead.members.length} alarms of ${alarm.device}, ${waiting} not acknowledged: ` +
      `${lead.folded ? "unfold" : "fold"} with g or a click`;
  }

  // Waiting time since the first signal, coloured against the acknowledgement deadline.
  function fillWaiting(tr, alarm, now) {
    const td = tr.children[1];
    const first = Date.parse(alarm.first_at);
    setText(td, formatAge(now - first));
    let level = "idle";
    if (isOverdue(alarm, now)) level = "overdue";
    else if (alarm.state === "new" && alarm.ack_deadline) {
      const deadline = Date.parse(alarm.ack_deadline);
      level = (now - first) >= (deadline - first) / 2 ? "soon" : "ok";
    }
    if (td.dataset.level !== level) td.dataset.level = level;
    tr.classList.toggle("overdue", level === "overdue");
  }

  function measure(tr) {
    if (rowHeight) return;
    const height = tr.getBoundingClientRect().height;
    if (height > 0) rowHeight = height;
  }

  function draw() {
    const height = rowHeight || DEFAULT_ROW;
    const top = Math.max(0, box.top - box.head);
    const visible = Math.ceil((box.height || 1000) / height);
    const first = Math.max(0, Math.floor(top / height) - OVERSCAN);
    const last = Math.min(view.length, first + visible + 2 * OVERSCAN);
    const now = Date.now();
    const next = new Map();
    const want = [];
    for (let i = first; i < last; i += 1) {
      const entry = view[i];
      const tr = drawn.get(entry.key) ?? makeRow(entry.alarm.id);
      fillRow(tr, entry, now);
      if (entry.alarm.id === freshId) tr.classList.add("fresh");
      next.set(entry.key, tr);
      want.push(tr);
    }
    freshId = null;
    // Rows kept in place keep their flash rhythm and their click target.
    want.forEach((tr, index) => {
      if (body.children[index] !== tr) body.insertBefore(tr, body.children[index] ?? null);
    });
    while (body.children.length > want.length) body.lastElementChild.remove();
    drawn = next;
    padTop.style.height = `${first * height}px`;
    padBottom.style.height = `${(view.length - last) * height}px`;
    padTop.parentElement.hidden = first === 0;
    padBottom.parentElement.hidden = last === view.length;
    if (want.length) measure(want[0]);
  }

  /** Refresh the waiting times, overdue marks and counts (each second): time alone changes them. */
  function tick() { update(); }

  // ---- moving and folding ----------------------------------------------------------------

  /** The id `step` alarms away from the selected one in view order (the first if none). */
  function neighbour(step) {
    if (order.length === 0) return null;
    const at = order.indexOf(selected());
    if (at < 0) return order[0];
    return order[Math.min(order.length - 1, Math.max(0, at + step))];
  }

  /** Scroll so that the alarm's row is on screen. */
  function reveal(id) {
    const index = view.findIndex((e) => e.alarm.id === id);
    if (index < 0) return;
    const height = rowHeight || DEFAULT_ROW;
    const rowTop = index * height;
    const room = box.height - box.head;
    let top = box.top;
    // Off screen: bring it a third of the way down, with what comes next in sight, so that
    // walking on with j scrolls once a screen, not at every row.
    if (rowTop < top || rowTop + height > top + room) top = Math.max(0, rowTop - Math.floor(room / 3));
    if (top === box.top) return;
    box.top = top;
    scroller.scrollTop = top;
    draw();
  }

  function toggle(key) {
    if (collapsed.has(key)) collapsed.delete(key); else collapsed.add(key);
    update();
  }

  /** Fold or unfold the group of the given alarm (the `g` key). */
  function toggleGroupOf(id) {
    const alarm = alarms.get(id);
    if (!alarm) return;
    const key = groupKey(alarm);
    if (view.some((e) => e.lead?.key === key)) toggle(key);
  }

  // ---- the filter bar --------------------------------------------------------------------

  function readFilter() {
    filter.priority = $("filter-priority").value;
    filter.site = $("filter-site").value;
    filter.state = $("filter-state").value;
    filter.mine = $("filter-mine").checked;
    filter.search = $("filter-search").value.trim().toLowerCase();
    scroller.scrollTop = 0;
    box.top = 0;
    update();
  }

  function clearFilter() {
    $("filters").reset();
    $("filter-site").value = "";
    readFilter();
  }

  /** Show only resolved alarms (to close them), or the open ones again. */
  function showState(state) {
    $("filter-state").value = state;
    readFilter();
  }

  $("filters").addEventListener("input", readFilter);
  $("filters").addEventListener("submit", (event) => event.preventDefault());
  $("filter-clear").addEventListener("click", clearFilter);
  $("to-close").addEventListener("click", () => showState("resolved"));
  scroller.addEventListener("scroll", () => {
    if (box.top === scroller.scrollTop) return;
    box.top = scroller.scrollTop;
    draw();
  }, { passive: true });
  new ResizeObserver(([entry]) => {
    box.height = entry.contentRect.height;
    box.head = scroller.querySelector("thead").offsetHeight;
    rowHeight = 0;
    draw();
  }).observe(scroller);

  return { update, draw, tick, neighbour, reveal, toggleGroupOf, showState };
}
