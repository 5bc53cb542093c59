// Someone at the desk. Three things follow from it:
// - the "start the console" prompt after every sign-in or reload: one key press, which is the
//   gesture browsers need before they play sound;
// - the lock after the session's idle time without a key press, click or mouse move. A locked
//   console keeps showing and sounding new alarms behind the lock, with a loud warning, until
//   someone signs in on it again: the room is never left with a console that went quiet;
// - the keep-alive: while the page is visible it uses the session (GET /api/me) a few times per
//   idle period, so that the server does not end the session of a console that is watched.
//   When the session ends all the same (its 12-hour limit, ended from elsewhere), the console
//   locks with a warning that repeats until someone signs in, and says that new alarms are not
//   being received.
// Consoles opened with an API token (wallboards) have no password to unlock with: they neither
// lock nor keep a session alive.
import { CSRF_KEY, LOCK_KEY, api, loginRefusal, postLogin } from "./api.js";
import { armSound, soundArmed, warn } from "./sound.js";

const $ = (id) => document.getElementById(id);

/** How often the warning repeats while the session has ended. */
const ENDED_WARNING_MS = 10000;
const ACTIVITY = ["keydown", "pointerdown", "pointermove", "wheel"];

const WORDS = {
  idle: {
    title: "Console locked",
    reason: (minutes) => `No key press or click for ${minutes}. New alarms still arrive and ` +
      "sound behind the lock. Sign in to go on working.",
  },
  ended: {
    title: "Session ended: new alarms are NOT being received",
    reason: () => "The server ended this console's session (its time limit, or it was ended " +
      "from elsewhere). Sign in now: the queue reloads and nothing that arrived meanwhile is lost.",
  },
};

function spell(ms) {
  const minutes = Math.round(ms / 60000);
  if (ms < 60000 || minutes < 1) return `${Math.round(ms / 1000)} seconds`;
  return minutes === 1 ? "1 minute" : `${minutes} minutes`;
}

/**
 * Wire the prompt and the lock. `onUnlock(me)` runs after a sign-in on the lock screen (the
 * new session's /api/login answer); `summary()` says, for the lock screen, what waits.
 */
export function attachPresence({ onUnlock, summary }) {
  let idleMs = null; // the session's idle time; null for a token (no lock, no keep-alive)
  let lastActivity = Date.now();
  let locked = null; // null, "idle" or "ended"
  let keepAlive = null;
  let repeating = null;

  // ---- the start prompt ------------------------------------------------------------------

  function onStartGesture(event) {
    if ($("start").hidden) return;
    // The key that starts the console is not also a shortcut.
    event.preventDefault();
    event.stopImmediatePropagation();
    armSound();
    $("start").hidden = true;
  }

  function prompt() {
    $("start").hidden = false;
    $("start-button").focus();
  }

  // ---- activity, lock and unlock ---------------------------------------------------------

  function touched() { if (!locked) lastActivity = Date.now(); }

  function check() {
    if (!locked && idleMs !== null && Date.now() - lastActivity >= idleMs) lock("idle");
  }

  /** Lock the console: "idle" (the stream goes on) or "ended" (the session is gone). */
  function lock(reason) {
    if (locked === "ended" || locked === reason) return;
    locked = reason;
    // Kept for this browser: a reload or another tab opens locked too (a sign-in clears it).
    localStorage.setItem(LOCK_KEY, reason);
    const words = WORDS[reason];
    $("start").hidden = true;
    $("lock").hidden = false;
    $("lock").dataset.reason = reason;
    $("lock-title").textContent = words.title;
    $("lock-reason").textContent = words.reason(spell(idleMs ?? 0));
    $("unlock-error").textContent = "";
    refresh();
    warn();
    clearInterval(repeating);
    if (reason === "ended") repeating = setInterval(warn, ENDED_WARNING_MS);
    const name = $("unlock-name");
    (name.value ? $("unlock-password") : name).focus();
  }

  function unlock() {
    locked = null;
    clearInterval(repeating);
    repeating = null;
    $("lock").hidden = true;
    $("unlock-form").reset();
    $("unlock-code-row").hidden = true;
    lastActivity = Date.now();
  }

  async function submit(event) {
    event.preventDefault();
    $("unlock-error").textContent = "";
    const body = { name: $("unlock-name").value.trim(), password: $("unlock-password").value };
    const code = $("unlock-code").value.trim();
    if (!$("unlock-code-row").hidden && code) body.code = code;
    let answer;
    try {
      answer = await postLogin(body);
    } catch {
      $("unlock-error").textContent = "No connection to the server: try again.";
      return;
    }
    if (!answer.ok) {
      if (answer.payload.error === "totp_required") {
        $("unlock-code-row").hidden = false;
        $("unlock-code").focus();
      }
      $("unlock-error").textContent = loginRefusal(answer);
      $("unlock-password").select();
      return;
    }
    const name = $("unlock-name").value;
    unlock();
    $("unlock-name").value = name;
    onUnlock(answer.payload);
  }

  /** Redraw what the lock screen says waits (after each change of the queue). */
  function refresh() {
    if (!locked) return;
    $("lock-waiting").textContent = summary();
    $("lock-sound").hidden = soundArmed();
  }

  // ---- keep-alive ------------------------------------------------------------------------

  async function ping() {
    if (document.visibilityState !== "visible" || locked === "ended") return;
    try {
      const me = await api("/api/me");
      if (me.csrf_token) sessionStorage.setItem(CSRF_KEY, me.csrf_token);
    } catch (err) {
      // 401 went to the console's handler (the lock); anything else: the next ping retries.
      if (err.status !== 401) console.error("keep-alive", err);
    }
  }

  /** Begin watching for a signed-in user: the prompt, then lock and keep-alive for a session. */
  function start(me) {
    $("unlock-name").value = me.user;
    prompt();
    if (me.via !== "session" || !me.idle_seconds) return;
    idleMs = me.idle_seconds * 1000;
    lastActivity = Date.now();
    clearInterval(keepAlive);
    keepAlive = setInterval(ping, Math.min(60000, Math.max(5000, idleMs / 4)));
    if (localStorage.getItem(LOCK_KEY)) lock("idle");
  }

  for (const type of ACTIVITY) document.addEventListener(type, touched, { capture: true, passive: true });
  setInterval(refresh, 1000); // the sound's state, once a key press armed it
  for (const type of ["keydown", "pointerdown"]) {
    document.addEventListener(type, onStartGesture, { capture: true });
    // Any later gesture arms the sound too (a browser may suspend audio after a while).
    document.addEventListener(type, armSound, { capture: true, passive: true });
  }
  $("unlock-form").addEventListener("submit", (event) => {
    submit(event).catch((err) => { $("unlock-error").textContent = String(err); });
  });
  setInterval(check, 1000);

  return { start, lock, refresh, isLocked: () => locked !== null };
}
