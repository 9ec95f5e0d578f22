// Live line view: a status strip per line (OEE over the time whose state is known, output against target, the
// shift and plant clock, what is down and for how long, open alerts by severity), then every station, buffer,
// conveyor and AGV in flow order, updated as the twin changes. ISA-101: grey while normal, colour only for what
// is abnormal, so that stands out.

import { tryApi } from "../api.js";
import { plantNow, syncClock } from "../clock.js";
import { codeText } from "../codes.js";
import { el, flagNotes, fmt, kpi, SEVERITY, severityBadge, SHOWN_BESIDE } from "../dom.js";
import { LineDrawing, loadLayout } from "../line.js";
import { clock, zoneName } from "../time.js";
import { openAlerts } from "./alerts.js";

export async function mount(container, ctx) {
  await syncClock();
  const layout = await loadLayout();
  const drawing = el("div", { class: "lines", id: "line-drawing" });
  const status = el("p", { class: "muted small", role: "status" });
  container.append(el("h1", { class: "sr-only" }, "Line view"), drawing, status);
  const lines = new LineDrawing(drawing, layout, { status: true });
  let alerts = [];
  let oee = null;
  let stops = [];
  const redraw = () => {
    lines.update(ctx.feed.assets, { alerts });
    for (const [path, strip] of lines.status) drawStatus(strip, path, { oee, alerts, stops, assets: ctx.feed.assets });
    status.textContent = `${ctx.feed.assets.size} assets · ${ctx.feed.mode}`;
    document.body.dataset.updates = String(ctx.feed.messages);
  };
  const refreshAlerts = async () => {
    try { alerts = await openAlerts(); } catch { /* keep the last list */ }
    redraw();
  };
  const refreshOee = async () => {
    try {
      const [body, down] = await Promise.all([tryApi("/api/oee"), tryApi("/api/downtime", { params: { limit: 100 } })]);
      if (body) oee = body;
      if (down) stops = down.filter((s) => s.open);
    } catch { return; }
    redraw();
  };
  const off = ctx.feed.subscribe(redraw);
  const offAlert = ctx.feed.onAlert(refreshAlerts);
  const tick = setInterval(refreshAlerts, 5000);
  const oeeTick = setInterval(() => { syncClock(); refreshOee(); }, 10000);
  const clockTick = setInterval(redraw, 1000);  // durations and the clock run on between updates
  await Promise.all([refreshAlerts(), refreshOee()]);
  return () => { off(); offAlert(); clearInterval(tick); clearInterval(oeeTick); clearInterval(clockTick); };
}

function tile(role, label, value, sub, abnormal = "") {
  return el("div", { class: `tile ${abnormal ? `abnormal ${abnormal}` : ""}`, "data-role": role },
    el("span", { class: "tile-label" }, label), el("span", { class: "tile-value" }, value), sub ? el("span", { class: "tile-sub" }, sub) : "");
}

function drawStatus(strip, path, { oee, alerts, stops, assets }) {
  const now = plantNow();
  const ln = oee && (oee.lines || []).find((l) => l.line === path);
  const cur = oee && oee.current;
  const tiles = [];

  // OEE over the planned time whose state is known; the unknown time said as such
  if (ln) {
    const known = ln.planned_busy_time_s || 0;
    const unknown = ln.unknown_s || 0;
    const flags = ln.flags || [];
    tiles.push(el("div", { class: "tile", "data-role": "line-oee" },
      el("span", { class: "tile-label" }, `Line OEE · ${oee.window === "day" ? "today" : "this shift"}`),
      el("span", { class: "tile-value" }, kpi(ln.oee, flags)),
      el("span", { class: "tile-sub" }, `over ${fmt.duration(known)} with known state`,
        unknown ? el("span", { "data-role": "unknown-time" }, ` · ${fmt.duration(unknown)} unknown (no state reported), left out`) : ""),
      flagNotes(flags.filter((f) => !SHOWN_BESIDE.includes(f)))));
    // output against the target: good parts at the bottleneck's pace over the same known time, times the target OEE
    const t = ln.target;
    if (t && Number.isFinite(t.good_by_now)) {
      const behind = t.good_by_now - ln.good;
      tiles.push(tile("output", "Output · good parts", `${fmt.int(ln.good)} of ${fmt.int(t.good_by_now)}`,
        behind > 0 ? `▼ ${fmt.int(behind)} behind the target by now (OEE ${Math.round(100 * t.oee)} %)`
          : `on target by now (OEE ${Math.round(100 * t.oee)} %)`, behind > 0 ? "behind" : ""));
    } else {
      tiles.push(tile("output", "Output · good parts", fmt.int(ln.good), "no target set (an oee alert rule sets one)"));
    }
  }
  // the shift and the plant clock
  if (cur) {
    const left = (Date.parse(cur.end) - now) / 1000;
    const name = cur.shift || (oee.window === "day" ? "today" : cur.key.endsWith("no-shift") ? "between shifts" : "the whole day (no shift calendar)");
    tiles.push(tile("shift", "Shift", name,
      `${clock(cur.start, { seconds: false })}–${clock(cur.end, { seconds: false })} · ${fmt.duration(left)} left · now ${clock(now)} ${zoneName(now)}`));
  }
  // what is down, and for how long (with the machine's alarm code in words)
  const down = [...assets.values()].filter((a) => a.line === path && a.state === "down");
  if (down.length) {
    tiles.push(el("div", { class: "tile abnormal down wide", "data-role": "down" },
      el("span", { class: "tile-label" }, `Down · ${down.length}`),
      el("ul", { class: "down-list" }, ...down.map((a) => {
        const stop = stops.find((s) => s.asset === a.id);
        const why = !stop ? "no reason yet" : stop.reason_source === "operator" ? stop.reason
          : stop.code ? codeText(stop.code) : stop.qualified ? stop.reason : "no reason yet";
        return el("li", { "data-asset": a.id },
          el("a", { href: `#/asset/${encodeURIComponent(a.id)}` }, `✖ ${a.name}`),
          ` ${a.state_since ? fmt.duration((now - Date.parse(a.state_since)) / 1000) : ""} · ${why}`);
      }))));
  } else {
    tiles.push(tile("down", "Down", "nothing", "every station is up"));
  }
  // open alerts by severity, the worst first
  const mine = alerts.filter((a) => a.asset.startsWith(`${path}/`) && a.state !== "shelved");
  const bySev = {};
  for (const a of mine) bySev[a.severity] = (bySev[a.severity] || 0) + 1;
  const sevs = Object.keys(bySev).sort((x, y) => (SEVERITY[y]?.rank ?? -1) - (SEVERITY[x]?.rank ?? -1));
  tiles.push(el("div", { class: `tile ${sevs.length ? "abnormal alerting" : ""}`, "data-role": "alerts" },
    el("span", { class: "tile-label" }, "Open alerts"),
    sevs.length ? el("a", { class: "tile-value badges", href: "#/alerts" }, ...sevs.map((s) => severityBadge(s, bySev[s])))
      : el("span", { class: "tile-value" }, "none")));
  // redrawn every second: a link that had the keyboard's focus keeps it
  const focused = strip.contains(document.activeElement) ? document.activeElement.getAttribute("href") : null;
  strip.replaceChildren(...tiles);
  if (focused) { const again = [...strip.querySelectorAll("a")].find((a) => a.getAttribute("href") === focused); if (again) again.focus(); }
}
