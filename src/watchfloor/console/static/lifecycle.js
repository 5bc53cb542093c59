// The alarm lifecycle as the console needs it: which actions a state allows (to enable buttons;
// the server still checks every request), and what a refusal means, in plain words.
import { ApiError } from "./api.js";

export const OPEN_STATES = new Set(["new", "acknowledged", "dispatched", "held"]);

/** P1 and P2 flash and sound until acknowledged. */
export const ALERT_PRIORITY = 2;

/** action -> (alarm, user) -> whether the action fits; `user` is null until known. */
export const ALLOWED = {
  acknowledge: (a) => a.state === "new",
  dispatch: (a) => a.state === "acknowledged",
  hold: (a) => a.state === "acknowledged" || a.state === "dispatched",
  resume: (a) => a.state === "held",
  resolve: (a) => OPEN_STATES.has(a.state),
  close: (a) => a.state === "resolved",
  reopen: (a) => a.state === "resolved" || a.state === "closed",
  claim: (a, user) => OPEN_STATES.has(a.state) && (a.claimed_by === null || a.claimed_by !== user),
  release: (a) => OPEN_STATES.has(a.state) && a.claimed_by !== null,
  mute: (a) => a.state === "new",
};

export const DONE_WORDS = {
  acknowledge: "Acknowledged", dispatch: "Dispatched", hold: "Put on hold", resume: "Resumed",
  resolve: "Resolved", close: "Closed", reopen: "Reopened", claim: "Claimed", release: "Released",
  mute: "Muted for 1 minute",
};

const firstAt = new WeakMap(); // alarm -> its first signal's time in ms, parsed once

function firstAtOf(alarm) {
  let at = firstAt.get(alarm);
  if (at === undefined) { at = Date.parse(alarm.first_at); firstAt.set(alarm, at); }
  return at;
}

/** Queue order: priority, then the oldest (the longest waiting) first. */
export function compareAlarms(a, b) {
  return a.priority - b.priority || firstAtOf(a) - firstAtOf(b) || a.id - b.id;
}

/** Whether the alarm waits for an acknowledgement. */
export function isAlerting(alarm) {
  return alarm.state === "new" && alarm.priority <= ALERT_PRIORITY;
}

/**
 * Whether the alarm is past its acknowledgement deadline. The server says so in `overdue` as
 * of its last change; a deadline that passes after it is read from the clock, so that the row
 * turns red at the deadline, not when the escalation timer next runs.
 */
export function isOverdue(alarm, now = Date.now()) {
  if (alarm.overdue === true) return true;
  if (alarm.state !== "new") return false;
  return alarm.escalation_count > 0 ||
    (alarm.ack_deadline !== null && alarm.ack_deadline !== undefined &&
     Date.parse(alarm.ack_deadline) <= now);
}

/** Who has been told so far, in a few words ("" when nobody beyond the console). */
export function escalationText(alarm) {
  if (alarm.escalation_level) return `⬆ ${alarm.escalation_level}`;
  return alarm.escalation_count > 0 ? `⬆ escalated ${alarm.escalation_count}×` : "";
}

const steps = (numbers) => `${numbers.length === 1 ? "step" : "steps"} ${numbers.join(", ")}`;

/** What a failed request means for the operator; `action` is what they tried. */
export function describeError(err, action, supervising = false) {
  if (!(err instanceof ApiError)) return "No connection to the server: nothing was saved. Try again.";
  const { status, body } = err;
  // The alarm's state or a unit's status refused it: the server's words name which.
  if (action === "dispatch units to" && status === 409) return `Not dispatched: ${body.detail}.`;
  if (body.error === "sop_incomplete") {
    return `Procedure not complete: ${steps(body.missing_steps ?? [])}. ` +
      (supervising ? "Tick them first, or resolve anyway with a reason below."
        : "Tick them first, or ask a supervisor to resolve it anyway.");
  }
  if (body.error === "invalid_transition") {
    const state = body.state ?? "changed";
    if (action === "acknowledge") return `Already acknowledged by someone else — now: ${state}`;
    if (action === "resolve" && state === "resolved") return `Already resolved by someone else — now: ${state}`;
    if (!OPEN_STATES.has(state)) return `This alarm is no longer open — now: ${state}`;
    return `Cannot ${action} this alarm: someone else changed it — now: ${state}`;
  }
  if (body.error === "conflict") {
    const holder = /held by (.+)$/.exec(body.detail ?? "");
    if (holder) return `Held by ${holder[1]} — only a supervisor can take it over.`;
    return "Someone else changed this alarm at the same moment: check it and try again.";
  }
  if (status === 401) return "Token refused: sign in again.";
  if (status === 403) return `Not allowed: ${body.detail ?? "your role may not do this"}.`;
  if (action === "record a call on" && status === 404) return `Not recorded: ${body.detail}.`;
  if (status === 404) return "This alarm no longer exists.";
  if (status === 422) return `Not accepted: ${body.detail ?? "invalid request"}`;
  if (status === 503) return "The server cannot save right now (store unavailable): nothing was saved. Try again.";
  return `The server failed (HTTP ${status}): nothing was saved. Try again; if it persists, tell the supervisor.`;
}
