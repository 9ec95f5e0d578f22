// Hand-drawn SVG charts: trends, state timelines, the six-losses waterfall, bars, columns and a Pareto. No library.
// Each is drawn at its box's own width in real pixels (redrawn when that changes), so axis text is the 13 px the
// stylesheet gives it, never scaled down. Value axes carry their unit; tick labels take their precision from the
// tick step (no two alike); times are plant time (time.js).

import { el, fmt } from "./dom.js";
import { clock, day, offsetMs, stamp, zoneName } from "./time.js";

const CHAR = 7.6;  // width of a character of axis text (13 px), for fitting labels

/** A box that draws its chart at its own width, and again whenever that width changes. */
function responsive(cls, draw) {
  const box = el("div", { class: `chart-box ${cls}` });
  let width = 0;
  const paint = (force) => {
    const w = Math.floor(box.clientWidth);
    if (!w || (w === width && !force)) return;
    width = w;
    draw(box, w);
  };
  const watch = new ResizeObserver(() => {
    if (!box.isConnected && width) { watch.disconnect(); return; }  // taken off the page by a redraw: done
    paint(false);
  });
  watch.observe(box);
  box.repaint = () => paint(true);
  return box;
}

/** Round tick values over [lo, hi], about `n` of them; `decimals` is what tells them apart, no more. */
export function niceTicks(lo, hi, n = 5) {
  if (!(hi > lo)) return { step: 1, decimals: 0, values: [lo] };
  const raw = (hi - lo) / Math.max(1, n);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw * 0.999);
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  const values = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-6; v += step) values.push(Number(v.toFixed(decimals)));
  return { step, decimals, values };
}

/** Decimals that show `v` as exactly as the axis can tell it apart, and no fewer than the axis has. */
function decimalsFor(v, axisDecimals) {
  for (let d = axisDecimals; d < 6; d += 1) if (Math.abs(Number(v.toFixed(d)) - v) < 1e-9 * Math.max(1, Math.abs(v))) return d;
  return 6;
}

const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400]
  .map((s) => s * 1000);

/** Tick instants on round plant-time values (whole hours in the plant's zone, not the browser's). */
function timeTicks(t0, t1, maxN) {
  const span = t1 - t0;
  const step = TIME_STEPS.find((s) => span / s <= maxN) || Math.ceil(span / maxN / 86400000) * 86400000;
  const off = offsetMs(t0);
  const out = [];
  for (let t = Math.ceil((t0 + off) / step) * step - off; t <= t1; t += step) out.push(t);
  return { step, values: out };
}

/** Where a label centred on `px` goes so that it stays inside [0, W]. */
function inside(px, text, W) {
  const half = (text.length * CHAR) / 2;
  if (px - half < 2) return { x: 2, "text-anchor": "start" };
  if (px + half > W - 2) return { x: W - 2, "text-anchor": "end" };
  return { x: px, "text-anchor": "middle" };
}

/** Time axis labels: 14:05 (with seconds for short steps), and the day under the first tick and each new day. */
function timeAxis(svg, ticks, x, yText, gridTop, gridBottom, W) {
  let lastDay = null;
  for (const t of ticks.values) {
    const d = day(t);
    const label = clock(t, { seconds: ticks.step < 60000 });
    svg.append(el("line", { x1: x(t), x2: x(t), y1: gridTop, y2: gridBottom, class: "grid" }),
      el("text", { ...inside(x(t), label, W), y: yText, class: "tick" }, label));
    if (d !== lastDay) svg.append(el("text", { ...inside(x(t), d, W), y: yText + 16, class: "tick day" }, d));
    lastDay = d;
  }
}

/** A value at `d` decimals; one too small to show there is "< 0.1", never a bare 0.0. */
function amount(v, d) {
  return v !== 0 && Number(Math.abs(v).toFixed(d)) === 0 ? `< ${fmt.fixed(10 ** -d, d)}` : fmt.fixed(v, d);
}

function truncate(text, px) {
  const n = Math.max(1, Math.floor(px / CHAR));
  return text.length <= n ? text : `${text.slice(0, Math.max(1, n - 1))}…`;
}

