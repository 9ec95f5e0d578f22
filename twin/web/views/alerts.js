// Alerts: list and filter; acknowledge, shelve, unshelve, clear and close with a comment (engineer role).

import { api } from "../api.js";
import { el, fmt } from "../dom.js";

const CLOSED = new Set(["cleared", "closed", "resolved"]);
const ACTIONS = [
  { verb: "ack", label: "Acknowledge", when: (a) => !a.acknowledged && !["acknowledged", "shelved"].includes(a.state) && !CLOSED.has(a.state) },
  { verb: "shelve", label: "Shelve", when: (a) => a.state !== "shelved" && !CLOSED.has(a.state) },
  { verb: "unshelve", label: "Unshelve", when: (a) => a.state === "shelved" },
  { verb: "clear", label: "Clear", when: (a) => !CLOSED.has(a.state) },
  { verb: "close", label: "Close", when: (a) => a.state === "cleared" },
];

export async function openAlerts() {
  const list = await api("/api/alerts", { params: { limit: 500 } });
  return list.filter((a) => !CLOSED.has(a.state));
}

export async function mount(container, ctx) {
  const engineer = ["engineer", "admin"].includes(ctx.me.role);
  const state = el("select", { id: "f-state" }, ...["", "active", "acknowledged", "shelved", "cleared", "closed"].map((s) => el("option", { value: s }, s || "any")));
  const severity = el("select", { id: "f-severity" }, ...["", "critical", "warning", "info"].map((s) => el("option", { value: s }, s || "any")));
  const asset = el("input", { id: "f-asset", type: "search", placeholder: "asset path prefix" });
  const tbody = el("tbody");
  const msg = el("p", { role: "status", class: "muted" });
  container.append(
    el("h1", {}, "Alerts"),
    el("form", { class: "filters", onsubmit: (e) => { e.preventDefault(); load(); } },
      el("label", { for: "f-state" }, "State"), state, el("label", { for: "f-severity" }, "Severity"), severity,
      el("label", { for: "f-asset" }, "Asset"), asset, el("button", { type: "submit" }, "Filter")),
    engineer ? "" : el("p", { class: "muted" }, `Your role (${ctx.me.role}) may look but not act on alerts.`),
    el("table", { class: "alerts-table" },
      el("thead", {}, el("tr", {}, ...["Raised", "Severity", "Asset", "Message", "State", engineer ? "Action" : ""].map((h) => el("th", { scope: "col" }, h)))),
      tbody),
    msg);

  async function act(alert, verb, form) {
    const comment = form.querySelector("input[name=comment]").value.trim();
    const body = { comment };
    if (verb === "shelve") body.duration_s = Number(form.querySelector("select[name=duration]").value);
    try {
      await api(`/api/alerts/${alert.id}/${verb}`, { method: "POST", body });
      msg.textContent = `Alert ${alert.id}: ${verb} done.`;
      await load();
    } catch (e) {
      msg.textContent = `Alert ${alert.id}: ${verb} refused: ${e.detail || e.message}`;
    }
  }

  function row(a) {
    const cells = [
      el("td", {}, fmt.time(a.raised_at || a.ts)),
      el("td", {}, el("span", { class: `sev sev-${a.severity}` }, a.severity === "critical" ? "‼ " : a.severity === "warning" ? "! " : "i ", a.severity)),
      el("td", {}, el("a", { href: `#/asset/${encodeURIComponent(a.asset)}` }, a.asset.split("/").slice(-2).join("/"))),
      el("td", {}, a.message || a.cause || ""),
      el("td", { "data-role": "alert-state" }, a.state + (a.occurrences > 1 ? ` (×${a.occurrences})` : "")),
    ];
    if (engineer) {
      const form = el("form", { class: "act", onsubmit: (e) => e.preventDefault() },
        el("input", { name: "comment", "aria-label": `comment on alert ${a.id}`, placeholder: "comment", required: true }),
        el("select", { name: "duration", "aria-label": "shelve for" },
          ...[[900, "15 min"], [3600, "1 h"], [28800, "8 h"]].map(([v, t]) => el("option", { value: v }, t))));
      for (const action of ACTIONS.filter((x) => x.when(a))) {
        form.append(el("button", { type: "button", "data-action": action.verb, onclick: () => {
          if (!form.reportValidity()) return;
          act(a, action.verb, form);
        } }, action.label));
      }
      cells.push(el("td", {}, form));
    } else cells.push(el("td"));
    return el("tr", { "data-alert": a.id, class: `alert-row state-${a.state}` }, ...cells);
  }

  async function load() {
    const list = await api("/api/alerts", { params: { state: state.value, severity: severity.value, asset: asset.value, limit: 200 } });
    // the filters are applied here too, for a twin whose API does not filter yet
    const shown = list.filter((a) => (!state.value || a.state === state.value) && (!severity.value || a.severity === severity.value)
      && (!asset.value || a.asset.startsWith(asset.value)));
    tbody.replaceChildren(...shown.map(row));
    if (!shown.length) tbody.append(el("tr", {}, el("td", { colspan: 6, class: "muted" }, "No alerts.")));
  }

  await load();
  const off = ctx.feed.onAlert(() => { if (!container.contains(document.activeElement) || document.activeElement === document.body) load(); });
  return off;
}
