#!/usr/bin/env node
// An OPC UA server built with node-opcua, standing in for equipment the project did not write: a machine tool
// per OPC 40501 (umati) under Objects/Machines, a PackML packaging machine per OPC 30050 under
// Objects/PackMLObjects, and a few plain variables with the names real PLCs have ("Motor Speed", arrays, a
// status word). The companion-spec types come from node-opcua-nodesets; the instances are built from them.
//
// Driven over stdin, one JSON object a line; prints one JSON line when ready and one after each command.
// See README.md in this folder for the node layout and the commands.
//
// usage: node opcua-server.js [--port N] [--host 127.0.0.1] [--pki DIR] [--secure]
//   --pki DIR   keep the server's certificate in DIR (stable across starts); default: a new temporary
//               folder each start, so each start has a new self-signed certificate
//   --secure    offer only Basic256Sha256 / SignAndEncrypt (no None endpoint)
"use strict";

const crypto = require("node:crypto");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const readline = require("node:readline");
const {
    OPCUAServer, OPCUACertificateManager, SecurityPolicy, MessageSecurityMode, DataType, Variant, VariantArrayType,
    StatusCodes, standardUnits, makeEUInformation, nodesets, coerceLocalizedText, promoteToStateMachine
} = require("node-opcua");

const NS = {
    di: "http://opcfoundation.org/UA/DI/",
    ia: "http://opcfoundation.org/UA/IA/",
    machinery: "http://opcfoundation.org/UA/Machinery/",
    machineTool: "http://opcfoundation.org/UA/MachineTool/",
    packML: "http://opcfoundation.org/UA/PackML/",
    robotics: "http://opcfoundation.org/UA/Robotics/",
    isa95JobControl: "http://opcfoundation.org/UA/ISA95-JOBCONTROL_V2/",
    machineryJobs: "http://opcfoundation.org/UA/Machinery/Jobs/",
    plant: "urn:factory-twin:interop:plant",
};

function parseArgs(argv) {
    const opts = { port: 4840, host: "127.0.0.1", pki: null, secure: false };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        if (a === "--port") opts.port = Number(argv[++i]);
        else if (a === "--host") opts.host = argv[++i];
        else if (a === "--pki") opts.pki = argv[++i];
        else if (a === "--secure") opts.secure = true;
        else throw new Error(`unknown option ${a}`);
    }
    return opts;
}

function say(obj) {
    process.stdout.write(JSON.stringify(obj) + "\n");
}

/** The state machines, counters and variables the commands act on, found once after start-up. */
class Plant {
    constructor(addressSpace) {
        this.as = addressSpace;
        this.ns = addressSpace.getNamespace(NS.plant);
        this.mt = addressSpace.getNamespaceIndex(NS.machineTool);
        this.mach = addressSpace.getNamespaceIndex(NS.machinery);
        this.pml = addressSpace.getNamespaceIndex(NS.packML);
        this.machines = {};
        this.variables = {};  // browse path below Objects -> UAVariable, for "set"
    }

    type(name, nsIndex) {
        const t = this.as.findObjectType(name, nsIndex);
        if (!t) throw new Error(`type ${name} not in namespace ${nsIndex}`);
        return t;
    }