const zooms = new Map();  // chart key -> [t0, t1] shown; kept while the page redraws its data

/**
 * A time-series chart: lines (with an optional min–max band), limit lines, alert markers with their text.
 * Hover (or arrow keys) reads the values out; drag across it, Ctrl + wheel, or + and − zoom; Reset shows all.
 * series: [{name, points: [{t, v, min?, max?, flag?}]}]; hlines: [{v, label, cls}]; markers: [{t, label, short, severity}]
 */
export function lineChart({ series, hlines = [], markers = [], height = 240, label = "chart", unit = "", start, end,
  zoomKey, tickSpacing = 34 }) {
  const key = zoomKey || label;
  const all = series.flatMap((s) => s.points).filter((p) => Number.isFinite(p.t));
  const T0 = start ?? Math.min(...all.map((p) => p.t));
  const T1 = end ?? Math.max(...all.map((p) => p.t));
  const readout = el("output", { class: "readout", "aria-live": "polite" }, "Point at the chart for values; drag across it to zoom.");
  const reset = el("button", { type: "button", class: "small", "data-role": "reset-zoom", disabled: !zooms.has(key),
    onclick: () => { zooms.delete(key); box.repaint(); } }, "Reset zoom");
  const state = { cursor: null };
  const box = responsive("line", (b, w) => {
    let view = zooms.get(key);
    if (view && (view[1] <= T0 || view[0] >= T1)) { zooms.delete(key); view = null; }  // zoomed outside this range
    reset.disabled = !view;
    b.replaceChildren(draw(w, view ? [Math.max(T0, view[0]), Math.min(T1, view[1])] : [T0, T1]));
  });

  function setZoom(a, b) {
    const lo = Math.max(T0, Math.min(a, b));
    const hi = Math.min(T1, Math.max(a, b));
    if (hi - lo >= (T1 - T0) * 0.999 || !(hi > lo)) zooms.delete(key); else zooms.set(key, [lo, Math.max(hi, lo + 2000)]);
    box.repaint();
  }

  function draw(W, [t0, t1]) {
    const inView = (p) => p.t >= t0 && p.t <= t1;
    const shown = series.map((s) => ({ ...s, points: s.points.filter(inView) }));
    const vals = shown.flatMap((s) => s.points).flatMap((p) => [p.v, p.min, p.max]).concat(hlines.map((h) => h.v))
      .filter(Number.isFinite);
    let lo = Math.min(...vals);
    let hi = Math.max(...vals);
    if (!Number.isFinite(lo)) { lo = 0; hi = 1; }
    if (hi === lo) { const d = Math.abs(hi) * 0.01 || 1; hi += d; lo -= d; }
    const padv = (hi - lo) * 0.06;
    lo -= padv; hi += padv;
    const lanes = markers.some((m) => m.t >= t0 && m.t <= t1) ? 2 : 0;
    const pad = { l: 0, r: 16, t: 22 + lanes * 17, b: 44 };
    const plotH = height - pad.t - pad.b;
    const yt = niceTicks(lo, hi, Math.max(3, Math.floor(plotH / tickSpacing)));
    pad.l = Math.max(...yt.values.map((v) => fmt.fixed(v, yt.decimals).length)) * CHAR + 16;
    const x = (t) => pad.l + ((t - t0) / Math.max(1, t1 - t0)) * (W - pad.l - pad.r);
    const tOf = (px) => t0 + ((px - pad.l) / (W - pad.l - pad.r)) * (t1 - t0);
    const y = (v) => pad.t + (1 - (v - lo) / (hi - lo)) * plotH;
    const svg = el("svg", { width: W, height, viewBox: `0 0 ${W} ${height}`, class: "chart", tabindex: 0, role: "img",
      "aria-label": `${label}. Arrow keys read values out; + and − zoom, 0 resets.`, "data-zoomed": zooms.has(key) ? "yes" : "no" });
    const clip = `clip-${Math.random().toString(36).slice(2)}`;
    svg.append(el("defs", {}, el("clipPath", { id: clip }, el("rect", { x: pad.l, y: pad.t - 2, width: W - pad.l - pad.r, height: plotH + 4 }))));
    const axis = el("g", { class: "axis" });
    for (const v of yt.values) {
      axis.append(el("line", { x1: pad.l, x2: W - pad.r, y1: y(v), y2: y(v), class: "grid" }),
        el("text", { x: pad.l - 8, y: y(v) + 4, "text-anchor": "end", class: "tick ytick" }, fmt.fixed(v, yt.decimals)));
    }
    axis.append(el("text", { x: 4, y: 14, class: "unit" }, unit ? unit : "value"));
    timeAxis(axis, timeTicks(t0, t1, Math.max(2, Math.floor((W - pad.l - pad.r) / 95))), x, height - pad.b + 18, pad.t, pad.t + plotH, W);
    axis.append(el("text", { x: W - pad.r, y: height - 4, "text-anchor": "end", class: "unit" }, `plant time (${zoneName(t1)})`));
    svg.append(axis);
    // limit lines, each labelled with its value; labels that would overlap go to the other side, or below
    const placed = { right: [], left: [] };
    for (const h of [...hlines].sort((a, b) => b.v - a.v)) {
      const d = decimalsFor(h.v, yt.decimals);
      const yy = y(h.v) - 4;
      const clear = (side, at) => placed[side].every((o) => Math.abs(o - at) >= 15);
      const [side, at] = clear("right", yy) ? ["right", yy] : clear("left", yy) ? ["left", yy] : ["right", yy + 17];
      placed[side].push(at);
      svg.append(el("line", { x1: pad.l, x2: W - pad.r, y1: y(h.v), y2: y(h.v), class: `hline ${h.cls || ""}` }),
        el("text", { x: side === "right" ? W - pad.r - 4 : pad.l + 4, y: at, "text-anchor": side === "right" ? "end" : "start",
          class: `hlabel ${h.cls || ""}` }, `${h.label} ${fmt.fixed(h.v, d)}${unit ? ` ${unit}` : ""}`));
    }
    const plot = el("g", { "clip-path": `url(#${clip})` });
    svg.append(plot);
    shown.forEach((s, i) => {
      const full = series[i].points;
      const first = Math.max(0, full.findIndex(inView) - 1);
      const lastIn = full.length - 1 - [...full].reverse().findIndex(inView);
      const pts = full.slice(first, Math.min(full.length, lastIn + 2));  // one beyond each edge: lines reach it
      const runs = [[]];  // a window without data (a gap in the history) breaks the line instead of bridging it
      for (const p of pts) {
        if (Number.isFinite(p.v)) runs[runs.length - 1].push(p); else if (runs[runs.length - 1].length) runs.push([]);
      }
      for (const run of runs.filter((r) => r.length)) {
        if (run.length > 1 && run.every((p) => Number.isFinite(p.min) && Number.isFinite(p.max))) {
          const up = run.map((p) => `${x(p.t)},${y(p.max)}`);
          const dn = run.slice().reverse().map((p) => `${x(p.t)},${y(p.min)}`);
          plot.append(el("path", { d: `M${up.join("L")}L${dn.join("L")}Z`, class: `band s${i}` }));
        }
        plot.append(run.length === 1 ? el("circle", { cx: x(run[0].t), cy: y(run[0].v), r: 3, class: `dot s${i}` })
          : el("polyline", { points: run.map((p) => `${x(p.t)},${y(p.v)}`).join(" "), class: `series s${i} ${s.cls || ""}` },
            el("title", {}, s.name)));
      }
      for (const p of s.points.filter((q) => q.flag && Number.isFinite(q.v))) {
        plot.append(el("circle", { cx: x(p.t), cy: y(p.v), r: 6, class: "flagged" }, el("title", {}, `${stamp(p.t)}: ${p.flag}`)));
      }
    });
    // alert markers: a line at the instant and the alert's text in one of two lanes above the plot
    const laneEnd = [-Infinity, -Infinity];
    for (const m of [...markers].filter((q) => q.t >= t0 && q.t <= t1).sort((a, b) => a.t - b.t)) {
      const mx = x(m.t);
      const g = el("g", { class: `marker sev-${m.severity || "warning"}`, "data-marker": m.short || m.label },
        el("line", { x1: mx, x2: mx, y1: 6, y2: pad.t + plotH }), el("title", {}, `${stamp(m.t)} · ${m.label}`));
      // the text to the right of its line, or to the left near the right-hand edge; in the first lane it fits
      const text = truncate(m.short || m.label, Math.min(240, W - pad.l - pad.r - 8));
      const tw = text.length * CHAR;
      const right = mx + 4 + tw <= W - pad.r;
      const from = right ? mx + 4 : Math.max(pad.l, mx - 4 - tw);
      const lane = laneEnd.findIndex((e) => e < from - 6);
      if (lane >= 0) {
        g.append(el("text", { x: right ? mx + 4 : mx - 4, y: 16 + lane * 17, class: "mlabel", "text-anchor": right ? "start" : "end" }, text));
        laneEnd[lane] = from + tw;
      }
      svg.append(g);
    }
    // hover readout and zoom by dragging
    const cross = el("line", { x1: 0, x2: 0, y1: pad.t, y2: pad.t + plotH, class: "cursor", visibility: "hidden" });
    const dots = shown.map((_, i) => el("circle", { r: 4.5, class: `cursor-dot s${i}`, visibility: "hidden" }));
    const sel = el("rect", { x: 0, y: pad.t, width: 0, height: plotH, class: "zoom-select", visibility: "hidden" });
    svg.append(cross, ...dots, sel);
    const nearest = (pts, t) => {
      let a = 0;
      let b = pts.length - 1;
      if (b < 0) return null;
      while (b - a > 1) { const m = (a + b) >> 1; if (pts[m].t < t) a = m; else b = m; }
      return Math.abs(pts[a].t - t) <= Math.abs(pts[b].t - t) ? pts[a] : pts[b];
    };
    const show = (t) => {
      if (!(t >= t0 && t <= t1)) return;
      state.cursor = t;
      const found = shown.map((s) => nearest(s.points.filter((p) => Number.isFinite(p.v)), t));
      const at = found.find(Boolean);
      const tx = at ? at.t : t;
      cross.setAttribute("x1", x(tx)); cross.setAttribute("x2", x(tx)); cross.setAttribute("visibility", "visible");
      const parts = [];
      found.forEach((p, i) => {
        if (!p) { dots[i].setAttribute("visibility", "hidden"); return; }
        dots[i].setAttribute("cx", x(p.t)); dots[i].setAttribute("cy", y(p.v)); dots[i].setAttribute("visibility", "visible");
        const d = Math.min(6, yt.decimals + 1);
        const band = Number.isFinite(p.min) && Number.isFinite(p.max) ? ` (min ${fmt.fixed(p.min, d)}, max ${fmt.fixed(p.max, d)})` : "";
        parts.push(`${series.length > 1 ? `${shown[i].name} ` : ""}${fmt.fixed(p.v, d)}${unit ? ` ${unit}` : ""}${band}`);
      });
      const near = markers.filter((m) => Math.abs(x(m.t) - x(tx)) <= 6).map((m) => `⚠ ${m.label}`);
      readout.textContent = `${stamp(tx)} · ${parts.join(" · ") || "no value"}${near.length ? ` · ${near.join(" · ")}` : ""}`;
      svg.dataset.cursor = String(tx);
    };
    let drag = null;
    svg.addEventListener("pointerdown", (ev) => {
      if (ev.button !== 0) return;
      const px = ev.offsetX;
      if (px < pad.l || px > W - pad.r) return;
      drag = { x0: px };
      svg.setPointerCapture(ev.pointerId);
    });
    svg.addEventListener("pointermove", (ev) => {
      const px = Math.max(pad.l, Math.min(W - pad.r, ev.offsetX));
      if (drag) {
        sel.setAttribute("x", Math.min(drag.x0, px)); sel.setAttribute("width", Math.abs(px - drag.x0));
        sel.setAttribute("visibility", "visible");
      }
      show(tOf(px));
    });
    svg.addEventListener("pointerup", (ev) => {
      if (!drag) return;
      const px = Math.max(pad.l, Math.min(W - pad.r, ev.offsetX));
      const d = drag;
      drag = null;
      sel.setAttribute("visibility", "hidden");
      if (Math.abs(px - d.x0) > 8) setZoom(tOf(d.x0), tOf(px));
    });
    svg.addEventListener("pointerleave", () => { if (!drag) { cross.setAttribute("visibility", "hidden"); dots.forEach((d) => d.setAttribute("visibility", "hidden")); } });
    svg.addEventListener("wheel", (ev) => {  // Ctrl + wheel (a trackpad's pinch too) zooms; the wheel alone scrolls the page
      if (!ev.ctrlKey && !ev.metaKey) return;
      ev.preventDefault();
      const t = tOf(Math.max(pad.l, Math.min(W - pad.r, ev.offsetX)));
      const f = ev.deltaY > 0 ? 1.25 : 0.8;
      setZoom(t - (t - t0) * f, t + (t1 - t) * f);
    }, { passive: false });
    svg.addEventListener("keydown", (ev) => {
      const pts = (shown.find((s) => s.points.length) || { points: [] }).points;
      const step = (t1 - t0) / 40;
      const c = state.cursor ?? t0 + (t1 - t0) / 2;
      if (ev.key === "ArrowLeft" || ev.key === "ArrowRight") {
        const next = ev.key === "ArrowRight" ? pts.find((p) => p.t > c + 1) : [...pts].reverse().find((p) => p.t < c - 1);
        show(next ? next.t : Math.max(t0, Math.min(t1, c + (ev.key === "ArrowRight" ? step : -step))));
      } else if (ev.key === "+" || ev.key === "=") setZoom(c - (c - t0) * 0.6, c + (t1 - c) * 0.6);
      else if (ev.key === "-") setZoom(c - (c - t0) * 1.6, c + (t1 - c) * 1.6);
      else if (ev.key === "0" || ev.key === "Escape") { zooms.delete(key); box.repaint(); } else return;
      ev.preventDefault();
    });
    if (state.cursor !== null) queueMicrotask(() => show(state.cursor));
    return svg;
  }

  return el("div", { class: "chart-wrap" },
    el("div", { class: "chart-tools" }, readout, el("span", { class: "hint" }, "drag or Ctrl + wheel to zoom"), reset), box);
}

