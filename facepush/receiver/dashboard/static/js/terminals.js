// Terminals: serial, state (online / silent / replaying backlog), last seen, records today.

import { getJson } from "./api.js";
import { el, fmtFull, fmtSpan, occurredAt, startOfToday } from "./format.js";
import { t } from "./i18n.js";

/** A terminal that pushed nothing for this long is shown as silent. */
export const SILENT_AFTER_MS = 5 * 60 * 1000;
/** A terminal that delivered a late (backlog) record this recently is replaying. */
const REPLAYING_WITHIN_MS = 60 * 1000;
/** How many terminals get their "today" count from /api/events when /api/devices lacks it. */
const COUNT_AT_MOST = 20;
/** The page size of that count: more shows as "200+". */
const COUNT_PAGE = 200;
const COUNT_EVERY_MS = 60000;

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
    this.counted = new Map(); // serial -> {n, more}: today's records, when counted here
    this.countedAt = 0;
  }

  async load() {
    this.devices = itemsOf(await getJson("/api/devices"));
    this.devices.sort((a, b) => (b.last_seen ?? 0) - (a.last_seen ?? 0));
    this.render();
    const due = Date.now() - this.countedAt > COUNT_EVERY_MS;
    const uncounted = this.devices
      .slice(0, COUNT_AT_MOST)
      .filter((d) => todayOf(d) === null && (due || !this.counted.has(serialOf(d))));
    if (uncounted.length) {
      if (due) this.countedAt = Date.now();
      await this.countToday(uncounted);
      this.render();
    }
  }

  /** Records today per terminal from the query API (one small page each): /api/devices
   * has no count per day, and a count is all that is wanted here. */
  async countToday(devices) {
    const since = startOfToday();
    for (const device of devices) {
      const serial = serialOf(device);
      if (!serial) continue;
      const data = await getJson("/api/events", { device: serial, since, limit: COUNT_PAGE });
      this.counted.set(serial, { n: data.items.length, more: Boolean(data.next) });
    }
  }

  /** A record arrived on the stream: count it for its terminal until the next recount. */
  arrived(item) {
    const counted = this.counted.get(item.deviceSN);
    if (counted && (occurredAt(item) ?? 0) >= startOfToday()) counted.n += 1;
  }

  render() {
    const now = Date.now();
    const rows = this.devices.map((device) => {
      const serial = serialOf(device);
      const state = stateOf(device, now);
      const counted = this.counted.get(serial);
      const today = todayOf(device) ?? (counted ? `${counted.n}${counted.more ? "+" : ""}` : "…");
      return el(
        "tr",
        { "data-testid": "terminal-row", "data-serial": serial, "data-state": state },
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
