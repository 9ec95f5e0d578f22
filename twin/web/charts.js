// Hand-drawn SVG charts: trends, state timelines, the six-losses waterfall and bars. No library needed.

import { el, fmt, stateLabel } from "./dom.js";

const W = 720;
const PAD = { l: 56, r: 12, t: 10, b: 28 };

function ticks(lo, hi, n = 5) {
  if (!(hi > lo)) return [lo];
  const step0 = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= step0) || step0;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) out.push(v);
  return out;
}

function timeTicks(t0, t1, n = 6) {
  const span = t1 - t0;
  const steps = [1, 5, 10, 30, 60, 300, 600, 1800, 3600, 7200, 21600, 43200, 86400].map((s) => s * 1000);
  const step = steps.find((s) => span / s <= n) || steps[steps.length - 1];
  const out = [];
  for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) out.push(t);
  return out;
}

function timeLabel(t, span) {
  const d = new Date(t);
  const hm = d.toLocaleTimeString("en-GB", { hour12: false, hour: "2-digit", minute: "2-digit", second: span < 600000 ? "2-digit" : undefined });
  return span > 86400000 ? `${d.getDate()}/${d.getMonth() + 1} ${hm}` : hm;
}

/** A time-series chart: lines (with an optional min–max band), limit lines and alert markers. */
export function lineChart({ series, hlines = [], markers = [], height = 220, label = "chart", start, end }) {
  const all = series.flatMap((s) => s.points);
  const ts = all.map((p) => p.t);
  const t0 = start ?? Math.min(...ts);
  const t1 = end ?? Math.max(...ts);
  const vals = all.flatMap((p) => [p.v, p.min, p.max]).concat(hlines.map((h) => h.v)).filter(Number.isFinite);
  let lo = Math.min(...vals);
  let hi = Math.max(...vals);
  if (!Number.isFinite(lo)) { lo = 0; hi = 1; }
  if (hi === lo) { hi += 1; lo -= 1; }
  const padv = (hi - lo) * 0.05;
  lo -= padv; hi += padv;
  const x = (t) => PAD.l + ((t - t0) / Math.max(1, t1 - t0)) * (W - PAD.l - PAD.r);
  const y = (v) => PAD.t + (1 - (v - lo) / (hi - lo)) * (height - PAD.t - PAD.b);
  const svg = el("svg", { viewBox: `0 0 ${W} ${height}`, class: "chart", role: "img", "aria-label": label });
  const axis = el("g", { class: "axis" });
  for (const v of ticks(lo, hi)) {
    axis.append(el("line", { x1: PAD.l, x2: W - PAD.r, y1: y(v), y2: y(v), class: "grid" }),
      el("text", { x: PAD.l - 6, y: y(v) + 4, "text-anchor": "end" }, fmt.value(v)));
  }
  for (const t of timeTicks(t0, t1)) {
    axis.append(el("text", { x: x(t), y: height - 8, "text-anchor": "middle" }, timeLabel(t, t1 - t0)));
  }
  svg.append(axis);
  for (const h of hlines) {
    svg.append(el("line", { x1: PAD.l, x2: W - PAD.r, y1: y(h.v), y2: y(h.v), class: `hline ${h.cls || ""}` }),
      el("text", { x: W - PAD.r - 2, y: y(h.v) - 3, "text-anchor": "end", class: `hlabel ${h.cls || ""}` }, h.label));
  }
  series.forEach((s, i) => {
    const pts = s.points.filter((p) => Number.isFinite(p.v));
    // a window without data (a gap in the history) breaks the line instead of bridging it
    const runs = [[]];
    for (const p of s.points) {
      if (Number.isFinite(p.v)) runs[runs.length - 1].push(p); else if (runs[runs.length - 1].length) runs.push([]);
    }
    for (const run of runs.filter((r) => r.length)) {
      if (run.length > 1 && run.every((p) => Number.isFinite(p.min) && Number.isFinite(p.max))) {
        const up = run.map((p) => `${x(p.t)},${y(p.max)}`);
        const dn = run.slice().reverse().map((p) => `${x(p.t)},${y(p.min)}`);
        svg.append(el("path", { d: `M${up.join("L")}L${dn.join("L")}Z`, class: `band s${i}` }));
      }
      svg.append(run.length === 1 ? el("circle", { cx: x(run[0].t), cy: y(run[0].v), r: 2.5, class: `dot s${i}` })
        : el("polyline", { points: run.map((p) => `${x(p.t)},${y(p.v)}`).join(" "), class: `series s${i} ${s.cls || ""}` },
          el("title", {}, s.name)));
    }
    for (const p of pts.filter((q) => q.flag)) {
      svg.append(el("circle", { cx: x(p.t), cy: y(p.v), r: 5, class: "flagged" }, el("title", {}, p.flag)));
    }
  });
  for (const m of markers) {
    if (m.t < t0 || m.t > t1) continue;
    svg.append(el("g", { class: `marker ${m.cls || ""}` },
      el("line", { x1: x(m.t), x2: x(m.t), y1: PAD.t, y2: height - PAD.b }),
      el("text", { x: x(m.t) + 3, y: PAD.t + 12 }, "⚠"), el("title", {}, m.label)));
  }
  return svg;
}

