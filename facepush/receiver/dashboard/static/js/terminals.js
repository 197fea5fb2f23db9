// Terminals: serial, state (online / silent / replaying backlog), last seen, records today.

import { getJson } from "./api.js";
import { el, fmtFull, fmtSpan, startOfToday } from "./format.js";
import { t } from "./i18n.js";

/** A terminal that pushed nothing for this long is shown as silent. */
export const SILENT_AFTER_MS = 5 * 60 * 1000;
/** A terminal that delivered a late (backlog) record this recently is replaying. */
const REPLAYING_WITHIN_MS = 60 * 1000;
/** How many terminals get their "today" count from /api/events when /api/devices lacks it. */
const COUNT_AT_MOST = 50;

function itemsOf(data) {
  if (Array.isArray(data)) return data;
  if (data && Array.isArray(data.items)) return data.items;
  if (data && Array.isArray(data.devices)) return data.devices;
  return [];
}

function serialOf(device) {
  return device.serial ?? device.deviceSN ?? device.device ?? "";
}

function todayOf(device) {
  for (const name of ["today", "records_today", "recognitions_today"]) {
    if (typeof device[name] === "number") return device[name];
  }
  return null;
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
    this.counted = new Map(); // serial -> today's records, when counted here
    this.countedAt = 0;
  }

  async load() {
    this.devices = itemsOf(await getJson("/api/devices"));
    this.devices.sort((a, b) => (b.last_seen ?? 0) - (a.last_seen ?? 0));
    this.render();
    if (this.devices.some((d) => todayOf(d) === null) && Date.now() - this.countedAt > 30000) {
      this.countedAt = Date.now();
      await this.countToday();
      this.render();
    }
  }

  /** Records today per terminal from the query API (one page of at most 500 each). */
  async countToday() {
    const since = startOfToday();
    for (const device of this.devices.slice(0, COUNT_AT_MOST)) {
      const serial = serialOf(device);
      if (!serial || todayOf(device) !== null) continue;
      const data = await getJson("/api/events", { device: serial, since, limit: 500 });
      const n = data.items.length;
      this.counted.set(serial, data.next ? `${n}+` : String(n));
    }
  }

  render() {
    const now = Date.now();
    const rows = this.devices.map((device) => {
      const serial = serialOf(device);
      const state = stateOf(device, now);
      const today = todayOf(device) ?? this.counted.get(serial) ?? "…";
      return el(
        "tr",
        { "data-testid": "terminal", "data-serial": serial, "data-state": state },
        el("th", { scope: "row", class: "sn", text: serial }),
        el("td", {}, el("span", { class: `chip ${state}`, "data-testid": "terminal-state", text: t(state) })),
        el("td", {
          title: fmtFull(device.last_seen),
          text: device.last_seen ? t("ago", { t: fmtSpan(now - device.last_seen) }) : "—",
        }),
        el("td", { class: "num", "data-testid": "terminal-today", text: String(today) }),
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
