// Planning: a what-if study of the line, its variants edited in a form (asset, setting, new value), run on the
// twin; its progress; the variants compared. A difference whose 95 % interval crosses zero is drawn hatched and
// grey and said to be no clear difference, never like a gain.

import { api, tryApi } from "../api.js";
import { bars } from "../charts.js";
import { el, fmt, focusOr } from "../dom.js";

const EXAMPLE = [
  { name: "second milling centre", set: { "cnc-2.sim.parallel": 2 } },
  { name: "faster repairs on cnc-2", set: { "cnc-2.sim.mttr_s": 120 } },
  { name: "bigger buffer after turning", set: { "buf-1.capacity": 16 } },
];
// settings a variant commonly changes, by what the asset is; any other key path can be typed
const FIELDS = {
  buffer: ["capacity"],
  conveyor: ["sim.transport_time_s", "capacity", "sim.mtbf_s", "sim.mttr_s"],
  agv: ["sim.route_length_m", "capacity", "sim.mtbf_s", "sim.mttr_s"],
  station: ["sim.parallel", "sim.cycle_time_s", "sim.mtbf_s", "sim.mttr_s", "sim.scrap_rate", "ideal_cycle_time_s", "sim.batch_size"],
  simulation: ["operators", "warmup_h"],
};

function lineOf(plant) {
  for (const site of (plant && plant.sites) || []) for (const area of site.areas || []) for (const ln of area.lines || []) return ln;
  return null;
}

