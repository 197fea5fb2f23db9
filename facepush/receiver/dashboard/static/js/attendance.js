// Attendance: first in and last out per person and day from /api/attendance, for a day or
// a range, filtered by person and terminal, with the CSV and XLSX exports of the same.
// Times are shown in the receiver's --timezone (the day's zone), whatever the browser's.

import { apiUrl, getJson } from "./api.js";
import { el } from "./format.js";
import { t } from "./i18n.js";

/** Rows put in the page at most; the exports have them all. */
const MAX_ROWS = 2000;

const pad = (n) => String(n).padStart(2, "0");

/** Today as YYYY-MM-DD in `zone` (the browser's when null). */
export function todayIn(zone) {
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone: zone || undefined,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
  }).formatToParts(new Date());
  const get = (type) => parts.find((p) => p.type === type).value;
  return `${get("year")}-${get("month")}-${get("day")}`;
}

/** "HH:MM:SS" of `ms` in `zone`, with the date in front when it is not `day`. */
export function clockIn(ms, zone, day) {
  if (typeof ms !== "number") return "—";
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone: zone || undefined,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  }).formatToParts(new Date(ms));
  const get = (type) => parts.find((p) => p.type === type).value;
  const date = `${get("year")}-${get("month")}-${get("day")}`;
  const clock = `${get("hour")}:${get("minute")}:${get("second")}`;
  return date === day ? clock : `${date} ${clock}`;
}

/** The real time between first in and last out: "8:30" (hours:minutes), or "—". */
export function hoursBetween(item) {
  if (typeof item.first_in !== "number" || typeof item.last_out !== "number") return "—";
  const minutes = Math.round((item.last_out - item.first_in) / 60000);
  return `${Math.floor(minutes / 60)}:${pad(minutes % 60)}`;
}

function row(item, zone) {
  const person = el(
    "td",
    {},
    el("span", { class: "name", text: item.name || item.user_id }),
    el("span", { class: "sub", text: item.user_id }),
  );
  const out = el("td", { "data-testid": "att-last-out" }, clockIn(item.last_out, zone, item.day));
  if (item.open) {
    out.append(" ", el("span", { class: "chip open", title: t("open_title"), text: t("open_day") }));
  }
  return el(
    "tr",
    {
      "data-testid": "att-row",
      "data-user": item.user_id,
      "data-day": item.day,
      class: item.open ? "is-open" : "",
    },
    el("td", { text: item.day }),
    person,
    el("td", { "data-testid": "att-first-in", text: clockIn(item.first_in, zone, item.day) }),
    out,
    el("td", { class: "num", "data-testid": "att-hours", text: hoursBetween(item) }),
    el("td", { class: "num", text: String(item.passages) }),
    el("td", { class: "sn", text: item.devices.join(" ") }),
  );
}

export class Attendance {
  constructor(root) {
    this.form = root.querySelector('[data-testid="att-filters"]');
    this.body = root.querySelector('[data-testid="att-results"] tbody');
    this.info = root.querySelector('[data-testid="att-info"]');
    this.csv = root.querySelector('[data-testid="att-csv"]');
    this.xlsx = root.querySelector('[data-testid="att-xlsx"]');
    this.items = [];
    this.zone = null;
    this.shown = false;
    this.generation = 0;
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.run().catch((err) => this.fail(err));
    });
    this.form.addEventListener("input", () => this.updateExports());
  }

  filters() {
    const value = (name) => this.form.elements[name].value.trim();
    const from = value("from");
    return { from, to: value("to") || from, user_id: value("user_id"), device: value("device") };
  }

  updateExports() {
    const filters = this.filters();
    const day = filters.from || "attendance";
    this.csv.href = apiUrl("/api/attendance.csv", filters);
    this.xlsx.href = apiUrl("/api/attendance.xlsx", filters);
    this.csv.setAttribute("download", `attendance-${day}.csv`);
    this.xlsx.setAttribute("download", `attendance-${day}.xlsx`);
  }

  /** Shown for the first time: today's attendance. */
  show() {
    if (this.shown) return;
    this.shown = true;
    if (!this.form.elements.from.value) this.form.elements.from.value = todayIn(null);
    this.run().catch((err) => this.fail(err));
  }

  async run() {
    this.updateExports();
    const generation = ++this.generation;
    this.form.setAttribute("aria-busy", "true");
    try {
      const data = await getJson("/api/attendance", this.filters());
      if (generation !== this.generation) return;
      this.items = data.items;
      this.zone = data.timezone;
      this.render();
    } finally {
      if (generation === this.generation) this.form.removeAttribute("aria-busy");
    }
  }

  render() {
    const shown = this.items.slice(0, MAX_ROWS);
    this.body.replaceChildren(...shown.map((item) => row(item, this.zone)));
    const open = this.items.filter((item) => item.open).length;
    const zone = this.zone || t("att_zone_local");
    this.info.textContent = this.items.length
      ? t("att_rows", { n: this.items.length, open, zone })
      : t("att_none");
    this.info.classList.remove("error");
  }

  fail(err) {
    this.info.textContent = t("error", { msg: err.message });
    this.info.classList.add("error");
  }

  rerender() {
    if (this.shown && !this.info.classList.contains("error")) this.render();
  }

  clear() {
    this.items = [];
    this.body.replaceChildren();
    this.info.textContent = "";
  }
}
