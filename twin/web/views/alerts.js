// Alerts: the twin's flood state, the list in a stable order (rows never jump when an alert is updated), priority,
// first raised, last occurrence and duration, machine alarm codes in words; acknowledge the selection at once, or
// act on one (acknowledge, shelve, unshelve, clear, close) with a comment (engineer role).

import { api, tryApi } from "../api.js";
import { plantNow } from "../clock.js";
import { alertText } from "../codes.js";
import { changed, el, fmt, focusOr, SEVERITY, severityBadge } from "../dom.js";
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
const PRIORITY = { urgent: 3, high: 2, medium: 1, low: 0 };
const ackable = (a) => ACTIONS[0].when(a);

export async function openAlerts() {
  const list = await api("/api/alerts", { params: { state: "open", limit: 500 } });
  return list.filter((a) => !CLOSED.has(a.state));
}

/** Newest first by when the alert was first raised (or by priority, then that): an update never moves a row. */
function order(list, by) {
  const raised = (a) => Date.parse(a.raised_at || a.ts) || 0;
  return [...list].sort((a, b) => (by === "priority" ? (PRIORITY[b.priority] ?? -1) - (PRIORITY[a.priority] ?? -1) : 0)
    || raised(b) - raised(a) || b.id - a.id);
}

function duration(a, now) {
  const from = Date.parse(a.raised_at || a.ts);
  if (!a.condition && !a.cleared_at) return "one event";  // an SPC violation, say: it happened, it does not last
  const over = a.cleared_at && !["active", "acknowledged"].includes(a.state) ? Date.parse(a.cleared_at) : null;
  const s = Math.max(0, ((over ?? now) - from) / 1000);
  return over ? `lasted ${fmt.duration(s)}` : `${fmt.duration(s)} so far`;
}

