#!/usr/bin/env node
// A Sparkplug B edge node built with Eclipse Tahu's JavaScript client (npm sparkplug-client), standing in for a
// gateway the project did not write: NBIRTH/DBIRTH with metric names that have "/" and spaces, aliases and
// engUnit properties, then NDATA/DDATA by alias only; it answers NCMD "Node Control/Rebirth" by publishing its
// births again, as the specification asks.
//
// Driven over stdin, one JSON object a line; prints one JSON line when its first births are out and after
// each command or event. See README.md in this folder.
//
// usage: node sparkplug-node.js --broker mqtt://127.0.0.1:1883 [--group "Line 1"] [--node "Gateway 1"]
//                               [--device "Press 2"] [--client-id ID]
"use strict";

const readline = require("node:readline");
const sparkplug = require("sparkplug-client");

function parseArgs(argv) {
    const opts = { broker: "mqtt://127.0.0.1:1883", group: "Line 1", node: "Gateway 1", device: "Press 2", clientId: null };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        if (a === "--broker") opts.broker = argv[++i];
        else if (a === "--group") opts.group = argv[++i];
        else if (a === "--node") opts.node = argv[++i];
        else if (a === "--device") opts.device = argv[++i];
        else if (a === "--client-id") opts.clientId = argv[++i];
        else throw new Error(`unknown option ${a}`);
    }
    return opts;
}

function say(obj) {
    process.stdout.write(JSON.stringify(obj) + "\n");
}

const unit = (u) => ({ engUnit: { type: "string", value: u } });

/** name -> {alias, type, value, properties}: what the births announce and DATA messages change by alias. */
function nodeMetrics() {
    return {
        "Uptime": { alias: 1, type: "Int64", value: 0, properties: unit("s") },
        "Properties/Software Version": { alias: 2, type: "String", value: "3.2.4-tahu" },
    };
}

function deviceMetrics() {
    return {
        "Motor/Speed": { alias: 10, type: "Double", value: 0, properties: unit("rpm") },
        "Motor/Current": { alias: 11, type: "Float", value: 0, properties: unit("A") },
        "Zone 1/Temperature": { alias: 12, type: "Double", value: 20, properties: unit("°C") },
        "Status Word": { alias: 13, type: "UInt16", value: 0 },
        "Good Parts": { alias: 14, type: "UInt32", value: 0 },
        "Scrap Parts": { alias: 15, type: "UInt32", value: 0 },
        "State": { alias: 16, type: "String", value: "Stopped" },
        "Running": { alias: 17, type: "Boolean", value: false },
        "Offset": { alias: 18, type: "Int16", value: -5, properties: unit("mm") },
    };
}

class EdgeNode {
    constructor(opts) {
        this.opts = opts;
        this.node = nodeMetrics();
        this.device = deviceMetrics();
        this.births = 0;
        this.ncmds = 0;
        this.client = sparkplug.newClient({
            serverUrl: opts.broker, username: "", password: "", groupId: opts.group, edgeNode: opts.node,
            clientId: opts.clientId || `tahu-${process.pid}`, version: "spBv1.0", publishDeath: true,
        });
        this.client.on("birth", () => this.birth("connect"));
        this.client.on("ncmd", (payload) => this.ncmd(payload));
        this.client.on("dcmd", (device, payload) => say({ event: "dcmd", device, metrics: this.names(payload) }));
        this.client.on("error", (err) => say({ event: "error", error: String(err && err.message || err) }));
        this.client.on("close", () => say({ event: "close" }));
        this.client.on("reconnect", () => say({ event: "reconnect" }));
    }

    names(payload) {
        return (payload.metrics || []).map((m) => ({ name: m.name, alias: m.alias, value: m.value }));
    }

    birthMetrics(metrics) {
        return Object.entries(metrics).map(([name, m]) => ({ name, ...m }));
    }

    birth(why) {
        const now = Date.now();
        this.client.publishNodeBirth({
            timestamp: now,
            metrics: [{ name: "Node Control/Rebirth", type: "Boolean", value: false }, ...this.birthMetrics(this.node)],
        });
        this.client.publishDeviceBirth(this.opts.device, { timestamp: now, metrics: this.birthMetrics(this.device) });
        this.births += 1;
        say({ event: this.births === 1 ? "ready" : "birth", why, births: this.births, group: this.opts.group,
            node: this.opts.node, device: this.opts.device });
    }

    ncmd(payload) {
        this.ncmds += 1;
        const metrics = this.names(payload);
        say({ event: "ncmd", metrics, ncmds: this.ncmds });
        if (metrics.some((m) => m.name === "Node Control/Rebirth" && m.value === true)) this.birth("rebirth");
    }

    /** DATA by alias only, as gateways do once the birth has named the metrics. */
    data(scope, changes) {
        const metrics = scope === "node" ? this.node : this.device;
        const now = Date.now();
        const out = [];
        for (const [name, value] of Object.entries(changes)) {
            const m = metrics[name];
            if (!m) throw new Error(`no ${scope} metric ${JSON.stringify(name)}; metrics: ${Object.keys(metrics).join(", ")}`);
            m.value = value;
            out.push({ alias: m.alias, type: m.type, value, timestamp: now });
        }
        if (scope === "node") this.client.publishNodeData({ timestamp: now, metrics: out });
        else this.client.publishDeviceData(this.opts.device, { timestamp: now, metrics: out });
        return out.length;
    }

    command(c) {
        switch (c.cmd) {
            case "ping": return { births: this.births, ncmds: this.ncmds };
            case "set": return { published: this.data(c.scope || "device", { [c.metric]: c.value }) };
            case "data": return { published: this.data(c.scope || "device", c.values) };
            case "parts": {
                const good = this.device["Good Parts"].value + Number(c.good || 0);
                const scrap = this.device["Scrap Parts"].value + Number(c.bad || 0);
                return { published: this.data("device", { "Good Parts": good, "Scrap Parts": scrap }), good, scrap };
            }
            case "rebirth": this.birth("command"); return { births: this.births };
            case "device_death":
                this.client.publishDeviceDeath(this.opts.device, { timestamp: Date.now() });
                return {};
            default: throw new Error(`unknown cmd ${JSON.stringify(c.cmd)}`);
        }
    }
}

function main() {
    const opts = parseArgs(process.argv.slice(2));
    const edge = new EdgeNode(opts);
    let stopping = false;
    const stop = (code) => {
        if (stopping) return;
        stopping = true;
        edge.client.stop();  // publishes NDEATH, then disconnects
        setTimeout(() => process.exit(code), 200);
    };
    const rl = readline.createInterface({ input: process.stdin });
    rl.on("line", (line) => {
        if (!line.trim()) return;
        let c;
        try {
            c = JSON.parse(line);
            if (c.cmd === "stop") {
                say({ ok: true, cmd: "stop" });
                stop(0);
                return;
            }
            if (c.cmd === "crash") {  // gone without NDEATH: the broker publishes the will
                say({ ok: true, cmd: "crash" });
                edge.client.client.stream.destroy();
                process.exit(0);
            }
            say({ ok: true, cmd: c.cmd, ...edge.command(c) });
        } catch (err) {
            say({ ok: false, cmd: c && c.cmd, error: String(err && err.message || err) });
        }
    });
    rl.on("close", () => stop(0));
    process.on("SIGTERM", () => stop(0));
    process.on("SIGINT", () => stop(0));
}

main();
