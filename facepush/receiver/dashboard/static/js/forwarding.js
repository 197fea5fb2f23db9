// Forwarding: each sink's state, how far behind it is, and its last error in words.
// Hidden when the receiver forwards nowhere.

import { getJson } from "./api.js";
import { el, fmtFull, fmtSpan } from "./format.js";
import { t } from "./i18n.js";

/** Behind by more than this (seconds) and still sending: shown as lagging. */
export const LAGGING_S = 10;

/** What the sink is doing, in one word of the page: the receiver's `state`, and "lagging"
 * for a sink that sends but is far behind. */
export function shownState(sink) {
  if (sink.state === "forwarding" && sink.lag_s > LAGGING_S) return "lagging";
  return sink.state;
}

export class Forwarding {
  constructor(root) {
    this.section = root.querySelector('[data-testid="forwarding"]');
    this.body = this.section.querySelector("tbody");
    this.sinks = [];
  }

  async load() {
    const data = await getJson("/api/forward");
    this.sinks = data.items;
    this.render();
  }

  render() {
    this.section.hidden = this.sinks.length === 0;
    const now = Date.now();
    const rows = this.sinks.map((sink) => {
      const state = shownState(sink);
      const sent = sink.last_forwarded_at
        ? t("ago", { t: fmtSpan(now - sink.last_forwarded_at) })
        : t("fw_never");
      return el(
        "tr",
        { "data-testid": "sink-row", "data-sink": sink.name, "data-state": state },
        el("th", { scope: "row" }, el("span", { class: "sink-name", text: sink.name }),
          el("span", { class: "sink-url", text: `${sink.kind} · ${sink.url}` })),
        el("td", {}, el("span", { class: `chip fw-${state}`, "data-testid": "sink-state",
          title: t(`fw_${state}_title`), text: t(`fw_${state}`) })),
        el("td", { class: "num", "data-testid": "sink-lag", text: fmtSpan(sink.lag_s * 1000) }),
        el("td", { class: "num", "data-testid": "sink-pending", text: sink.pending.toLocaleString() }),
        el("td", { class: "num", "data-testid": "sink-forwarded", title: t("fw_sent", { t: sent }),
          text: sink.forwarded.toLocaleString() }),
        el("td", { class: "num", "data-testid": "sink-set-aside", text: sink.set_aside.toLocaleString() }),
        el("td", { class: sink.last_error ? "sink-error" : "sink-error none", "data-testid": "sink-error",
          title: sink.last_error_at ? fmtFull(sink.last_error_at) : null,
          text: sink.last_error ?? "—" }),
      );
    });
    this.body.replaceChildren(...rows);
  }

  clear() {
    this.sinks = [];
    this.render();
  }
}
