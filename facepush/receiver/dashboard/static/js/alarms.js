// Alarms pinned at the top: each alarm (one trace_id) with its kind in words, its
// lifecycle (raised → clearing failed → cleared) and its photo.

import { apiUrl, getJson } from "./api.js";
import { el, fmtFull, fmtTime } from "./format.js";
import { label, t } from "./i18n.js";

const RAISED = 1;
const CLEAR_FAILED = 2;
const CLEARED = 3;
/** Alarm reports read at start for the photos and descriptions of the listed alarms. */
const REPORTS_FIRST = 500;
const REPORTS_KEPT = 2000;

/** The alarm list of /api/alarms, whatever its wrapping. */
function itemsOf(data) {
  if (Array.isArray(data)) return data;
  if (data && Array.isArray(data.items)) return data.items;
  if (data && Array.isArray(data.alarms)) return data.alarms;
  return [];
}

const STATE_STATUS = { raised: RAISED, clear_failed: CLEAR_FAILED, cleared: CLEARED };

/** The status of the alarm's latest report (1 raised, 2 clearing failed, 3 cleared). */
function statusOf(alarm) {
  if (alarm.state in STATE_STATUS) return STATE_STATUS[alarm.state];
  if (alarm.cleared_at != null) return CLEARED;
  return alarm.clear_failed_at != null ? CLEAR_FAILED : RAISED;
}

function isOpen(alarm) {
  if (typeof alarm.open === "boolean") return alarm.open;
  if (typeof alarm.state === "string") return alarm.state !== "cleared";
  if (alarm.cleared_at != null) return false;
  return alarm.status !== CLEARED;
}

function photoOf(alarm) {
  const url = alarm.image_url || alarm.photo_url;
  return url ? apiUrl(url) : null;
}

function step(status, at, current) {
  return el(
    "li",
    { class: `step s${status}${at == null ? " pending" : ""}${current ? " current" : ""}` },
    el("span", { class: "what", text: label("alarm_status", status) }),
    el("time", { title: at == null ? "" : fmtFull(at), text: at == null ? "—" : fmtTime(at) }),
  );
}

function lifecycle(alarm) {
  const failed = alarm.clear_failed_at ?? null;
  const now = statusOf(alarm);
  const steps = [step(RAISED, alarm.raised_at ?? null, now === RAISED)];
  if (failed != null) steps.push(step(CLEAR_FAILED, failed, now === CLEAR_FAILED));
  steps.push(step(CLEARED, alarm.cleared_at ?? null, now === CLEARED));
  return el("ol", { class: "lifecycle", "data-testid": "alarm-lifecycle" }, ...steps);
}

function alarmCard(lifecycleItem, report, open) {
  // /api/alarms gives the lifecycle; the reports themselves give photo and description.
  const alarm = { ...report, ...lifecycleItem };
  alarm.image_url = lifecycleItem.image_url || report.image_url || null;
  const photo = photoOf(alarm);
  const where = alarm.deviceSN || alarm.device || alarm.source || "";
  return el(
    "li",
    {
      class: `alarm${open ? " open" : " closed"}`,
      "data-testid": "alarm",
      "data-trace-id": alarm.trace_id,
      "data-open": String(open),
    },
    photo
      ? el("img", { class: "photo", src: photo, alt: label("alarm_code", alarm.code), "data-testid": "alarm-photo" })
      : el("div", { class: "photo none", text: t("no_photo") }),
    el(
      "div",
      { class: "alarm-body" },
      el("strong", { class: "kind", "data-testid": "alarm-kind", text: label("alarm_code", alarm.code) }),
      el(
        "span",
        { class: "sub" },
        where ? `${where} · ` : "",
        alarm.trace_id || "",
        alarm.user_id ? ` · ${alarm.user_id}` : "",
      ),
      alarm.description && String(alarm.description).trim()
        ? el("span", { class: "description", text: String(alarm.description).trim() })
        : null,
      lifecycle(alarm),
    ),
  );
}

export class Alarms {
  constructor(root) {
    this.list = root.querySelector('[data-testid="alarm-list"]');
    this.closedList = root.querySelector('[data-testid="alarm-closed"]');
    this.count = root.querySelector('[data-testid="alarm-count"]');
    this.empty = root.querySelector('[data-testid="no-alarms"]');
    this.section = root.querySelector('[data-testid="alarms"]');
    this.alarms = [];
    this.reports = new Map(); // trace_id -> what its reports said (photo, description, ...)
    this.timer = 0;
    this.loading = false;
    this.again = false;
  }

  async load() {
    if (this.loading) {
      this.again = true;
      return;
    }
    this.loading = true;
    try {
      const [alarms, reports] = await Promise.all([
        getJson("/api/alarms", { limit: 100 }),
        this.reports.size ? null : getJson("/api/events", { type: 1, limit: REPORTS_FIRST }),
      ]);
      if (reports) for (const item of [...reports.items].reverse()) this.note(item);
      this.alarms = itemsOf(alarms);
      this.render();
    } finally {
      this.loading = false;
      if (this.again) {
        this.again = false;
        this.load().catch(() => {});
      }
    }
  }

  /** Keep what an alarm report says beyond its lifecycle: photo, description, user, terminal. */
  note(item) {
    if (item.type !== 1 || !item.trace_id) return;
    const known = this.reports.get(item.trace_id) || {};
    const description = typeof item.description === "string" ? item.description.trim() : "";
    this.reports.delete(item.trace_id); // re-insert: the Map keeps the most recent last
    this.reports.set(item.trace_id, {
      image_url: item.image_url || known.image_url || null,
      description: description || known.description || "",
      user_id: item.user_id ?? known.user_id,
      deviceSN: item.deviceSN || known.deviceSN,
    });
    if (this.reports.size > REPORTS_KEPT) this.reports.delete(this.reports.keys().next().value);
  }

  /** A new alarm report arrived on the stream: fetch the lifecycles again, soon. */
  changed(item) {
    if (item) this.note(item);
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = 0;
      this.load().catch(() => {});
    }, 150);
  }

  render() {
    const open = this.alarms.filter(isOpen);
    const closed = this.alarms.filter((a) => !isOpen(a)).slice(0, 10);
    const card = (a, isOpenNow) => alarmCard(a, this.reports.get(a.trace_id) || {}, isOpenNow);
    this.list.replaceChildren(...open.map((a) => card(a, true)));
    this.closedList.replaceChildren(...closed.map((a) => card(a, false)));
    this.count.textContent = String(open.length);
    this.empty.hidden = open.length > 0;
    this.section.classList.toggle("has-open", open.length > 0);
  }

  clear() {
    this.alarms = [];
    this.reports.clear();
    this.render();
  }
}
