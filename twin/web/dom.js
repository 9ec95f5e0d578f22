// Small DOM helpers: building elements without innerHTML (values from the plant are never parsed as HTML).

export function el(tag, attrs = {}, ...children) {
  const svg = ["svg", "g", "path", "line", "rect", "circle", "text", "polyline", "title", "tspan"].includes(tag);
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
  time(ts) { return ts ? new Date(ts).toLocaleString("en-GB", { hour12: false }) : "–"; },
};

/** What each flag the API puts on a KPI means, in words (analytics/oee/model.py, docs/oee.md). */
export const FLAG_TEXT = {
  effectiveness_above_1: "performance above 100 %: the ideal cycle time is longer than the machine's real cycle (check ideal_cycle_time_s)",
  state_unknown_part_of_time: "part of the planned time has no known state (before the twin saw this machine, or a gap): left out of every figure",
  no_planned_time: "no planned time in this window yet",
  no_state_known: "no state known yet in this window",
  no_ideal_cycle_time: "no ideal cycle time: performance and OEE cannot be computed",
  parts_outside_planned_time: "parts were made outside planned time",
};

const FLAG_SHORT = { effectiveness_above_1: "above 100 %: ideal cycle time longer than the real one?" };
const IMPOSSIBLE = "above 100 %, which the time model does not allow: the data or the settings are wrong";

/** A KPI as a percentage; above 100 % it is never shown without the reason, in words beside it (`short` for a
 * card, the whole sentence elsewhere). */
export function kpi(v, flags = [], { short = false } = {}) {
  if (v === null || v === undefined || !Number.isFinite(v)) return "–";
  const text = `${(100 * v).toFixed(1)} %`;
  if (v <= 1) return text;
  const flag = flags.includes("effectiveness_above_1") ? "effectiveness_above_1" : "impossible";
  const why = (short ? FLAG_SHORT[flag] : FLAG_TEXT[flag]) || IMPOSSIBLE;
  return el("span", { class: "impossible", "data-flag": flag, title: FLAG_TEXT[flag] || IMPOSSIBLE }, `${text} `,
    el("span", { class: "why" }, `⚠ ${why}`));
}

/** The API's flags on a figure, each said in words. */
export function flagNotes(flags = []) {
  if (!flags.length) return "";
  return el("ul", { class: "flags", "aria-label": "notes on these figures" },
    ...flags.map((f) => el("li", { "data-flag": f }, `⚠ ${FLAG_TEXT[f] || f.replaceAll("_", " ")}`)));
}

export function toIsoLocalInput(date) {
  // value for <input type="datetime-local">, in the browser's time zone
  const d = new Date(date.getTime() - date.getTimezoneOffset() * 60000);
  return d.toISOString().slice(0, 19);
}
