// What a machine's alarm code means: the twin's configured reasons (`oee.reasons`, GET /api/downtime/reasons),
// read at sign-in, so an alert or a stop says "E204: tool breakage", not only "E204".

import { tryApi } from "./api.js";

let codes = {};
let given = [];

// The one code the UI knows by itself: what a machine reports when it fails without saying why.
const BUILT_IN = { "F-GENERIC": "failure without a specific alarm code (ask the operator for the reason)" };

export async function loadCodes() {
  try {
    const r = await tryApi("/api/downtime/reasons");
    if (r) { codes = r.codes || {}; given = r.given || []; }
  } catch { /* codes stay untranslated; the raw code is shown either way */ }
}

/** The meaning of an alarm code in words, or null when neither the twin nor the UI knows it. */
export function codeMeaning(code) {
  if (!code) return null;
  return codes[code] || BUILT_IN[code] || null;
}

/** "E204: tool breakage", or the bare code. */
export function codeText(code) {
  const meaning = codeMeaning(code);
  return meaning ? `${code}: ${meaning}` : String(code);
}

/** Reasons to offer when a person qualifies a stop: the configured ones and those people have given. */
export function knownReasons() {
  return [...new Set([...Object.values(codes), ...given])].sort((a, b) => a.localeCompare(b));
}

export function rememberReason(reason) { if (reason && !given.includes(reason)) given.push(reason); }

/** An alert's text with a machine alarm code in it said in words. */
export function alertText(a) {
  const msg = a.message || a.cause || "";
  const code = (a.detail && a.detail.code) || (a.kind === "machine_alarm" && typeof a.value === "string" ? a.value : null);
  const meaning = codeMeaning(code);
  return meaning ? `${msg} — ${meaning}` : msg;
}
