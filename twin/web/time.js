// Plant time as the shop floor reads it: the site's time zone from the plant model (not the browser's), 24 h,
// one format everywhere: 2026-03-02 14:05:09. Every screen says which zone it is.

let zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
let fromPlant = false;
const formatters = new Map();

function formatter(kind) {
  const key = `${zone}|${kind}`;
  if (!formatters.has(key)) {
    const opts = kind === "name" ? { timeZone: zone, timeZoneName: "short", hour: "2-digit", hourCycle: "h23" }
      : { timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit",
        minute: "2-digit", second: "2-digit" };
    formatters.set(key, new Intl.DateTimeFormat("en-GB", opts));
  }
  return formatters.get(key);
}

/** Takes the plant's zone (an IANA name, e.g. Europe/Berlin); an unknown name keeps the browser's. */
export function setPlantZone(tz) {
  if (!tz) return false;
  try { new Intl.DateTimeFormat("en-GB", { timeZone: tz }); } catch { return false; }
  zone = tz;
  fromPlant = true;
  return true;
}

/** The zone every time on the page is shown in, and whether it is the plant's (else the browser's). */
export function plantZone() { return { zone, fromPlant }; }

function parts(t) {
  const out = {};
  for (const p of formatter("parts").formatToParts(new Date(t))) if (p.type !== "literal") out[p.type] = p.value;
  if (out.hour === "24") out.hour = "00";
  return out;
}

function toMs(t) { return typeof t === "number" ? t : Date.parse(t); }

/** 2026-03-02 14:05:09 (or without seconds), plant time. */
export function stamp(t, { seconds = true } = {}) {
  const ms = toMs(t);
  if (!Number.isFinite(ms)) return "–";
  const p = parts(ms);
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}${seconds ? `:${p.second}` : ""}`;
}

/** 14:05:09 (or 14:05), plant time. */
export function clock(t, { seconds = true } = {}) {
  const ms = toMs(t);
  if (!Number.isFinite(ms)) return "–";
  const p = parts(ms);
  return `${p.hour}:${p.minute}${seconds ? `:${p.second}` : ""}`;
}

/** 2026-03-02, the plant's calendar day. */
export function day(t) {
  const p = parts(toMs(t));
  return `${p.year}-${p.month}-${p.day}`;
}

/** The zone's short name at an instant (CET, CEST, UTC, GMT+1). */
export function zoneName(t = Date.now()) {
  const found = formatter("name").formatToParts(new Date(toMs(t))).find((p) => p.type === "timeZoneName");
  return found ? found.value : zone;
}

/** The zone's offset from UTC at an instant, in milliseconds. */
export function offsetMs(t) {
  const ms = Math.floor(toMs(t) / 1000) * 1000;
  const p = parts(ms);
  return Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second) - ms;
}

/** What a time field shows for instant `t`: 2026-03-02 14:05:09, plant time. (Not <input type=datetime-local>:
 * the browser would show it in its own locale's format, perhaps 12 h, beside the page's 24 h.) A wall time that
 * happens twice (the hour the clocks go back) carries its offset, 2026-10-25 02:30:00 +02:00, or it could not be
 * read back as the same instant. */
export function toInput(t) {
  const ms = Math.floor(toMs(t) / 1000) * 1000;
  const text = stamp(ms);
  if (fromInput(text) === ms) return text;
  const off = Math.round(offsetMs(ms) / 60000);
  const a = Math.abs(off);
  return `${text} ${off < 0 ? "-" : "+"}${String(Math.floor(a / 60)).padStart(2, "0")}:${String(a % 60).padStart(2, "0")}`;
}

export const INPUT_PATTERN = "\\d{4}-\\d{2}-\\d{2}[ T]\\d{2}:\\d{2}(:\\d{2})?( ?[+\\-]\\d{2}:?\\d{2})?";

/** The instant a time field's 2026-03-02 14:05[:09] [+01:00] means in plant time (NaN for an empty or broken
 * value). Without an offset, a wall time that happens twice is read as its later occurrence. */
export function fromInput(value) {
  const m = /^\s*(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?(?: ?([+-])(\d{2}):?(\d{2}))?\s*$/.exec(value || "");
  if (!m) return NaN;
  const wall = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0));
  if (m[7]) return wall - (m[7] === "-" ? -1 : 1) * (+m[8] * 60 + +m[9]) * 60000;
  let t = wall - offsetMs(wall);
  t = wall - offsetMs(t);  // once more, for an instant near a daylight-saving change
  return t;
}
