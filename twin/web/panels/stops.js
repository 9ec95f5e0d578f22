// Stops and their reasons (GET /api/downtime): the list, and for an engineer a form to give a stop's reason
// (POST /api/downtime/{id}/reason), offering the configured reasons and those people gave before.

import { api } from "../api.js";
import { codeText, knownReasons, rememberReason } from "../codes.js";
import { el, fmt, focusOr } from "../dom.js";

export const KIND = { failure: "breakdown", minor_stop: "minor stop", setup: "set-up", planned_stop: "planned stop" };

let lists = 0;

/**
 * A table of stops; `onSaved()` is awaited after a reason is given (the caller reads the list again), then focus
 * goes to the next stop still without a reason, or to `msg`.
 */
export function stopsTable(stops, { engineer, msg, onSaved, showAsset = true }) {
  const listId = `reasons-${(lists += 1)}`;
  const datalist = el("datalist", { id: listId }, ...knownReasons().map((r) => el("option", { value: r })));
  const head = [showAsset ? "Asset" : "", "Kind", "Start", "Duration", "Alarm code", "Reason", engineer ? "Give the reason" : ""].filter(Boolean);
  const body = el("tbody");
  for (const s of stops) {
    const cells = [
      showAsset ? el("td", {}, el("a", { href: `#/asset/${encodeURIComponent(s.asset)}` }, s.asset.split("/").pop())) : "",
      el("td", {}, KIND[s.kind] || s.kind),
      el("td", {}, fmt.time(s.start)),
      el("td", { "data-role": "duration" }, s.open ? `${fmt.duration(s.duration_s)}, still down` : fmt.duration(s.duration_s)),
      el("td", { "data-role": "code" }, s.code ? codeText(s.code) : "–"),
      el("td", { "data-role": "reason", class: s.qualified ? "" : "unqualified" },
        s.qualified ? s.reason : "⚠ no reason yet",
        s.qualified && s.reason_source ? el("small", { class: "muted" }, ` · ${s.reason_source === "operator" ? `by ${s.by || "?"}` : "from the alarm code"}`) : ""),
    ].filter((c) => c !== "");
    if (engineer) {
      const reason = el("input", { name: "reason", list: listId, required: true, maxlength: 200, "aria-label": `reason for the stop of ${s.asset.split("/").pop()} at ${fmt.time(s.start)}`, placeholder: "reason" });
      const comment = el("input", { name: "comment", maxlength: 2000, "aria-label": "comment", placeholder: "comment (optional)" });
      const form = el("form", { class: "reason-form", onsubmit: async (ev) => {
        ev.preventDefault();
        const text = reason.value.trim();
        if (!text) { reason.setCustomValidity("Say what stopped the machine."); reason.reportValidity(); return; }
        try {
          await api(`/api/downtime/${encodeURI(s.id)}/reason`, { method: "POST", body: { reason: text, ...(comment.value.trim() ? { comment: comment.value.trim() } : {}) } });
          rememberReason(text);
          msg.textContent = `The stop of ${s.asset.split("/").pop()} at ${fmt.time(s.start)}: reason “${text}” saved.`;
        } catch (e) {
          msg.textContent = `Not saved: ${e.detail || e.message}`;
        }
        const next = await onSaved(s.id);
        focusOr(next, msg);
      } }, reason, comment, el("button", { type: "submit" }, "Save"));
      reason.addEventListener("input", () => reason.setCustomValidity(""));
      cells.push(el("td", {}, form));
    }
    body.append(el("tr", { "data-stop": s.id, class: s.open ? "open-stop" : "" }, ...cells));
  }
  if (!stops.length) body.append(el("tr", {}, el("td", { colspan: head.length, class: "muted" }, "No stops.")));
  return el("div", { class: "table-scroll" }, datalist,
    el("table", { class: "alerts-table stops-table" }, el("thead", {}, el("tr", {}, ...head.map((h) => el("th", { scope: "col" }, h)))), body));
}

/** The first reason field of a stop still without one, after `id` in the list (focus goes there next). */
export function nextUnqualified(root, id) {
  const forms = [...root.querySelectorAll("tr[data-stop]")];
  const i = forms.findIndex((tr) => tr.dataset.stop === id);
  const after = [...forms.slice(i + 1), ...forms.slice(0, Math.max(0, i))];
  const tr = after.find((r) => r.querySelector(".unqualified") && r.querySelector("input[name=reason]"));
  return tr ? tr.querySelector("input[name=reason]") : null;
}
