// The twin's maintenance decisions: the options compared on one chart, the proposal, approve or reject.

import { api } from "../api.js";
import { el, fmt } from "../dom.js";
import { bars } from "../charts.js";

const WORDS = { evaluating: "evaluating the options", scheduled: "scheduled", proposed: "proposed: waiting for approval",
  no_action: "run on: no action", no_command: "no command allowed", executed: "done", failed: "failed",
  rejected: "rejected", expired: "expired" };

/** One decision: its options' good parts against running on (95 % intervals), its evidence and what to do. */
export function decisionCard(d, ctx, refresh) {
  const r = d.result;
  const engineer = ctx && ["engineer", "admin"].includes(ctx.me.role);
  const msg = el("p", { role: "status", class: "muted" });
  const card = el("article", { class: "decision", "data-decision": d.id },
    el("h3", {}, `Decision ${d.id} · ${d.asset.split("/").pop()} · ${WORDS[d.state] || d.state}`),
    el("p", { class: "muted" }, `${d.trigger} · ${fmt.time(d.created)}${d.act_at ? ` · due ${fmt.time(d.act_at)}` : ""}`));
  if (r) {
    const best = r.options.find((o) => o.name === r.best);
    card.append(el("p", {}, `Best: ${best.label}. Unplanned failure risk ${fmt.pct(best.unplanned_failure_risk.p)} `
      + `(running on: ${fmt.pct(r.options.find((o) => o.name === "run_on").unplanned_failure_risk.p)}); `
      + `${r.options.length} options × ${r.replications} replications over ${r.horizon_h} h${r.resolved ? "" : " (not resolved: close)"}.`),
      bars(r.options.map((o) => ({ name: o.label, value: o.vs_run_on.mean, lo: o.vs_run_on.ci95[0], hi: o.vs_run_on.ci95[1],
        cls: o.name === r.best ? "best" : "" })), { label: `good parts against running on, decision ${d.id}`, unit: "parts" }));
  }
  if (d.outcome && (d.outcome.comment || d.outcome.reason || d.outcome.error)) {
    card.append(el("p", { class: "muted" }, d.outcome.comment || d.outcome.reason || d.outcome.error));
  }
  const act = async (path, comment) => {
    try { await api(path, { method: "POST", body: { comment } }); msg.textContent = "Done."; refresh && refresh(); }
    catch (e) { msg.textContent = `Refused: ${e.detail || e.message}`; }
  };
  if (engineer && (d.state === "proposed" || d.state === "scheduled")) {
    const comment = el("input", { "aria-label": `comment on decision ${d.id}`, placeholder: "comment (why)" });
    const need = () => { comment.setCustomValidity(comment.value.trim() ? "" : "Say why."); return comment.reportValidity(); };
    const buttons = d.state === "proposed"
      ? [el("button", { type: "button", "data-action": "approve", onclick: () => need() && act(`/api/commands/${d.command_id}/approve`, comment.value) }, "Approve"),
        el("button", { type: "button", "data-action": "reject", onclick: () => need() && act(`/api/commands/${d.command_id}/reject`, comment.value) }, "Reject")]
      : [el("button", { type: "button", "data-action": "reject", onclick: () => need() && act(`/api/decisions/${d.id}/reject`, comment.value) }, "Reject")];
    card.append(el("form", { class: "act", onsubmit: (e) => e.preventDefault() }, comment, ...buttons));
  }
  card.append(msg);
  return card;
}

/** A panel of the newest decision of an asset, or of every open decision (no asset); empty when there is none. */
export async function decisionsPanel(ctx, asset) {
  let list;
  try { list = await api("/api/decisions", { params: asset ? { asset, limit: 1 } : { limit: 20 } }); }
  catch { return ""; }  // decisions not configured on this twin
  const shown = asset ? list : list.filter((d) => ["evaluating", "scheduled", "proposed"].includes(d.state));
  if (!shown.length) return "";
  const panel = el("section", { class: "panel", id: "decisions" }, el("h2", {}, asset ? "Maintenance decision" : "Open decisions"));
  const draw = () => decisionsPanel(ctx, asset).then((p) => panel.replaceWith(p || el("span")));
  panel.append(...shown.map((d) => decisionCard(d, ctx, draw)));
  return panel;
}
