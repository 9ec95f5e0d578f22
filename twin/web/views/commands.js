// Commands: request a command from the allow-list and decide on what others asked for (four eyes), with what
// happened to each (executed, failed, rejected, expired).

import { api } from "../api.js";
import { el } from "../dom.js";
import { commandsPanel } from "../panels/commands.js";

export async function mount(container, ctx) {
  const assets = [...ctx.feed.assets.values()].map((a) => ({ id: a.id, name: a.name }));
  const panel = commandsPanel(ctx, { assets: assets.length ? assets : await fallbackAssets() });
  container.append(el("h1", {}, "Commands"),
    el("p", { class: "muted" }, `You are ${ctx.me.identity || ctx.me.name} (${ctx.me.role}). A command runs only once a second engineer approves it; every step is in the audit log.`),
    el("section", { class: "panel" }, panel.root));
  await panel.refresh();
  // others' requests and decisions show up; not while the keyboard is in the panel (typing a comment)
  const timer = setInterval(() => { if (!panel.root.contains(document.activeElement)) panel.refresh({ keepForm: true }); }, 5000);
  return () => clearInterval(timer);
}

async function fallbackAssets() {
  return (await api("/api/assets")).map((a) => ({ id: a.id, name: a.name }));
}
