// The alarm lifecycle as the console needs it: which actions a state allows (to enable buttons;
// the server still checks every request), and what a refusal means, in plain words.
import { ApiError } from "./api.js";

export const OPEN_STATES = new Set(["new", "acknowledged", "dispatched", "held"]);

/** P1 and P2 flash until acknowledged, and beep when they arrive or escalate. */
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
};

export const DONE_WORDS = {
  acknowledge: "Acknowledged", dispatch: "Dispatched", hold: "Put on hold", resume: "Resumed",
  resolve: "Resolved", close: "Closed", reopen: "Reopened", claim: "Claimed", release: "Released",
};

export function compareAlarms(a, b) {
  return a.priority - b.priority || b.id - a.id;
}

const steps = (numbers) => `${numbers.length === 1 ? "step" : "steps"} ${numbers.join(", ")}`;

/** What a failed request means for the operator; `action` is what they tried. */
export function describeError(err, action) {
  if (!(err instanceof ApiError)) return "No connection to the server: nothing was saved. Try again.";
  const { status, body } = err;
  // The alarm's state or a unit's status refused it: the server's words name which.
  if (action === "dispatch units to" && status === 409) return `Not dispatched: ${body.detail}.`;
  if (body.error === "sop_incomplete") {
    return `Procedure not complete: ${steps(body.missing_steps ?? [])}. ` +
      "Tick them first, or a supervisor can resolve anyway with a reason.";
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
  if (status === 404) return "This alarm no longer exists.";
  if (status === 422) return `Not accepted: ${body.detail ?? "invalid request"}`;
  if (status === 503) return "The server cannot save right now (store unavailable): nothing was saved. Try again.";
  return `The server failed (HTTP ${status}): nothing was saved. Try again; if it persists, tell the supervisor.`;
}
