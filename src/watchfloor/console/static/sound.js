// The console's sound: one tone that repeats while any P1 or P2 alarm waits for an
// acknowledgement — two high beeps while a P1 waits, one lower beep while only P2s do — at
// most one tone every few seconds however many alarms wait; and a distinct warning when the
// console locks or its session ends. Web Audio oscillators, no audio files.
//
// Browsers start audio only after a user gesture: the console's "start" prompt asks for one key
// press after every sign-in or reload, and any later key press or click arms it as well.
const SOUND_KEY = "watchfloor.sound";
/** The shortest time between two tones, whatever arrives meanwhile. */
export const TONE_GAP_MS = 4000;
const CHECK_MS = 250;

let audio = null;
let button = null;
let lastTone = -Infinity;
let tones = 0;

export function soundOn() { return localStorage.getItem(SOUND_KEY) !== "off"; }

/** Whether the browser lets us play (a gesture armed the audio). */
export function soundArmed() { return audio !== null && audio.state === "running"; }

/** Show the sound state on `element` (a toggle button); a click toggles it. */
export function attachSoundButton(element) {
  button = element;
  button.addEventListener("click", () => {
    if (soundArmed()) localStorage.setItem(SOUND_KEY, soundOn() ? "off" : "on");
    armSound();
  });
  renderSound();
}

/** Create or resume the audio context; call from a key press or click. */
export function armSound() {
  try {
    audio ??= new AudioContext();
    if (audio.state === "suspended") audio.resume().then(renderSound, () => {});
  } catch (err) {
    console.error("no audio", err);
  }
  renderSound();
}

function renderSound() {
  if (!button) return;
  const on = soundOn();
  const blocked = on && !soundArmed();
  button.setAttribute("aria-pressed", String(on));
  button.textContent = !on ? "Sound off" : blocked ? "Sound not started: press a key" : "Sound on";
  button.classList.toggle("off", !on);
  button.classList.toggle("blocked", blocked);
}

function tone(at, frequency, length = 0.18, type = "square") {
  const oscillator = audio.createOscillator();
  const gain = audio.createGain();
  oscillator.type = type;
  oscillator.frequency.value = frequency;
  gain.gain.setValueAtTime(0.0001, at);
  gain.gain.exponentialRampToValueAtTime(0.25, at + 0.01);
  gain.gain.exponentialRampToValueAtTime(0.0001, at + length);
  oscillator.connect(gain).connect(audio.destination);
  oscillator.start(at);
  oscillator.stop(at + length + 0.02);
}

function played() {
  tones += 1;
  if (button) button.dataset.tones = String(tones);
}

/** The alert tone for the most urgent waiting priority: P1 two high beeps, P2 one lower. */
function alertTone(priority) {
  if (!soundOn() || !soundArmed()) { renderSound(); return; }
  const now = audio.currentTime;
  if (priority <= 1) { tone(now, 1175); tone(now + 0.25, 1175); } else { tone(now, 880); }
  played();
}

/** A falling two-note warning, unlike any alarm tone: the console locked or lost its session. */
export function warn() {
  if (!soundArmed()) { renderSound(); return; }
  const now = audio.currentTime;
  tone(now, 660, 0.35, "sawtooth");
  tone(now + 0.4, 440, 0.35, "sawtooth");
  played();
}

/**
 * Sound while something waits: `waiting()` returns the most urgent priority (1 or 2) of the
 * unacknowledged, unmuted alarms, or null. Checked a few times a second; a tone plays when one
 * is due and the last is at least TONE_GAP_MS old, so a burst of alarms makes one tone.
 */
export function startAlerts(waiting) {
  setInterval(() => {
    const priority = waiting();
    if (priority === null) return;
    const now = performance.now(); // monotonic: a clock set back must not silence the room
    if (now - lastTone < TONE_GAP_MS) return;
    lastTone = now;
    alertTone(priority);
  }, CHECK_MS);
}
