// One asset: its state, anomaly score, remaining life and OEE at a glance; state timeline; signal trends with alert
// markers (hover readout, zoom); OEE with the six-losses waterfall and by shift; SPC with Cp/Cpk (and a warning
// when there are too few measurements for them); its stops with their reasons; commands; its alerts.
// A section with nothing to show is left out, not drawn half empty.

import { api, tryApi } from "../api.js";
import { plantNow, syncClock } from "../clock.js";
import { alertText } from "../codes.js";
import { el, flagNotes, fmt, kpi, over100Note, severityBadge, stateLabel } from "../dom.js";
import { columns, lineChart, timeline, waterfall } from "../charts.js";
import { commandsPanel } from "../panels/commands.js";
import { nextUnqualified, stopsTable } from "../panels/stops.js";
import { decisionsPanel } from "./decision.js";

const RANGES = [[900, "15 min"], [3600, "1 h"], [8 * 3600, "8 h"], [86400, "24 h"]];
const LOSSES = [
  ["equipment_failure", "Equipment failure"], ["setup_and_adjustment", "Setup & adjustment"],
  ["idling_and_minor_stops", "Idling & minor stops"], ["reduced_speed", "Reduced speed"],
  ["process_defects", "Process defects"], ["reduced_yield", "Reduced yield"], ["unaccounted", "No state"],
];
// Cp and Cpk from fewer measurements than this are too uncertain to act on (a capability study takes 25 or more)
export const MIN_CAPABILITY_N = 25;

function panel(id, title) {
  const body = el("div", { class: "panel-body" });
  const section = el("section", { class: "panel", id, hidden: true }, el("h2", {}, title), body);
  return { section, body, title: section.querySelector("h2") };
}

const shortText = (a) => alertText(a).replace(/^[^:]{1,60}:\s*/, "");

