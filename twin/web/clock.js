// The plant clock as the twin reads it (GET /api/clock): wall time for a real plant, a simulator's time when it
// runs faster. Read at sign-in and now and then; run on at its speed in between, so "now" is the twin's now.

import { tryApi } from "./api.js";

let base = { now: Date.now(), speed: 1, at: Date.now() };

/** Plant time now, in milliseconds since the epoch. */
export function plantNow() { return base.now + base.speed * (Date.now() - base.at); }

/** Reads the twin's clock; a twin without /api/clock is taken to run on wall time. */
export async function syncClock() {
  try {
    const c = await tryApi("/api/clock");
    if (c) base = { now: Date.parse(c.now), speed: Number(c.speed) || 1, at: Date.now() };
  } catch { /* keep the last reading */ }
  return base;
}

/** Plant seconds per wall second (1 for a real plant). */
export function plantSpeed() { return base.speed; }
