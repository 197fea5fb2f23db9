// Terminals: serial, state (online / silent / replaying backlog), last seen, records today.

import { getJson } from "./api.js";
import { el, fmtFull, fmtSpan } from "./format.js";
import { t } from "./i18n.js";

/** A terminal that pushed nothing for this long is shown as silent. */
export const SILENT_AFTER_MS = 5 * 60 * 1000;

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

  /** /api/devices has everything shown, `today` included, most recently seen first: one
   * request per refresh. */
  async load() {
    this.devices = (await getJson("/api/devices")).items;
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
