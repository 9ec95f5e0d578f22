// The page: sign-in, the header (plant clock in the plant's time zone), and a router over the URL fragment
// (#/line, #/asset/<path>, ...). After every route change focus goes to the new view's heading, never <body>.

import { adoptKeyFromFragment, api, session, tryApi } from "./api.js";
import { plantNow, syncClock } from "./clock.js";
import { loadCodes } from "./codes.js";
import { focusInto } from "./dom.js";
import { LiveFeed } from "./live.js";
import { clock, plantZone, setPlantZone, zoneName } from "./time.js";
import * as alertsView from "./views/alerts.js";
import { openAlerts } from "./views/alerts.js";
import * as assetView from "./views/asset.js";
import * as commandsView from "./views/commands.js";
import * as downtimeView from "./views/downtime.js";
import * as lineView from "./views/line.js";
import * as planningView from "./views/planning.js";
import * as replayView from "./views/replay.js";

const VIEWS = { line: lineView, replay: replayView, alerts: alertsView, planning: planningView, asset: assetView,
  downtime: downtimeView, commands: commandsView };
const $ = (id) => document.getElementById(id);

const ctx = { me: null, feed: null, plant: null };
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
  $("who").replaceChildren(ctx.me.name, Object.assign(document.createElement("small"), { textContent: ctx.me.role }));
  document.body.dataset.role = ctx.me.role;
  // every time on every screen is plant time, in the site's zone from the plant model
  ctx.plant = await tryApi("/api/plant").catch(() => undefined);
  const site = ctx.plant && (ctx.plant.sites || [])[0];
  setPlantZone(site && site.timezone);
  await Promise.all([syncClock(), loadCodes()]);
  startClock();
  ctx.feed = new LiveFeed();
  const modes = { websocket: "● live", polling: "◐ polling", offline: "○ offline" };
  ctx.feed.onmode = (m) => { $("feed").textContent = modes[m]; $("feed").dataset.mode = m; };
  ctx.feed.start();
  countAlerts();
  ctx.feed.onAlert(countAlerts);
  return true;
}

let clockTimer = null;
function startClock() {
  clearInterval(clockTimer);
  const { zone, fromPlant } = plantZone();
  const tick = () => {
    const now = plantNow();
    $("clock-time").textContent = clock(now);
    $("clock-time").setAttribute("datetime", new Date(now).toISOString());
    $("clock-zone").replaceChildren(`${zoneName(now)} ${fromPlant ? "plant time" : "this browser's time"}`,
      Object.assign(document.createElement("small"), { textContent: zone }));
  };
  tick();
  $("plant-clock").hidden = false;
  $("plant-clock").title = `Every time on these pages is ${fromPlant ? "plant time" : "this browser's time"}, ${zone}, 24 h.`;
  let n = 0;
  clockTimer = setInterval(() => { if ((n += 1) % 60 === 0) syncClock(); tick(); }, 1000);  // the twin's clock again each minute
}

let alertTimer = null;
async function countAlerts() {
  clearTimeout(alertTimer);
  if (!ctx.me) return;
  try {
    const [open, pending] = await Promise.all([openAlerts(), tryApi("/api/commands", { params: { state: "pending" } }).catch(() => [])]);
    const unacked = open.filter((a) => !a.acknowledged && a.state !== "shelved");
    badge($("alert-count"), unacked.length, "unacknowledged");
    badge($("command-count"), (pending || []).length, "waiting for approval");
  } catch { /* the next round tries again */ }
  alertTimer = setTimeout(countAlerts, 10000);
}

function badge(node, n, what) {
  node.hidden = n === 0;
  node.textContent = String(n);
  node.setAttribute("aria-label", `${n} ${what}`);
}

function showLogin(message = "") {
  $("view").replaceChildren();
  $("login").hidden = false;
  $("logout").hidden = true;
  $("plant-clock").hidden = true;
  clearInterval(clockTimer);
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
  focusInto(container);  // the new view's heading: keyboard and screen-reader users start there, not at <body>
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
  $("who").replaceChildren();
  showLogin();
});
window.addEventListener("hashchange", route);
window.addEventListener("twin:changed", () => countAlerts());
adoptKeyFromFragment();
start();
