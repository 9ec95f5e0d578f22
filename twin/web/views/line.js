// Live line view: every station, buffer, conveyor and AGV in flow order, updated as the twin changes; the line's
// OEE of the shift above it, with the planned time whose state is known and the time that is not.

import { tryApi } from "../api.js";
import { plantNow, syncClock } from "../clock.js";
import { el, flagNotes, fmt, kpi } from "../dom.js";
import { LineDrawing, loadLayout } from "../line.js";
import { openAlerts } from "./alerts.js";

export async function mount(container, ctx) {
  await syncClock();
  const layout = await loadLayout();
  const drawing = el("div", { class: "lines", id: "line-drawing" });
  const summary = el("div", { class: "line-oee", id: "line-oee", "aria-live": "polite" });
  const status = el("p", { class: "muted", role: "status" });
  container.append(el("h1", { class: "sr-only" }, "Line view"), summary, drawing, status);
  const lines = new LineDrawing(drawing, layout);
  let alerts = [];
  const redraw = () => {
    lines.update(ctx.feed.assets, { alerts });
    status.textContent = `${ctx.feed.assets.size} assets · plant time ${fmt.time(plantNow())} · ${ctx.feed.mode}`;
    document.body.dataset.updates = String(ctx.feed.messages);
  };
  const refreshAlerts = async () => {
    try { alerts = await openAlerts(); } catch { /* keep the last list */ }
    redraw();
  };
  const refreshOee = async () => {
    let body;
    try { body = await tryApi("/api/oee"); } catch { return; }
    if (!body) return;
    summary.replaceChildren(...(body.lines || []).map((ln) => lineOee(ln)));
  };
  const off = ctx.feed.subscribe(redraw);
  const offAlert = ctx.feed.onAlert(refreshAlerts);
  const tick = setInterval(refreshAlerts, 5000);
  const oeeTick = setInterval(() => { syncClock(); refreshOee(); }, 10000);
  await Promise.all([refreshAlerts(), refreshOee()]);
  return () => { off(); offAlert(); clearInterval(tick); clearInterval(oeeTick); };
}

function lineOee(ln) {
  const name = String(ln.line).split("/").pop();
  const known = ln.planned_busy_time_s || 0;
  const unknown = ln.unknown_s || 0;
  return el("section", { class: "panel line-kpi", "data-line": ln.line },
    el("h2", {}, `${name} · OEE of the shift `, el("span", { class: "big" }, kpi(ln.oee, ln.flags || []))),
    el("p", { class: "muted" }, `${fmt.int(ln.good)} good parts at the pace of ${String(ln.bottleneck || "–").split("/").pop()}`,
      ` · planned time with a known state ${fmt.duration(known)}`,
      unknown ? el("span", { "data-role": "unknown-time" }, ` · unknown (no state reported, left out) ${fmt.duration(unknown)}`) : ""),
    flagNotes((ln.flags || []).filter((f) => f !== "state_unknown_part_of_time")));
}