    // --- the machine tool (OPC 40501) -------------------------------------------------------------------------
    buildMachineTool(browseName, id) {
        const machines = this.as.findNode(`ns=${this.mach};i=1001`);  // Objects/Machines (OPC 40001-1)
        const mt = this.type("MachineToolType", this.mt).instantiate({
            browseName: { name: browseName, namespaceIndex: this.ns.index }, namespace: this.ns,
            nodeId: `ns=${this.ns.index};s=${id}`,
            organizedBy: machines,
            optionals: [
                "Identification.Model", "Identification.YearOfConstruction", "Identification.MonthOfConstruction",
                "Identification.SoftwareRevision", "Identification.ManufacturerUri", "Identification.ProductCode",
                "Identification.DeviceClass", "Identification.Location",
                "MachineryBuildingBlocks", "MachineryBuildingBlocks.MachineryItemState",
                "MachineryBuildingBlocks.MachineryOperationMode",
                "Monitoring.MachineTool.FeedOverride", "Monitoring.MachineTool.PowerOnDuration",
                "Monitoring.MachineTool.IsWarmUp",
                "Monitoring.MachineTool.MachineryItemState", "Monitoring.MachineTool.MachineryOperationMode",
                "Production.ActiveProgram.JobIdentifier",
                "Production.ProductionPlan", "Production.Statistics", "Production.Statistics.PartsProducedInLifetime",
            ],
        });
        const ident = mt.getComponentByName("Identification", this.mt) || mt.getChildByName("Identification");
        const setProp = (parent, name, dataType, value) => {
            const v = parent.getChildByName(name);
            if (!v) throw new Error(`no ${name} below ${parent.browseName.toString()}`);
            v.setValueFromSource({ dataType, value });
            return v;
        };
        setProp(ident, "Manufacturer", DataType.LocalizedText, coerceLocalizedText("Example Machine Works"));
        setProp(ident, "Model", DataType.LocalizedText, coerceLocalizedText("VMC 850"));
        setProp(ident, "SerialNumber", DataType.String, "VMC850-2024-0042");
        setProp(ident, "ProductInstanceUri", DataType.String, "urn:example-machine-works:vmc850:0042");
        setProp(ident, "ManufacturerUri", DataType.String, "urn:example-machine-works");
        setProp(ident, "ProductCode", DataType.String, "VMC850-5AX");
        setProp(ident, "SoftwareRevision", DataType.String, "4.2.1");
        setProp(ident, "DeviceClass", DataType.String, "MachineTool");
        setProp(ident, "Location", DataType.String, "Hall 2 / Line 1");
        setProp(ident, "YearOfConstruction", DataType.UInt16, 2024);
        setProp(ident, "MonthOfConstruction", DataType.Byte, 3);

        const monitoring = mt.getChildByName("Monitoring");
        const mtMon = monitoring.getChildByName("MachineTool");
        mtMon.getChildByName("OperationMode").setValueFromSource({ dataType: DataType.Int32, value: 1 });  // Automatic
        this.analog(mtMon.getChildByName("FeedOverride"), 100, standardUnits.percent, 0, 120);
        mtMon.getChildByName("PowerOnDuration").setValueFromSource({ dataType: DataType.UInt32, value: 1200 });
        mtMon.getChildByName("IsWarmUp").setValueFromSource({ dataType: DataType.Boolean, value: false });

        // <MonitoredElement> placeholders: a spindle and a channel, named as umati's sample servers name them
        const spindle = this.type("SpindleMonitoringType", this.mt).instantiate({
            browseName: { name: "Spindle 1", namespaceIndex: this.ns.index }, namespace: this.ns, componentOf: monitoring,
            optionals: ["Override", "IsUsedAsAxis"],
        });
        spindle.getChildByName("Name").setValueFromSource({ dataType: DataType.String, value: "Spindle 1" });
        spindle.getChildByName("IsRotating").setValueFromSource({ dataType: DataType.Boolean, value: false });
        spindle.getChildByName("IsUsedAsAxis").setValueFromSource({ dataType: DataType.Boolean, value: false });
        this.analog(spindle.getChildByName("Override"), 100, standardUnits.percent, 0, 150);
        const channel = this.type("ChannelMonitoringType", this.mt).instantiate({
            browseName: { name: "Channel 1", namespaceIndex: this.ns.index }, namespace: this.ns, componentOf: monitoring,
            optionals: ["RapidOverride"],
        });
        channel.getChildByName("Name").setValueFromSource({ dataType: DataType.String, value: "Channel 1" });
        channel.getChildByName("ChannelState").setValueFromSource({ dataType: DataType.Int32, value: 2 });  // Reset
        channel.getChildByName("ChannelMode").setValueFromSource({ dataType: DataType.Int32, value: 0 });  // Automatic
        this.analog(channel.getChildByName("FeedOverride"), 100, standardUnits.percent, 0, 120);
        this.analog(channel.getChildByName("RapidOverride"), 100, standardUnits.percent, 0, 100);

        // Production: the active program and one job of the plan with its parts counters
        const production = mt.getChildByName("Production");
        const program = production.getChildByName("ActiveProgram");
        program.getChildByName("Name").setValueFromSource({ dataType: DataType.String, value: "" });
        program.getChildByName("NumberInList").setValueFromSource({ dataType: DataType.UInt16, value: 0 });
        program.getChildByName("JobIdentifier").setValueFromSource({ dataType: DataType.String, value: "" });
        const plan = production.getChildByName("ProductionPlan");
        const job = this.type("ProductionJobType", this.mt).instantiate({
            browseName: { name: "Job 1", namespaceIndex: this.ns.index }, namespace: this.ns,
            references: [{ referenceType: "HasOrderedComponent", isForward: false, nodeId: plan }],
            optionals: ["PartsCompleted", "PartsGood", "PartSets"],
        });
        job.getChildByName("Identifier").setValueFromSource({ dataType: DataType.String, value: "JOB-0001" });
        job.getChildByName("NumberInList").setValueFromSource({ dataType: DataType.UInt16, value: 0 });
        const partSet = this.type("ProductionPartSetType", this.mt).instantiate({
            browseName: { name: "PartSet 1", namespaceIndex: this.ns.index }, namespace: this.ns,
            componentOf: job.getChildByName("PartSets"), optionals: ["Name"],
        });
        partSet.getChildByName("Name").setValueFromSource({ dataType: DataType.String, value: "Bracket" });
        partSet.getChildByName("ContainsMixedParts").setValueFromSource({ dataType: DataType.Boolean, value: false });
        const stats = production.getChildByName("Statistics");

        const sm = (node) => {
            const machine = promoteToStateMachine(node);
            return machine;
        };
        const m = {
            kind: "machine_tool", node: mt,
            itemState: sm(mtMon.getChildByName("MachineryItemState")),
            operationMode: sm(mtMon.getChildByName("MachineryOperationMode")),
            programState: sm(program.getChildByName("State")),
            jobState: sm(job.getChildByName("State")),
            program, job, partSet, spindle, channel,
            counters: {
                partsCompleted: job.getChildByName("PartsCompleted"), partsGood: job.getChildByName("PartsGood"),
                runsCompleted: job.getChildByName("RunsCompleted"), runsPlanned: job.getChildByName("RunsPlanned"),
                completedPerRun: partSet.getChildByName("PartsCompletedPerRun"),
                plannedPerRun: partSet.getChildByName("PartsPlannedPerRun"),
                lifetime: stats.getChildByName("PartsProducedInLifetime"),
            },
            good: 0, bad: 0, lifetime: 0,
        };
        m.itemState.setState("NotExecuting");
        m.operationMode.setState("Processing");
        m.programState.setState("Initializing");
        m.jobState.setState("Initializing");
        this.setUInt32(m.counters.runsPlanned, 1);
        m.counters.runsPlanned.getChildByName("IsValid").setValueFromSource({ dataType: DataType.Boolean, value: true });
        this.setUInt32(m.counters.plannedPerRun, 100);
        this.resetMachineToolCounters(m);
        this.setUInt32(m.counters.lifetime, 0);
        this.machines[id] = m;
        return m;
    }

