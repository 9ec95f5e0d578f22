// The line drawn in flow order: stations, buffers with their fill level, conveyors and AGVs, by state.

import { api, tryApi } from "./api.js";
import { plantNow } from "./clock.js";
import { el, fmt, kpi, SEVERITY, severityBadge, stateLabel } from "./dom.js";

const KEY_SIGNALS = {
  cnc_machine: ["spindle_speed", "spindle_load", "spindle_temperature"],
  industrial_robot: ["cycle_time", "gripper_pressure"],
  inspection_station: ["measured_diameter"],
  conveyor: ["belt_speed", "motor_current"],
  agv: ["battery", "position", "mission"],
  buffer: [],
};

const LABELS = {
  spindle_speed: "spindle", spindle_load: "load", spindle_temperature: "temp", cycle_time: "cycle",
  gripper_pressure: "gripper", measured_diameter: "Ø", belt_speed: "belt", motor_current: "motor",
  battery: "battery", position: "position", mission: "mission",
};

/** The signals a card shows: the type's key ones, or (a type the UI does not know) its first three numbers. */
function keySignals(type, sig) {
  const known = KEY_SIGNALS[type];
  if (known) return known.filter((s) => sig[s]);
  return Object.keys(sig).filter((s) => typeof sig[s].value === "number" && !s.startsWith("parts_")).slice(0, 3);
}

/** Lines in flow order: from /api/plant where the twin serves it, else /api/assets grouped by line and cell. */
export async function loadLayout() {
  const assets = await api("/api/assets");
  const byPath = new Map(assets.map((a) => [a.id, a]));
  const plant = await tryApi("/api/plant");
  const lines = plant ? linesOfPlant(plant, byPath) : [];
  if (lines.length) return lines;
  const grouped = new Map();
  for (const a of assets) {
    if (!grouped.has(a.line)) grouped.set(a.line, []);
    grouped.get(a.line).push(a);
  }
  return [...grouped].map(([path, items]) => ({ path, name: path.split("/").pop(), items: items.map(item) }));
}

function item(a) { return { id: a.id, name: a.name, type: a.type }; }

function linesOfPlant(plant, byPath) {
  const found = [];
  const walk = (node) => {
    if (Array.isArray(node)) { node.forEach(walk); return; }
    if (!node || typeof node !== "object") return;
    if (Array.isArray(node.flow)) found.push(node);
    for (const v of Object.values(node)) if (v && typeof v === "object") walk(v);
  };
  walk(plant);
  return found.map((ln) => {
    const path = ln.path || ln.id;
    const items = ln.flow.map((f) => {
      const id = typeof f === "string" ? f : (f.path || f.id);
      const full = byPath.has(id) ? id : [...byPath.keys()].find((p) => p.startsWith(`${path}/`) && p.endsWith(`/${id}`));
      return full && byPath.has(full) ? item(byPath.get(full)) : null;
    }).filter(Boolean);
    return { path, name: ln.name || String(path).split("/").pop(), items };
  }).filter((ln) => ln.items.length);
}

/** Builds the line's cards once; `update` then changes values in place (no flicker, focus kept). */
export class LineDrawing {
  constructor(container, layout, { link = true, status = false } = {}) {
    this.cards = new Map();
    this.status = new Map();  // line path -> its status strip (the line view fills it in)
    container.replaceChildren(...layout.map((ln) => {
      const flow = el("ol", { class: "flow", "aria-label": `${ln.name}: flow of parts` });
      ln.items.forEach((it, i) => {
        const card = this._card(it, link);
        this.cards.set(it.id, card);
        flow.append(el("li", { class: `slot slot-${it.type}` }, card.root));
        if (i < ln.items.length - 1) flow.append(el("li", { class: "arrow", "aria-hidden": "true" }, "→"));
      });
      const strip = status ? el("div", { class: "line-status", "data-line": ln.path, "aria-label": `${ln.name}: status` }) : "";
      if (strip) this.status.set(ln.path, strip);
      return el("section", { class: "line", "aria-label": ln.name, "data-line": ln.path },
        el("h2", {}, ln.name, " ", el("small", {}, ln.path)), strip, flow);
    }));
  }

  _card(it, link) {
    const state = el("span", { class: "state", "data-role": "state" });
    const since = el("span", { class: "since" });
    const parts = el("div", { class: "parts" });
    const signals = el("dl", { class: "signals" });
    const alerts = el("div", { class: "alerts", hidden: "", "aria-label": "open alerts" });
    const gauge = el("div", { class: "gauge" });
    const body = [el("div", { class: "title" }, el("span", { class: "name" }, it.name),
      el("span", { class: "id" }, it.id.split("/").pop())), el("div", { class: "statebar" }, state, since)];
    // what is drawn follows the asset's role (station, buffer, transport, equipment), so any type of the
    // catalogue, the plant's own included, has a card
    const role = it.role || ({ buffer: "buffer", agv: "transport" }[it.type] || "station");
    if (role === "buffer") body.push(gauge);
    if (it.type === "conveyor") body.push(el("div", { class: "belt", "aria-hidden": "true" }));
    if (role === "transport") body.push(el("div", { class: "route", "aria-hidden": "true" }, el("span", { class: "agv-dot" })));
    if (role === "station" || role === "transport") body.push(parts);
    body.push(signals, alerts);
    const attrs = { class: `card type-${it.type} role-${role}`, "data-asset": it.id, "data-type": it.type };
    const root = link ? el("a", { ...attrs, href: `#/asset/${encodeURIComponent(it.id)}` }, ...body) : el("div", attrs, ...body);
    return { root, state, since, parts, signals, gauge, alerts, type: it.type, role, name: it.name };
  }

