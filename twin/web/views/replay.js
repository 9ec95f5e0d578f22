// Replay: the line as it was at any past instant, from history, played back at a chosen speed. The range is
// entered in plant time (the site's zone), whatever zone the browser is in.

import { tryApi } from "../api.js";
import { plantNow, syncClock } from "../clock.js";
import { alertText } from "../codes.js";
import { el, fmt, severityBadge } from "../dom.js";
import { LineDrawing, loadLayout } from "../line.js";
import { fromInput, INPUT_PATTERN, plantZone, toInput, zoneName } from "../time.js";

const STEPS = 1000;

export async function mount(container, ctx, param) {
  const layout = await loadLayout();
  await syncClock();
  const now = plantNow();
  const field = (id, t) => el("input", { id, type: "text", value: toInput(t), pattern: INPUT_PATTERN, size: 26, required: true,
    placeholder: "2026-03-02 14:05:00", "aria-describedby": "r-zone", spellcheck: "false" });
  const from = field("r-from", now - 3600e3);
  const to = field("r-to", now);
  const slider = el("input", { id: "r-slider", type: "range", min: 0, max: STEPS, value: STEPS, "aria-label": "replay time" });
  const at = el("output", { id: "r-at", for: "r-slider" }, "–");
  const play = el("button", { id: "r-play", type: "button" }, "▶ Play");
  const speed = el("select", { id: "r-speed", "aria-label": "playback speed" },
    ...[1, 10, 60, 300, 1800].map((s) => el("option", { value: s, selected: s === 60 }, `${s}×`)));
  const drawing = el("div", { class: "lines" });
  const alertList = el("ul", { class: "replay-alerts", "aria-label": "alerts active at that instant" });
  const status = el("p", { role: "status", class: "muted" });
  container.append(el("h1", {}, "Replay"),
    el("div", { class: "replay-controls" },
      el("label", { for: "r-from" }, "From"), from, el("label", { for: "r-to" }, "To"), to,
      el("span", { class: "muted small", id: "r-zone" }, `plant time, ${zoneName(now)} (${plantZone().zone}), YYYY-MM-DD hh:mm:ss`),
      play, speed, el("div", { class: "slider" }, slider, at)),
    drawing, el("h2", {}, "Alerts active then"), alertList, status);
  const lines = new LineDrawing(drawing, layout);

  const range = () => [fromInput(from.value), fromInput(to.value)];
  const instant = () => { const [a, b] = range(); return new Date(a + ((b - a) * Number(slider.value)) / STEPS); };
  let pending = null;
  let busy = false;

  async function show() {
    const [lo, hi] = range();
    if (!Number.isFinite(lo) || !Number.isFinite(hi) || hi <= lo) {
      status.textContent = "From and To: two instants in plant time, From first, written 2026-03-02 14:05:00.";
      return;
    }
    const t = instant();
    at.textContent = fmt.time(t);
    slider.setAttribute("aria-valuetext", fmt.time(t));
    if (busy) { pending = true; return; }
    busy = true;
    try {
      const snap = await tryApi("/api/replay", { params: { at: t.toISOString() } });
      if (snap === undefined) { status.textContent = "This twin does not serve a replay (GET /api/replay)."; return; }
      const assets = new Map(snap.assets.map((a) => [a.id, a]));
      lines.update(assets, { alerts: snap.alerts || [], now: t.getTime() });
      alertList.replaceChildren(...(snap.alerts || []).map((a) => el("li", { "data-alert": a.id },
        a.severity ? severityBadge(a.severity) : "", ` ${(a.state || "").replace("_", " ")} · ${a.asset.split("/").pop()}: ${alertText(a)}`)));
      if (!(snap.alerts || []).length) alertList.append(el("li", { class: "muted" }, "none"));
      status.textContent = `State at ${fmt.time(snap.at || t)}`;
      container.dataset.replayAt = t.toISOString();
    } catch (e) {
      status.textContent = e.status === 429 ? `The twin asks to slow down: ${e.detail}` : e.message;
      if (e.status === 429) stop();
    } finally {
      busy = false;
      if (pending) { pending = false; show(); }
    }
  }

  let timer = null;
  const stop = () => { clearInterval(timer); timer = null; play.textContent = "▶ Play"; };
  play.addEventListener("click", () => {
    if (timer) { stop(); return; }
    play.textContent = "⏸ Pause";
    if (Number(slider.value) >= STEPS) slider.value = 0;  // from the start of the range again
    const tickMs = 1000;  // one replay request a second at most: the twin rate-limits historian reads
    timer = setInterval(() => {
      const [a, b] = range();
      const stepMs = ((b - a) / STEPS);
      const advance = (Number(speed.value) * tickMs) / stepMs;
      const next = Math.min(STEPS, Number(slider.value) + Math.max(1, Math.round(advance)));
      slider.value = next;
      show();
      if (next >= STEPS) stop();
    }, tickMs);
  });
  let debounce = null;
  slider.addEventListener("input", () => {  // while dragging, ask for the instant the thumb rests on
    at.textContent = fmt.time(instant());
    clearTimeout(debounce);
    debounce = setTimeout(show, 150);
  });
  from.addEventListener("change", show);
  to.addEventListener("change", show);
  if (param) {  // #/replay/<ISO instant>: open at that instant
    const t = Date.parse(param);
    if (Number.isFinite(t)) {
      from.value = toInput(t - 1800e3);
      to.value = toInput(t + 1800e3);
      slider.value = STEPS / 2;
    }
  }
  await show();
  return () => { stop(); clearTimeout(debounce); };
}