    analog(variable, value, eu, low, high) {
        variable.setValueFromSource({ dataType: DataType.Double, value });
        variable.getChildByName("EngineeringUnits").setValueFromSource({ dataType: DataType.ExtensionObject, value: eu });
        const range = variable.getChildByName("EURange");
        range.setValueFromSource({
            dataType: DataType.ExtensionObject, value: this.as.constructExtensionObject(
                this.as.findDataType("Range"), { low, high })
        });
    }

    setUInt32(variable, value) {
        variable.setValueFromSource({ dataType: DataType.UInt32, value });
    }

    resetMachineToolCounters(m) {
        m.good = m.bad = 0;
        for (const key of ["partsCompleted", "partsGood", "runsCompleted", "completedPerRun"]) {
            this.setUInt32(m.counters[key], 0);
        }
    }

    // --- the packaging machine (OPC 30050 PackML) ------------------------------------------------------------
    buildPackML(browseName, id) {
        const folder = this.as.findNode(`ns=${this.pml};i=72`);  // Objects/PackMLObjects
        const pm = this.type("PackMLBaseObjectType", this.pml).instantiate({
            browseName: { name: browseName, namespaceIndex: this.ns.index }, namespace: this.ns,
            nodeId: `ns=${this.ns.index};s=${id}`,
            organizedBy: folder,
            optionals: ["TagID", "PackMLVersion", "Admin.ProdProcessedCount", "Admin.ProdDefectiveCount",
                "Admin.MachDesignSpeed", "Status.StateRequested", "Status.CurMachSpeed.EngineeringUnits",
                "Status.MachSpeed.EngineeringUnits", "BaseStateMachine.CurrentState.Number",
                "BaseStateMachine.MachineState.CurrentState.Number",
                "BaseStateMachine.MachineState.ExecuteState.CurrentState.Number"],
        });
        pm.getChildByName("TagID").setValueFromSource({ dataType: DataType.String, value: "FILLER-03" });
        pm.getChildByName("PackMLVersion").setValueFromSource({ dataType: DataType.String, value: "3.0" });
        const status = pm.getChildByName("Status");
        const admin = pm.getChildByName("Admin");
        const ppm = makeEUInformation("C94", "1/min", "reciprocal minute (packages per minute)");
        this.analogFloat(status.getChildByName("CurMachSpeed"), 0, ppm, 0, 600);
        this.analogFloat(status.getChildByName("MachSpeed"), 400, ppm, 0, 600);
        status.getChildByName("UnitModeCurrent").setValueFromSource({ dataType: DataType.Int32, value: 1 });  // Production
        status.getChildByName("EquipmentBlocked").setValueFromSource({ dataType: DataType.Boolean, value: false });
        status.getChildByName("EquipmentStarved").setValueFromSource({ dataType: DataType.Boolean, value: false });
        status.getChildByName("StateRequested").setValueFromSource({ dataType: DataType.Int32, value: 0 });
        admin.getChildByName("MachDesignSpeed").setValueFromSource({ dataType: DataType.Float, value: 600 });
        const base = promoteToStateMachine(pm.getChildByName("BaseStateMachine"));
        const machine = promoteToStateMachine(base.getChildByName("MachineState"));
        const execute = promoteToStateMachine(machine.getChildByName("ExecuteState"));
        const m = {
            kind: "packml", node: pm, base, machine, execute, status, admin,
            processed: admin.getChildByName("ProdProcessedCount"), defective: admin.getChildByName("ProdDefectiveCount"),
            counts: { processed: 0, defective: 0, processedAcc: 0, defectiveAcc: 0 },
        };
        this.machines[id] = m;
        this.writePackMLCounts(m);
        this.setPackMLState(m, "Stopped");
        return m;
    }

