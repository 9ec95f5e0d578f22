// Commands with four eyes: request one from the allow-list (GET /api/commands/allowed), and approve or reject
// what others asked for. Who you are comes from /api/me: your own request cannot be approved by you (the twin
// refuses it too), only withdrawn.

import { api, tryApi } from "../api.js";
import { changed, el, fmt, focusOr } from "../dom.js";

const STATE_TEXT = { pending: "waiting for approval", approved: "approved", rejected: "rejected", expired: "expired",
  executed: "executed", failed: "failed" };

function glob(pattern) {
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp(`^${re}$`);
}

const allows = (spec, asset) => (spec.assets || []).some((g) => glob(g).test(asset));

function valueText(v) { return v === null || v === undefined ? "–" : String(v); }

/** The panel: `asset` limits it to one asset (the asset page); `assets` are [{id, name}] to choose from. */
export function commandsPanel(ctx, { asset = null, assets = [] } = {}) {
  const engineer = ["engineer", "admin"].includes(ctx.me.role);
  const me = ctx.me.identity || ctx.me.name;
  const root = el("div", { class: "commands" });
  const msg = el("p", { role: "status", class: "muted", tabindex: "-1", "data-role": "command-msg" });
  let allowed = [];

  async function refresh({ keepForm = false } = {}) {
    if (!keepForm || !allowed.length) allowed = (await tryApi("/api/commands/allowed", { params: asset ? { asset } : {} }).catch(() => [])) || [];
    const list = (await tryApi("/api/commands", { params: { limit: 50, ...(asset ? { asset } : {}) } }).catch(() => [])) || [];
    const pending = list.filter((c) => c.state === "pending");
    const done = list.filter((c) => c.state !== "pending").slice(0, 15);
    const parts = [];
    if (!allowed.length && !list.length) {
      parts.push(el("p", { class: "muted" }, asset ? "No command of the twin's allow-list applies to this asset." : "No commands are configured on this twin (control: in its config)."));
    }
    if (engineer && allowed.length && !(keepForm && root.querySelector("form.request"))) parts.push(requestForm());
    else if (keepForm && root.querySelector("form.request")) parts.push(root.querySelector("form.request"));
    else if (!engineer && allowed.length) parts.push(el("p", { class: "muted" }, `Your role (${ctx.me.role}) may see the commands, not request or approve them.`));
    parts.push(el("h3", {}, `Waiting for approval (${pending.length})`), pendingTable(pending),
      el("h3", {}, "Recent"), doneTable(done), msg);
    root.replaceChildren(...parts);
  }

  function requestForm() {
    const choices = asset ? [{ id: asset, name: asset.split("/").pop() }] : assets.filter((a) => allowed.some((c) => allows(c, a.id)));
    const assetSel = el("select", { name: "asset", id: `c-asset-${asset ? "one" : "any"}`, required: true },
      ...choices.map((a) => el("option", { value: a.id }, `${a.name} (${a.id.split("/").pop()})`)));
    const commandSel = el("select", { name: "command", id: `c-command-${asset ? "one" : "any"}`, required: true });
    const value = el("input", { name: "value", id: `c-value-${asset ? "one" : "any"}`, type: "number", step: "any" });
    const valueHelp = el("span", { class: "muted small" });
    const reason = el("input", { name: "reason", id: `c-reason-${asset ? "one" : "any"}`, required: true, maxlength: 2000, placeholder: "why: the approver reads it" });
    const fit = () => {
      const specs = allowed.filter((c) => allows(c, assetSel.value));
      const was = commandSel.value;
      commandSel.replaceChildren(...specs.map((c) => el("option", { value: c.name, selected: c.name === was }, `${c.name}${c.description ? ` — ${c.description}` : ""}`)));
      const spec = specs.find((c) => c.name === commandSel.value);
      const takes = spec && spec.value;
      value.disabled = !takes;
      value.required = Boolean(takes);
      value.min = spec && spec.min !== null && spec.min !== undefined ? spec.min : "";
      value.max = spec && spec.max !== null && spec.max !== undefined ? spec.max : "";
      if (takes === "boolean") { value.type = "text"; value.pattern = "true|false"; } else { value.type = "number"; value.removeAttribute("pattern"); }
      valueHelp.textContent = !takes ? "takes no value" : takes === "boolean" ? "true or false"
        : `${takes}${value.min !== "" || value.max !== "" ? `, ${value.min || "…"} to ${value.max || "…"}` : ""}`;
    };
    assetSel.addEventListener("change", fit);
    commandSel.addEventListener("change", fit);
    fit();
    const sfx = asset ? "one" : "any";
    const form = el("form", { class: "request plan", onsubmit: async (ev) => {
      ev.preventDefault();
      if (!form.reportValidity()) return;
      const spec = allowed.find((c) => c.name === commandSel.value);
      const body = { asset: assetSel.value, command: commandSel.value, reason: reason.value.trim() };
      if (spec && spec.value) body.value = spec.value === "boolean" ? value.value === "true" : Number(value.value);
      try {
        const c = await api("/api/commands", { method: "POST", body });
        msg.textContent = `Command ${c.id} (${c.command} on ${c.asset.split("/").pop()}) requested: it waits for another engineer's approval.`;
        reason.value = "";
      } catch (e) {
        msg.textContent = `Refused: ${e.detail || e.message}`;
      }
      await refresh({ keepForm: true });
      changed();
      focusOr(msg, msg);
    } },
    el("label", { for: `c-asset-${sfx}` }, "Asset"), assetSel,
    el("label", { for: `c-command-${sfx}` }, "Command"), commandSel,
    el("label", { for: `c-value-${sfx}` }, "Value"), el("span", { class: "with-help" }, value, " ", valueHelp),
    el("label", { for: `c-reason-${sfx}` }, "Reason"), reason,
    el("span", {}), el("button", { type: "submit", class: "start" }, "Request (needs a second engineer)"));
    return form;
  }

  function pendingTable(pending) {
    const head = ["#", asset ? "" : "Asset", "Command", "Value", "Requested by", "At", "Expires", "Reason", engineer ? "Decision" : ""].filter(Boolean);
    const rows = pending.map((c) => {
      const own = c.requested_by === me;
      const comment = el("input", { name: "comment", required: true, maxlength: 2000, placeholder: "comment", "aria-label": `comment on command ${c.id}` });
      const decide = async (verb) => {
        comment.setCustomValidity(comment.value.trim() ? "" : "Say why.");
        if (!comment.reportValidity()) return;
        try {
          const r = await api(`/api/commands/${c.id}/${verb}`, { method: "POST", body: { comment: comment.value.trim() } });
          msg.textContent = `Command ${c.id}: ${STATE_TEXT[r.state] || r.state}${r.status ? ` (${r.status})` : ""}.`;
        } catch (e) {
          msg.textContent = `Command ${c.id}: ${verb} refused: ${e.detail || e.message}`;
        }
        await refresh({ keepForm: true });
        changed();
        focusOr(root.querySelector("tr[data-command] input[name=comment]"), msg);
      };
      comment.addEventListener("input", () => comment.setCustomValidity(""));
      const actions = engineer ? el("td", {}, el("div", { class: "act" },
        comment,
        el("button", { type: "button", "data-action": "approve", disabled: own, title: own ? "four eyes: another engineer approves" : "",
          onclick: () => decide("approve") }, "Approve"),
        el("button", { type: "button", "data-action": "reject", onclick: () => decide("reject") }, own ? "Withdraw" : "Reject"),
        own ? el("span", { class: "muted small", "data-role": "four-eyes" }, "You asked for this: another engineer must approve it.") : "")) : "";
      return el("tr", { "data-command": c.id, "data-own": own ? "yes" : "no" },
        el("td", {}, String(c.id)), asset ? "" : el("td", {}, c.asset.split("/").pop()), el("td", {}, c.command),
        el("td", {}, valueText(c.value)), el("td", {}, c.requested_by), el("td", {}, fmt.time(c.requested_at)),
        el("td", {}, fmt.time(c.expires_at)), el("td", {}, c.reason), actions);
    });
    return table(head, rows, "Nothing waits for approval.", "pending-commands");
  }

  function doneTable(done) {
    const head = ["#", asset ? "" : "Asset", "Command", "Value", "State", "Requested by", "Decided by", "Outcome", "When"].filter(Boolean);
    const rows = done.map((c) => el("tr", { "data-command": c.id, class: `cmd-${c.state}` },
      el("td", {}, String(c.id)), asset ? "" : el("td", {}, c.asset.split("/").pop()), el("td", {}, c.command),
      el("td", {}, valueText(c.value)), el("td", { "data-role": "command-state" }, STATE_TEXT[c.state] || c.state),
      el("td", {}, c.requested_by), el("td", {}, c.decided_by || "–"),
      el("td", {}, [c.status, c.result !== null && c.result !== undefined ? JSON.stringify(c.result) : "", c.comment ? `“${c.comment}”` : ""].filter(Boolean).join(" · ") || "–"),
      el("td", {}, fmt.time(c.executed_at || c.decided_at || c.requested_at))));
    return table(head, rows, "None yet.", "done-commands");
  }

  function table(head, rows, empty, role) {
    return el("div", { class: "table-scroll" }, el("table", { class: "alerts-table", "data-role": role },
      el("thead", {}, el("tr", {}, ...head.map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, ...(rows.length ? rows : [el("tr", {}, el("td", { colspan: head.length, class: "muted" }, empty))]))));
  }

  return { root, refresh, msg };
}
