// One asset: signal trends with alert markers, anomaly score, state timeline, OEE waterfall, SPC chart, RUL.

import { api, tryApi } from "../api.js";
import { el, fmt, stateLabel } from "../dom.js";
import { lineChart, timeline, waterfall } from "../charts.js";
import { decisionsPanel } from "./decision.js";

const RANGES = [[900, "15 min"], [3600, "1 h"], [8 * 3600, "8 h"], [86400, "24 h"]];
const LOSSES = [
  ["equipment_failure", "Equipment failure"], ["setup_and_adjustment", "Setup & adjustment"],
  ["idling_and_minor_stops", "Idling & minor stops"], ["reduced_speed", "Reduced speed"],
  ["process_defects", "Process defects"], ["reduced_yield", "Reduced yield"], ["unaccounted", "No state"],
];

export async function mount(container, ctx, path) {
  const asset = await api(`/api/assets/${path}`);
  const rangeSel = el("select", { id: "a-range", "aria-label": "time range" },
    ...RANGES.map(([s, t]) => el("option", { value: s, selected: s === 3600 }, t)));
  const st = stateLabel(asset.state);
  const head = el("div", { class: "asset-head" },
    el("a", { href: "#/line" }, "← Line"),
    el("h1", {}, asset.name, " ", el("small", {}, path)),
    el("span", { class: `state-pill state-${asset.state}` }, `${st.icon} ${st.text}`),
    el("label", { for: "a-range" }, "Range"), rangeSel);
  const sections = el("div", { class: "asset-body" });
  container.append(head, sections);

  async function draw() {
    const end = Date.now();
    const start = end - Number(rangeSel.value) * 1000;
    const iso = (t) => new Date(t).toISOString();
    const q = { start: iso(start), end: iso(end) };
    const [alerts, anomaly, oee, spc, tl] = await Promise.all([
      api("/api/alerts", { params: { asset: path, limit: 500 } }).catch(() => []),
      api("/api/anomaly").catch(() => []),
      tryApi(`/api/oee/${path}`).catch(() => undefined),
      api("/api/spc").catch(() => []),
      tryApi(`/api/assets/${path}/timeline`, { params: q }).catch(() => undefined),
    ]);
    const mine = alerts.filter((a) => a.asset === path);
    const markers = mine.map((a) => ({ t: Date.parse(a.raised_at || a.ts), label: `${a.severity}: ${a.message || a.cause}` }));
    const parts = [];

    // state timeline
    parts.push(el("section", { class: "panel" }, el("h2", {}, "State timeline"),
      tl ? timeline(tl.segments || tl, start, end, `${asset.name} state timeline`) : el("p", { class: "muted" }, "No timeline served by this twin.")));

    // anomaly score and RUL
    const an = anomaly.find((a) => a.asset === path);
    if (an) {
      const ratio = an.score !== null && an.threshold ? an.score / an.threshold : null;
      parts.push(el("section", { class: "panel" }, el("h2", {}, "Anomaly score"),
        el("p", { class: ratio !== null && ratio >= 1 ? "over" : "" },
          `${an.state}: score ${fmt.value(an.score)} / threshold ${fmt.value(an.threshold)}`,
          ratio !== null ? ` (${(100 * ratio).toFixed(0)} % of threshold${ratio >= 1 ? ", ALARM" : ""})` : ""),
        an.score !== null && an.threshold ? el("meter", { min: 0, max: an.threshold * 1.5, high: an.threshold, value: an.score, "aria-label": "anomaly score" }) : "",
        ""));
    }

    // remaining useful life: the newest RUL alert's estimate (the twin raises one when maintenance falls due)
    const rul = mine.filter((a) => a.kind === "rul" && a.detail && Number.isFinite(a.detail.rul_s))
      .sort((a, b) => Date.parse(b.last_at || b.raised_at) - Date.parse(a.last_at || a.raised_at))[0];
    if (rul || (an && an.rul !== undefined)) {
      const d = rul ? rul.detail : { rul_s: an.rul };
      parts.push(el("section", { class: "panel", id: "rul" }, el("h2", {}, "Remaining useful life"),
        el("p", { class: "big" }, fmt.duration(d.rul_s), Number.isFinite(d.low_s) ? el("small", {}, ` (at least ${fmt.duration(d.low_s)} at 95 %)`) : ""),
        rul ? el("p", { class: "muted" }, `${rul.detail.signal || ""} · estimated ${fmt.time(rul.last_at || rul.raised_at)} · alert ${rul.state}`) : ""));
    }

    parts.push(await decisionsPanel(ctx, path));  // the twin's maintenance decision, its options on one chart

    // signal trends
    // trends of the measured quantities; counters (parts) are shown as counts, not trends
    const kinds = new Map((asset.signal_meta || []).map((m) => [m.name, m.kind]));
    const kindOf = (name) => kinds.get(name) || kinds.get(name.replace(/\.\d+$/, "")) || "analog";
    const numeric = Object.entries(asset.signals || {}).filter(([name, s]) => typeof s.value === "number" && kindOf(name) === "analog" && name !== "capacity");
    const step = Math.max(1, Math.round(Number(rangeSel.value) / 300));
    const trends = el("section", { class: "panel" }, el("h2", {}, "Signals"));
    parts.push(trends);
    const histories = await Promise.all(numeric.map(([name]) => tryApi(`/api/history/${path}/${name}`, { params: { ...q, step_s: step } }).catch(() => undefined)));
    numeric.forEach(([name, s], i) => {
      const h = histories[i];
      const points = (h && h.points ? h.points : []).map((p) => ({ t: Date.parse(p.ts), v: p.value ?? p.mean, min: p.min, max: p.max }));
      trends.append(el("figure", { class: "trend" }, el("figcaption", {}, `${name} (${s.unit || "–"}): now ${fmt.value(s.value)}`),
        points.length ? lineChart({ series: [{ name, points }], markers, start, end, label: `${name} trend` })
          : el("p", { class: "muted" }, h === undefined ? "No history served by this twin." : "No data in this range.")));
    });

    // OEE and the six losses
    if (oee && oee.shift) {
      const w = oee.shift;
      const k = w.kpis || {};
      const steps = [];
      const L = w.losses_s;
      const [unit, per] = L && L.planned_busy_time < 3 * 3600 ? ["min", 60] : ["h", 3600];
      if (L) {
        steps.push({ label: "Planned busy time", value: L.planned_busy_time / per, kind: "total" });
        for (const [key, lab] of LOSSES) if (L[key]) steps.push({ label: lab, value: L[key] / per, kind: "loss" });
        steps.push({ label: "Fully productive", value: L.fully_productive_time / per, kind: "total" });
      }
      parts.push(el("section", { class: "panel", id: "oee" }, el("h2", {}, `OEE · ${w.window}`),
        el("dl", { class: "kpis" }, ...[["OEE", k.oee], ["Availability", k.availability], ["Performance", k.performance], ["Quality", k.quality]]
          .flatMap(([n, v]) => [el("dt", {}, n), el("dd", {}, fmt.pct(v))]),
          el("dt", {}, "Good / scrap"), el("dd", {}, `${fmt.int(w.counts.good)} / ${fmt.int(w.counts.scrap)}`)),
        steps.length ? waterfall(steps, { unit, label: "six losses waterfall" }) : el("p", { class: "muted" }, "No losses yet in this shift.")));
    }

    // SPC of its quality characteristic
    for (const c of spc.filter((x) => x.asset === path)) {
      const points = c.points.map((p) => ({ t: Date.parse(p.ts), v: p.value,
        flag: (c.ucl !== null && p.value > c.ucl) || (c.lcl !== null && p.value < c.lcl) ? "outside the control limits" : undefined }));
      const hl = [["UCL", c.ucl, "limit"], ["LCL", c.lcl, "limit"], ["centre", c.center, "centre"], ["USL", c.usl, "spec"], ["LSL", c.lsl, "spec"]]
        .filter(([, v]) => v !== null && v !== undefined).map(([label, v, cls]) => ({ label, v, cls }));
      const cap = c.capability;
      parts.push(el("section", { class: "panel" }, el("h2", {}, `SPC · ${c.signal}`),
        points.length ? lineChart({ series: [{ name: c.signal, points }], hlines: hl, label: `${c.signal} control chart` }) : el("p", { class: "muted" }, "No measurements yet."),
        el("p", {}, cap ? `Cp ${fmt.value(cap.cp)} · Cpk ${fmt.value(cap.cpk)} · n = ${c.n}` : `n = ${c.n}`)));
    }

    // alerts of this asset
    parts.push(el("section", { class: "panel" }, el("h2", {}, "Alerts"),
      mine.length ? el("ul", {}, ...mine.slice(0, 20).map((a) => el("li", {}, `${fmt.time(a.raised_at || a.ts)} · ${a.severity} · ${a.state} · ${a.message || a.cause}`)))
        : el("p", { class: "muted" }, "None.")));
    sections.replaceChildren(...parts);
  }

  rangeSel.addEventListener("change", draw);
  await draw();
  const timer = setInterval(draw, 15000);
  return () => clearInterval(timer);
}