  update(assets, { alerts = [], now = plantNow() } = {}) {
    const open = new Map();  // asset -> severity -> open alerts
    for (const a of alerts) {
      if (!open.has(a.asset)) open.set(a.asset, {});
      const bySev = open.get(a.asset);
      bySev[a.severity] = (bySev[a.severity] || 0) + 1;
    }
    for (const [path, card] of this.cards) {
      const a = assets.get(path);
      const st = a ? a.state : "unknown";
      card.root.dataset.state = st;
      card.root.className = card.root.className.replace(/\bstate-\S+/g, "").trim() + ` state-${st}`;
      const label = stateLabel(st);
      card.state.textContent = `${label.icon} ${label.text}`;
      card.root.setAttribute("aria-label", `${card.name}: ${label.text}`);
      card.since.textContent = a && a.state_since ? `for ${fmt.duration((now - Date.parse(a.state_since)) / 1000)}` : "";
      const sig = (a && a.signals) || {};
      if (card.role === "buffer") this._gauge(card, sig);
      else if (card.role !== "equipment") {
        const good = a && a.parts ? a.parts.good : null;
        const scrap = a && a.parts ? a.parts.scrap : null;
        const oee = a && a.oee && a.oee.oee !== null && a.oee.oee !== undefined ? a.oee.oee : null;
        const flags = (a && a.oee && a.oee.flags) || [];
        const impossible = [a && a.oee && a.oee.performance, oee].some((v) => Number.isFinite(v) && v > 1);
        card.parts.replaceChildren(el("span", { class: "good", title: "good parts" }, "✔ ", fmt.int(good)),
          scrap === null || scrap === undefined ? "" : el("span", { class: "scrap", title: "scrapped parts" }, " ✘ ", fmt.int(scrap)),
          oee === null ? "" : el("span", { class: "oee", title: `OEE of ${a.oee.window}` }, " OEE ", kpi(oee, flags, { short: true })),
          impossible && oee <= 1 ? el("span", { class: "oee" }, " performance ", kpi(a.oee.performance, flags, { short: true })) : "");
      }
      if (card.role === "transport") {
        const pos = sig.position ? Number(sig.position.value) : null;
        const dot = card.root.querySelector(".agv-dot");
        // the route's length is not in the plant model: scale by the farthest position seen so far
        if (dot && pos !== null) {
          card.route = Math.max(card.route || 0, pos, 1);
          dot.style.left = `${(100 * pos) / card.route}%`;
        }
      }
      card.signals.replaceChildren(...keySignals(card.type, sig).flatMap((s) => [
        el("dt", {}, LABELS[s] || s), el("dd", { "data-signal": s }, fmt.value(sig[s].value), " ", el("small", {}, sig[s].unit || "")),
      ]));
      // alert badges by severity, the worst first: the abnormal stands out, and says how much so
      const bySev = open.get(path) || {};
      const sevs = Object.keys(bySev).sort((x, y) => (SEVERITY[y]?.rank ?? -1) - (SEVERITY[x]?.rank ?? -1));
      card.alerts.hidden = sevs.length === 0;
      card.alerts.replaceChildren(...sevs.map((sv) => severityBadge(sv, bySev[sv])));
      card.root.dataset.alert = sevs[0] || "";
    }
  }

  _gauge(card, sig) {
    const level = sig.level ? Number(sig.level.value) : null;
    const cap = sig.capacity ? Number(sig.capacity.value) : null;
    const pct = level !== null && cap ? Math.max(0, Math.min(100, (100 * level) / cap)) : 0;
    const fill = el("div", { class: "fill" });
    fill.style.height = `${pct}%`; // through the CSSOM: the Content-Security-Policy refuses style attributes
    card.gauge.replaceChildren(fill,
      el("span", { class: "gauge-text" }, level === null ? "–" : `${fmt.int(level)}${cap ? ` / ${fmt.int(cap)}` : ""}`));
    card.gauge.setAttribute("role", "meter");
    card.gauge.setAttribute("aria-label", "fill level");
    card.gauge.setAttribute("aria-valuemin", "0");
    card.gauge.setAttribute("aria-valuemax", String(cap ?? 0));
    card.gauge.setAttribute("aria-valuenow", String(level ?? 0));
  }
}
