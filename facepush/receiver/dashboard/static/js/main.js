// The dashboard's entry point: loads the labels and the sections, follows the live stream,
// and refreshes totals and terminals now and then.

import { follow, getJson, onRefused, useToken } from "./api.js";
import { Alarms } from "./alarms.js";
import { Attendance } from "./attendance.js";
import { Detail } from "./detail.js";
import { Feed } from "./feed.js";
import { Forwarding } from "./forwarding.js";
import { applyWords, currentLang, onLangChange, setLabelTables, t, toggleLang } from "./i18n.js";
import { Search } from "./search.js";
import { Terminals } from "./terminals.js";

const FEED_FIRST = 50;
const REFRESH_MS = 5000;
const ALARMS_REFRESH_MS = 15000;

const $ = (selector) => document.querySelector(selector);
const main = $("main");
const conn = $('[data-testid="connection"]');
const langButton = $('[data-testid="lang-toggle"]');

const detail = new Detail(document);
const open = (item) => detail.open(item);
const feed = new Feed(document, { onOpen: open });
const alarms = new Alarms(document);
const terminals = new Terminals(document);
const forwarding = new Forwarding(document);
const search = new Search(document, { onOpen: open });
const attendance = new Attendance(document);

/** The page shown: the live view, or attendance (`#attendance`). */
function showView() {
  const view = location.hash === "#attendance" ? "attendance" : "live";
  for (const node of document.querySelectorAll("[data-view]")) node.hidden = node.dataset.view !== view;
  for (const link of document.querySelectorAll("[data-view-link]")) {
    if (link.dataset.viewLink === view) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (view === "attendance" && !isRefused) attendance.show();
}

let stopStream = null;
let timers = [];
let isRefused = false;
let terminalsDue = 0;

function setConnection(state) {
  conn.dataset.state = state;
  conn.textContent = t(`conn_${state}`);
}

function showLang() {
  langButton.textContent = currentLang() === "zh" ? "English" : "中文";
  setConnection(conn.dataset.state);
}

function refuse() {
  if (isRefused) return;
  isRefused = true;
  if (stopStream) stopStream();
  for (const timer of timers) clearInterval(timer);
  timers = [];
  main.hidden = true;
  for (const section of [feed, alarms, terminals, forwarding, search, attendance]) section.clear();
  for (const node of document.querySelectorAll("[data-stat]")) node.textContent = "–";
  $('[data-testid="refused"]').hidden = false;
  setConnection("refused");
}

async function loadStats() {
  const stats = await getJson("/api/stats");
  for (const node of document.querySelectorAll("[data-stat]")) {
    node.textContent = stats[node.dataset.stat].toLocaleString();
  }
}

function quietly(promise) {
  promise.catch((err) => {
    if (err.status !== 401) console.warn("facepush dashboard:", err.message);
  });
}

async function loadFeed() {
  const data = await getJson("/api/events", { type: 0, limit: FEED_FIRST });
  feed.add(data.items);
}

function onRecord(item) {
  if (item.type === 0) feed.add([item]);
  else alarms.changed();
  // Totals and terminals follow the stream, at most once a second.
  const now = Date.now();
  if (now >= terminalsDue) {
    terminalsDue = now + 1000;
    setTimeout(() => {
      quietly(loadStats());
      quietly(terminals.load());
    }, 1000);
  }
}

async function start() {
  applyWords();
  showLang();
  setConnection("connecting");
  setLabelTables(await getJson("/dashboard/labels.json"));
  applyWords();
  showView();
  await Promise.all([
    loadStats(),
    loadFeed(),
    alarms.load(),
    terminals.load(),
    forwarding.load(),
    search.run(),
  ]);
  stopStream = follow({
    onRecord,
    onState: setConnection,
    onReconnect: () => {
      quietly(loadFeed());
      quietly(alarms.load());
      quietly(loadStats());
    },
  });
  timers.push(
    setInterval(() => {
      quietly(loadStats());
      quietly(terminals.load());
      quietly(forwarding.load());
    }, REFRESH_MS),
    setInterval(() => quietly(alarms.load()), ALARMS_REFRESH_MS),
  );
}

onRefused(refuse);
onLangChange(() => {
  showLang();
  feed.rerender();
  alarms.render();
  terminals.render();
  forwarding.render();
  search.rerender();
  attendance.rerender();
  detail.rerender();
});
langButton.addEventListener("click", toggleLang);
window.addEventListener("hashchange", showView);
$('[data-testid="token-form"]').addEventListener("submit", (event) => {
  event.preventDefault();
  const value = event.target.elements.token.value.trim();
  if (value) useToken(value);
});

function begin() {
  start().catch((err) => {
    if (err.status === 401) return;
    setConnection("reconnecting");
    const info = $('[data-testid="result-info"]');
    info.textContent = t("error", { msg: err.message });
    info.classList.add("error");
    setTimeout(begin, 3000);
  });
}

begin();
