"""The twin decides: when a station's wear shows or it fails often, simulate the options and propose the best.

Triggers: an RUL or anomaly alert rising on a station with a wear-out failure mode (`wear:` in its
`sim.failures`; the alert's kinds in `triggers`), or any station that failed `frequent_failures` times
within `frequent_window_h`. The twin then submits a decision job (a
planning job: the planner runs `planning.decide` in a worker process, never on the event loop),
started from the live line (`live_start`: buffers, repairs under way, time since the last failure, the
moment in the site's zone, where the line's shift calendar places it) with the RUL alert's estimate and
interval as the wear part's remaining life, and simulated on the plant model (or the calibrated one named in
`plant`, from `sim calibrate`).

The best option becomes a pending command request of the control allow-list, requested by the twin with
its evidence as the reason: maintenance is `maintenance_command` (its value the planned duration in
seconds), reduced speed `speed_command` (its value in percent). A maintenance planned later (the next
break, the shift end) waits, `scheduled`, and is requested when its time comes. An engineer approves
or rejects the request as any other (four eyes: the twin is its requester); the decision follows its
command to the end (executed, failed, rejected, expired), and running on records `no_action` with the
same evidence. One decision per station is open at a time; after one ends, `cooldown_h` passes before
the next.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from pydantic import BaseModel, ConfigDict, Field

from plantmodel.catalog import AssetRole
from plantmodel.plant import Line, PlantConfig
from plantmodel.scenario import DecisionSettings, LineStart, StationStart
from twin.commands import PENDING as COMMAND_PENDING
from twin.commands import CommandBook
from twin.db import TwinDatabase
from twin.downtime import StopLog
from twin.jobs import DONE, FAILED, JobRunner, JobStore
from twin.plan_request import live_start
from twin.state import PlantTwin

log = logging.getLogger(__name__)
REQUESTER = "twin"
OPEN = ("evaluating", "scheduled", "proposed")

SCHEMA = """
CREATE TABLE IF NOT EXISTS decisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    asset TEXT NOT NULL,
    trigger TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    state TEXT NOT NULL,
    job_id TEXT,
    best TEXT,
    act_at REAL,
    command_id INTEGER,
    result TEXT,
    outcome TEXT
);
CREATE INDEX IF NOT EXISTS decisions_asset ON decisions (asset, id);
"""
_COLUMNS = "id, asset, trigger, created, updated, state, job_id, best, act_at, command_id, result, outcome"


class DecisionsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    settings: DecisionSettings = DecisionSettings()
    triggers: list[str] = Field(["rul", "anomaly"], description="alert kinds that start a decision")
    frequent_failures: int | None = Field(6, ge=1, description="failures within frequent_window_h that start one")
    frequent_window_h: float = Field(8.0, gt=0)
    cooldown_h: float = Field(8.0, ge=0, description="after a decision ends, none for the same station for this long")
    maintenance_command: str = "stop_for_maintenance"
    speed_command: str = "reduce_speed"
    plant: Path | None = Field(None, description="a calibrated plant model to simulate (sim calibrate --out); "
                               "default: the twin's own")
    check_s: float = Field(5.0, gt=0, description="how often finished jobs, due proposals and outcomes are checked")


def _iso(t: float | None) -> str | None:
    return datetime.fromtimestamp(t, UTC).isoformat() if t is not None else None


class DecisionBook:
    """The decisions table; used from the event loop only."""

    def __init__(self, db: TwinDatabase) -> None:
        self.db = db
        db.script(SCHEMA)

    def add(self, asset: str, trigger: str, now: float) -> int:
        cur = self.db.execute("INSERT INTO decisions (asset, trigger, created, updated, state) VALUES (?, ?, ?, ?, ?)",
                              (asset, trigger, now, now, "evaluating"))
        return int(cur.lastrowid or 0)

    def update(self, decision_id: int, now: float, **fields: Any) -> None:
        for key in ("result", "outcome"):
            if key in fields and fields[key] is not None:
                fields[key] = orjson.dumps(fields[key]).decode()
        sets = ", ".join(f"{k} = ?" for k in fields)
        self.db.execute(f"UPDATE decisions SET {sets}, updated = ? WHERE id = ?", (*fields.values(), now, decision_id))

    def get(self, decision_id: int) -> dict[str, Any] | None:
        row = self.db.execute(f"SELECT {_COLUMNS} FROM decisions WHERE id = ?", (decision_id,)).fetchone()
        return _decision(row) if row else None

    def list(self, *, asset: str | None = None, state: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        sql, args = f"SELECT {_COLUMNS} FROM decisions WHERE 1=1", list[Any]()
        if asset:
            sql, args = sql + " AND asset = ?", [*args, asset]
        if state:
            sql, args = sql + " AND state = ?", [*args, state]
        rows = self.db.execute(sql + " ORDER BY id DESC LIMIT ?", (*args, limit)).fetchall()
        return [_decision(r) for r in rows]

    def open_for(self, asset: str) -> dict[str, Any] | None:
        rows = self.list(asset=asset, limit=1)
        return rows[0] if rows and rows[0]["state"] in OPEN else None

    def latest(self, asset: str) -> dict[str, Any] | None:
        rows = self.list(asset=asset, limit=1)
        return rows[0] if rows else None


def _decision(r: tuple[Any, ...]) -> dict[str, Any]:
    return {"id": r[0], "asset": r[1], "trigger": r[2], "created": _iso(r[3]), "updated": _iso(r[4]), "state": r[5],
            "job_id": r[6], "best": r[7], "act_at": _iso(r[8]), "command_id": r[9],
            "result": orjson.loads(r[10]) if r[10] else None, "outcome": orjson.loads(r[11]) if r[11] else None,
            "updated_s": r[4]}


def evidence(result: dict[str, Any]) -> str:
    """The proposal's reason: what was simulated and why this option, in one paragraph."""
    rows = {o["name"]: o for o in result["options"]}
    best, ref = rows[result["best"]], rows["run_on"]
    d, risk, ref_risk = best["vs_run_on"], best["unplanned_failure_risk"], ref["unplanned_failure_risk"]
    lead = best.get("vs_runner_up")
    text = (f"{best['label']}: {d['mean']:+.0f} good parts over {result['horizon_h']:g} h against running on "
            f"(95 % CI {d['ci95'][0]:+.0f} .. {d['ci95'][1]:+.0f}); unplanned failure risk {risk['p']:.0%} against "
            f"{ref_risk['p']:.0%} running on; {len(rows)} options x {result['replications']} replications from the "
            "live state")
    if lead is not None:
        text += f"; ahead of {best.get('runner_up')} by {lead['mean']:.0f} parts ({lead['ci95'][0]:.0f} .. " \
                f"{lead['ci95'][1]:.0f})"
    return text + ("" if result.get("resolved") else "; not resolved within the budget: the options are close")