export async function mount(container, ctx, path) {
  const asset = await api(`/api/assets/${path}`);
  const engineer = ["engineer", "admin"].includes(ctx.me.role);
  const rangeSel = el("select", { id: "a-range" }, ...RANGES.map(([s, t]) => el("option", { value: s, selected: s === 3600 }, t)));
  const st = stateLabel(asset.state);
  const pill = el("span", { class: `state-pill state-${asset.state}`, "data-role": "state" }, `${st.icon} ${st.text}`);
  container.append(el("div", { class: "asset-head" },
    el("a", { href: "#/line" }, "← Line"),
    el("h1", {}, asset.name, " ", el("small", {}, path)), pill,
    el("label", { for: "a-range" }, "Range"), rangeSel));
  const tiles = el("div", { class: "tiles", id: "asset-tiles" });
  const P = {
    timeline: panel("timeline", "State timeline"), signals: panel("signals", "Signals"), oee: panel("oee", "OEE this shift"),
    shifts: panel("oee-shifts", "OEE by shift"), spc: panel("spc", "SPC"), stops: panel("stops", "Stops and their reasons"),
    commands: panel("commands", "Commands"), alerts: panel("alerts", "Alerts of this asset"),
  };
  const decision = el("div", { id: "asset-decision" });  // the twin's maintenance decision, its options on one chart
  container.append(tiles, decision, ...Object.values(P).map((p) => p.section));
  const stopMsg = el("p", { role: "status", class: "muted", tabindex: "-1" });
  const cmd = commandsPanel(ctx, { asset: path });
  P.commands.body.append(cmd.root);

  // a section the keyboard is in is left alone until it leaves (no focus lost to a redraw)
  const busy = (p) => p.section.contains(document.activeElement) && document.activeElement !== p.title;

  async function draw() {
    await syncClock();
    const end = plantNow();
    const start = end - Number(rangeSel.value) * 1000;
    const iso = (t) => new Date(t).toISOString();
    const q = { start: iso(start), end: iso(end) };
    const [live, alerts, anomaly, oee, spc, tl] = await Promise.all([
      tryApi(`/api/assets/${path}`).catch(() => undefined),
      api("/api/alerts", { params: { asset: path, limit: 500 } }).catch(() => []),
      api("/api/anomaly").catch(() => []),
      tryApi(`/api/oee/${path}`).catch(() => undefined),
      api("/api/spc").catch(() => []),
      tryApi(`/api/assets/${path}/timeline`, { params: q }).catch(() => undefined),
    ]);
    const now = live || asset;
    const s = stateLabel(now.state);
    pill.className = `state-pill state-${now.state}`;
    pill.textContent = `${s.icon} ${s.text}${now.state_since ? ` for ${fmt.duration((plantNow() - Date.parse(now.state_since)) / 1000)}` : ""}`;
    const mine = alerts.filter((a) => a.asset === path);
    const markers = mine.map((a) => ({ t: Date.parse(a.raised_at || a.ts), label: `${a.severity}: ${alertText(a)}`, short: shortText(a), severity: a.severity }));
    drawTiles(now, anomaly.find((a) => a.asset === path), mine, oee);
    if (!decision.contains(document.activeElement)) decisionsPanel(ctx, path).then((p) => decision.replaceChildren(p || ""));

    if (!busy(P.timeline)) {
      P.timeline.section.hidden = !tl;
      if (tl) P.timeline.body.replaceChildren(timeline(tl.segments || tl, start, end, { label: `${asset.name} state timeline`, stateLabel }));
    }

    // trends of the measured quantities; counters (parts) are shown as counts, not trends
    const kinds = new Map((asset.signal_meta || []).map((m) => [m.name, m]));
    const metaOf = (name) => kinds.get(name) || kinds.get(name.replace(/\.\d+$/, "")) || { kind: "analog" };
    const numeric = Object.entries(now.signals || {}).filter(([name, v]) => typeof v.value === "number" && metaOf(name).kind === "analog" && name !== "capacity");
    if (!busy(P.signals)) {
      P.signals.section.hidden = !numeric.length;
      if (numeric.length) {
        const step = Math.max(1, Math.round(Number(rangeSel.value) / 300));
        const histories = await Promise.all(numeric.map(([name]) => tryApi(`/api/history/${path}/${name}`, { params: { ...q, step_s: step } }).catch(() => undefined)));
        P.signals.body.replaceChildren(el("div", { class: "trends" }, ...numeric.map(([name, v], i) => {
          const h = histories[i];
          const unit = v.unit || metaOf(name).unit || "";
          const points = (h && h.points ? h.points : []).map((p) => ({ t: Date.parse(p.ts), v: p.value ?? p.mean, min: p.min, max: p.max }));
          return el("figure", { class: "trend", "data-signal": name },
            el("figcaption", {}, name.replaceAll("_", " "), " ", el("span", { class: "muted" }, `now ${fmt.value(v.value)} ${unit}`)),
            points.length ? lineChart({ series: [{ name, points }], markers, start, end, unit, label: `${name} trend`, zoomKey: `${path}|${name}` })
              : el("p", { class: "muted" }, h === undefined ? "No history served by this twin." : "No data in this range."));
        })));
      }
    }

    drawOee(oee);
    drawSpc(spc.filter((c) => c.asset === path), kinds, markers);

    P.alerts.section.hidden = !mine.length;
    P.alerts.body.replaceChildren(el("ul", { class: "asset-alerts" }, ...mine.slice(0, 20).map((a) => el("li", { "data-alert": a.id },
      severityBadge(a.severity), ` ${fmt.time(a.raised_at || a.ts)} · ${a.state.replace("_", " ")} · ${alertText(a)}`))));
  }

  function drawTiles(now, an, mine, oee) {
    const t = [];
    const good = now.parts ? now.parts.good : null;
    if (good !== null && good !== undefined) {
      t.push(tile("parts", "Parts", `✔ ${fmt.int(good)}`, now.parts.scrap !== null && now.parts.scrap !== undefined ? `✘ ${fmt.int(now.parts.scrap)} scrapped` : ""));
    }
    const w = oee && oee.shift;
    if (w && w.kpis) t.push(tile("oee", `OEE · ${w.window}`, kpi(w.kpis.oee, w.flags || [], { short: true }), ""));
    if (an) {
      const ratio = an.score !== null && an.threshold ? an.score / an.threshold : null;
      t.push(tile("anomaly", "Anomaly score", ratio === null ? an.state : `${(100 * ratio).toFixed(0)} % of threshold`,
        ratio === null ? "learning what normal looks like" : `${an.state}: ${fmt.value(an.score)} / ${fmt.value(an.threshold)}`,
        ratio !== null && ratio >= 1 ? "alarm" : ""));
    }
    // remaining useful life: the newest RUL alert's estimate (the twin raises one when maintenance falls due)
    const rul = mine.filter((a) => a.kind === "rul" && a.detail && Number.isFinite(a.detail.rul_s))
      .sort((a, b) => Date.parse(b.last_at || b.raised_at) - Date.parse(a.last_at || a.raised_at))[0];
    if (rul || (an && Number.isFinite(an.rul))) {
      const d = rul ? rul.detail : { rul_s: an.rul };
      t.push(tile("rul", "Remaining useful life", fmt.duration(d.rul_s),
        `${Number.isFinite(d.low_s) ? `at least ${fmt.duration(d.low_s)} (95 %)` : ""}${rul ? ` · ${rul.detail.signal || ""} · ${fmt.time(rul.last_at || rul.raised_at)}` : ""}`, "", "rul"));
    }
    tiles.replaceChildren(...t);
  }

  function drawOee(oee) {
    const w = oee && oee.shift;
    P.oee.section.hidden = !w;
    if (w && !busy(P.oee)) {
      const k = w.kpis || {};
      const L = w.losses_s;
      const [unit, per] = L && L.planned_busy_time < 3 * 3600 ? ["min", 60] : ["h", 3600];
      const steps = [];
      if (L) {
        steps.push({ label: "Planned busy time", value: L.planned_busy_time / per, kind: "total" });
        // a negative loss (faster than the ideal cycle) is no loss: it is said in words, not drawn as a step up
        for (const [key, lab] of LOSSES) if (L[key] > 0) steps.push({ label: lab, value: L[key] / per, kind: "loss" });
        steps.push({ label: "Fully productive", value: L.fully_productive_time / per, kind: "total" });
      }
      const flags = k.flags || w.flags || [];
      const tm = w.time_model_s || {};
      P.oee.title.textContent = `OEE this shift · ${w.window}`;
      P.oee.body.replaceChildren(el("div", { class: "oee-grid" },
        el("div", {},
          el("dl", { class: "kpis" }, ...[["OEE", k.oee], ["Availability", k.availability], ["Performance", k.performance], ["Quality", k.quality]]
            .flatMap(([n, v]) => [el("dt", {}, n), el("dd", { "data-kpi": n.toLowerCase() }, kpi(v, flags, { short: true }))]),
            el("dt", {}, "Good / scrap"), el("dd", {}, `${fmt.int(w.counts.good)} / ${fmt.int(w.counts.scrap)}`),
            el("dt", {}, "Known planned time"), el("dd", {}, fmt.duration((tm.pbt || 0) - (tm.unknown || 0))),
            tm.unknown ? [el("dt", {}, "Unknown (no state)"), el("dd", { "data-role": "unknown-time" }, `${fmt.duration(tm.unknown)}, left out`)] : ""),
          flagNotes(flags),
          L && L.reduced_speed < 0 ? el("p", { class: "muted", "data-role": "negative-loss" }, `Reduced speed is ${fmt.duration(-L.reduced_speed)} negative: the machine ran faster than its ideal cycle time, so it is left out of the waterfall.`) : ""),
        steps.length ? waterfall(steps, { unit, label: "six losses waterfall" }) : el("p", { class: "muted" }, "No losses yet in this shift.")));
    }
    // finished shifts (or days, without a shift calendar), then the running one
    const past = (oee && oee.history ? oee.history : []).filter(Boolean);
    const windows = [...past, ...(w ? [{ ...w, running: true }] : [])].slice(-12);
    const shifts = windows.some((x) => String(x.window).includes("/"));
    P.shifts.title.textContent = shifts ? "OEE by shift" : "OEE by day";
    P.shifts.section.hidden = windows.length < 2;
    if (windows.length >= 2 && !busy(P.shifts)) {
      const label = (x) => `${String(x.window).replace("/", " ")}${x.running ? " (so far)" : ""}`;
      P.shifts.body.replaceChildren(
        columns(windows.map((x) => ({ name: label(x), value: Number.isFinite(x.kpis?.oee) ? 100 * x.kpis.oee : NaN,
          cls: `${x.running ? "running" : ""} ${(x.kpis?.oee ?? 0) > 1 ? "over100" : ""}`,
          note: over100Note(x.flags || []) })),
        { unit: "%", label: `${asset.name} OEE by ${shifts ? "shift" : "day"}`, max: 100, target: undefined }),
        el("div", { class: "table-scroll" }, el("table", { class: "alerts-table compact", "data-role": "shift-table" },
          el("thead", {}, el("tr", {}, ...[shifts ? "Shift" : "Day", "OEE", "Availability", "Performance", "Quality", "Good", "Scrap"].map((h) => el("th", { scope: "col" }, h)))),
          el("tbody", {}, ...windows.slice().reverse().map((x) => el("tr", { "data-window": x.window },
            el("td", {}, label(x)), ...["oee", "availability", "performance", "quality"].map((n) => el("td", {}, kpi(x.kpis?.[n], x.flags || [], { short: true }))),
            el("td", {}, fmt.int(x.counts?.good)), el("td", {}, fmt.int(x.counts?.scrap))))))));
    }
  }

  function drawSpc(charts, kinds, markers) {
    P.spc.section.hidden = !charts.length;
    if (!charts.length || busy(P.spc)) return;
    P.spc.body.replaceChildren(...charts.map((c) => {
      const unit = (kinds.get(c.signal) || {}).unit || "";
      const points = c.points.map((p) => ({ t: Date.parse(p.ts), v: p.value,
        flag: (c.ucl !== null && p.value > c.ucl) || (c.lcl !== null && p.value < c.lcl) ? "outside the control limits" : undefined }));
      const hl = [["UCL", c.ucl, "limit"], ["LCL", c.lcl, "limit"], ["centre", c.center, "centre"], ["USL", c.usl, "spec"], ["LSL", c.lsl, "spec"]]
        .filter(([, v]) => v !== null && v !== undefined).map(([label, v, cls]) => ({ label, v, cls }));
      const cap = c.capability;
      const few = c.n < MIN_CAPABILITY_N;
      return el("figure", { class: "trend", "data-spc": c.signal },
        el("figcaption", {}, `${c.signal.replaceAll("_", " ")}: individual measurements, control and specification limits`),
        points.length ? lineChart({ series: [{ name: c.signal, points }], hlines: hl, unit, height: 320, tickSpacing: 28, markers,
          label: `${c.signal} control chart`, zoomKey: `${path}|spc|${c.signal}` }) : el("p", { class: "muted" }, "No measurements yet."),
        el("p", { class: `capability ${few ? "insufficient" : ""}`, "data-role": "capability" },
          cap ? `Cp ${fmt.fixed(cap.cp, 2)} · Cpk ${fmt.fixed(cap.cpk, 2)} · n = ${c.n}` : `n = ${c.n}`),
        few ? el("p", { class: "warn", "data-role": "capability-warning" },
          `⚠ Only ${c.n} measurement${c.n === 1 ? "" : "s"}: Cp and Cpk need at least ${MIN_CAPABILITY_N} to say anything about the process; do not act on them yet.`) : "");
    }));
  }

  async function drawStops(force = false) {
    if (!force && busy(P.stops)) return;
    const stops = await tryApi("/api/downtime", { params: { asset: path, limit: 30 } }).catch(() => undefined);
    P.stops.section.hidden = !stops || !stops.length;
    if (!stops) return;
    P.stops.body.replaceChildren(stopsTable(stops, { engineer, msg: stopMsg, showAsset: false,
      onSaved: async (id) => { await drawStops(true); return nextUnqualified(P.stops.body, id); } }), stopMsg);
  }

  async function drawCommands() {
    if (busy(P.commands)) return;
    await cmd.refresh({ keepForm: true });
    P.commands.section.hidden = !cmd.root.querySelector("form, tr[data-command]");
  }

  rangeSel.addEventListener("change", draw);
  await Promise.all([draw(), drawStops(), drawCommands()]);
  const timer = setInterval(() => { draw().catch(() => {}); drawStops().catch(() => {}); drawCommands().catch(() => {}); }, 15000);
  return () => clearInterval(timer);
}

function tile(role, label, value, sub, abnormal = "", id) {
  return el("div", { class: `tile ${abnormal ? `abnormal ${abnormal}` : ""}`, "data-role": role, id },
    el("span", { class: "tile-label" }, label), el("span", { class: "tile-value" }, value), sub ? el("span", { class: "tile-sub" }, sub) : "");
}
