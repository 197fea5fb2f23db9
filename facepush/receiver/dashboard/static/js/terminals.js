// Terminals: every serial that pushed (/api/devices) and every managed terminal
// (/api/terminals), one row each: state, last seen, records today, and for a managed one
// its clock offset in words (the receiver's `clock_offset_words`, never computed here),
// what its history repaired and its last error.

import { getJson } from "./api.js";
import { el, fmtFull, fmtSpan } from "./format.js";
import { currentLang, t } from "./i18n.js";

/** A terminal that pushed nothing for this long is shown as silent. */
export const SILENT_AFTER_MS = 5 * 60 * 1000;
/** Pages of /api/devices read per refresh, at most (50,000 terminals). */
const MAX_PAGES = 50;

/** Offline is the receiver's judgement for a managed terminal (it missed its ping);
 * replaying a backlog too (`replaying`: a late record within its replay window); a
 * managed terminal that answers is online even when nobody walks past it; silent is the
 * page's, from `last_seen`, for a terminal the receiver only hears from when it pushes. */
export function stateOf(device, managed, now = Date.now()) {
  if (managed && !managed.online) return "offline";
  if (device?.replaying) return "replaying";
  if (managed) return "online";
  return now - device.last_seen < SILENT_AFTER_MS ? "online" : "silent";
}

/** One row per terminal: a device and the managed terminal of the same serial together. */
export function mergeRows(devices, managed) {
  const bySerial = new Map(devices.map((device) => [device.serial, { device, managed: null }]));
  const rows = [...bySerial.values()];
  for (const terminal of managed) {
    const row = terminal.serial ? bySerial.get(terminal.serial) : undefined;
    if (row && !row.managed) row.managed = terminal;
    else rows.push({ device: null, managed: terminal });
  }
  const seen = (row) => row.device?.last_seen ?? row.managed?.last_ping_at ?? 0;
  return rows.sort((a, b) => seen(b) - seen(a));
}

function note(managed) {
  if (!managed) return null;
  if (managed.last_error) return { text: managed.last_error, cls: "error" };
  if (managed.subscribed === false) {
    return { text: t("pushes_elsewhere", { dest: managed.event_dest || "—" }), cls: "warn" };
  }
  return null;
}

async function loadDevices() {
  const bySerial = new Map();
  let cursor = null;
  for (let page = 0; page < MAX_PAGES; page++) {
    const data = await getJson("/api/devices", cursor ? { cursor } : {});
    // A terminal first seen while paging can repeat an item on the next page: one per serial.
    for (const device of data.items) bySerial.set(device.serial, device);
    cursor = data.next;
    if (!cursor) break;
  }
  return [...bySerial.values()];
}

export class Terminals {
  constructor(root) {
    this.body = root.querySelector('[data-testid="terminals"] tbody');
    this.empty = root.querySelector('[data-testid="terminals-empty"]');
    this.datalist = root.querySelector("#device-list");
    this.devices = [];
    this.managed = [];
  }

  /** /api/devices has everything shown of a terminal that pushed, `today` included: one
   * request per refresh (more only beyond one page: 1,000 terminals or 4 MiB), in order of
   * serial, a stable order to page through. /api/terminals adds the managed ones. */
  async load() {
    // Both at once; Promise.all so that a refusal of either is one rejection, handled.
    const [devices, managed] = await Promise.all([loadDevices(), getJson("/api/terminals")]);
    this.devices = devices;
    this.managed = managed.items;
    this.render();
  }

  render() {
    const now = Date.now();
    const lang = currentLang();
    const rows = mergeRows(this.devices, this.managed).map(({ device, managed }) => {
      const serial = device?.serial ?? managed.serial ?? managed.url;
      const state = stateOf(device, managed, now);
      const words = managed?.clock_offset_words;
      const remark = note(managed);
      const seen = device?.last_seen ?? null;
      return el(
        "tr",
        {
          "data-testid": "terminal-row",
          "data-serial": serial,
          "data-state": state,
          "data-managed": managed ? "true" : null,
        },
        el(
          "th",
          { scope: "row", class: "sn", title: managed?.url },
          serial,
          remark &&
            el("span", { class: `note ${remark.cls}`, "data-testid": "terminal-note", title: remark.text, text: remark.text }),
        ),
        el(
          "td",
          {},
          el("span", { class: `chip ${state}`, "data-testid": "terminal-state", text: t(state) }),
          managed &&
            el("span", {
              class: "clock",
              "data-testid": "terminal-clock",
              title: managed.clock_offset_ms == null ? null : `${managed.clock_offset_ms} ms`,
              text: words ? words[lang] || words.en : t("clock_unknown"),
            }),
        ),
        el("td", { title: seen === null ? null : fmtFull(seen), text: seen === null ? "—" : t("ago", { t: fmtSpan(now - seen) }) }),
        // Received since midnight in the receiver's time zone, whenever the records happened.
        el(
          "td",
          { class: "num" },
          el("span", { "data-testid": "terminal-today", text: (device?.today ?? 0).toLocaleString() }),
          managed &&
            el("span", {
              class: "repaired",
              "data-testid": "terminal-repaired",
              title: t("repaired_title"),
              text: t("repaired", { n: managed.repaired.toLocaleString() }),
            }),
        ),
        // For attendance: set with PUT /api/devices/{serial}, else in the configuration.
        el("td", {
          "data-testid": "terminal-direction",
          "data-direction": device?.direction,
          title: device?.direction_from,
          text: device ? t(`dir_${device.direction}`) : "—",
        }),
      );
    });
    this.body.replaceChildren(...rows);
    this.empty.hidden = rows.length > 0;
    this.datalist.replaceChildren(...this.devices.map((d) => el("option", { value: d.serial })));
  }

  clear() {
    this.devices = [];
    this.managed = [];
    this.render();
  }
}
