// A site's page: its record, its devices and their zones, its call list and its recent alarms.
// Opened from the site's name in the alarm detail; everything is set as text, never as markup.
import { api, toLogin, whoAmI } from "./api.js";
import { formatTime } from "./format.js";
import { contactParts, mapLinks } from "./siterecord.js";

/** How many of the newest alarms are searched for this site's. */
const SEARCHED = 1000;
const SHOWN = 50;

const $ = (id) => document.getElementById(id);

function fail(text) {
  $("site-error").textContent = text;
  $("site-error").hidden = false;
}

function cell(text) {
  const td = document.createElement("td");
  td.textContent = text ?? "–";
  return td;
}

function renderSite(site) {
  $("site-title").textContent = site.name;
  document.title = `watchfloor · ${site.name}`;
  const address = $("site-address");
  address.append(site.address ?? "No address on record.");
  const maps = mapLinks(site.latitude, site.longitude);
  if (maps.length) address.append(" · ", maps[0], " · ", maps[1]);
  $("site-instructions").textContent = site.instructions ?? "No instructions.";
  const numbers = $("site-emergency");
  for (const [key, label] of [["police", "Police"], ["fire", "Fire"], ["ambulance", "Ambulance"]]) {
    const number = site.emergency?.[key];
    if (!number) continue;
    const a = document.createElement("a");
    a.href = `tel:${number.replace(/[^0-9+*#]/g, "")}`;
    a.textContent = number;
    if (numbers.childNodes.length) numbers.append(" · ");
    numbers.append(`${label} `, a);
  }
  $("site-facts").textContent = [
    `Time zone ${site.time_zone}`,
    site.customer_ref ? `customer ${site.customer_ref}` : "",
    site.has_passphrase ? "site passphrase set" : "no site passphrase",
    site.decommissioned ? "decommissioned" : "",
  ].filter(Boolean).join(" · ");
}

async function renderZones(site) {
  const box = $("zones");
  let accounts;
  try {
    accounts = (await api("/api/accounts")).items.filter((a) => a.site === site);
  } catch (err) {
    box.textContent = `The devices are not readable with your role (${err.message}).`;
    return;
  }
  if (!accounts.length) { box.textContent = "No device registered at this site."; return; }
  for (const account of accounts) {
    const title = document.createElement("h3");
    const named = account.name && account.name !== account.account;
    title.textContent = `Account ${account.account}${named ? ` · ${account.name}` : ""}`;
    const zones = await api(`/api/accounts/${encodeURIComponent(account.account)}/zones`);
    const table = document.createElement("table");
    table.className = "compact";
    const head = document.createElement("tr");
    for (const name of ["Zone", "Description", "Kind", "Area"]) {
      const th = document.createElement("th");
      th.scope = "col";
      th.textContent = name;
      head.append(th);
    }
    const body = document.createElement("tbody");
    for (const zone of zones) {
      const tr = document.createElement("tr");
      tr.append(cell(zone.zone), cell(zone.description), cell(zone.kind), cell(zone.area));
      body.append(tr);
    }
    table.append(head, body);
    box.append(title, zones.length ? table : "No zone described.");
  }
}

async function renderContacts(site) {
  const { items } = await api(`/api/sites/${encodeURIComponent(site)}/contacts`);
  $("contacts").replaceChildren(...items.map((contact) => {
    const li = document.createElement("li");
    li.append(...contactParts(contact));
    const windows = contact.call_windows.map((w) => `days ${w.days.join(",")} ${w.from}–${w.to}`);
    if (windows.length) li.append(` · call ${windows.join("; ")}`);
    return li;
  }));
  if (!items.length) $("contacts").textContent = "No contact on the call list.";
}

async function renderRecent(site) {
  const query = new URLSearchParams({ order: "newest", limit: String(SEARCHED) });
  const { items } = await api(`/api/alarms?${query}`);
  const mine = items.filter((a) => a.site === site).slice(0, SHOWN);
  $("recent").replaceChildren(...mine.map((alarm) => {
    const tr = document.createElement("tr");
    tr.append(
      cell(String(alarm.id)), cell(formatTime(alarm.first_at)), cell(`P${alarm.priority}`),
      cell(alarm.type_name), cell(alarm.device),
      cell(alarm.zone_name ? `${alarm.zone ?? ""} ${alarm.zone_name}`.trim() : alarm.zone),
      cell(alarm.state), cell(alarm.outcome),
    );
    return tr;
  }));
  $("recent-none").hidden = mine.length > 0;
}

async function start() {
  const site = new URLSearchParams(location.search).get("site");
  if (!site) { fail("No site named: open a site from an alarm."); return; }
  try {
    await whoAmI();
  } catch (err) {
    if (err.status === 401) { toLogin(); return; }
    throw err;
  }
  const record = await api(`/api/sites/${encodeURIComponent(site)}`);
  renderSite(record);
  await Promise.all([renderZones(site), renderContacts(site), renderRecent(site)]);
}

start().catch((err) => fail(String(err.message || err)));
