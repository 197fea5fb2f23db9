// Alarms pinned at the top: each alarm (one trace_id) with its kind in words, its
// lifecycle (raised → clearing failed → cleared) and, from its raising report, its photo,
// description and user — all from /api/alarms.

import { getJson, imageUrl } from "./api.js";
import { el, fmtFull, fmtTime } from "./format.js";
import { label, t } from "./i18n.js";

// The alarm_status codes of the three steps, for their labels: `raised_at`,
// `clear_failed_at` and `cleared_at` are the times of the reports with these statuses.
const RAISED = 1;
const CLEAR_FAILED = 2;
const CLEARED = 3;

/** The step the receiver's `state` (decided by the alarm's latest report) stands at. */
const STEP_OF_STATE = { raised: RAISED, clear_failed: CLEAR_FAILED, cleared: CLEARED };

const isOpen = (alarm) => alarm.state !== "cleared";

function step(status, at, current) {
  return el(
    "li",
    { class: `step s${status}${at == null ? " pending" : ""}${current ? " current" : ""}` },
    el("span", { class: "what", text: label("alarm_status", status) }),
    el("time", { title: at == null ? "" : fmtFull(at), text: at == null ? "—" : fmtTime(at) }),
  );
}

function lifecycle(alarm) {
  const now = STEP_OF_STATE[alarm.state];
  const steps = [step(RAISED, alarm.raised_at, now === RAISED)];
  if (alarm.clear_failed_at != null) steps.push(step(CLEAR_FAILED, alarm.clear_failed_at, now === CLEAR_FAILED));
  steps.push(step(CLEARED, alarm.cleared_at, now === CLEARED));
  return el("ol", { class: "lifecycle", "data-testid": "alarm-lifecycle" }, ...steps);
}

function alarmCard(alarm, open) {
  const photo = imageUrl(alarm);
  // The raising report's deviceSN when a firmware sends one, else the sender's address.
  const where = alarm.device ?? alarm.source ?? "";
  const description = alarm.description?.trim();
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
        alarm.trace_id,
        alarm.user_id ? el("span", { "data-testid": "alarm-user", text: ` · ${alarm.user_id}` }) : null,
      ),
      description
        ? el("span", { class: "description", "data-testid": "alarm-description", text: description })
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
      this.alarms = (await getJson("/api/alarms", { limit: 100 })).items;
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