class DecisionEngine:
    """Starts decision jobs on triggers and turns their results into proposals; `run` belongs to the lifespan."""

    def __init__(self, config: DecisionsConfig, plant: PlantConfig, sim_plant: PlantConfig, twin: PlantTwin,
                 stops: StopLog, jobs: tuple[JobStore, JobRunner], book: DecisionBook, commands: CommandBook,
                 control: Any, job_limits: dict[str, Any], clock: Callable[[], float] = time.time) -> None:
        self.config, self.plant, self.sim_plant, self.twin, self.stops = config, plant, sim_plant, twin, stops
        self.job_store, self.job_runner = jobs
        self.book, self.commands, self.control, self.job_limits, self.clock = book, commands, control, job_limits, clock
        self.stations = {a.path: (line, a) for line in plant.lines() for a in line.assets()
                         if a.role in (AssetRole.STATION, AssetRole.TRANSPORT)}
        self.zone = ZoneInfo(plant.sites[0].timezone)
        sim_assets = {a.path: a for a in sim_plant.assets()}
        self.wearing = {p for p in self.stations if p in sim_assets and any(
            m.wear for m in sim_assets[p].config.sim.failures)}
        self.alerts_seen: dict[str, dict[str, Any]] = {}
        self.loop: asyncio.AbstractEventLoop | None = None

    # --- triggers -------------------------------------------------------------------------------------
    def on_alert(self, alert: dict[str, Any]) -> None:
        """An alert listener: a rising RUL or anomaly alert on a station starts a decision."""
        if alert.get("kind") not in self.config.triggers or not alert.get("condition") or alert.get("closed"):
            return
        if alert["asset"] not in self.wearing:
            return  # maintenance renews a wear-out part: a station without one is decided on only if it fails often
        self.alerts_seen[alert["asset"]] = alert
        if self.loop is not None:
            self.loop.call_soon(self.consider, alert["asset"], str(alert["kind"]), alert)

    def frequent(self, now: float) -> list[str]:
        if self.config.frequent_failures is None:
            return []
        since_us = int((now - self.config.frequent_window_h * 3600) * 1e6)
        counts: dict[str, int] = {}
        for stop in self.stops.stops:
            if stop.kind == "failure" and stop.start >= since_us:
                counts[stop.asset] = counts.get(stop.asset, 0) + 1
        return [a for a, n in counts.items() if n >= self.config.frequent_failures and a in self.stations]

    def consider(self, asset: str, trigger: str, alert: dict[str, Any] | None = None) -> int | None:
        """Start a decision for `asset` unless one is open or ended within the cooldown; its id, or None."""
        now = self.clock()
        if self.book.open_for(asset) is not None:
            return None
        last = self.book.latest(asset)
        if last is not None and now - last["updated_s"] < self.config.cooldown_h * 3600:
            return None
        return self.start(asset, trigger, alert, now)

    def start(self, asset: str, trigger: str, alert: dict[str, Any] | None, now: float) -> int:
        line, station = self.stations[asset]
        sim_line = next((ln for ln in self.sim_plant.lines() if ln.path == line.path), line)
        start = self.live(line, station.id, alert, now)
        decision_id = self.book.add(asset, trigger, now)
        request: dict[str, Any] = {
            "kind": "decision", "plant": self.sim_plant.model_dump(mode="json", exclude_defaults=True),
            "line": sim_line.config.id, "asset": station.id, "start": start.model_dump(mode="json"),
            "settings": self.config.settings.model_dump(mode="json"), "seed": decision_id, "limits": self.job_limits}
        job_id = self.job_store.add(REQUESTER, line.path, {"decision": decision_id, "asset": asset},
                                    request["start"], request, now)
        self.job_runner.submit(job_id)
        self.book.update(decision_id, now, job_id=job_id)
        log.info("decision %s for %s (%s): evaluating in job %s", decision_id, asset, trigger, job_id)
        return decision_id

    def live(self, line: Line, station_id: str, alert: dict[str, Any] | None, now: float) -> LineStart:
        """The live line, the time of day, and the RUL alert's estimate as the wear part's remaining life."""
        moment = datetime.fromtimestamp(now, UTC)
        start = live_start(self.twin, self.stops, line, moment)
        stations = dict(start.stations)
        detail = (alert or {}).get("detail") or {}
        rul, low, high = detail.get("rul_s"), detail.get("low_s"), detail.get("high_s")
        if alert is not None and alert.get("kind") == "rul" and isinstance(rul, int | float) and rul > 0:
            cv = 0.3
            if isinstance(low, int | float) and isinstance(high, int | float) and high > low:
                cv = min(3.0, max(0.05, (high - low) / (2 * 1.96 * rul)))
            old = stations.get(station_id, StationStart())
            stations[station_id] = old.model_copy(update={"wear_remaining_s": float(rul), "wear_remaining_cv": cv})
        return start.model_copy(update={"stations": stations, "origin": moment.astimezone(self.zone)})

    # --- results and proposals -----------------------------------------------------------------------
    def check(self) -> None:
        """Finished jobs become proposals, due ones are requested, commands' ends become outcomes."""
        now = self.clock()
        for asset in self.frequent(now):
            self.consider(asset, "failures")
        for d in self.book.list(limit=200):
            if d["state"] == "evaluating" and d["job_id"]:
                self._finished(d, now)
            elif d["state"] == "scheduled" and d["act_at"] and datetime.fromisoformat(d["act_at"]).timestamp() <= now:
                self._propose(d, now)
            elif d["state"] == "proposed" and d["command_id"]:
                command = self.commands.get(d["command_id"])
                if command is not None and command["state"] != COMMAND_PENDING and command["state"] != "approved":
                    self.book.update(d["id"], now, state=command["state"],
                                     outcome={"command": command["state"], "by": command["decided_by"],
                                              "comment": command["comment"], "result": command["result"],
                                              "status": command["status"]})

    def _finished(self, d: dict[str, Any], now: float) -> None:
        job = self.job_store.get(d["job_id"])
        if job is None or job["state"] not in (DONE, FAILED, "cancelled"):
            return
        if job["state"] != DONE:
            self.book.update(d["id"], now, state="failed", outcome={"error": job["error"] or job["state"]})
            return
        result = job["result"]
        best = next(o for o in result["options"] if o["name"] == result["best"])
        fields: dict[str, Any] = {"result": result, "best": result["best"]}
        if result["best"] == "run_on":
            self.book.update(d["id"], now, state="no_action", outcome={"reason": evidence(result)}, **fields)
            return
        at = best.get("at_s")
        if at is not None and at > 60:
            self.book.update(d["id"], now, state="scheduled", act_at=now + at, **fields)
            return
        self.book.update(d["id"], now, **fields)
        self._propose(self.book.get(d["id"]) or d, now)

    def _propose(self, d: dict[str, Any], now: float) -> None:
        result = d["result"]
        best = next(o for o in result["options"] if o["name"] == result["best"])
        if best["speed"] != 1.0:
            name, value = self.config.speed_command, round(best["speed"] * 100, 1)
        else:
            name, value = self.config.maintenance_command, round(result["planned_repair_s"])
        spec = self.control.command(name) if self.control is not None else None
        if spec is None or not spec.allows(d["asset"]):
            self.book.update(d["id"], now, state="no_command", outcome={
                "reason": f"{name} is not in the control allow-list for {d['asset']}: nothing to propose",
                "evidence": evidence(result)})
            return
        value, problem = spec.check(value)
        if problem is not None:
            self.book.update(d["id"], now, state="no_command", outcome={"reason": problem})
            return
        reason = f"Twin decision {d['id']} ({d['trigger']}): {evidence(result)}"
        command_id = self.commands.request(d["asset"], name, value, reason[:2000], REQUESTER, now,
                                           self.control.request_ttl_s)
        self.book.update(d["id"], now, state="proposed", command_id=command_id)
        log.info("decision %s: proposed command %s (%s %s) on %s", d["id"], command_id, name, value, d["asset"])

    def reject(self, decision_id: int, who: str, comment: str) -> bool:
        """An engineer turns down a decision before its command is requested (evaluating or scheduled)."""
        d = self.book.get(decision_id)
        if d is None or d["state"] not in ("evaluating", "scheduled"):
            return False
        if d["state"] == "evaluating" and d["job_id"]:
            self.job_runner.cancel(d["job_id"])
        self.book.update(decision_id, self.clock(), state="rejected", outcome={"by": who, "comment": comment})
        self.commands.record(who, "decision_rejected", d["asset"], "decision", decision_id, comment)
        return True

    async def run(self, stop: asyncio.Event) -> None:
        self.loop = asyncio.get_running_loop()
        while not stop.is_set():
            try:
                self.check()
            except Exception:  # the decision loop must never take the service down
                log.exception("decision check failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.config.check_s)

