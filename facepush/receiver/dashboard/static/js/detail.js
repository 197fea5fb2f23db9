// The record detail view: the full snapshot, every field in words, and the raw record.

import { getJson, imageUrl } from "./api.js";
import { el, fmtFull, fmtScore, fmtTemp, shownAt } from "./format.js";
import { label, t } from "./i18n.js";
import { personName } from "./feed.js";

function fieldsOf(item) {
  const user = item.user ?? {};
  if (item.type === 1) {
    return [
      ["f_code", label("alarm_code", item.code)],
      ["f_status", label("alarm_status", item.status)],
      ["f_trace_id", item.trace_id],
      ["f_deviceSN", item.deviceSN], // only when a firmware adds one to its alarms
      ["f_user_id", item.user_id],
      ["f_description", (item.description ?? "").trim()],
      ["f_occurred_at", fmtFull(shownAt(item))],
      ["f_received_at", fmtFull(item.received_at)],
    ];
  }
  return [
    ["passage", item.pass === true ? t("pass") : item.pass === false ? t("deny") : "—"],
    ["f_user_type", user.type != null ? label("user_type", user.type) : "—"],
    ["f_user_id", user.user_id],
    ["f_job_number", user.job_number],
    ["f_ic_number", user.ic_number],
    ["f_groups", (user.groups ?? []).map((g) => g.name || g.id).join(", ")],
    ["f_recognitionType", label("recognitionType", item.recognitionType)],
    ["f_entry_mode", label("entry_mode", item.entry_mode)],
    ["f_mode", label("mode", item.mode)],
    ["f_abnormal_type", label("abnormal_type", item.abnormal_type)],
    ["f_mask", label("mask", item.mask)],
    ["f_recognizeScore", fmtScore(item.recognizeScore)],
    ["f_bodyTemperature", fmtTemp(item.bodyTemperature)],
    ["f_deviceSN", item.deviceSN],
    ["f_occurred_at", fmtFull(shownAt(item))],
    ["f_received_at", `${fmtFull(item.received_at)}${item.late ? ` (${t("late")})` : ""}`],
    ["f_uuid", item.uuid],
    ["f_remark", user.remark],
  ];
}

export class Detail {
  constructor(root) {
    this.dialog = root.querySelector('[data-testid="detail"]');
    this.title = this.dialog.querySelector("#detail-h");
    this.image = this.dialog.querySelector('[data-testid="detail-image"]');
    this.caption = this.dialog.querySelector("figcaption");
    this.fields = this.dialog.querySelector('[data-testid="detail-fields"]');
    this.raw = this.dialog.querySelector('[data-testid="detail-raw"]');
    this.item = null;
    this.dialog.addEventListener("click", (event) => {
      if (event.target === this.dialog) this.dialog.close();
    });
  }

  /** Show `item` at once, then the stored record as /api/events/{key} serves it. */
  open(item) {
    this.show(item);
    if (!this.dialog.open) this.dialog.showModal();
    const { key } = item;
    getJson(`/api/events/${encodeURIComponent(key)}`)
      .then((stored) => {
        if (this.item?.key === key) this.show(stored);
      })
      .catch(() => {});
  }

  show(item) {
    this.item = item;
    const alarm = item.type === 1;
    this.title.textContent = alarm ? label("alarm_code", item.code) : personName(item);
    const src = imageUrl(item);
    this.image.hidden = !src;
    if (src) {
      this.image.src = src;
      this.image.alt = this.title.textContent;
    } else this.image.removeAttribute("src");
    this.caption.textContent = src ? "" : t("no_photo");
    const rows = [];
    for (const [key, value] of fieldsOf(item)) {
      if (value === undefined || value === null || value === "") continue;
      rows.push(el("div", {}, el("dt", { text: t(key) }), el("dd", { text: String(value) })));
    }
    this.fields.replaceChildren(...rows);
    this.raw.textContent = JSON.stringify(item, null, 2);
  }

  rerender() {
    if (this.item && this.dialog.open) this.show(this.item);
  }
}