    analogFloat(variable, value, eu, low, high) {
        variable.setValueFromSource({ dataType: DataType.Float, value });
        const units = variable.getChildByName("EngineeringUnits");
        if (units) units.setValueFromSource({ dataType: DataType.ExtensionObject, value: eu });
        variable.getChildByName("EURange").setValueFromSource({
            dataType: DataType.ExtensionObject,
            value: this.as.constructExtensionObject(this.as.findDataType("Range"), { low, high }),
        });
    }

    packMLCount(name, count, acc) {
        const dt = this.as.findDataType("PackMLCountDataType", this.pml);
        return this.as.constructExtensionObject(dt, {
            ID: 1, name, unit: makeEUInformation("C62", "1", "one (packages)"), count, accCount: acc,
        });
    }

    writePackMLCounts(m) {
        const c = m.counts;
        m.processed.setValueFromSource({
            dataType: DataType.ExtensionObject, arrayType: VariantArrayType.Array,
            value: [this.packMLCount("Packages", c.processed, c.processedAcc)],
        });
        m.defective.setValueFromSource({
            dataType: DataType.ExtensionObject, arrayType: VariantArrayType.Array,
            value: [this.packMLCount("Packages", c.defective, c.defectiveAcc)],
        });
    }

    /** A PackML state by name: Aborting/Aborted are states of the base machine; Stopped, Stopping,
     * Clearing of MachineState (inside Cleared); Idle, Execute, Held, ... of ExecuteState (inside Running). */
    setPackMLState(m, state) {
        if (["Aborting", "Aborted"].includes(state)) {
            m.execute.setState(null);
            m.machine.setState(null);
            m.base.setState(state);
        } else if (["Stopped", "Stopping", "Clearing"].includes(state)) {
            m.base.setState("Cleared");
            m.execute.setState(null);
            m.machine.setState(state);
        } else {
            if (!m.execute.getStateByName(state)) throw new Error(`no PackML state ${state}`);
            m.base.setState("Cleared");
            m.machine.setState("Running");
            m.execute.setState(state);
        }
    }

