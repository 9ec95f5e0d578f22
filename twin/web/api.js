// The twin's HTTP API as the page sees it: the caller's key from sessionStorage, sent as a bearer token.

const KEY = "factory-twin.key";

export class ApiError extends Error {
  constructor(status, detail, path) {
    super(`${path}: ${status} ${detail}`);
    this.status = status;
    this.detail = detail;
  }
}

/** Takes a key given in the URL fragment (#key=...) into this tab's storage, and out of the address bar. */
export function adoptKeyFromFragment() {
  const m = location.hash.match(/(?:^#|&)key=([^&]+)/);
  if (!m) return false;
  sessionStorage.setItem(KEY, decodeURIComponent(m[1]));
  history.replaceState(null, "", location.pathname + location.search + "#/line");
  return true;
}

export const session = {
  get key() { return sessionStorage.getItem(KEY); },
  set key(value) { if (value) sessionStorage.setItem(KEY, value); else sessionStorage.removeItem(KEY); },
};

export async function api(path, { method = "GET", body, params } = {}) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(params || {})) if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, v);
  const headers = { Authorization: `Bearer ${session.key}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!res.ok) {
    let detail = res.statusText;
    try { const j = await res.json(); detail = typeof j.detail === "string" ? j.detail : JSON.stringify(j.detail); } catch { /* not JSON */ }
    throw new ApiError(res.status, detail, path);
  }
  return res.status === 204 ? null : res.json();
}

/** The API returns 404 for a route that is not there yet: callers fall back to what exists. */
export async function tryApi(path, opts) {
  try { return await api(path, opts); } catch (e) { if (e.status === 404 || e.status === 405) return undefined; throw e; }
}

export function wsUrl(path, params = {}) {
  const url = new URL(path, location.origin);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  url.searchParams.set("token", session.key);
  return url.toString();
}
