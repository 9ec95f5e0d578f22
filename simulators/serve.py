"""The simulated plant on the wire: line models behind an OPC-UA server and MQTT devices.

With a record file, every value the plant put on the wire is written there as JSON lines, the
ground truth against which the agent, the historian and the twin are checked; the faults injected into
the signals are written beside it (``<record>.labels.jsonl``), the ground truth for anomaly detection.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import orjson

from plantmodel import mqtt
from plantmodel.catalog import AssetRole
from plantmodel.clock import PlantClock, wall_us
from plantmodel.plant import PlantConfig
from plantmodel.telemetry import Sample, from_micros
from plantmodel.uns import format_ts
from simulators.devices import AgvFleet
from simulators.live_line import LineModel
from simulators.opcua_server import PlantServer
from simulators.realtime import run_paced

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)  # by name: a new option cannot shift the others
class SimulatorOptions:
    opcua_endpoint: str = "opc.tcp://127.0.0.1:4840/factory-twin/"
    broker: mqtt.BrokerConfig | None = None
    speed: float = 1.0  # plant seconds per wall second
    origin_us: int | None = None  # when plant time began (wall clock, µs); default: when the line starts running
    duration_s: float | None = None  # wall seconds
    record: Path | None = None
    start_on_subscribe_s: float = 0.0  # wait up to this long for a client to monitor every variable
    until_s: float | None = None  # or stop at this many plant seconds after the origin


class Recorder:
    """Appends produced samples as JSON lines; the file appears under its final name when complete."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.count = 0
        self._file: IO[bytes] | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._part = path.with_name(path.name + ".part")
            self._file = self._part.open("wb")

    def write(self, samples: list[Sample]) -> None:
        self.count += len(samples)
        if self._file is None:
            return
        for s in samples:
            self._file.write(orjson.dumps({"asset": s.asset, "signal": s.signal, "value": s.value,
                                           "unit": s.unit, "ts": format_ts(s.ts), "quality": str(s.quality)}))
            self._file.write(b"\n")
        self._file.flush()

    def close(self) -> None:
        if self._file is not None and self.path is not None:
            self._file.close()
            self._part.rename(self.path)
            self._file = None


def write_labels(models: list[LineModel], path: Path) -> int:
    """Every injected fault that began during the run (start, end on the samples' clock); returns how many."""
    count = 0
    with path.open("wb") as f:
        for model in models:
            for lab in model.labels:
                if lab.start_s > model.env.now:
                    break  # planned for later: it never showed
                f.write(orjson.dumps({"asset": lab.asset, "signal": lab.signal, "fault": lab.fault,
                                      "start": format_ts(from_micros(model.ts_of(lab.start_s))),
                                      "end": format_ts(from_micros(model.ts_of(lab.end_s))),
                                      "magnitude": lab.magnitude}) + b"\n")
                count += 1
    return count


async def serve(plant: PlantConfig, opts: SimulatorOptions, stop: asyncio.Event,
                ready: asyncio.Event | None = None) -> int:
    """Run until `stop` (or the duration) and return how many samples went on the wire.

    After a bounded run the servers stay up until `stop`, so clients can read the last values.
    """
    models = [LineModel(line) for line in plant.lines()]
    now_us = opts.origin_us if opts.origin_us is not None else wall_us()
    initial: list[Sample] = []
    for model in models:
        model.place(now_us)
        initial.extend(model.snapshot())
    assets = [a for line in plant.lines() for a in line.assets()]
    mqtt_assets = [a for a in assets if a.config.sim.interface == "mqtt"]
    if mqtt_assets and opts.broker is None:
        raise ValueError("assets publish over MQTT but no broker was given")
    if any(a.role is not AssetRole.TRANSPORT for a in mqtt_assets):
        raise ValueError("only AGVs can publish over MQTT in this simulator")
    controls = {path: c for model in models for path, c in model.controls().items()}
    server = PlantServer([a for a in assets if a.config.sim.interface == "opcua"], opts.opcua_endpoint,
                         controls=controls)
    recorder = Recorder(opts.record)
    recorder.write(await server.start(initial))
    fleet = AgvFleet(mqtt_assets, opts.broker, plant.enterprise) if mqtt_assets and opts.broker else None
    try:
        if fleet:
            await fleet.start()
        if ready:
            ready.set()
        if opts.start_on_subscribe_s and not await server.wait_for_subscribers(opts.start_on_subscribe_s):
            log.warning("no client subscribed to every variable within %.0f s; starting anyway",
                        opts.start_on_subscribe_s)

        async def publish(samples: list[Sample]) -> None:
            recorder.write(await server.publish(samples))
            if fleet:
                recorder.write(fleet.publish(samples))

        clock = PlantClock(opts.speed, opts.origin_us)  # without an origin, plant time begins now
        if opts.speed != 1:
            log.info("plant clock: %g plant seconds per wall second from %s (give the agent and the twin "
                     "FT_PLANT_SPEED=%g FT_PLANT_ORIGIN=%s)", opts.speed, format_ts(from_micros(clock.origin_us)),
                     opts.speed, format_ts(from_micros(clock.origin_us)))
        await run_paced(models, publish, stop, clock, duration_s=opts.duration_s, until_s=opts.until_s)
        if opts.record is not None:
            write_labels(models, opts.record.with_name(opts.record.name + ".labels.jsonl"))
        recorder.close()
        log.info("simulation finished: %d samples published", recorder.count)
        await stop.wait()
    finally:
        recorder.close()
        if fleet:
            fleet.stop()
        await server.stop()
    return recorder.count
