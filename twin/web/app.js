// The page: sign-in, the header, and a router over the URL fragment (#/line, #/asset/<path>, ...).

import { adoptKeyFromFragment, api, session } from "./api.js";
import { LiveFeed } from "./live.js";
import * as alertsView from "./views/alerts.js";
import { openAlerts } from "./views/alerts.js";
import * as assetView from "./views/asset.js";
import * as lineView from "./views/line.js";
import * as planningView from "./views/planning.js";
import * as replayView from "./views/replay.js";

const VIEWS = { line: lineView, replay: replayView, alerts: alertsView, planning: planningView, asset: assetView };
const $ = (id) => document.getElementById(id);

const ctx = { me: null, feed: null };
let unmount = null;

async function signIn() {
  try {
    ctx.me = await api("/api/me");
  } catch (e) {
    showLogin(e.status === 401 ? "That key was not accepted." : `The twin did not answer: ${e.message}`);
    return false;
  }
  $("login").hidden = true;
  $("logout").hidden = false;
  $("who").textContent = `${ctx.me.name} · ${ctx.me.role}`;
  document.body.dataset.role = ctx.me.role;
  ctx.feed = new LiveFeed();
  const modes = { websocket: "● live", polling: "◐ polling", offline: "○ offline" };
  ctx.feed.onmode = (m) => { $("feed").textContent = modes[m]; $("feed").dataset.mode = m; };
  ctx.feed.start();
  countAlerts();
  ctx.feed.onAlert(countAlerts);
  return true;
}

let alertTimer = null;
async function countAlerts() {
  clearTimeout(alertTimer);
  if (!ctx.me) return;
  try {
    const open = (await openAlerts()).filter((a) => !a.acknowledged && a.state !== "shelved");
    const badge = $("alert-count");
    badge.hidden = open.length === 0;
    badge.textContent = String(open.length);
    badge.setAttribute("aria-label", `${open.length} unacknowledged`);
  } catch { /* the next round tries again */ }
  alertTimer = setTimeout(countAlerts, 10000);
}

function showLogin(message = "") {
  $("view").replaceChildren();
  $("login").hidden = false;
  $("logout").hidden = true;
  $("login-error").textContent = message;
  $("key").focus();
}

async function route() {
  if (adoptKeyFromFragment() && ctx.me === null) { await start(); return; }
  if (!ctx.me) return;
  const hash = location.hash.replace(/^#\/?/, "") || "line";
  const [name, ...rest] = hash.split("/");
  const view = VIEWS[name] || lineView;
  if (unmount) { unmount(); unmount = null; }
  for (const a of document.querySelectorAll("nav a")) {
    if (a.dataset.view === name) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  const container = $("view");
  container.replaceChildren();
  document.title = `${name} · factory-twin`;
  try {
    unmount = (await view.mount(container, ctx, decodeURIComponent(rest.join("/")))) || null;
  } catch (e) {
    if (e.status === 401) { session.key = null; ctx.me = null; showLogin("Your key is no longer accepted."); return; }
    container.append(Object.assign(document.createElement("p"), { className: "error", role: "alert", textContent: e.message }));
  }
  document.body.dataset.ready = name;  // for tests and screen readers: the view is drawn
}

async function start() {
  if (!session.key) { showLogin(); return; }
  if (await signIn()) await route();
}

$("login").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  session.key = $("key").value.trim();
  $("key").value = "";
  await start();
});
$("logout").addEventListener("click", () => {
  session.key = null;
  ctx.me = null;
  if (ctx.feed) ctx.feed.stop();
  if (unmount) { unmount(); unmount = null; }
  $("who").textContent = "";
  showLogin();
});
window.addEventListener("hashchange", route);
adoptKeyFromFragment();
start();
