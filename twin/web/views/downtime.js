// Downtime: where the line's time went (a Pareto by reason, machine, kind or shift) and every stop, with a form to
// give the reason of a stop the machine did not explain.

import { api, tryApi } from "../api.js";
import { pareto } from "../charts.js";
import { el, fmt } from "../dom.js";
import { KIND, nextUnqualified, stopsTable } from "../panels/stops.js";

export async function mount(container, ctx) {
  const engineer = ["engineer", "admin"].includes(ctx.me.role);
  const windowSel = el("select", { id: "d-window" }, ...[["shift", "this shift"], ["day", "today"], ["all", "everything kept"]]
    .map(([v, t]) => el("option", { value: v, selected: v === "day" }, t)));
  const bySel = el("select", { id: "d-by" }, ...[["reason", "reason"], ["asset", "machine"], ["kind", "kind of stop"], ["shift", "shift"]]
    .map(([v, t]) => el("option", { value: v }, t)));
  const onlyOpen = el("input", { id: "d-unqualified", type: "checkbox" });
  const chart = el("div", { id: "pareto" });
  const list = el("div", { id: "stops" });
  const msg = el("p", { role: "status", class: "muted", tabindex: "-1", id: "downtime-msg" });
  container.append(el("h1", {}, "Downtime"),
    el("form", { class: "filters", onsubmit: (e) => { e.preventDefault(); load(); } },
      el("label", { for: "d-window" }, "Window"), windowSel, el("label", { for: "d-by" }, "Pareto by"), bySel,
      el("label", { for: "d-unqualified" }, onlyOpen, " only stops without a reason"), el("button", { type: "submit" }, "Show")),
    el("section", { class: "panel" }, el("h2", {}, "Where the time went"), chart),
    el("section", { class: "panel" }, el("h2", {}, "Stops"), engineer ? "" : el("p", { class: "muted" }, `Your role (${ctx.me.role}) may look; giving reasons needs an engineer.`), list, msg));

  async function load() {
    const [p, stops, oee] = await Promise.all([
      api("/api/downtime/pareto", { params: { by: bySel.value, window: windowSel.value } }),
      api("/api/downtime", { params: { limit: 500, unqualified: onlyOpen.checked ? "true" : undefined } }),
      tryApi("/api/oee", { params: { window: windowSel.value === "all" ? "day" : windowSel.value } }).catch(() => undefined),
    ]);
    const since = windowSel.value !== "all" && oee && oee.current ? Date.parse(oee.current.start) : -Infinity;
    const shown = stops.filter((s) => s.open || Date.parse(s.end || s.start) >= since);
    const unit = Math.max(0, ...p.bars.map((b) => b.seconds)) >= 3 * 3600 ? ["h", 3600] : ["min", 60];
    const label = (k) => (bySel.value === "asset" ? String(k).split("/").pop() : bySel.value === "kind" ? KIND[k] || k : k);
    chart.replaceChildren(p.bars.length
      ? pareto(p.bars.map((b) => ({ name: label(b.key), value: b.seconds / unit[1], cumulative: b.cumulative, cls: b.key === "unqualified" ? "unqualified" : "" })),
        { unit: unit[0], label: `stop time by ${bySel.selectedOptions[0].textContent}` })
      : el("p", { class: "muted" }, "No stop time in this window."),
      p.bars.length ? el("p", { class: "muted small" }, `${fmt.duration(p.bars.reduce((s, b) => s + b.seconds, 0))} of stops in all; “unqualified” is stop time nobody has given a reason for yet.`) : "");
    list.replaceChildren(stopsTable(shown, { engineer, msg, onSaved: async (id) => { await load(); return nextUnqualified(list, id); } }));
  }

  await load();
  const timer = setInterval(() => { if (!container.contains(document.activeElement) || document.activeElement.tagName === "H1") load().catch(() => {}); }, 15000);
  return () => clearInterval(timer);
}