export async function mount(container, ctx) {
  const engineer = ["engineer", "admin"].includes(ctx.me.role);
  const state = el("select", { id: "f-state" }, ...STATES.map((s) => el("option", { value: s, selected: s === "open" }, s ? s.replace("_", " ") : "any")));
  const severity = el("select", { id: "f-severity" }, ...["", "critical", "warning", "info"].map((s) => el("option", { value: s }, s ? `${s} or worse` : "any")));
  const asset = el("input", { id: "f-asset", type: "search", placeholder: "asset path prefix" });
  const sortBy = el("select", { id: "f-sort" }, el("option", { value: "raised" }, "first raised, newest first"),
    el("option", { value: "priority" }, "priority, then first raised"));
  const flood = el("div", { id: "flood", class: "flood", role: "status" });
  const tbody = el("tbody");
  const msg = el("p", { role: "status", class: "muted", id: "alerts-msg", tabindex: "-1" });
  const selected = new Set();
  const rows = new Map();  // alert id -> { tr, sig, alert, durationCell }
  let shown = [];
  const selectAll = el("input", { type: "checkbox", id: "select-all", "aria-label": "select every alert that can be acknowledged" });
  const bulkComment = el("input", { id: "bulk-comment", placeholder: "comment (why)", "aria-label": "comment for the selected alerts" });
  const ackSelected = el("button", { type: "button", id: "ack-selected", disabled: true }, "Acknowledge selected");
  const head = ["Priority", "Severity", "Asset", "Alert", "State", "First raised", "Last occurrence", "Duration"];
  container.append(
    el("h1", {}, "Alerts"),
    flood,
    el("div", { id: "open-decisions" }),
    el("form", { class: "filters", onsubmit: (e) => { e.preventDefault(); load(); } },
      el("label", { for: "f-state" }, "State"), state, el("label", { for: "f-severity" }, "Severity"), severity,
      el("label", { for: "f-asset" }, "Asset"), asset, el("label", { for: "f-sort" }, "Order"), sortBy,
      el("button", { type: "submit" }, "Filter")),
    engineer ? el("div", { class: "bulk" }, el("label", { for: "bulk-comment" }, "Selected:"), bulkComment, ackSelected)
      : el("p", { class: "muted" }, `Your role (${ctx.me.role}) may look but not act on alerts.`),
    el("div", { class: "table-scroll" }, el("table", { class: "alerts-table" },
      el("thead", {}, el("tr", {}, engineer ? el("th", { scope: "col", class: "sel" }, selectAll) : "",
        ...head.map((h) => el("th", { scope: "col" }, h)), engineer ? el("th", { scope: "col" }, "Action") : "")),
      tbody)),
    msg);

  function refreshBulk() {
    for (const id of [...selected]) if (!shown.some((a) => a.id === id && ackable(a))) selected.delete(id);
    ackSelected.disabled = selected.size === 0;
    ackSelected.textContent = `Acknowledge selected (${selected.size})`;
    const can = shown.filter(ackable);
    selectAll.checked = can.length > 0 && can.every((a) => selected.has(a.id));
    selectAll.indeterminate = selected.size > 0 && !selectAll.checked;
  }
  selectAll.addEventListener("change", () => {
    for (const a of shown.filter(ackable)) if (selectAll.checked) selected.add(a.id); else selected.delete(a.id);
    for (const r of rows.values()) { const box = r.tr.querySelector("input[name=select]"); if (box) box.checked = selected.has(r.alert.id); }
    refreshBulk();
  });
  ackSelected.addEventListener("click", async () => {
    const ids = shown.filter((a) => selected.has(a.id) && ackable(a)).map((a) => a.id);
    const comment = bulkComment.value.trim();
    const done = [];
    const refused = [];
    for (const id of ids) {  // one request each: every acknowledgement is its own audited transition
      try { await api(`/api/alerts/${id}/ack`, { method: "POST", body: comment ? { comment } : {} }); done.push(id); } catch (e) { refused.push(`${id} (${e.detail || e.message})`); }
    }
    selected.clear();
    bulkComment.value = "";
    await load();
    changed();
    msg.textContent = `Acknowledged ${done.length} of ${ids.length}${done.length ? `: alert ${done.join(", ")}` : ""}.${refused.length ? ` Refused: ${refused.join("; ")}.` : ""}`;
    focusOr(ackSelected.disabled ? null : ackSelected, msg);
  });

  async function act(alert, verb, form) {
    const comment = form.querySelector("input[name=comment]").value.trim();
    const body = comment ? { comment } : {};
    if (verb === "shelve") body.duration_s = Number(form.querySelector("select[name=duration]").value);
    try {
      await api(`/api/alerts/${alert.id}/${verb}`, { method: "POST", body });
      msg.textContent = `Alert ${alert.id}: ${ACTIONS.find((x) => x.verb === verb).label.toLowerCase()} done.`;
    } catch (e) {
      msg.textContent = `Alert ${alert.id}: ${verb} refused: ${e.detail || e.message}`;
    }
    await load();
    changed();
    // focus stays with the alert acted on (its next action), or goes to the message: never to <body>
    const again = rows.get(alert.id);
    focusOr(again && again.tr.querySelector("button[data-action], input[name=comment]"), msg);
  }

  function row(a, comment = "") {
    const sev = SEVERITY[a.severity];
    const durationCell = el("td", { "data-role": "duration" }, duration(a, plantNow()));
    const cells = [
      engineer ? el("td", { class: "sel" }, ackable(a) ? el("input", { type: "checkbox", name: "select", checked: selected.has(a.id),
        "aria-label": `select alert ${a.id}`, onchange: (e) => { if (e.target.checked) selected.add(a.id); else selected.delete(a.id); refreshBulk(); } }) : "") : "",
      el("td", { "data-role": "priority", class: a.priority ? `prio prio-${a.priority}` : "muted", title: a.priority ? "" : "its rule gives no priority" }, a.priority || "–"),
      el("td", {}, severityBadge(a.severity)),
      el("td", {}, el("a", { href: `#/asset/${encodeURIComponent(a.asset)}` }, a.asset.split("/").slice(-2).join("/"))),
      el("td", { "data-role": "text" }, alertText(a)),
      el("td", { "data-role": "alert-state" }, a.state.replace("_", " ") + (a.occurrences > 1 ? ` (×${a.occurrences})` : "")
        + (a.shelved_until ? ` until ${fmt.time(a.shelved_until)}` : "")),
      el("td", { "data-role": "raised" }, fmt.time(a.raised_at || a.ts), el("br"),
        el("a", { href: `#/replay/${encodeURIComponent(a.raised_at || a.ts)}`, "aria-label": `replay the line when alert ${a.id} was raised` }, "replay")),
      el("td", { "data-role": "last" }, fmt.time(a.last_at || a.raised_at)),
      durationCell,
    ];
    const allowed = ACTIONS.filter((x) => x.when(a));
    if (engineer && allowed.length) {
      const form = el("form", { class: "act", onsubmit: (e) => e.preventDefault() },
        el("input", { name: "comment", "aria-label": `comment on alert ${a.id}`, placeholder: "comment (why)", value: comment }),
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
    } else if (engineer) cells.push(el("td", { class: "muted" }, "–"));
    const tr = el("tr", { "data-alert": a.id, class: `alert-row state-${a.state} sev-row-${a.severity}`, "data-severity": sev ? a.severity : "" }, ...cells);
    return { tr, durationCell };
  }

  const sig = (a) => [a.state, a.severity, a.priority, a.last_at, a.occurrences, a.acknowledged, a.shelved_until, a.cleared_at, a.message].join("|");

  let loading = null;
  let again = false;
  /** Reads the list again; calls while a read is under way make one more read after it, not a pile of them. */
  async function load() {
    if (loading) { again = true; return loading; }
    loading = (async () => {
      try { await loadNow(); } finally { loading = null; }
      if (again) { again = false; await load(); }
    })();
    return loading;
  }

  async function loadNow() {
    const open = container.querySelector("#open-decisions");
    if (open && !open.contains(document.activeElement)) decisionsPanel(ctx).then((p) => open.replaceChildren(p || ""));
    const list = await api("/api/alerts", { params: { state: state.value, severity: severity.value, asset: asset.value, limit: 200 } });
    shown = order(list, sortBy.value);
    const active = document.activeElement;
    const keep = new Map();
    for (const a of shown) {
      const old = rows.get(a.id);
      if (old && old.sig === sig(a)) { old.alert = a; keep.set(a.id, old); continue; }
      const typed = old ? (old.tr.querySelector("input[name=comment]") || {}).value || "" : "";
      const made = row(a, typed);
      const entry = { ...made, sig: sig(a), alert: a };
      if (old && old.tr.contains(active)) {  // redrawn under the keyboard: focus its counterpart in the new row
        const name = active.getAttribute("name") || active.dataset.action;
        queueMicrotask(() => focusOr(entry.tr.querySelector(`[name="${name}"], [data-action="${name}"]`) || entry.tr.querySelector("button, input"), msg));
      }
      keep.set(a.id, entry);
    }
    rows.clear();
    for (const [id, r] of keep) rows.set(id, r);
    const wanted = shown.map((a) => rows.get(a.id).tr);
    if (!wanted.length) wanted.push(el("tr", {}, el("td", { colspan: head.length + (engineer ? 2 : 0), class: "muted" }, "No alerts.")));
    // put rows in order, moving only what must move (a focused row that stays in place keeps its focus)
    const held = [...tbody.children].findIndex((tr) => tr.contains(active));
    wanted.forEach((tr, i) => { if (tbody.children[i] !== tr) tbody.insertBefore(tr, tbody.children[i] || null); });
    while (tbody.children.length > wanted.length) tbody.lastElementChild.remove();
    if (held >= 0 && !active.isConnected && !tbody.contains(document.activeElement)) {
      // the row the keyboard was in has gone (closed, or filtered out): the row now in its place, or the message
      const next = tbody.children[Math.min(held, tbody.children.length - 1)];
      focusOr(next && next.querySelector("input, button, a"), msg);
    }
    refreshBulk();
    await drawFlood();
  }

  async function drawFlood() {
    const s = await tryApi("/api/alerts/summary").catch(() => undefined);
    const f = s && s.flood;
    if (!f) { flood.replaceChildren(); return; }
    const win = fmt.duration(f.window_s);
    flood.dataset.flooding = f.flooding ? "yes" : "no";
    flood.className = `flood ${f.flooding ? "abnormal" : ""}`;
    if (f.flooding) {
      const held = Object.entries(f.suppressed_now || {}).map(([k, n]) => `${n} ${k}`).join(", ");
      flood.replaceChildren(el("strong", {}, "⚠ Alert flood"),
        ` since ${fmt.time(f.since)}: ${f.in_window} alerts in the last ${win}, more than the ${f.max_notifications} an operator can act on. `,
        `Notifications are held back${held ? ` (${held})` : ""}; critical ones still go out. Work the list by priority.`);
    } else {
      const last = f.last_summary;
      flood.replaceChildren(`No alert flood: ${f.in_window} alert${f.in_window === 1 ? "" : "s"} in the last ${win} (a flood is more than ${f.max_notifications}).`,
        last ? ` The last flood: ${fmt.time(last.started)} to ${fmt.time(last.ended)}, ${last.suppressed_total} notifications held back.` : "");
    }
  }

  await load();
  const off = ctx.feed.onAlert(() => { load().catch(() => {}); });
  const timer = setInterval(() => {  // durations run on; the list itself is read again on every alert change
    const now = plantNow();
    for (const r of rows.values()) r.durationCell.textContent = duration(r.alert, now);
  }, 5000);
  const floodTimer = setInterval(() => drawFlood().catch(() => {}), 10000);
  return () => { off(); clearInterval(timer); clearInterval(floodTimer); };
}
