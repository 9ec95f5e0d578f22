// Planning: run a what-if scenario on the twin, watch its progress, compare the variants on charts.

import { api, tryApi } from "../api.js";
import { el, fmt } from "../dom.js";
import { bars } from "../charts.js";

const EXAMPLE = [
  { name: "second milling centre", set: { "cnc-2.sim.parallel": 2 } },
  { name: "faster repairs on cnc-2", set: { "cnc-2.sim.mttr_s": 120 } },
  { name: "bigger buffer after turning", set: { "buf-1.capacity": 16 } },
];

export async function mount(container, ctx) {
  const engineer = ["engineer", "admin"].includes(ctx.me.role);
  const hours = el("input", { id: "p-hours", type: "number", min: 1, max: 1000, value: 8 });
  const reps = el("input", { id: "p-reps", type: "number", min: 2, max: 100, value: 5 });
  const live = el("input", { id: "p-live", type: "checkbox" });
  const variants = el("textarea", { id: "p-variants", rows: 8, spellcheck: "false" }, JSON.stringify(EXAMPLE, null, 2));
  const run = el("button", { type: "submit", disabled: !engineer }, "Run scenario");
  const msg = el("p", { role: "status", class: "muted" });
  const jobsList = el("div", { id: "jobs" });
  container.append(el("h1", {}, "Planning"),
    el("form", { class: "plan", onsubmit: submit },
      el("label", { for: "p-hours" }, "Hours simulated"), hours,
      el("label", { for: "p-reps" }, "Replications"), reps,
      el("label", { for: "p-live" }, "Start from the live state"), live,
      el("label", { for: "p-variants" }, "Variants (JSON: name and the settings each changes)"), variants, run),
    engineer ? "" : el("p", { class: "muted" }, "Running a scenario needs the engineer role."),
    msg, jobsList);

  async function submit(ev) {
    ev.preventDefault();
    let parsed;
    try { parsed = JSON.parse(variants.value); } catch (e) { msg.textContent = `Variants: not valid JSON (${e.message})`; return; }
    try {
      const job = await api("/api/jobs", { method: "POST", body: { scenario: { hours: Number(hours.value), replications: Number(reps.value), variants: parsed }, from_live: live.checked } });
      msg.textContent = `Job ${job.id} started.`;
      await refresh();
    } catch (e) {
      msg.textContent = e.status === 404 ? "This twin does not run planning jobs (POST /api/jobs)." : `Refused: ${e.detail || e.message}`;
    }
  }

  const results = new Map();  // finished job id -> its full record (the list leaves results out)
  async function refresh() {
    const jobs = await tryApi("/api/jobs", { params: { limit: 10 } }).catch(() => undefined);
    if (jobs === undefined) { jobsList.replaceChildren(el("p", { class: "muted" }, "No planning jobs on this twin yet.")); return; }
    const list = Array.isArray(jobs) ? jobs : jobs.jobs || [];
    for (const job of list) {
      if (job.state === "done" && !results.has(job.id)) results.set(job.id, await api(`/api/jobs/${job.id}`));
    }
    jobsList.replaceChildren(...list.map((j) => jobCard(results.get(j.id) || j)));
  }

  function jobCard(job) {
    const p = job.progress;
    const share = p && typeof p === "object" ? p.share : typeof p === "number" ? (p <= 1 ? p : p / 100) : null;
    const pct = share === null || share === undefined ? null : 100 * share;
    const card = el("article", { class: "panel job", "data-job": job.id, "data-state": job.state },
      el("h2", {}, `Job ${job.id} · ${job.state}`, job.from_live ? " · from the live line" : ""),
      pct !== null ? el("progress", { max: 100, value: pct, "aria-label": `job ${job.id} progress` }, `${pct.toFixed(0)} %`) : "",
      pct !== null ? el("span", {}, ` ${pct.toFixed(0)} %`, p && p.total ? ` (${p.done} of ${p.total} runs)` : "") : "");
    if (engineer && ["queued", "running"].includes(job.state)) {
      card.append(el("button", { type: "button", onclick: async () => { await api(`/api/jobs/${job.id}`, { method: "DELETE" }); refresh(); } }, "Cancel"));
    }
    if (job.result) card.append(...compare(job.result));
    if (job.error) card.append(el("p", { class: "error" }, String(job.error)));
    return card;
  }

  await refresh();
  const timer = setInterval(refresh, 2000);
  return () => clearInterval(timer);
}

/** The variants side by side: simulated throughput, its difference to the baseline, lead time and WIP. */
function compare(result) {
  const rows = Array.isArray(result.variants) ? result.variants : [];
  const ci = (m) => (m && Array.isArray(m.ci95) ? { lo: m.ci95[0], hi: m.ci95[1] } : {});
  const tp = rows.filter((r) => r.sim || Number.isFinite(r.estimate)).map((r) => ({
    name: r.name, value: r.sim ? r.sim.mean : r.estimate, ...ci(r.sim), cls: r.sim ? "" : "estimate" }));
  const delta = rows.filter((r) => r.delta_vs_baseline).map((r) => ({
    name: r.name, value: r.delta_vs_baseline.mean, ...ci(r.delta_vs_baseline), cls: r.delta_vs_baseline.mean >= 0 ? "up" : "down" }));
  const lead = rows.filter((r) => r.kpis && Number.isFinite(r.kpis.lead_time_mean_s)).map((r) => ({
    name: r.name, value: r.kpis.lead_time_mean_s / 60, lo: r.kpis.lead_time_ci95_s ? r.kpis.lead_time_ci95_s[0] / 60 : undefined,
    hi: r.kpis.lead_time_ci95_s ? r.kpis.lead_time_ci95_s[1] / 60 : undefined }));
  const out = [];
  if (tp.length) out.push(el("h3", {}, "Throughput (parts/h; bars: mean, lines: 95 % interval; pale: estimate only)"), bars(tp, { unit: "/h", label: "throughput by variant" }));
  if (delta.length) out.push(el("h3", {}, "Difference to the baseline (same random numbers)"), bars(delta, { unit: "/h", label: "difference to baseline" }));
  if (lead.length) out.push(el("h3", {}, "Lead time"), bars(lead, { unit: "min", label: "lead time by variant" }));
  const table = el("table", { class: "alerts-table" }, el("thead", {}, el("tr", {}, ...["Variant", "Estimate /h", "Simulated /h", "Δ /h", "WIP", "Bottleneck"].map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, ...rows.map((r) => el("tr", {}, el("td", {}, r.name), el("td", {}, fmt.value(r.estimate)),
      el("td", {}, r.sim ? fmt.value(r.sim.mean) : "–"), el("td", {}, r.delta_vs_baseline ? fmt.value(r.delta_vs_baseline.mean) : "–"),
      el("td", {}, r.kpis ? fmt.value(r.kpis.wip_mean) : "–"), el("td", {}, r.kpis ? String(r.kpis.bottleneck || "–").split("/").pop() : "–")))));
  out.push(table);
  if (!rows.length) out.push(el("pre", { class: "result" }, JSON.stringify(result, null, 2).slice(0, 4000)));
  return out;
}