/** States over time as one bar; each segment carries its state's name (text, not only colour). */
export function timeline(segments, start, end, { label = "state timeline", stateLabel }) {
  return responsive("timeline", (box, W) => {
    const h = 78;
    const pad = { l: 8, r: 16 };
    const x = (t) => pad.l + ((t - start) / Math.max(1, end - start)) * (W - pad.l - pad.r);
    const svg = el("svg", { width: W, height: h, viewBox: `0 0 ${W} ${h}`, class: "chart timeline", role: "img", "aria-label": label });
    for (const s of segments) {
      const a = Math.max(start, Date.parse(s.start));
      const b = Math.min(end, s.end ? Date.parse(s.end) : end);
      if (b <= a) continue;
      const w = x(b) - x(a);
      const lab = stateLabel(s.state);
      const text = `${lab.icon} ${lab.text}`;
      svg.append(el("g", { class: `seg state-${s.state}` },
        el("rect", { x: x(a), y: 4, width: Math.max(1, w), height: 28 }),
        w > text.length * CHAR + 6 ? el("text", { x: x(a) + 4, y: 23 }, text) : "",
        el("title", {}, `${lab.text}: ${fmt.time(s.start)} – ${s.end ? fmt.time(s.end) : "now"}`)));
    }
    const g = el("g", { class: "axis" });
    timeAxis(g, timeTicks(start, end, Math.max(2, Math.floor((W - pad.l - pad.r) / 95))), x, 50, 32, 36, W);
    svg.append(g);
    box.replaceChildren(svg);
  });
}

