// The site record in the alarm's detail: where the site is (address, map links), what to do
// there (instructions, emergency numbers, the zone described) and the call list an operator
// works, one keystroke per outcome on the highlighted contact. The passphrase check sends what
// the caller said and shows "match" or "no match" only: the console never sees a passphrase, a
// hash, or whether a duress passphrase matched. Everything is set as text, never as markup.
import { api, ApiError } from "./api.js";
import { formatTime } from "./format.js";

/** The call-list keys: Shift and a letter, on the highlighted contact. */
export const CALL_KEYS = {
  A: "answered", N: "no_answer", V: "voicemail", W: "wrong_passphrase", D: "declined",
};
const OUTCOME_WORDS = {
  answered: "answered", no_answer: "no answer", voicemail: "voicemail",
  wrong_passphrase: "wrong passphrase", declined: "declined",
};
const ROLE_WORDS = {
  keyholder: "keyholder", manager: "manager", guard_company: "guard company", other: "other",
};
const EMERGENCY = [["police", "Police"], ["fire", "Fire"], ["ambulance", "Ambulance"]];

const $ = (id) => document.getElementById(id);

function telLink(number, text = number) {
  const a = document.createElement("a");
  a.href = `tel:${number.replace(/[^0-9+*#]/g, "")}`;
  a.textContent = text;
  return a;
}

function link(href, text) {
  const a = document.createElement("a");
  a.href = href;
  a.textContent = text;
  a.target = "_blank";
  a.rel = "noopener noreferrer";
  return a;
}

/** The link to a site's page (site.html), opened beside the console. */
export function siteLink(site) {
  return link(`/site.html?site=${encodeURIComponent(site)}`, site);
}

/** The map links of a place: the device's map app (geo:) and OpenStreetMap, no tiles. */
export function mapLinks(latitude, longitude) {
  if (latitude === null || latitude === undefined || longitude === null || longitude === undefined) {
    return [];
  }
  const geo = document.createElement("a");
  geo.href = `geo:${latitude},${longitude}`;
  geo.textContent = "map app";
  const osm = link(
    `https://www.openstreetmap.org/?mlat=${latitude}&mlon=${longitude}#map=18/${latitude}/${longitude}`,
    "OpenStreetMap",
  );
  return [geo, osm];
}

/** A contact's role and phones, as list-item content (shared with the site page). */
export function contactParts(contact) {
  const name = document.createElement("span");
  name.className = "contact-name";
  name.textContent = contact.name;
  const role = document.createElement("span");
  role.className = "muted";
  role.textContent = ` ${ROLE_WORDS[contact.role] ?? contact.role}`;
  const phones = document.createElement("span");
  phones.className = "phones";
  for (const phone of contact.phones) {
    phones.append(" · ", `${phone.label} `, telLink(phone.number));
  }
  const notes = [];
  if (contact.callable_now === false) notes.push("outside call hours");
  if (contact.has_passphrase) notes.push("has a passphrase");
  const extra = document.createElement("span");
  extra.className = "muted";
  extra.textContent = notes.length ? ` (${notes.join(", ")})` : "";
  return [name, role, phones, extra];
}

/**
 * Attach the site record to the detail pane. `write(id, label, request)` runs a change the
 * console's way (one at a time, then the alarm is read again); `say(text, kind)` shows a
 * message under the call list.
 */