/** States over time as one bar; each segment carries its state's name (text, not only colour). */
export function timeline(segments, start, end, label = "state timeline") {
  const h = 56;
  const x = (t) => PAD.l + ((t - start) / Math.max(1, end - start)) * (W - PAD.l - PAD.r);
  const svg = el("svg", { viewBox: `0 0 ${W} ${h}`, class: "chart timeline", role: "img", "aria-label": label });
  for (const s of segments) {
    const a = Math.max(start, Date.parse(s.start));
    const b = Math.min(end, s.end ? Date.parse(s.end) : end);
    if (b <= a) continue;
    const w = x(b) - x(a);
    const lab = stateLabel(s.state);
    svg.append(el("g", { class: `seg state-${s.state}` },
      el("rect", { x: x(a), y: 4, width: Math.max(1, w), height: 26 }),
      w > 40 ? el("text", { x: x(a) + 3, y: 22 }, `${lab.icon} ${lab.text}`) : "",
      el("title", {}, `${lab.text}: ${fmt.time(s.start)} – ${s.end ? fmt.time(s.end) : "now"}`)));
  }
  for (const t of timeTicks(start, end)) svg.append(el("text", { x: x(t), y: h - 6, "text-anchor": "middle", class: "axis" }, timeLabel(t, end - start)));
  return svg;
}

/** From planned time down to fully productive time, one step per loss. `steps`: [{label, value, kind}].
 * A negative loss (e.g. reduced speed when the machine runs faster than its ideal cycle) steps up. */
export function waterfall(steps, { unit = "h", label = "six losses waterfall" } = {}) {
  const h = 280;
  const top = 24;
  let level = 0;
  const bars = steps.map((s) => {
    if (s.kind === "total") { level = s.value; return { ...s, a: 0, b: s.value }; }
    const a = level; level -= s.value; return { ...s, a, b: level };
  });
  const max = Math.max(...bars.flatMap((b) => [b.a, b.b]), 1e-9);
  const bw = (W - PAD.l - PAD.r) / steps.length;
  const y = (v) => top + (1 - v / max) * (h - top - 60);
  const svg = el("svg", { viewBox: `0 0 ${W} ${h}`, class: "chart waterfall", role: "img", "aria-label": label });
  bars.forEach((s, i) => {
    const hi = Math.max(s.a, s.b);
    const lo = Math.min(s.a, s.b);
    const xx = PAD.l + i * bw + 4;
    const cx = xx + (bw - 8) / 2;
    const text = s.kind === "total" ? fmt.value(s.value) : s.value >= 0 ? `−${fmt.value(s.value)}` : `+${fmt.value(-s.value)}`;
    svg.append(el("g", { class: `step ${s.kind}` },
      el("rect", { x: xx, y: y(hi), width: bw - 8, height: Math.max(1, y(lo) - y(hi)) }),
      el("text", { x: cx, y: y(hi) - 5, "text-anchor": "middle" }, text),
      el("text", { x: cx, y: h - 42, "text-anchor": "middle", class: "xlabel" }, ...wrap(s.label, cx)),
      el("title", {}, `${s.label}: ${fmt.value(s.value)} ${unit}`)));
  });
  svg.append(el("text", { x: 4, y: 14, class: "axis" }, unit));
  return svg;
}

function wrap(text, x) {
  const words = text.split(" ");
  const lines = [];
  for (const w of words) { if (lines.length && (lines[lines.length - 1] + " " + w).length <= 12) lines[lines.length - 1] += " " + w; else lines.push(w); }
  return lines.map((ln, i) => el("tspan", { x, dy: i ? 13 : 0 }, ln));
}

/** Bars with an optional interval (e.g. a 95 % confidence interval) for comparing variants. */
export function bars(items, { label = "bars", unit = "" } = {}) {
  const h = 40 + items.length * 34;
  const vals = items.flatMap((i) => [i.value, i.lo, i.hi, 0]).filter(Number.isFinite);
  const lo = Math.min(...vals);
  const hi = Math.max(...vals) || 1;
  const left = 200;
  const x = (v) => left + ((v - lo) / (hi - lo || 1)) * (W - left - 90);
  const svg = el("svg", { viewBox: `0 0 ${W} ${h}`, class: "chart bars", role: "img", "aria-label": label });
  svg.append(el("line", { x1: x(0), x2: x(0), y1: 4, y2: h - 30, class: "zero" }));
  items.forEach((it, i) => {
    const yy = 10 + i * 34;
    const hasCi = Number.isFinite(it.lo) && Number.isFinite(it.hi);
    const right = Math.max(x(it.value), x(0), hasCi ? x(it.hi) : -Infinity);
    svg.append(el("g", { class: `bar ${it.cls || ""}` },
      el("text", { x: left - 8, y: yy + 18, "text-anchor": "end" }, it.name),
      el("rect", { x: Math.min(x(0), x(it.value)), y: yy + 4, width: Math.abs(x(it.value) - x(0)), height: 16 }),
      hasCi ? el("g", { class: "ci" }, el("line", { x1: x(it.lo), x2: x(it.hi), y1: yy + 12, y2: yy + 12 }),
        el("line", { x1: x(it.lo), x2: x(it.lo), y1: yy + 5, y2: yy + 19 }), el("line", { x1: x(it.hi), x2: x(it.hi), y1: yy + 5, y2: yy + 19 })) : "",
      el("text", { x: right + 6, y: yy + 17 }, `${fmt.value(it.value)} ${unit}`),
      el("title", {}, `${it.name}: ${fmt.value(it.value)} ${unit}${hasCi ? ` (95 % interval ${fmt.value(it.lo)} to ${fmt.value(it.hi)})` : ""}`)));
  });
  return svg;
}