/** A value axis on the left: gridlines, tick labels and the unit above them; returns the scale. */
function valueAxis(svg, { lo, hi, top, bottom, left, right, unit, n, format }) {
  const t = niceTicks(lo, hi, n);
  const y = (v) => top + (1 - (v - lo) / (hi - lo || 1)) * (bottom - top);
  const g = el("g", { class: "axis" });
  for (const v of t.values) {
    g.append(el("line", { x1: left, x2: right, y1: y(v), y2: y(v), class: v === 0 ? "zero" : "grid" }),
      el("text", { x: left - 8, y: y(v) + 4, "text-anchor": "end", class: "tick ytick" }, format ? format(v, t.decimals) : fmt.fixed(v, t.decimals)));
  }
  g.append(el("text", { x: 4, y: 14, class: "unit" }, unit));
  svg.append(g);
  return { y, decimals: t.decimals };
}

function wrapped(text, x, px) {
  const width = Math.max(4, Math.floor(px / CHAR));
  const lines = [];
  for (const w of text.split(" ")) {
    if (lines.length && `${lines[lines.length - 1]} ${w}`.length <= width) lines[lines.length - 1] += ` ${w}`; else lines.push(w);
  }
  return lines.slice(0, 3).map((ln, i) => el("tspan", { x, dy: i ? 15 : 0 }, truncate(ln, px)));
}

