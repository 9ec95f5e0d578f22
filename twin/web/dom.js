// Small DOM helpers: building elements without innerHTML (values from the plant are never parsed as HTML).

import { stamp } from "./time.js";

const SVG_TAGS = new Set(["svg", "g", "path", "line", "rect", "circle", "text", "polyline", "title", "tspan", "defs",
  "pattern", "clipPath"]);

export function el(tag, attrs = {}, ...children) {
  const svg = SVG_TAGS.has(tag);
  const node = svg ? document.createElementNS("http://www.w3.org/2000/svg", tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) if (c !== undefined && c !== null && c !== "") node.append(c instanceof Node ? c : String(c));
  return node;
}

const STATES = {
  producing: { icon: "▶", text: "producing" },
  idle: { icon: "‖", text: "idle" },
  starved: { icon: "◌", text: "starved" },
  blocked: { icon: "■", text: "blocked" },
  down: { icon: "✖", text: "DOWN" },
  setup: { icon: "⚙", text: "setup" },
  planned_stop: { icon: "⏾", text: "planned stop" },
  empty: { icon: "○", text: "empty" },
  holding: { icon: "◐", text: "holding" },
  full: { icon: "●", text: "FULL" },
  unknown: { icon: "?", text: "unknown" },
};

export function stateLabel(state) { return STATES[state] || { icon: "•", text: String(state) }; }

export const fmt = {
  int(v) { return v === null || v === undefined ? "–" : Number(v).toLocaleString("en"); },
  value(v) {
    if (v === null || v === undefined) return "–";
    if (typeof v !== "number") return String(v);
    const a = Math.abs(v);
    return a >= 1000 ? v.toFixed(0) : a >= 100 ? v.toFixed(1) : a >= 1 ? v.toFixed(2) : v.toPrecision(3);
  },
  pct(v) { return v === null || v === undefined ? "–" : `${(100 * v).toFixed(1)} %`; },
  duration(s) {
    if (!Number.isFinite(s) || s < 0) return "–";
    if (s < 60) return `${Math.round(s)} s`;
    if (s < 3600) return `${Math.floor(s / 60)} min`;
    return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  },
  /** Plant time, one format on every screen (time.js). */
  time(ts) { return ts ? stamp(ts) : "–"; },
  /** A number with a fixed count of decimals, and a real minus sign. */
  fixed(v, decimals) {
    if (!Number.isFinite(v)) return "–";
    const s = v.toFixed(decimals);
    return /^-0(\.0*)?$/.test(s) ? s.slice(1) : s.replace("-", "−");  // no "−0.00"
  },
};

/** How urgent an alert is, in words and a shape as well as colour (ISA-101: colour only for the abnormal). */
export const SEVERITY = {
  critical: { icon: "◆", text: "critical", rank: 2 },
  warning: { icon: "▲", text: "warning", rank: 1 },
  info: { icon: "●", text: "info", rank: 0 },
};

export function severityBadge(severity, count) {
  const s = SEVERITY[severity] || { icon: "•", text: String(severity) };
  return el("span", { class: `sev-badge sev-${severity}`, "data-severity": severity },
    `${s.icon} `, count === undefined ? s.text : `${count} ${s.text}`);
}

/** Moves focus into a freshly drawn region (never back to <body>): its heading, or the element itself. */
export function focusInto(region) {
  const target = region.querySelector("h1, h2") || region;
  if (!target.hasAttribute("tabindex") && !target.matches("a, button, input, select, textarea")) target.setAttribute("tabindex", "-1");
  target.focus({ preventScroll: false });
}

/** Focus to `target` if it is still on the page, else to `fallback` (a status line or heading). */
export function focusOr(target, fallback) {
  const t = target && target.isConnected ? target : fallback;
  if (!t) return;
  if (!t.matches("a, button, input, select, textarea, [tabindex]")) t.setAttribute("tabindex", "-1");
  t.focus();
}

/** What each flag the API puts on a KPI means, in words (analytics/oee/model.py, docs/oee.md). */
export const FLAG_TEXT = {
  effectiveness_above_1: "performance above 100 %: the ideal cycle time is longer than the machine's real cycle (check ideal_cycle_time_s)",
  first_part_began_before_window: "above 100 % only because this window's first part was begun before it (a shift change mid-cycle): its whole ideal time counts here, which evens out within a few cycles",
  state_unknown_part_of_time: "part of the planned time has no known state (before the twin saw this machine, or a gap): left out of every figure",
  no_planned_time: "no planned time in this window yet",
  no_state_known: "no state known yet in this window",
  no_ideal_cycle_time: "no ideal cycle time: performance and OEE cannot be computed",
  parts_outside_planned_time: "parts were made outside planned time",
};

const FLAG_SHORT = {
  effectiveness_above_1: "above 100 %: ideal cycle time longer than the real one?",
  first_part_began_before_window: "above 100 %: first part begun before this window",
};
/** Flags that explain a figure above 100 %, the first that applies wins; `explained` ones are not an error. */
const OVER_100 = ["effectiveness_above_1", "first_part_began_before_window"];
const EXPLAINED = new Set(["first_part_began_before_window"]);
const IMPOSSIBLE = "above 100 %, which the time model does not allow: the data or the settings are wrong";

/** A KPI as a percentage; above 100 % it is never shown without the reason, in words beside it (`short` for a
 * card, the whole sentence elsewhere). */
export function kpi(v, flags = [], { short = false } = {}) {
  if (v === null || v === undefined || !Number.isFinite(v)) return "–";
  const text = `${(100 * v).toFixed(1)} %`;
  if (v <= 1) return text;
  const flag = OVER_100.find((f) => flags.includes(f)) || "impossible";
  const why = (short ? FLAG_SHORT[flag] : FLAG_TEXT[flag]) || IMPOSSIBLE;
  return el("span", { class: EXPLAINED.has(flag) ? "explained" : "impossible", "data-flag": flag,
    title: FLAG_TEXT[flag] || IMPOSSIBLE }, `${text} `,
    el("span", { class: "why" }, `⚠ ${why}`));
}

/** The short note on a figure above 100 % (a past shift's column), or "". */
export function over100Note(flags = []) {
  const flag = OVER_100.find((f) => flags.includes(f));
  return flag ? FLAG_SHORT[flag] : "";
}

/** The flags a KPI shown with `kpi` already explains beside it. */
export const SHOWN_BESIDE = ["state_unknown_part_of_time", ...OVER_100];

/** The API's flags on a figure, each said in words. */
export function flagNotes(flags = []) {
  if (!flags.length) return "";
  return el("ul", { class: "flags", "aria-label": "notes on these figures" },
    ...flags.map((f) => el("li", { "data-flag": f }, `⚠ ${FLAG_TEXT[f] || f.replaceAll("_", " ")}`)));
}


/** Tells the header that something it counts (open alerts, commands waiting) has changed by the user's hand. */
export function changed() { window.dispatchEvent(new Event("twin:changed")); }
