// Terminals: serial, state (online / silent / replaying backlog), last seen, records today.

import { getJson } from "./api.js";
import { el, fmtFull, fmtSpan } from "./format.js";
import { t } from "./i18n.js";

/** A terminal that pushed nothing for this long is shown as silent. */
export const SILENT_AFTER_MS = 5 * 60 * 1000;
/** A terminal that delivered a late (backlog) record this recently is replaying. */
const REPLAYING_WITHIN_MS = 60 * 1000;

function itemsOf(data) {
  if (Array.isArray(data)) return data;
  if (data && Array.isArray(data.items)) return data.items;
  if (data && Array.isArray(data.devices)) return data.devices;
  return [];
}

function serialOf(device) {
  return device.serial ?? device.deviceSN ?? device.device ?? "";
}

/** Records received from the terminal since midnight (the receiver's local day). */
function todayOf(device) {
  return typeof device.today === "number" ? device.today.toLocaleString() : "–";
}

export function stateOf(device, now = Date.now()) {
  const flag = device.replaying ?? device.replaying_backlog ?? device.backlog;
  if (flag === true) return "replaying";
  if (flag === undefined && device.last_late_at && now - device.last_late_at < REPLAYING_WITHIN_MS) {
    return "replaying";
  }
  return device.last_seen && now - device.last_seen < SILENT_AFTER_MS ? "online" : "silent";
}

export class Terminals {
  constructor(root) {
    this.body = root.querySelector('[data-testid="terminals"] tbody');
    this.empty = root.querySelector('[data-testid="terminals-empty"]');
    this.datalist = root.querySelector("#device-list");
    this.devices = [];
  }

  /** /api/devices has everything shown, `today` included: one request per refresh. */
  async load() {
    this.devices = itemsOf(await getJson("/api/devices"));
    this.devices.sort((a, b) => (b.last_seen ?? 0) - (a.last_seen ?? 0));
    this.render();
  }

  render() {
    const now = Date.now();
    const rows = this.devices.map((device) => {
      const serial = serialOf(device);
      const state = stateOf(device, now);
      return el(
        "tr",
        { "data-testid": "terminal-row", "data-serial": serial, "data-state": state },
        el("th", { scope: "row", class: "sn", text: serial }),
        el("td", {}, el("span", { class: `chip ${state}`, "data-testid": "terminal-state", text: t(state) })),
        el("td", {
          title: fmtFull(device.last_seen),
          text: device.last_seen ? t("ago", { t: fmtSpan(now - device.last_seen) }) : "—",
        }),
        el("td", { class: "num", "data-testid": "terminal-today", text: todayOf(device) }),
      );
    });
    this.body.replaceChildren(...rows);
    this.empty.hidden = rows.length > 0;
    this.datalist.replaceChildren(...this.devices.map((d) => el("option", { value: serialOf(d) })));
  }

  clear() {
    this.devices = [];
    this.render();
  }
}
