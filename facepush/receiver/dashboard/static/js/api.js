// The receiver's query API: token handling, JSON requests in the vendor envelope, and the
// live stream of new records (server-sent events on /api/stream).

const TOKEN_KEY = "facepush.token";

/** The token from the page's own URL (/?token=T), else the one kept for this tab. */
function readToken() {
  const fromUrl = new URLSearchParams(location.search).get("token");
  if (fromUrl) {
    sessionStorage.setItem(TOKEN_KEY, fromUrl);
    return fromUrl;
  }
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

let token = readToken();
const refusedListeners = [];

export function onRefused(fn) {
  refusedListeners.push(fn);
}

function refused() {
  for (const fn of refusedListeners) fn();
}

/** Open the page again with another token. */
export function useToken(value) {
  sessionStorage.setItem(TOKEN_KEY, value);
  const url = new URL(location.href);
  url.searchParams.set("token", value);
  location.assign(url.toString());
}

export class ApiError extends Error {
  constructor(status, msg) {
    super(msg);
    this.status = status;
  }
}

/** `path` with `params` (empty values left out) and, for URLs the browser fetches by itself
 * (images, the CSV download, the event stream), the token as `?token=`. */
export function apiUrl(path, params = {}, withToken = true) {
  const url = new URL(path, location.origin);
  for (const [name, value] of Object.entries(params)) {
    if (value !== "" && value !== null && value !== undefined) url.searchParams.set(name, value);
  }
  if (withToken && token) url.searchParams.set("token", token);
  return url.pathname + url.search;
}

/**
 * GET a JSON endpoint; resolves to its `data`, rejects with ApiError. Every reply of the
 * receiver's API is the envelope `{code, msg, data}` with `code` equal to the HTTP status;
 * a failure without a JSON body (a proxy in between, say) is named by its status.
 */
export async function getJson(path, params = {}) {
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(apiUrl(path, params, false), { headers, cache: "no-store" });
  } catch (err) {
    throw new ApiError(0, `receiver unreachable (${err.message})`);
  }
  if (response.ok) return (await response.json()).data;
  const body = await response.json().catch(() => null);
  const msg = body?.msg || `HTTP ${response.status}`;
  if (response.status === 401) refused();
  throw new ApiError(response.status, msg);
}

/** The stored image (snapshot or alarm photo) of a record or alarm, or null. */
export function imageUrl(item) {
  return item.image_url ? apiUrl(item.image_url) : null;
}

/**
 * Follow /api/stream. `onRecord(item)` gets each new record; `onState(state)` gets
 * "live", "reconnecting" (the browser retries by itself) and, after a reconnect or when the
 * receiver says that records were skipped (`event: missed`: this page fell behind, or a
 * record was too large for the stream), `onReconnect()` is called so that the page can
 * fetch what it missed.
 */
export function follow({ onRecord, onState, onReconnect }) {
  let source = null;
  let wasLive = false;
  let retry = null;
  const open = () => {
    source = new EventSource(apiUrl("/api/stream"));
    source.addEventListener("open", () => {
      onState("live");
      if (wasLive) onReconnect();
      wasLive = true;
    });
    // Each stored record is one `event: record`, its data the item of /api/events.
    source.addEventListener("record", (event) => onRecord(JSON.parse(event.data)));
    // The receiver skipped records this page did not read in time (or one too large for
    // the stream): fetch them as after a reconnect.
    source.addEventListener("missed", () => onReconnect());
    source.addEventListener("error", () => {
      onState("reconnecting");
      if (source.readyState === EventSource.CLOSED) {
        // The server answered with an error (e.g. the token was withdrawn): ask again later,
        // after checking the token with an ordinary request.
        source.close();
        clearTimeout(retry);
        const reopen = () =>
          getJson("/api/stats").then(open, (err) => {
            if (err.status !== 401) retry = setTimeout(reopen, 3000);
          });
        retry = setTimeout(reopen, 3000);
      }
    });
  };
  open();
  return () => {
    clearTimeout(retry);
    if (source) source.close();
  };
}
