// The alert tone for new and escalated P1/P2 alarms: Web Audio oscillators, no audio files.
// Browsers start audio only after a user gesture; the sign-in click, the sound button, or the
// first click or key press after a reload all count, through unlockSound().
const SOUND_KEY = "watchfloor.sound";
let audio = null;
let button = null;
let played = 0;

export function soundOn() { return localStorage.getItem(SOUND_KEY) !== "off"; }

/** Show the sound state on `element` (a toggle button); a click toggles or unblocks. */
export function attachSoundButton(element) {
  button = element;
  button.addEventListener("click", () => {
    if (!button.classList.contains("blocked")) {
      localStorage.setItem(SOUND_KEY, soundOn() ? "off" : "on");
    }
    unlockSound();
  });
  renderSound();
}

export function unlockSound() {
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
  const blocked = on && (!audio || audio.state !== "running");
  button.setAttribute("aria-pressed", String(on));
  button.textContent = !on ? "Sound off" : blocked ? "Sound blocked: click to enable" : "Sound on";
  button.classList.toggle("off", !on);
  button.classList.toggle("blocked", blocked);
}

function tone(at, frequency) {
  const oscillator = audio.createOscillator();
  const gain = audio.createGain();
  oscillator.type = "square";
  oscillator.frequency.value = frequency;
  gain.gain.setValueAtTime(0.0001, at);
  gain.gain.exponentialRampToValueAtTime(0.25, at + 0.01);
  gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.18);
  oscillator.connect(gain).connect(audio.destination);
  oscillator.start(at);
  oscillator.stop(at + 0.2);
}

/** Beep for an alarm of `priority`: P1 two high beeps, P2 one lower. Short, not to drown speech. */
export function beep(priority) {
  if (!soundOn()) return;
  if (!audio || audio.state !== "running") { renderSound(); return; }
  const now = audio.currentTime;
  if (priority <= 1) { tone(now, 1175); tone(now + 0.25, 1175); } else { tone(now, 880); }
  played += 1;
  if (button) button.dataset.beeps = String(played);
}
