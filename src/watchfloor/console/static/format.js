// Times for people at a control-room desk: 24-hour clock, the date only when not today.
const pad = (n) => String(n).padStart(2, "0");

export function formatTime(iso) {
  if (!iso) return "–";
  const at = new Date(iso);
  const time = `${pad(at.getHours())}:${pad(at.getMinutes())}:${pad(at.getSeconds())}`;
  if (at.toDateString() === new Date().toDateString()) return time;
  return `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())} ${time}`;
}

export function formatSpan(ms) {
  const s = Math.round(Math.abs(ms) / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${pad(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${pad(Math.floor((s % 3600) / 60))} min`;
}

/** How long something has waited, compactly: "4:07", "1 h 05". */
export function formatAge(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 3600) return `${Math.floor(s / 60)}:${pad(s % 60)}`;
  return `${Math.floor(s / 3600)} h ${pad(Math.floor((s % 3600) / 60))}`;
}

/** Refresh every countdown (an element with data-deadline) on the page. */
export function tickDeadlines() {
  for (const el of document.querySelectorAll("[data-deadline]")) {
    const left = new Date(el.dataset.deadline) - Date.now();
    el.textContent = left >= 0 ? `in ${formatSpan(left)}` : `overdue by ${formatSpan(left)}`;
    el.classList.toggle("overdue", left < 0);
  }
}