    // --- plain variables, as a PLC without companion spec exposes them -----------------------------------
    buildPlain() {
        const ns = this.ns;
        const line = ns.addFolder(this.as.rootFolder.objects, {
            browseName: "Line 1", nodeId: `ns=${ns.index};s=Line 1` });
        const press = ns.addObject({ browseName: "Press 2", nodeId: `ns=${ns.index};s=Line 1/Press 2`, organizedBy: line });
        const add = (name, opts) => {
            const nodeId = `ns=${ns.index};s=Line 1/Press 2/${name}`;
            const v = opts.analog
                ? ns.addAnalogDataItem({ componentOf: press, browseName: name, nodeId, dataType: opts.dataType,
                    valueRank: opts.valueRank, arrayDimensions: opts.arrayDimensions,
                    engineeringUnits: opts.analog.eu, engineeringUnitsRange: opts.analog.range,
                    value: opts.value })
                : ns.addVariable({ componentOf: press, browseName: name, nodeId, dataType: opts.dataType,
                    valueRank: opts.valueRank, arrayDimensions: opts.arrayDimensions, value: opts.value });
            this.variables[`Line 1/Press 2/${name}`] = v;
            return v;
        };
        add("Motor Speed", { dataType: "Double", analog: { eu: standardUnits.revolutions_per_minute,
            range: { low: 0, high: 3000 } }, value: { dataType: DataType.Double, value: 0 } });
        add("Zone Temperatures", { dataType: "Double", valueRank: 1, arrayDimensions: [4],
            analog: { eu: standardUnits.degree_celsius, range: { low: 0, high: 400 } },
            value: { dataType: DataType.Double, arrayType: VariantArrayType.Array, value: new Float64Array([20, 20, 20, 20]) } });
        add("Status Word", { dataType: "UInt16", value: { dataType: DataType.UInt16, value: 0 } });
        add("Part Counter", { dataType: "UInt16", value: { dataType: DataType.UInt16, value: 0 } });
        add("Recipe", { dataType: "String", value: { dataType: DataType.String, value: "none" } });
    }

    // --- commands ---------------------------------------------------------------------------------------------
    machine(id) {
        const m = this.machines[id];
        if (!m) throw new Error(`no machine ${JSON.stringify(id)}; machines: ${Object.keys(this.machines).join(", ")}`);
        return m;
    }

    command(c) {
        switch (c.cmd) {
            case "ping": return {};
            case "state": return this.cmdState(c);
            case "parts": return this.cmdParts(c);
            case "reset": return this.cmdReset(c);
            case "set": return this.cmdSet(c);
            case "read": return { value: this.variableByPath(c.path).readValue().value.value };
            default: throw new Error(`unknown cmd ${JSON.stringify(c.cmd)}`);
        }
    }

    cmdState(c) {
        const m = this.machine(c.machine);
        if (m.kind === "packml") {
            this.setPackMLState(m, c.state);
            return { state: c.state };
        }
        const of = c.of || "item";
        const target = { item: m.itemState, mode: m.operationMode, program: m.programState, job: m.jobState }[of];
        if (!target) throw new Error(`"of" must be item, mode, program or job`);
        if (!target.getStateByName(c.state)) throw new Error(`no state ${c.state} in ${of}`);
        target.setState(c.state);
        if (of === "program" && c.name !== undefined) {
            m.program.getChildByName("Name").setValueFromSource({ dataType: DataType.String, value: c.name });
        }
        if (of === "item") {  // a rotating spindle and an active channel while executing, as a real machine
            const on = c.state === "Executing";
            m.spindle.getChildByName("IsRotating").setValueFromSource({ dataType: DataType.Boolean, value: on });
            m.channel.getChildByName("ChannelState").setValueFromSource({ dataType: DataType.Int32, value: on ? 0 : 1 });
        }
        return { state: c.state, of };
    }

    cmdParts(c) {
        const m = this.machine(c.machine);
        const good = Number(c.good || 0), bad = Number(c.bad || 0);
        if (!(Number.isInteger(good) && Number.isInteger(bad) && good >= 0 && bad >= 0)) {
            throw new Error("good and bad are counts (integers >= 0)");
        }
        if (m.kind === "packml") {
            const k = m.counts;
            k.processed += good + bad; k.processedAcc += good + bad;
            k.defective += bad; k.defectiveAcc += bad;
            this.writePackMLCounts(m);
            return { processed: k.processed, defective: k.defective, processed_acc: k.processedAcc,
                defective_acc: k.defectiveAcc };
        }
        m.good += good; m.bad += bad; m.lifetime = (m.lifetime || 0) + good + bad;
        this.setUInt32(m.counters.partsCompleted, m.good + m.bad);
        this.setUInt32(m.counters.partsGood, m.good);
        this.setUInt32(m.counters.completedPerRun, m.good + m.bad);
        this.setUInt32(m.counters.lifetime, m.lifetime);
        return { parts_completed: m.good + m.bad, parts_good: m.good, lifetime: m.lifetime };
    }