/** From planned time down to fully productive time, one step per loss, on a value axis in `unit`.
 * steps: [{label, value, kind: "total" | "loss"}] */
export function waterfall(steps, { unit = "h", label = "six losses waterfall" } = {}) {
  return responsive("waterfall", (box, W) => {
    const h = 320;
    let level = 0;
    const spans = steps.map((s) => {
      if (s.kind === "total") { level = s.value; return { ...s, a: 0, b: s.value }; }
      const a = level; level -= s.value; return { ...s, a, b: level };
    });
    const max = Math.max(...spans.flatMap((b) => [b.a, b.b]), 1e-9);
    const svg = el("svg", { width: W, height: h, viewBox: `0 0 ${W} ${h}`, class: "chart waterfall", role: "img", "aria-label": label });
    const probe = niceTicks(0, max * 1.08, 5);
    const left = Math.max(...probe.values.map((v) => fmt.fixed(v, probe.decimals).length)) * CHAR + 18;
    const ax = valueAxis(svg, { lo: 0, hi: max * 1.08, top: 28, bottom: h - 64, left, right: W - 12, unit, n: 5 });
    const bw = (W - left - 12) / steps.length;
    const d = Math.min(3, ax.decimals + 1);
    spans.forEach((s, i) => {
      const top = Math.max(s.a, s.b);
      const bottom = Math.min(s.a, s.b);
      const xx = left + i * bw + 6;
      const cx = xx + (bw - 12) / 2;
      const text = s.kind === "total" ? amount(s.value, d) : Number(s.value.toFixed(d)) === 0 ? amount(s.value, d) : `−${fmt.fixed(s.value, d)}`;
      svg.append(el("g", { class: `step ${s.kind}` },
        el("rect", { x: xx, y: ax.y(top), width: Math.max(1, bw - 12), height: Math.max(1, ax.y(bottom) - ax.y(top)) }),
        el("text", { x: cx, y: ax.y(top) - 6, "text-anchor": "middle", class: "vlabel" }, text),
        el("text", { x: cx, y: h - 44, "text-anchor": "middle", class: "tick xlabel" }, ...wrapped(s.label, cx, bw - 4)),
        el("title", {}, `${s.label}: ${fmt.fixed(s.value, d)} ${unit}`)));
    });
    box.replaceChildren(svg);
  });
}

