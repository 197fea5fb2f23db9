// Small DOM and formatting helpers shared by every section of the page.

/** Create an element: el("span", {class: "x", "data-testid": "y"}, "text", child). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name.startsWith("on") && typeof value === "function") {
      node.addEventListener(name.slice(2), value);
    } else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

const pad = (n) => String(n).padStart(2, "0");

function sameDay(a, b) {
  return (
    a.getFullYear() === b.getFullYear() &&
    a.getMonth() === b.getMonth() &&
    a.getDate() === b.getDate()
  );
}

/** "14:03:07" today, "2024-05-29 14:03:07" on another day. */
export function fmtTime(ms) {
  if (typeof ms !== "number" || !Number.isFinite(ms)) return "—";
  const d = new Date(ms);
  const clock = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  if (sameDay(d, new Date())) return clock;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${clock}`;
}

/** The full local date and time, for tooltips and the detail view. */
export function fmtFull(ms) {
  if (typeof ms !== "number" || !Number.isFinite(ms)) return "—";
  const d = new Date(ms);
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  );
}

/** A short span of time: "12 s", "4 min", "3 h", "2 d". */
export function fmtSpan(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  if (s < 86400) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}

export function fmtScore(score) {
  return typeof score === "number" && Number.isFinite(score) ? `${(score * 100).toFixed(1)}%` : "—";
}

export function fmtTemp(temp) {
  return typeof temp === "number" && temp > 0 ? `${temp.toFixed(1)} °C` : "—";
}

/** The time a record is shown at: when it happened (the receiver's normalised
 * `occurred_at`), or, for a record that carries no time (`occurred_at` null), its receipt. */
export function shownAt(item) {
  return item.occurred_at ?? item.received_at;
}

/** The value of a datetime-local input as ms, or "" when empty. */
export function localInputToMs(value) {
  if (!value) return "";
  const ms = new Date(value).getTime();
  return Number.isFinite(ms) ? String(ms) : "";
}
