"""`factory-twin sim signals`: a labelled data set from the planning model, for scoring detectors and RUL models.

Writes into one directory:
- ``samples.csv``   ts, asset, signal, value (every station's signals each period; alarm codes on failures)
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
from plantmodel.telemetry import EventKind, from_micros
from plantmodel.uns import format_ts
from simulators.flow.line import FlowLine


def write_dataset(line: Line, hours: float, seed: int, period_s: float, out: Path,
                  start_us: int | None = None) -> dict[str, int]:
    start_us = time.time_ns() // 1000 // 1_000_000 * 1_000_000 if start_us is None else start_us
    model = FlowLine(line, seed, record_events=True, start_us=start_us, signal_period_s=period_s)
    model.run(hours, warmup_h=0)
    sensors = model.sensors
    assert sensors is not None and model.events is not None
    out.mkdir(parents=True, exist_ok=True)

    def iso(t_s: float) -> str:
        return format_ts(from_micros(start_us + round(t_s * 1_000_000)))

    rows = [(s.ts, s.asset, s.signal, s.value) for s in sensors.samples]
    rows += [(e.ts, e.asset, "alarm_code", e.data["alarm_code"] if e.data["active"] else "none")
             for e in model.events if e.kind is EventKind.ALARM]
    rows.sort(key=lambda r: (r[0], r[1], r[2]))
    with (out / "samples.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["ts", "asset", "signal", "value"])
        w.writerows((format_ts(ts), a, s, v) for ts, a, s, v in rows)
    with (out / "events.jsonl").open("wb") as f:
        for e in model.events:
            f.write(orjson.dumps({"ts": format_ts(e.ts), "asset": e.asset, "kind": str(e.kind), **e.data}) + b"\n")
    with (out / "labels.jsonl").open("wb") as f:
        for lab in sensors.labels:
            f.write(orjson.dumps({"asset": lab.asset, "signal": lab.signal, "fault": lab.fault,
                                  "start": iso(lab.start_s), "end": iso(lab.end_s), "magnitude": lab.magnitude}))
            f.write(b"\n")
    with (out / "rul.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["ts", "asset", "component", "rul_operating_s"])
        w.writerows((iso(r.t_s), r.asset, r.component, round(r.rul_operating_s, 1)) for r in sensors.rul)
    return {"samples": len(rows), "events": len(model.events), "labels": len(sensors.labels), "rul": len(sensors.rul)}
