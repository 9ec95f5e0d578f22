"""`factory-twin sim signals`: a labelled data set from the simulator, for scoring detectors and RUL models.

The data are what the live simulator puts on the wire (simulators.live_line, the one signal model), run as fast
as possible. Writes into one directory:
- ``samples.csv``   ts, asset, signal, value: every value the machines publish (states, counters and alarm
                    codes when they change, physical signals every period, per-part values on each part)
- ``events.jsonl``  every state change (with its reason), part and alarm, as plantmodel Events
- ``labels.jsonl``  ground truth of injected faults: asset, signal, fault, start, end, magnitude
- ``rul.csv``       ts, asset, component, rul_operating_s: the remaining life of wearing components
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

import orjson

from plantmodel.plant import Line
from plantmodel.telemetry import from_micros
from plantmodel.uns import format_ts
from simulators.live_line import LineModel


def write_dataset(line: Line, hours: float, seed: int, period_s: float, out: Path,
                  start_us: int | None = None) -> dict[str, int]:
    start_us = time.time_ns() // 1000 // 1_000_000 * 1_000_000 if start_us is None else start_us
    model = LineModel(line, seed, signal_period_s=period_s, record_events=True, record_rul=True, start_us=start_us)
    model.snapshot()
    out.mkdir(parents=True, exist_ok=True)
    horizon_s = hours * 3600.0
    rows = 0
    with (out / "samples.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["ts", "asset", "signal", "value"])
        step = 3600.0  # an hour at a time: memory stays flat however long the run
        t = 0.0
        while t < horizon_s:
            t = min(t + step, horizon_s)
            model.run_until(t)
            batch = model.drain()
            w.writerows((format_ts(s.ts), s.asset, s.signal, s.value) for s in batch)
            rows += len(batch)
    events = model.flow.events or []
    with (out / "events.jsonl").open("wb") as fe:
        for e in events:
            fe.write(orjson.dumps({"ts": format_ts(e.ts), "asset": e.asset, "kind": str(e.kind), **e.data}) + b"\n")

    def iso(t_s: float) -> str:
        return format_ts(from_micros(start_us + round(t_s * 1_000_000)))

    labels = [lab for lab in model.labels if lab.start_s < horizon_s]
    with (out / "labels.jsonl").open("wb") as fl:
        for lab in labels:
            fl.write(orjson.dumps({"asset": lab.asset, "signal": lab.signal, "fault": lab.fault,
                                   "start": iso(lab.start_s), "end": iso(lab.end_s), "magnitude": lab.magnitude}))
            fl.write(b"\n")
    rul = model.rul or []
    with (out / "rul.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["ts", "asset", "component", "rul_operating_s"])
        w.writerows((iso(r.t_s), r.asset, r.component, round(r.rul_operating_s, 1)) for r in rul)
    return {"samples": rows, "events": len(events), "labels": len(labels), "rul": len(rul)}