    cmdReset(c) {
        const m = this.machine(c.machine);
        if (m.kind === "packml") {  // Count restarts, AccCount carries on (as the spec's counters do)
            m.counts.processed = m.counts.defective = 0;
            this.writePackMLCounts(m);
        } else {  // a new job: its counters start again; the lifetime counter carries on
            this.resetMachineToolCounters(m);
            if (c.job) m.job.getChildByName("Identifier").setValueFromSource({ dataType: DataType.String, value: c.job });
        }
        return {};
    }

    variableByPath(p) {
        const v = this.variables[p];
        if (!v) throw new Error(`no variable ${JSON.stringify(p)}; variables: ${Object.keys(this.variables).join(", ")}`);
        return v;
    }

    cmdSet(c) {
        const v = this.variableByPath(c.path);
        const dt = v.dataTypeObj.basicDataType;
        const isArray = Array.isArray(c.value);
        const value = isArray ? (dt === DataType.Double ? new Float64Array(c.value) : c.value) : c.value;
        const status = c.status ? StatusCodes[c.status] : StatusCodes.Good;
        if (status === undefined) throw new Error(`unknown status ${c.status}`);
        v.setValueFromSource(new Variant({ dataType: dt, arrayType: isArray ? VariantArrayType.Array : VariantArrayType.Scalar,
            value }), status);
        return { value: c.value };
    }
}

async function main() {
    const opts = parseArgs(process.argv.slice(2));
    const pkiRoot = opts.pki || fs.mkdtempSync(path.join(os.tmpdir(), "node-opcua-pki-"));
    const certificateManager = new OPCUACertificateManager({ rootFolder: pkiRoot, automaticallyAcceptUnknownCertificate: true });
    const server = new OPCUAServer({
        port: opts.port, host: opts.host, hostname: opts.host,
        nodeset_filename: [nodesets.standard, nodesets.di, nodesets.ia, nodesets.machinery, nodesets.isa95JobControl,
            nodesets.machineryJobs, nodesets.machineTool,
            nodesets.packML, nodesets.robotics],
        serverCertificateManager: certificateManager,
        securityPolicies: opts.secure ? [SecurityPolicy.Basic256Sha256] : [SecurityPolicy.None, SecurityPolicy.Basic256Sha256],
        securityModes: opts.secure ? [MessageSecurityMode.SignAndEncrypt]
            : [MessageSecurityMode.None, MessageSecurityMode.SignAndEncrypt],
        allowAnonymous: true,
        serverInfo: { applicationUri: `urn:${os.hostname()}:factory-twin:interop:node-opcua`,
            productUri: "urn:factory-twin:interop:node-opcua", applicationName: { text: "interop node-opcua plant" } },
        buildInfo: { productName: "interop node-opcua plant", manufacturerName: "factory-twin tests" },
    });
    await server.initialize();
    const addressSpace = server.engine.addressSpace;
    addressSpace.registerNamespace(NS.plant);
    const plant = new Plant(addressSpace);
    plant.buildMachineTool("Mill 1", "Mill 1");
    plant.buildPackML("Filler 3", "Filler 3");
    plant.buildPlain();
    await server.start();

    const der = server.getCertificate();
    const endpoint = `opc.tcp://${opts.host}:${opts.port}`;
    say({
        event: "ready", endpoint, namespaces: addressSpace.getNamespaceArray().map((n) => n.namespaceUri),
        certificate_sha256: crypto.createHash("sha256").update(der).digest("hex"),
        security: server.endpoints.flatMap((e) => e.endpointDescriptions().map(
            (d) => `${d.securityPolicyUri.split("#")[1]}/${MessageSecurityMode[d.securityMode]}`)),
        pki: pkiRoot, node_opcua: require("node-opcua/package.json").version,
    });

    const stop = async (code) => {
        await server.shutdown(0);
        if (!opts.pki) fs.rmSync(pkiRoot, { recursive: true, force: true });
        process.exit(code);
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
            say({ ok: true, cmd: c.cmd, ...plant.command(c) });
        } catch (err) {
            say({ ok: false, cmd: c && c.cmd, error: String(err && err.message || err) });
        }
    });
    rl.on("close", () => stop(0));  // the test went away: do not linger
    process.on("SIGTERM", () => stop(0));
    process.on("SIGINT", () => stop(0));
}

main().catch((err) => {
    say({ event: "error", error: String(err && err.stack || err) });
    process.exit(1);
});
