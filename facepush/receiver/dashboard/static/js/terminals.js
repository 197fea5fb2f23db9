// Terminals: serial, state (online / silent / replaying backlog), last seen, records today.

import { getJson } from "./api.js";
import { el, fmtFull, fmtSpan } from "./format.js";
import { t } from "./i18n.js";

/** A terminal that pushed nothing for this long is shown as silent. */
export const SILENT_AFTER_MS = 5 * 60 * 1000;
/** Pages of /api/devices read per refresh, at most (50,000 terminals). */
const MAX_PAGES = 50;

/** Replaying a backlog is the receiver's judgement (`replaying`: it received a late record
 * within its replay window); silent is the page's, from `last_seen`. */
export function stateOf(device, now = Date.now()) {
  if (device.replaying) return "replaying";
  return now - device.last_seen < SILENT_AFTER_MS ? "online" : "silent";
}

export class Terminals {
  constructor(root) {
    this.body = root.querySelector('[data-testid="terminals"] tbody');
    this.empty = root.querySelector('[data-testid="terminals-empty"]');
    this.datalist = root.querySelector("#device-list");
    this.devices = [];
  }

  /** /api/devices has everything shown, `today` included: one request per refresh (more
   * only for a fleet beyond one page, 1,000 terminals or 4 MiB). It lists terminals in order
   * of serial, a stable order to page through; the page shows the most recently seen first. */
  async load() {
    const bySerial = new Map();
    let cursor = null;
    for (let page = 0; page < MAX_PAGES; page++) {
      const data = await getJson("/api/devices", cursor ? { cursor } : {});
      // A terminal first seen while paging can repeat an item on the next page: one per serial.
      for (const device of data.items) bySerial.set(device.serial, device);
      cursor = data.next;
      if (!cursor) break;
    }
    this.devices = [...bySerial.values()].sort((a, b) => b.last_seen - a.last_seen);
    this.render();
  }

  render() {
    const now = Date.now();
    const rows = this.devices.map((device) => {
      const { serial } = device;
      const state = stateOf(device, now);
      return el(
        "tr",
        { "data-testid": "terminal-row", "data-serial": serial, "data-state": state },
        el("th", { scope: "row", class: "sn", text: serial }),
        el("td", {}, el("span", { class: `chip ${state}`, "data-testid": "terminal-state", text: t(state) })),
        el("td", { title: fmtFull(device.last_seen), text: t("ago", { t: fmtSpan(now - device.last_seen) }) }),
        // Received since midnight in the receiver's time zone, whenever the records happened.
        el("td", { class: "num", "data-testid": "terminal-today", text: device.today.toLocaleString() }),
        // For attendance: set with PUT /api/devices/{serial}, else in the configuration.
        el("td", {
          "data-testid": "terminal-direction",
          "data-direction": device.direction,
          title: device.direction_from,
          text: t(`dir_${device.direction}`),
        }),
      );
    });
    this.body.replaceChildren(...rows);
    this.empty.hidden = rows.length > 0;
    this.datalist.replaceChildren(...this.devices.map((d) => el("option", { value: d.serial })));
  }

  clear() {
    this.devices = [];
    this.render();
  }
}