export async function mount(container, ctx) {
  const engineer = ["engineer", "admin"].includes(ctx.me.role);
  const line = lineOf(ctx.plant || await tryApi("/api/plant").catch(() => null));
  const assets = line ? line.cells.flatMap((c) => c.assets) : [];
  const hours = el("input", { id: "p-hours", type: "number", min: 1, max: 1000, value: 8, required: true });
  const reps = el("input", { id: "p-reps", type: "number", min: 2, max: 100, value: 5, required: true });
  const live = el("input", { id: "p-live", type: "checkbox" });
  const variants = el("div", { id: "p-variants", class: "variants" });
  const run = el("button", { type: "submit", disabled: !engineer }, "Run scenario");
  const msg = el("p", { role: "status", class: "muted", tabindex: "-1", id: "plan-msg" });
  const jobsList = el("div", { id: "jobs" });
  const datalists = el("div", {}, ...Object.entries(FIELDS).map(([k, fields]) => el("datalist", { id: `fields-${k}` }, ...fields.map((f) => el("option", { value: f })))));
  let n = 0;

  function fieldsOf(id) {
    if (id === "simulation") return "simulation";
    const a = assets.find((x) => x.id === id);
    return a ? (FIELDS[a.type] ? a.type : "station") : "station";
  }

  function changeRow(key = "", value = "") {
    const i = (n += 1);
    const [head, ...rest] = key.split(".");
    const assetSel = el("select", { name: "asset", id: `pc-${i}-asset`, "aria-label": "asset" },
      ...assets.map((a) => el("option", { value: a.id, selected: a.id === head }, `${a.id}${a.name && a.name !== a.id ? ` · ${a.name}` : ""}`)),
      el("option", { value: "simulation", selected: head === "simulation" }, "simulation (the whole line)"));
    const field = el("input", { name: "field", id: `pc-${i}-field`, "aria-label": "setting", required: true, value: rest.join(".") || "", placeholder: "setting, e.g. capacity" });
    const val = el("input", { name: "value", id: `pc-${i}-value`, "aria-label": "new value", required: true, value: String(value), size: 8 });
    const fit = () => field.setAttribute("list", `fields-${fieldsOf(assetSel.value)}`);
    assetSel.addEventListener("change", fit);
    fit();
    const row = el("li", { class: "change" }, assetSel, el("span", { "aria-hidden": "true" }, "."), field, el("span", { "aria-hidden": "true" }, "="), val,
      el("button", { type: "button", class: "small", "data-action": "remove-change", "aria-label": "remove this change", onclick: () => {
        const list = row.parentElement;
        row.remove();
        focusOr(list.querySelector("input[name=value]") || list.closest(".variant").querySelector("button[data-action=add-change]"), msg);
      } }, "✕"));
    return row;
  }

  function variantBox(v = { name: "", set: {} }) {
    const i = (n += 1);
    const changes = el("ol", { class: "changes" }, ...Object.entries(v.set).map(([k, val]) => changeRow(k, val)));
    const name = el("input", { name: "variant-name", id: `pv-${i}-name`, required: true, value: v.name, placeholder: "what it tries" });
    const box = el("fieldset", { class: "variant" }, el("legend", {}, "Variant"),
      el("label", { for: `pv-${i}-name` }, "Name"), name, changes,
      el("div", { class: "row" },
        el("button", { type: "button", class: "small", "data-action": "add-change", onclick: () => { const r = changeRow(); changes.append(r); r.querySelector("select").focus(); } }, "+ change"),
        el("button", { type: "button", class: "small", "data-action": "remove-variant", onclick: () => { box.remove(); focusOr(variants.querySelector("input[name=variant-name]") || addVariant, msg); } }, "Remove variant")));
    return box;
  }

  const addVariant = el("button", { type: "button", "data-action": "add-variant", onclick: () => { const b = variantBox(); variants.append(b); b.querySelector("input").focus(); } }, "+ variant");
  variants.append(...EXAMPLE.map(variantBox));

  /** The form as the API wants it: [{name, set: {"asset.setting": value}}]; numbers where a value reads as one. */
  function readVariants() {
    return [...variants.querySelectorAll(".variant")].map((box) => {
      const set = {};
      for (const li of box.querySelectorAll("li.change")) {
        const key = `${li.querySelector("[name=asset]").value}.${li.querySelector("[name=field]").value.trim()}`;
        const raw = li.querySelector("[name=value]").value.trim();
        set[key] = raw === "true" ? true : raw === "false" ? false : raw !== "" && Number.isFinite(Number(raw)) ? Number(raw) : raw;
      }
      return { name: box.querySelector("[name=variant-name]").value.trim(), set };
    });
  }

  container.append(el("h1", {}, "Planning"),
    el("form", { class: "plan", onsubmit: submit },
      el("label", { for: "p-hours" }, "Hours simulated"), hours,
      el("label", { for: "p-reps" }, "Replications"), reps,
      el("label", { for: "p-live" }, "Start from the live state"), live,
      el("span", { class: "label" }, `Variants of ${line ? line.name : "the line"}, each run against the baseline: an asset, the setting it changes and the new value`),
      el("div", { class: "full" }, variants, addVariant, datalists),
      run),
    engineer ? "" : el("p", { class: "muted" }, "Running a scenario needs the engineer role."),
    msg, jobsList);

  async function submit(ev) {
    ev.preventDefault();
    const parsed = readVariants();
    const empty = parsed.findIndex((v) => !Object.keys(v.set).length);
    if (empty >= 0) { msg.textContent = `Variant ${empty + 1} (${parsed[empty].name || "no name"}) changes nothing: add a change or remove it.`; focusOr(msg, msg); return; }
    try {
      const job = await api("/api/jobs", { method: "POST", body: { scenario: { hours: Number(hours.value), replications: Number(reps.value), variants: parsed }, from_live: live.checked } });
      msg.textContent = `Job ${job.id} started.`;
      await refresh();
    } catch (e) {
      msg.textContent = e.status === 404 ? "This twin does not run planning jobs (POST /api/jobs)." : `Refused: ${e.detail || e.message}`;
    }
    focusOr(msg, msg);
  }

  const results = new Map();  // finished job id -> its full record (the list leaves results out)
  async function refresh() {
    const jobs = await tryApi("/api/jobs", { params: { limit: 10 } }).catch(() => undefined);
    if (jobs === undefined) { jobsList.replaceChildren(el("p", { class: "muted" }, "No planning jobs on this twin yet.")); return; }
    const list = Array.isArray(jobs) ? jobs : jobs.jobs || [];
    for (const job of list) {
      if (job.state === "done" && !results.has(job.id)) results.set(job.id, await api(`/api/jobs/${job.id}`));
    }
    if (jobsList.contains(document.activeElement)) return;  // a cancel button in use is not redrawn under the keyboard
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
      card.append(el("button", { type: "button", onclick: async () => { await api(`/api/jobs/${job.id}`, { method: "DELETE" }); msg.textContent = `Job ${job.id} cancelled.`; focusOr(msg, msg); refresh(); } }, "Cancel"));
    }
    if (job.result) card.append(...compare(job.result));
    if (job.error) card.append(el("p", { class: "error" }, String(job.error)));
    return card;
  }

  await refresh();
  const timer = setInterval(refresh, 2000);
  return () => clearInterval(timer);
}

