// Live line view: every station, buffer, conveyor and AGV in flow order, updated as the twin changes.

import { el, fmt } from "../dom.js";
import { LineDrawing, loadLayout } from "../line.js";
import { openAlerts } from "./alerts.js";

export async function mount(container, ctx) {
  const layout = await loadLayout();
  const drawing = el("div", { class: "lines", id: "line-drawing" });
  const status = el("p", { class: "muted", role: "status" });
  container.append(el("h1", { class: "sr-only" }, "Line view"), drawing, status);
  const lines = new LineDrawing(drawing, layout);
  let alerts = [];
  const redraw = () => {
    lines.update(ctx.feed.assets, { alerts });
    status.textContent = `${ctx.feed.assets.size} assets · updated ${fmt.time(Date.now())} · ${ctx.feed.mode}`;
    document.body.dataset.updates = String(ctx.feed.messages);
  };
  const refreshAlerts = async () => {
    try { alerts = await openAlerts(); } catch { /* keep the last list */ }
    redraw();
  };
  const off = ctx.feed.subscribe(redraw);
  const offAlert = ctx.feed.onAlert(refreshAlerts);
  const tick = setInterval(refreshAlerts, 5000);
  await refreshAlerts();
  return () => { off(); offAlert(); clearInterval(tick); };
}
