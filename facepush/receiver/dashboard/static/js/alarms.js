// Alarms pinned at the top: each alarm (one trace_id) with its kind in words, its
// lifecycle (raised → clearing failed → cleared) and, from its raising report, its photo,
// description and user — all from /api/alarms.

import { apiUrl, getJson } from "./api.js";
import { el, fmtFull, fmtTime } from "./format.js";
import { label, t } from "./i18n.js";

const RAISED = 1;
const CLEAR_FAILED = 2;
const CLEARED = 3;

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
  return alarm.image_url ? apiUrl(alarm.image_url) : null;
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

function alarmCard(alarm, open) {
  const photo = photoOf(alarm);
  const where = alarm.device || alarm.source || "";
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
        alarm.user_id ? el("span", { "data-testid": "alarm-user", text: ` · ${alarm.user_id}` }) : null,
      ),
      alarm.description && String(alarm.description).trim()
        ? el("span", {
            class: "description",
            "data-testid": "alarm-description",
            text: String(alarm.description).trim(),
          })
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
      this.alarms = itemsOf(await getJson("/api/alarms", { limit: 100 }));
      this.render();
    } finally {
      this.loading = false;
      if (this.again) {
        this.again = false;
        this.load().catch(() => {});
      }
    }
  }

  /** A new alarm report arrived on the stream: fetch the alarms again, soon. */
  changed() {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = 0;
      this.load().catch(() => {});
    }, 150);
  }

  render() {
    const open = this.alarms.filter(isOpen);
    const closed = this.alarms.filter((a) => !isOpen(a)).slice(0, 10);
    this.list.replaceChildren(...open.map((a) => alarmCard(a, true)));
    this.closedList.replaceChildren(...closed.map((a) => alarmCard(a, false)));
    this.count.textContent = String(open.length);
    this.empty.hidden = open.length > 0;
    this.section.classList.toggle("has-open", open.length > 0);
  }

  clear() {
    this.alarms = [];
    this.render();
  }
}
