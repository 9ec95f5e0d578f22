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

export function toIsoLocalInput(date) {
  // value for <input type="datetime-local">, in the browser's time zone
  const d = new Date(date.getTime() - date.getTimezoneOffset() * 60000);
  return d.toISOString().slice(0, 19);
}
