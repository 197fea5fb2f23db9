// Search and filters over /api/events, paged with its cursor ("load more"), and the CSV
// export of the same filters.

import { apiUrl, getJson } from "./api.js";
import { el, fmtFull, fmtTime, localInputToMs, shownAt } from "./format.js";
import { label, t } from "./i18n.js";
import { lateBadge, passBadge, personName } from "./feed.js";

const PAGE = 100;

/** The query parameters of the form's current filters. */
function filtersOf(form) {
  const value = (name) => form.elements[name].value.trim();
  return {
    device: value("device"),
    user_id: value("user_id"),
    type: value("type"),
    pass: value("pass"),
    since: localInputToMs(value("since")),
    until: localInputToMs(value("until")),
  };
}

function resultRow(item, onOpen) {
  const alarm = item.type === 1;
  const what = alarm
    ? el("span", { class: "kind", text: label("alarm_code", item.code) })
    : el("span", { class: "name", text: personName(item) });
  const sub = alarm
    ? label("alarm_status", item.status)
    : [item.user?.user_id, label("recognitionType", item.recognitionType)].filter(Boolean).join(" · ");
  const details = alarm
    ? (item.description ?? "").trim()
    : [label("entry_mode", item.entry_mode), item.abnormal_type ? label("abnormal_type", item.abnormal_type) : ""]
        .filter(Boolean)
        .join(" · ");
  const row = el(
    "tr",
    { "data-testid": "result", "data-key": item.key, tabindex: 0, class: alarm ? "is-alarm" : "" },
    el("td", { title: fmtFull(shownAt(item)) }, fmtTime(shownAt(item)), " ", lateBadge(item)),
    el("td", {}, el("span", { class: `tag t${item.type}`, text: label("type", item.type) })),
    el("td", {}, what, el("span", { class: "sub", text: sub })),
    el("td", { class: "sn", text: item.deviceSN || "—" }),
    el("td", {}, passBadge(item)),
    el("td", { class: "details", text: details }),
  );
  row.addEventListener("click", () => onOpen(item));
  row.addEventListener("keydown", (event) => {
    if (event.key === "Enter") onOpen(item);
  });
  return row;
}

export class Search {
  constructor(root, { onOpen }) {
    this.form = root.querySelector('[data-testid="filters"]');
    this.body = root.querySelector('[data-testid="results"] tbody');
    this.info = root.querySelector('[data-testid="result-info"]');
    this.more = root.querySelector('[data-testid="load-more"]');
    this.exportLink = root.querySelector('[data-testid="export"]');
    this.onOpen = onOpen;
    this.items = [];
    this.next = null;
    this.filters = {};
    this.generation = 0;
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.run().catch((err) => this.fail(err));
    });
    this.form.addEventListener("reset", () => {
      setTimeout(() => this.run().catch((err) => this.fail(err)), 0);
    });
    this.form.addEventListener("input", () => this.updateExport());
    this.more.addEventListener("click", () => this.loadMore().catch((err) => this.fail(err)));
    this.updateExport();
  }

  /** The export link always honours the filters as they stand in the form. */
  updateExport() {
    this.exportLink.href = apiUrl("/api/export.csv", filtersOf(this.form));
  }

  async run() {
    this.filters = filtersOf(this.form);
    this.updateExport();
    const generation = ++this.generation;
    this.form.setAttribute("aria-busy", "true");
    try {
      const data = await getJson("/api/events", { ...this.filters, limit: PAGE });
      if (generation !== this.generation) return;
      this.items = data.items;
      this.next = data.next;
      this.body.replaceChildren(...this.items.map((item) => resultRow(item, this.onOpen)));
      this.showInfo();
    } finally {
      if (generation === this.generation) this.form.removeAttribute("aria-busy");
    }
  }

  async loadMore() {
    if (!this.next) return;
    const generation = this.generation;
    this.more.disabled = true;
    try {
      const data = await getJson("/api/events", { ...this.filters, limit: PAGE, cursor: this.next });
      if (generation !== this.generation) return;
      this.items = this.items.concat(data.items);
      this.next = data.next;
      const fragment = document.createDocumentFragment();
      for (const item of data.items) fragment.append(resultRow(item, this.onOpen));
      this.body.append(fragment);
      this.showInfo();
    } finally {
      this.more.disabled = false;
    }
  }

  showInfo() {
    const n = this.items.length;
    this.info.textContent = t(this.next ? "results_more" : "results", { n });
    this.info.classList.remove("error");
    this.more.hidden = !this.next;
  }

  fail(err) {
    this.info.textContent = t("error", { msg: err.message });
    this.info.classList.add("error");
  }

  rerender() {
    this.body.replaceChildren(...this.items.map((item) => resultRow(item, this.onOpen)));
    if (!this.info.classList.contains("error")) this.showInfo();
  }

  clear() {
    this.items = [];
    this.next = null;
    this.body.replaceChildren();
    this.info.textContent = "";
    this.more.hidden = true;
  }
}
