// The live feed of recognition records, newest first. New records are queued and put on
// the page once per animation frame; at most MAX_ROWS rows stay in the DOM, so 50 records
// a second cost a handful of DOM operations per frame.

import { imageUrl } from "./api.js";
import { el, fmtFull, fmtScore, fmtSpan, fmtTemp, fmtTime, shownAt } from "./format.js";
import { label, t } from "./i18n.js";

export const MAX_ROWS = 200;

/** A person's name, or a placeholder that says why there is none. */
export function personName(item) {
  return item.user?.name?.trim() || t("unknown_person");
}

/** The LATE badge of a record the receiver marked `late`, else null. */
export function lateBadge(item) {
  if (!item.late) return null;
  const delay = item.received_at - item.occurred_at; // a late record always has its time
  return el("span", {
    class: "badge late",
    "data-testid": "late",
    title: t("late_title", { t: fmtSpan(delay) }),
    text: t("late"),
  });
}

export function passBadge(item) {
  if (item.type === 1 || typeof item.pass !== "boolean") return el("span", { class: "badge" }, "—");
  return el("span", {
    class: `badge ${item.pass ? "pass" : "deny"}`,
    "data-testid": "pass",
    "data-pass": String(item.pass),
    text: item.pass ? t("pass") : t("deny"),
  });
}

export function thumb(item, size = "thumb") {
  const src = imageUrl(item);
  if (!src) return el("div", { class: `${size} none`, "aria-hidden": "true" });
  return el("img", {
    class: size,
    src,
    alt: personName(item),
    loading: "lazy",
    decoding: "async",
    "data-testid": "thumb",
  });
}

function recognitionRow(item, onOpen) {
  const user = item.user ?? {};
  const abnormal = Boolean(item.abnormal_type); // absent or 0 (none) is normal
  const row = el(
    "li",
    {
      class: `feed-row ${item.pass ? "is-pass" : "is-deny"}${item.late ? " is-late" : ""}`,
      "data-testid": "feed-row",
      "data-key": item.key,
    },
    thumb(item),
    el(
      "div",
      { class: "who" },
      el("span", { class: "name", "data-testid": "name", text: personName(item) }),
      el(
        "span",
        { class: "sub" },
        user.type != null ? label("user_type", user.type) : "",
        user.user_id ? ` · ${user.user_id}` : "",
      ),
    ),
    passBadge(item),
    el(
      "div",
      { class: "how" },
      el("span", { "data-testid": "recognition-type", text: label("recognitionType", item.recognitionType) }),
      el("span", { "data-testid": "entry-mode", text: label("entry_mode", item.entry_mode) }),
      el("span", {
        class: abnormal ? "abnormal" : "normal",
        "data-testid": "abnormal",
        text: label("abnormal_type", item.abnormal_type),
      }),
    ),
    el(
      "div",
      { class: "measures" },
      el("span", { title: t("score"), "data-testid": "score", text: fmtScore(item.recognizeScore) }),
      el("span", { title: t("temperature"), "data-testid": "temperature", text: fmtTemp(item.bodyTemperature) }),
    ),
    el(
      "div",
      { class: "where" },
      el("span", { class: "sn", "data-testid": "terminal", text: item.deviceSN || "—" }),
      el("time", {
        "data-testid": "time",
        datetime: new Date(shownAt(item)).toISOString(),
        title: fmtFull(shownAt(item)),
        text: fmtTime(shownAt(item)),
      }),
      lateBadge(item),
    ),
  );
  row.tabIndex = 0;
  row.addEventListener("click", () => onOpen(item));
  row.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      onOpen(item);
    }
  });
  return row;
}

export class Feed {
  constructor(root, { onOpen }) {
    this.list = root.querySelector('[data-testid="feed"]');
    this.empty = root.querySelector('[data-testid="feed-empty"]');
    this.pending = root.querySelector('[data-testid="feed-pending"]');
    this.pauseButton = root.querySelector('[data-testid="feed-pause"]');
    this.onOpen = onOpen;
    this.items = []; // shown, newest first (at most MAX_ROWS)
    this.queue = []; // arrived, oldest first, not yet shown (at most MAX_ROWS)
    this.keys = new Set();
    this.paused = false;
    this.frame = 0;
    this.pauseButton.addEventListener("click", () => this.setPaused(!this.paused));
  }

  /** Add records (any order); only recognition records belong to the feed. */
  add(items) {
    for (const item of items) {
      if (item.type !== 0) continue;
      if (this.keys.has(item.key)) continue;
      this.keys.add(item.key);
      this.queue.push(item);
    }
    if (this.queue.length > MAX_ROWS) {
      for (const gone of this.queue.splice(0, this.queue.length - MAX_ROWS)) {
        this.keys.delete(gone.key);
      }
    }
    this.schedule();
  }

  schedule() {
    if (this.paused) {
      this.showPending();
      return;
    }
    if (!this.frame && this.queue.length) this.frame = requestAnimationFrame(() => this.flush());
  }

  flush() {
    this.frame = 0;
    // In order of receipt: a late (backlog) record shows up on top when it arrives, marked.
    const fresh = this.queue.sort((a, b) => a.received_at - b.received_at);
    this.queue = [];
    const fragment = document.createDocumentFragment();
    for (let i = fresh.length - 1; i >= 0; i--) fragment.append(recognitionRow(fresh[i], this.onOpen));
    this.list.prepend(fragment);
    this.items = fresh.reverse().concat(this.items);
    while (this.items.length > MAX_ROWS) {
      const gone = this.items.pop();
      this.keys.delete(gone.key);
      this.list.lastElementChild?.remove();
    }
    this.empty.hidden = this.items.length > 0;
  }

  showPending() {
    this.pending.hidden = this.queue.length === 0;
    this.pending.textContent = t("pending", { n: this.queue.length });
  }

  setPaused(paused) {
    this.paused = paused;
    this.pauseButton.setAttribute("aria-pressed", String(paused));
    this.pauseButton.textContent = paused ? t("resume") : t("pause");
    this.pending.hidden = true;
    this.schedule();
  }

  /** Re-render every shown row (after a language change). */
  rerender() {
    this.list.replaceChildren(...this.items.map((item) => recognitionRow(item, this.onOpen)));
    this.pauseButton.textContent = this.paused ? t("resume") : t("pause");
    if (this.paused) this.showPending();
  }

  clear() {
    this.items = [];
    this.queue = [];
    this.keys.clear();
    this.list.replaceChildren();
    this.empty.hidden = false;
  }
}
