// Alerts: list and filter; acknowledge, shelve, unshelve, clear and close with a comment (engineer role).

import { api } from "../api.js";
import { el, fmt } from "../dom.js";
import { decisionsPanel } from "./decision.js";

const CLOSED = new Set(["cleared", "closed", "resolved"]);
// what a person may do in each state (ISA-18.2); the twin checks again and answers 409 otherwise
const ACTIONS = [
  { verb: "ack", label: "Acknowledge", when: (a) => ["active", "cleared_unacked"].includes(a.state) },
  { verb: "shelve", label: "Shelve", when: (a) => !["shelved", "closed"].includes(a.state), comment: true },
  { verb: "unshelve", label: "Unshelve", when: (a) => a.state === "shelved" },
  { verb: "clear", label: "Clear", when: (a) => ["active", "acknowledged"].includes(a.state), comment: true },
  { verb: "close", label: "Close", when: (a) => a.state === "cleared" },
];
const STATES = ["", "open", "active", "acknowledged", "cleared_unacked", "cleared", "shelved", "closed"];

export async function openAlerts() {
  const list = await api("/api/alerts", { params: { state: "open", limit: 500 } });
  return list.filter((a) => !CLOSED.has(a.state));
}

export async function mount(container, ctx) {
  const engineer = ["engineer", "admin"].includes(ctx.me.role);
  const state = el("select", { id: "f-state" }, ...STATES.map((s) => el("option", { value: s, selected: s === "open" }, s ? s.replace("_", " ") : "any")));
  const severity = el("select", { id: "f-severity" }, ...["", "critical", "warning", "info"].map((s) => el("option", { value: s }, s ? `${s} or worse` : "any")));
  const asset = el("input", { id: "f-asset", type: "search", placeholder: "asset path prefix" });
  const tbody = el("tbody");
  const msg = el("p", { role: "status", class: "muted" });
  container.append(
    el("h1", {}, "Alerts"),
    el("form", { class: "filters", onsubmit: (e) => { e.preventDefault(); load(); } },
      el("label", { for: "f-state" }, "State"), state, el("label", { for: "f-severity" }, "Severity"), severity,
      el("label", { for: "f-asset" }, "Asset"), asset, el("button", { type: "submit" }, "Filter")),
    engineer ? "" : el("p", { class: "muted" }, `Your role (${ctx.me.role}) may look but not act on alerts.`),
    el("div", { id: "open-decisions" }),
    el("table", { class: "alerts-table" },
      el("thead", {}, el("tr", {}, ...["Raised", "Severity", "Asset", "Message", "State", engineer ? "Action" : ""].map((h) => el("th", { scope: "col" }, h)))),
      tbody),
    msg);

  async function act(alert, verb, form) {
    const comment = form.querySelector("input[name=comment]").value.trim();
    const body = comment ? { comment } : {};
    if (verb === "shelve") body.duration_s = Number(form.querySelector("select[name=duration]").value);
    try {
      await api(`/api/alerts/${alert.id}/${verb}`, { method: "POST", body });
      msg.textContent = `Alert ${alert.id}: ${ACTIONS.find((x) => x.verb === verb).label.toLowerCase()} done.`;
      await load();
    } catch (e) {
      msg.textContent = `Alert ${alert.id}: ${verb} refused: ${e.detail || e.message}`;
    }
  }

  function row(a) {
    const cells = [
      el("td", {}, fmt.time(a.raised_at || a.ts), el("br"),
        el("a", { href: `#/replay/${encodeURIComponent(a.raised_at || a.ts)}`, "aria-label": `replay the line when alert ${a.id} was raised` }, "replay")),
      el("td", {}, el("span", { class: `sev sev-${a.severity}` }, a.severity === "critical" ? "‼ " : a.severity === "warning" ? "! " : "i ", a.severity)),
      el("td", {}, el("a", { href: `#/asset/${encodeURIComponent(a.asset)}` }, a.asset.split("/").slice(-2).join("/"))),
      el("td", {}, a.message || a.cause || ""),
      el("td", { "data-role": "alert-state" }, a.state.replace("_", " ") + (a.occurrences > 1 ? ` (×${a.occurrences})` : "")
        + (a.shelved_until ? ` until ${fmt.time(a.shelved_until)}` : "")),
    ];
    const allowed = ACTIONS.filter((x) => x.when(a));
    if (engineer && allowed.length) {
      const form = el("form", { class: "act", onsubmit: (e) => e.preventDefault() },
        el("input", { name: "comment", "aria-label": `comment on alert ${a.id}`, placeholder: "comment (why)" }),
        allowed.some((x) => x.verb === "shelve") ? el("select", { name: "duration", "aria-label": "shelve for" },
          ...[[900, "15 min"], [3600, "1 h"], [28800, "8 h"]].map(([v, t]) => el("option", { value: v }, t))) : "");
      for (const action of allowed) {
        form.append(el("button", { type: "button", "data-action": action.verb, onclick: () => {
          const input = form.querySelector("input[name=comment]");
          input.setCustomValidity(action.comment && !input.value.trim() ? `Say why you ${action.verb} this alert.` : "");
          if (!form.reportValidity()) return;
          act(a, action.verb, form);
        } }, action.label));
      }
      cells.push(el("td", {}, form));
    } else cells.push(el("td", { class: "muted" }, engineer ? "–" : ""));
    return el("tr", { "data-alert": a.id, class: `alert-row state-${a.state}` }, ...cells);
  }

  async function load() {
    decisionsPanel(ctx).then((p) => container.querySelector("#open-decisions")?.replaceChildren(p || ""));
    const shown = await api("/api/alerts", { params: { state: state.value, severity: severity.value, asset: asset.value, limit: 200 } });
    tbody.replaceChildren(...shown.map(row));
    if (!shown.length) tbody.append(el("tr", {}, el("td", { colspan: 6, class: "muted" }, "No alerts.")));
  }

  await load();
  const off = ctx.feed.onAlert(() => { if (!container.contains(document.activeElement) || document.activeElement === document.body) load(); });
  return off;
}