/** gain, loss, or unclear (the 95 % interval crosses zero, or there is none): how a difference is drawn. */
export function verdict(d) {
  if (!d || !Array.isArray(d.ci95)) return "unclear";
  const [lo, hi] = d.ci95;
  return lo > 0 ? "gain" : hi < 0 ? "loss" : "unclear";
}

/** The variants side by side: simulated throughput, its difference to the baseline, lead time and WIP. */
function compare(result) {
  const rows = Array.isArray(result.variants) ? result.variants : [];
  const ci = (m) => (m && Array.isArray(m.ci95) ? { lo: m.ci95[0], hi: m.ci95[1] } : {});
  const tp = rows.filter((r) => r.sim || Number.isFinite(r.estimate)).map((r) => ({
    name: r.name, value: r.sim ? r.sim.mean : r.estimate, ...ci(r.sim), cls: r.sim ? "" : "estimate" }));
  const delta = rows.filter((r) => r.delta_vs_baseline).map((r) => ({
    name: r.name, value: r.delta_vs_baseline.mean, ...ci(r.delta_vs_baseline), cls: verdict(r.delta_vs_baseline) }));
  const lead = rows.filter((r) => r.kpis && Number.isFinite(r.kpis.lead_time_mean_s)).map((r) => ({
    name: r.name, value: r.kpis.lead_time_mean_s / 60, lo: r.kpis.lead_time_ci95_s ? r.kpis.lead_time_ci95_s[0] / 60 : undefined,
    hi: r.kpis.lead_time_ci95_s ? r.kpis.lead_time_ci95_s[1] / 60 : undefined }));
  const out = [];
  if (tp.length) out.push(el("h3", {}, "Throughput (bars: mean, lines: 95 % interval; pale: estimate only)"), bars(tp, { unit: "parts/h", label: "throughput by variant" }));
  if (delta.length) {
    out.push(el("h3", {}, "Difference to the baseline (same random numbers)"),
      el("p", { class: "legend" }, el("span", { class: "key gain" }), " gain, interval above 0 ", el("span", { class: "key loss" }), " loss, interval below 0 ",
        el("span", { class: "key unclear" }), " no clear difference: the 95 % interval crosses 0"),
      bars(delta, { unit: "parts/h", label: "difference to baseline", signed: true }));
  }
  if (lead.length) out.push(el("h3", {}, "Lead time"), bars(lead, { unit: "min", label: "lead time by variant" }));
  const said = { gain: "gain", loss: "loss", unclear: "no clear difference" };
  const table = el("table", { class: "alerts-table" }, el("thead", {}, el("tr", {}, ...["Variant", "Estimate /h", "Simulated /h", "Δ /h (95 % interval)", "WIP", "Bottleneck"].map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, ...rows.map((r) => {
      const d = r.delta_vs_baseline;
      return el("tr", { "data-variant": r.name }, el("td", {}, r.name), el("td", {}, fmt.value(r.estimate)),
        el("td", {}, r.sim ? fmt.value(r.sim.mean) : "–"),
        el("td", { "data-role": "delta", class: d ? verdict(d) : "" }, d ? `${fmt.value(d.mean)}${Array.isArray(d.ci95) ? ` (${fmt.value(d.ci95[0])} to ${fmt.value(d.ci95[1])})` : ""}: ${said[verdict(d)]}` : "–"),
        el("td", {}, r.kpis ? fmt.value(r.kpis.wip_mean) : "–"), el("td", {}, r.kpis ? String(r.kpis.bottleneck || "–").split("/").pop() : "–"));
    })));
  out.push(el("div", { class: "table-scroll" }, table));
  if (!rows.length) out.push(el("pre", { class: "result" }, JSON.stringify(result, null, 2).slice(0, 4000)));
  return out;
}
