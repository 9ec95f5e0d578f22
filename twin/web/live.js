// Live state of every asset: a snapshot, then changes over the WebSocket; polling while no socket is to be had.

import { api, wsUrl } from "./api.js";

const POLL_MS = 2000;
const WS_RETRY_MS = 10000;

export class LiveFeed {
  constructor() {
    this.assets = new Map();   // path -> asset dict, as /api/assets gives it
    this.listeners = new Set();
    this.alertListeners = new Set();
    this.mode = "offline";     // "websocket" | "polling" | "offline"
    this.messages = 0;
    this._timer = null;
    this._ws = null;
    this._stopped = false;
    this.onmode = () => {};
  }

  start() {
    this._stopped = false;
    this._connect();
  }

  stop() {
    this._stopped = true;
    clearTimeout(this._timer);
    if (this._ws) this._ws.close();
  }

  subscribe(fn) { this.listeners.add(fn); if (this.assets.size) fn(this.assets, null); return () => this.listeners.delete(fn); }
  onAlert(fn) { this.alertListeners.add(fn); return () => this.alertListeners.delete(fn); }

  _setMode(mode) { if (mode !== this.mode) { this.mode = mode; this.onmode(mode); } }

  _emit(changed) { for (const fn of this.listeners) fn(this.assets, changed); }

  _connect() {
    if (this._stopped) return;
    let opened = false;
    let ws;
    try { ws = new WebSocket(wsUrl("/api/ws")); } catch { this._poll(); return; }
    this._ws = ws;
    ws.onopen = () => { opened = true; clearTimeout(this._timer); this._setMode("websocket"); };
    ws.onmessage = (ev) => { this.messages += 1; this._handle(JSON.parse(ev.data)); };
    ws.onclose = () => {
      this._ws = null;
      if (this._stopped) return;
      this._setMode("polling");
      this._poll();
      // try the socket again later; a twin without one keeps being polled
      setTimeout(() => { if (!this._stopped && !this._ws) { clearTimeout(this._timer); this._connect(); } },
                 opened ? 1000 : WS_RETRY_MS);
    };
  }

  _handle(msg) {
    if (msg.type === "snapshot") {
      this.assets = new Map(msg.assets.map((a) => [a.id, a]));
      this._emit(null);
    } else if (msg.type === "update") {
      const changed = new Set();
      for (const a of msg.assets || []) { this.assets.set(a.id, a); changed.add(a.id); }
      if (changed.size) this._emit(changed);
      for (const alert of msg.alerts || []) for (const fn of this.alertListeners) fn(alert);
    } else if (msg.type === "asset") {
      const path = msg.asset;
      const current = this.assets.get(path) || { id: path };
      const { type: _t, asset: _a, signals, ...fields } = msg;
      const next = { ...current, ...fields };
      if (signals) next.signals = { ...(current.signals || {}), ...signals };
      this.assets.set(path, next);
      this._emit(new Set([path]));
    } else if (msg.type === "alert") {
      for (const fn of this.alertListeners) fn(msg.alert);
    }
  }

  async _poll() {
    clearTimeout(this._timer);
    if (this._stopped) return;
    try {
      const list = await api("/api/assets");
      this.assets = new Map(list.map((a) => [a.id, a]));
      this.messages += 1;
      if (this.mode !== "websocket") this._setMode("polling");
      this._emit(null);
    } catch {
      this._setMode("offline");
    }
    if (!this._ws) this._timer = setTimeout(() => this._poll(), POLL_MS);
  }
}