export function attachSiteRecord({ write, say }) {
  let shown = null; // the alarm whose record is on screen (its full detail)
  let chosen = null; // the passphrase target the operator picked, for the alarm shown

  function record() { return shown?.site_record ?? null; }

  // Whom the caller is: the contact who last answered, else the highlighted one, else the site.
  function speaker(rec) {
    const answered = [...rec.calls].reverse().find((c) => c.outcome === "answered");
    const id = answered?.contact_id ?? rec.next_contact;
    const contact = rec.contacts.find((c) => c.id === id);
    return contact?.has_passphrase ? String(contact.id) : "";
  }

  function renderPlace(rec, alarm) {
    const address = $("site-address");
    address.replaceChildren();
    address.append(rec.address ?? "No address on record.");
    const maps = mapLinks(rec.latitude, rec.longitude);
    if (maps.length) address.append(" · ", maps[0], " · ", maps[1]);
    $("site-zone").textContent = alarm.zone
      ? `Zone ${alarm.zone}: ${alarm.zone_name ?? "not described"}`
      : "";
    $("site-zone").hidden = !alarm.zone;
    $("site-instructions").textContent = rec.instructions ?? "No instructions.";
    const numbers = $("site-emergency");
    numbers.replaceChildren();
    for (const [key, label] of EMERGENCY) {
      const number = rec.emergency?.[key];
      if (!number) continue;
      if (numbers.childNodes.length) numbers.append(" · ");
      numbers.append(`${label} `, telLink(number));
    }
    numbers.hidden = numbers.childNodes.length === 0;
  }

  function renderCalls(rec, open) {
    const list = $("call-list");
    list.replaceChildren(...rec.contacts.map((contact) => {
      const li = document.createElement("li");
      li.dataset.contact = String(contact.id);
      const next = contact.id === rec.next_contact && open;
      li.classList.toggle("next", next);
      if (next) li.setAttribute("aria-current", "true");
      li.append(...contactParts(contact));
      const tried = rec.calls.filter((call) => call.contact_id === contact.id);
      if (tried.length) {
        const ul = document.createElement("ul");
        ul.className = "attempts";
        for (const call of tried) {
          const item = document.createElement("li");
          item.dataset.outcome = call.outcome;
          item.textContent = `${OUTCOME_WORDS[call.outcome] ?? call.outcome} · ` +
            `${formatTime(call.at)} · ${call.actor}` +
            (call.phone_label ? ` · ${call.phone_label}` : "");
          ul.append(item);
        }
        li.append(ul);
      }
      return li;
    }));
    $("call-none").hidden = rec.contacts.length > 0;
    const answered = rec.calls.some((c) => c.outcome === "answered");
    $("call-done").hidden = rec.next_contact !== null || rec.contacts.length === 0;
    $("call-done").textContent = answered
      ? "A contact answered: the call list is worked."
      : "Nobody left to call now.";
  }

  function renderPassphrase(rec) {
    const select = $("passphrase-for");
    const wanted = chosen ?? speaker(rec);
    const options = [["", "the site"], ...rec.contacts
      .filter((c) => c.has_passphrase).map((c) => [String(c.id), c.name])];
    const same = select.options.length === options.length &&
      options.every(([value], i) => select.options[i].value === value);
    if (!same) {
      select.replaceChildren(...options.map(([value, text]) => {
        const option = document.createElement("option");
        option.value = value;
        option.textContent = text;
        return option;
      }));
    }
    select.value = options.some(([value]) => value === wanted) ? wanted : "";
  }

  /** Show the record of `alarm` (its full detail, or null while it loads); `open`: workable. */
  function render(alarm, full, open) {
    if (full?.id !== shown?.id) {
      chosen = null;
      $("passphrase-form").reset();
      $("passphrase-result").textContent = "";
      $("passphrase-result").className = "verdict";
    }
    shown = full;
    const rec = record();
    $("site-record").hidden = !rec;
    if (!rec) return;
    renderPlace(rec, alarm);
    renderCalls(rec, open);
    renderPassphrase(rec);
  }

  /** Record `outcome` for the highlighted contact (a Shift key). */
  function call(outcome) {
    const rec = record();
    if (!shown || !rec) return;
    const contact = rec.contacts.find((c) => c.id === rec.next_contact);
    if (!contact) { say("Nobody is highlighted on the call list."); return; }
    const id = shown.id;
    const body = { contact_id: contact.id, outcome };
    if (contact.phones.length) body.phone_label = contact.phones[0].label;
    say(`Saving: ${contact.name}, ${OUTCOME_WORDS[outcome]}…`, "info");
    write(id, `${contact.name}: ${OUTCOME_WORDS[outcome]}`,
      () => api(`/api/alarms/${id}/calls`, { method: "POST", body }));
  }

  async function verify(event) {
    event.preventDefault();
    const field = $("passphrase");
    const words = field.value;
    // What the caller said leaves the screen as soon as it is sent.
    field.value = "";
    const result = $("passphrase-result");
    if (!shown || !words) { field.focus(); return; }
    const target = $("passphrase-for").value;
    result.textContent = "Checking…";
    result.className = "verdict";
    try {
      const answer = await api(`/api/alarms/${shown.id}/verify`, {
        method: "POST", body: { contact_id: target ? Number(target) : null, words },
      });
      const match = answer.result === "match";
      result.textContent = match ? "match" : "no match";
      result.className = `verdict ${match ? "match" : "no-match"}`;
    } catch (err) {
      result.textContent = err instanceof ApiError && err.status === 404
        ? "No passphrase to check against."
        : `Could not check: ${err.message}`;
      result.className = "verdict error";
    }
  }

  $("passphrase-form").addEventListener("submit", verify);
  $("passphrase-for").addEventListener("change", () => { chosen = $("passphrase-for").value; });

  return {
    render,
    call,
    focusPassphrase() { if (record()) $("passphrase").focus(); },
  };
}