/**
 * Horizontal bars with an optional 95 % interval, on a value axis: for comparing variants. An item whose
 * interval crosses zero is `unclear` (hatched, grey, said in words): it is not drawn like a gain or a loss.
 * items: [{name, value, lo?, hi?, cls?}]
 */
export function bars(items, { label = "bars", unit = "", signed = false } = {}) {
  return responsive("bars", (box, W) => {
    const h = 56 + items.length * 40;
    const vals = items.flatMap((i) => [i.value, i.lo, i.hi, 0]).filter(Number.isFinite);
    let lo = Math.min(...vals);
    let hi = Math.max(...vals);
    if (hi === lo) hi = lo + 1;
    const padv = (hi - lo) * 0.08;
    lo = lo < 0 ? lo - padv : lo;
    hi += padv;
    const names = Math.min(W * 0.35, Math.max(...items.map((i) => i.name.length)) * CHAR + 16);
    const left = names + 8;
    const right = W - 150;
    const x = (v) => left + ((v - lo) / (hi - lo || 1)) * (right - left);
    const hatch = `hatch-${Math.random().toString(36).slice(2)}`;
    const svg = el("svg", { width: W, height: h, viewBox: `0 0 ${W} ${h}`, class: "chart bars", role: "img", "aria-label": label },
      el("defs", {}, el("pattern", { id: hatch, width: 8, height: 8, patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" },
        el("rect", { width: 8, height: 8, class: "hatch-bg" }), el("line", { x1: 0, y1: 0, x2: 0, y2: 8, class: "hatch-line" }))));
    const t = niceTicks(lo, hi, Math.max(3, Math.floor((right - left) / 90)));
    const axis = el("g", { class: "axis" });
    for (const v of t.values) {
      axis.append(el("line", { x1: x(v), x2: x(v), y1: 6, y2: h - 40, class: v === 0 ? "zero" : "grid" }),
        el("text", { x: x(v), y: h - 22, "text-anchor": "middle", class: "tick" }, `${signed && v > 0 ? "+" : ""}${fmt.fixed(v, t.decimals)}`));
    }
    axis.append(el("text", { x: right, y: h - 4, "text-anchor": "end", class: "unit" }, unit));
    svg.append(axis);
    const d = Math.min(3, t.decimals + 1);
    const num = (v) => `${signed && v > 0 ? "+" : ""}${fmt.fixed(v, d)}`;
    items.forEach((it, i) => {
      const yy = 10 + i * 40;
      const hasCi = Number.isFinite(it.lo) && Number.isFinite(it.hi);
      const end = Math.max(x(it.value), x(0), hasCi ? x(it.hi) : -Infinity);
      const note = it.cls === "unclear" ? " no clear difference" : "";
      svg.append(el("g", { class: `bar ${it.cls || ""}`, "data-bar": it.name },
        el("text", { x: left - 10, y: yy + 19, "text-anchor": "end", class: "name" }, truncate(it.name, names)),
        el("rect", { x: Math.min(x(0), x(it.value)), y: yy + 4, width: Math.max(1, Math.abs(x(it.value) - x(0))), height: 20,
          fill: it.cls === "unclear" ? `url(#${hatch})` : undefined }),
        hasCi ? el("g", { class: "ci" }, el("line", { x1: x(it.lo), x2: x(it.hi), y1: yy + 14, y2: yy + 14 }),
          el("line", { x1: x(it.lo), x2: x(it.lo), y1: yy + 5, y2: yy + 23 }), el("line", { x1: x(it.hi), x2: x(it.hi), y1: yy + 5, y2: yy + 23 })) : "",
        el("text", { x: Math.min(end + 8, W - 148), y: yy + 19, class: "vlabel" }, `${num(it.value)}${note}`),
        el("title", {}, `${it.name}: ${num(it.value)} ${unit}${hasCi ? ` (95 % interval ${num(it.lo)} to ${num(it.hi)})` : ""}${note ? ": the interval crosses zero" : ""}`)));
    });
    box.replaceChildren(svg);
  });
}

/**
 * Vertical columns on a value axis, e.g. OEE by shift; an optional target line; `cls` per item (e.g. "under").
 * items: [{name, value, cls?, note?}]
 */
export function columns(items, { label = "columns", unit = "", max, target, format } = {}) {
  return responsive("columns", (box, W) => {
    const h = 280;
    const top = Math.max(max ?? 0, target?.value ?? 0, ...items.map((i) => i.value).filter(Number.isFinite), 1e-9);
    const svg = el("svg", { width: W, height: h, viewBox: `0 0 ${W} ${h}`, class: "chart columns", role: "img", "aria-label": label });
    const probe = niceTicks(0, top * 1.08, 5);
    const left = Math.max(...probe.values.map((v) => (format ? format(v, probe.decimals) : fmt.fixed(v, probe.decimals)).length)) * CHAR + 18;
    const ax = valueAxis(svg, { lo: 0, hi: top * 1.08, top: 26, bottom: h - 58, left, right: W - 12, unit, n: 5, format });
    const bw = Math.min(110, (W - left - 12) / Math.max(1, items.length));
    const x0 = left + Math.max(0, (W - left - 12 - bw * items.length) / 2);  // a few columns stand in the middle
    items.forEach((it, i) => {
      const xx = x0 + i * bw + 5;
      const cx = xx + (bw - 10) / 2;
      const v = Number.isFinite(it.value) ? it.value : 0;
      const text = Number.isFinite(it.value) ? (format ? format(it.value, ax.decimals + 1) : amount(it.value, ax.decimals + 1)) : "–";
      svg.append(el("g", { class: `col ${it.cls || ""}`, "data-col": it.name },
        el("rect", { x: xx, y: ax.y(v), width: Math.max(1, bw - 10), height: Math.max(0, ax.y(0) - ax.y(v)) }),
        el("text", { x: cx, y: ax.y(v) - 6, "text-anchor": "middle", class: "vlabel" }, text),
        el("text", { x: cx, y: h - 38, "text-anchor": "middle", class: "tick xlabel" }, ...wrapped(it.name, cx, bw)),
        el("title", {}, `${it.name}: ${text} ${unit}${it.note ? ` (${it.note})` : ""}`)));
    });
    if (target && Number.isFinite(target.value)) {
      svg.append(el("line", { x1: left, x2: W - 12, y1: ax.y(target.value), y2: ax.y(target.value), class: "hline target" }),
        el("text", { x: W - 14, y: ax.y(target.value) - 5, "text-anchor": "end", class: "hlabel" }, target.label));
    }
    box.replaceChildren(svg);
  });
}

/** A Pareto: stop time by cause, biggest first, with the cumulative share on a right-hand axis in %.
 * items: [{name, value, cumulative (0..1)}] */
export function pareto(items, { label = "Pareto", unit = "min" } = {}) {
  return responsive("pareto", (box, W) => {
    const h = 300;
    const max = Math.max(...items.map((i) => i.value), 1e-9);
    const svg = el("svg", { width: W, height: h, viewBox: `0 0 ${W} ${h}`, class: "chart pareto", role: "img", "aria-label": label });
    const probe = niceTicks(0, max * 1.08, 5);
    const left = Math.max(...probe.values.map((v) => fmt.fixed(v, probe.decimals).length)) * CHAR + 18;
    const right = W - 52;
    const ax = valueAxis(svg, { lo: 0, hi: max * 1.08, top: 26, bottom: h - 64, left, right, unit, n: 5 });
    const yc = (c) => 26 + (1 - c) * (h - 64 - 26);
    const g = el("g", { class: "axis" });
    for (const c of [0, 0.25, 0.5, 0.75, 1]) g.append(el("text", { x: right + 6, y: yc(c) + 4, class: "tick" }, `${c * 100} %`));
    g.append(el("text", { x: W - 4, y: 14, "text-anchor": "end", class: "unit" }, "cum. %"));
    svg.append(g);
    const bw = Math.min(160, (right - left) / Math.max(1, items.length));
    const pts = [];
    items.forEach((it, i) => {
      const xx = left + i * bw + 5;
      const cx = xx + (bw - 10) / 2;
      pts.push(`${cx},${yc(it.cumulative)}`);
      svg.append(el("g", { class: `col ${it.cls || ""}`, "data-col": it.name },
        el("rect", { x: xx, y: ax.y(it.value), width: Math.max(1, bw - 10), height: Math.max(0, ax.y(0) - ax.y(it.value)) }),
        el("text", { x: cx, y: ax.y(it.value) - 6, "text-anchor": "middle", class: "vlabel" }, amount(it.value, ax.decimals + 1)),
        el("text", { x: cx, y: h - 44, "text-anchor": "middle", class: "tick xlabel" }, ...wrapped(it.name, cx, bw)),
        el("title", {}, `${it.name}: ${fmt.fixed(it.value, ax.decimals + 1)} ${unit}, ${(100 * it.cumulative).toFixed(0)} % of the stop time so far`)));
    });
    if (pts.length) svg.append(el("polyline", { points: pts.join(" "), class: "cumulative" }));
    box.replaceChildren(svg);
  });
}
