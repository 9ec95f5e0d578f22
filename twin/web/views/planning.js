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
  const hours = el("input", { id: "p-hours", type: "number", min: 1, max: 1000, value: 40 });
  const reps = el("input", { id: "p-reps", type: "number", min: 2, max: 100, value: 5 });
  const live = el("input", { id: "p-live", type: "checkbox", checked: true });
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

  async function refresh() {
    const jobs = await tryApi("/api/jobs").catch(() => undefined);
    if (jobs === undefined) { jobsList.replaceChildren(el("p", { class: "muted" }, "No planning jobs on this twin yet.")); return; }
    const list = Array.isArray(jobs) ? jobs : jobs.jobs || [];
    jobsList.replaceChildren(...list.slice(0, 10).map(jobCard));
  }

  function jobCard(job) {
    const pct = typeof job.progress === "number" ? (job.progress <= 1 ? job.progress * 100 : job.progress) : null;
    const card = el("article", { class: "panel job", "data-job": job.id },
      el("h2", {}, `Job ${job.id} · ${job.state}`),
      pct !== null ? el("progress", { max: 100, value: pct, "aria-label": `job ${job.id} progress` }, `${pct.toFixed(0)} %`) : "",
      pct !== null ? el("span", {}, ` ${pct.toFixed(0)} %`) : "");
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

/** Charts of the variants' throughput and its difference to the baseline, from whatever the result names. */
function compare(result) {
  const rows = Array.isArray(result.variants) ? result.variants
    : Object.entries(result.variants || result).filter(([, v]) => v && typeof v === "object").map(([name, v]) => ({ name, ...v }));
  const metric = (r, key) => { const v = r[key]; return v && typeof v === "object" ? v : { mean: v }; };
  const tp = rows.filter((r) => r.throughput_per_hour !== undefined).map((r) => {
    const m = metric(r, "throughput_per_hour");
    return { name: r.name || r.variant || "?", value: m.mean ?? m.value, lo: m.low ?? m.lo, hi: m.high ?? m.hi };
  }).filter((r) => Number.isFinite(r.value));
  const delta = rows.filter((r) => r.delta_vs_baseline !== undefined).map((r) => {
    const m = metric(r, "delta_vs_baseline");
    return { name: r.name || r.variant || "?", value: m.mean ?? m.value, lo: m.low ?? m.lo, hi: m.high ?? m.hi, cls: (m.mean ?? m.value) >= 0 ? "up" : "down" };
  }).filter((r) => Number.isFinite(r.value));
  const out = [];
  if (tp.length) out.push(el("h3", {}, "Throughput (parts/h, 95 % interval)"), bars(tp, { unit: "/h", label: "throughput by variant" }));
  if (delta.length) out.push(el("h3", {}, "Difference to baseline"), bars(delta, { unit: "/h", label: "difference to baseline" }));
  if (!out.length) out.push(el("pre", { class: "result" }, JSON.stringify(result, null, 2).slice(0, 4000)));
  out.push(el("p", { class: "muted" }, `${rows.length} variants · ${fmt.time(Date.now())}`));
  return out;
}
