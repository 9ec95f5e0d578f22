"""The twin decides: options simulated from the live state, the best proposed as a command, its outcome recorded."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from support import AUTH_CONFIG, PROJECT, ServedApp, auth, wait_until
from test_web_ui import artifacts, chromium_browser, page  # noqa: F401  (the web UI tests' page fixtures)

from planning.decide import evaluate, next_times
from planning.planner import plan_job
from plantmodel.config import parse_config
from plantmodel.plant import PlantConfig
from plantmodel.scenario import DecisionSettings, LineStart, StationStart
from plantmodel.shifts import REFERENCE_MONDAY, ShiftCalendarConfig
from simulators.flow.line import FlowLine
from twin.app_state import services_of
from twin.config import TwinConfig
from twin.main import create_app

ENTERPRISE = "dectest"
CNC2 = f"{ENTERPRISE}/plant1/machining/line1/milling/cnc-2"
FAST = DecisionSettings(horizon_h=6, batch=4, max_replications=8)
ENGINEER2 = {"Authorization": "Bearer test-engineer2-key-0123456789"}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """This module's own browser, closed with the module: Playwright's loop must not outlive these tests."""
    yield from chromium_browser()


def plant() -> PlantConfig:
    text = (PROJECT / "configs" / "demo-plant.yaml").read_text()
    return parse_config(text.replace("enterprise: acme", f"enterprise: {ENTERPRISE}"), PlantConfig)


def test_a_part_about_to_fail_is_maintained_and_a_new_one_runs_on() -> None:
    line = plant().lines()[0]
    failing = LineStart(stations={"cnc-2": StationStart(wear_remaining_s=900, wear_remaining_cv=0.1)})
    result = evaluate(line, failing, "cnc-2", FAST, seed=3)
    rows = {o["name"]: o for o in result["options"]}
    assert set(rows) == {"run_on", "maintain_now", "maintain_at_break", "maintain_at_shift_end", "reduced_speed"}
    assert result["best"] != "run_on" and rows["run_on"]["unplanned_failure_risk"]["p"] == 1.0
    assert rows["maintain_now"]["unplanned_failure_risk"]["p"] == 0.0
    assert rows["maintain_now"]["vs_run_on"]["ci95"][0] > 0  # a planned hour beats a two-hour failure
    fresh = LineStart(stations={"cnc-2": StationStart(wear_age_s=0)})
    result = evaluate(line, fresh, "cnc-2", FAST, seed=3)
    assert result["best"] == "run_on"
    assert {o["name"]: o for o in result["options"]}["maintain_now"]["vs_run_on"]["mean"] < 0


def test_options_are_placed_by_the_shift_calendar() -> None:
    cal = ShiftCalendarConfig.model_validate({"timezone": "Europe/Berlin", "shifts": [
        {"name": "early", "start": "06:00", "end": "14:00", "breaks": [{"start": "10:00", "end": "10:30"}]},
        {"name": "late", "start": "14:00", "end": "22:00", "breaks": [{"start": "18:00", "end": "18:30"}]}]})
    monday = REFERENCE_MONDAY
    assert next_times(cal, monday + timedelta(hours=9)) == (3600.0, 5 * 3600.0)
    assert next_times(cal, monday + timedelta(hours=15)) == (3 * 3600.0, 7 * 3600.0)
    # an instant with its own offset: 08:00 UTC is 09:00 in Berlin in winter
    assert next_times(cal, datetime(2026, 1, 5, 8, tzinfo=ZoneInfo("UTC"))) == (3600.0, 5 * 3600.0)
    # off shift on a Friday night, the next break and shift end are Saturday's (every day by default)
    assert next_times(cal, datetime(2026, 1, 9, 23)) == (11 * 3600.0, 15 * 3600.0)
    # no calendar: three shifts (06, 14, 22) with breaks at 02, 10 and 18 in the start's own time of day;
    # the night shift ends at 06
    assert next_times(None, monday + timedelta(hours=23)) == (3 * 3600.0, 7 * 3600.0)
    assert next_times(None, datetime(2026, 1, 5, 23, tzinfo=ZoneInfo("Europe/Berlin"))) == (3 * 3600.0, 7 * 3600.0)
    # a weekday shift around the clock ends on Saturday, not at each midnight
    weekdays = ShiftCalendarConfig.model_validate({"shifts": [{"name": "weekday", "start": "00:00", "end": "00:00",
                                                               "days": ["mon", "tue", "wed", "thu", "fri"]}]})
    assert next_times(weekdays, monday + timedelta(hours=30)) == (90 * 3600.0, 90 * 3600.0)


def test_a_run_started_inside_a_break_begins_stopped() -> None:
    text = (PROJECT / "configs" / "demo-plant.yaml").read_text().replace(
        "              seed: 42\n", "              seed: 42\n              calendar: {timezone: Europe/Berlin, "
        "shifts: [{name: all, start: '00:00', end: '00:00', breaks: [{start: '10:00', end: '11:00'}]}]}\n")
    line = parse_config(text, PlantConfig).lines()[0]
    berlin = ZoneInfo("Europe/Berlin")
    inside = FlowLine(line, 1, start=LineStart(origin=datetime(2026, 3, 10, 10, 30, tzinfo=berlin))).run(0.5, 0)
    outside = FlowLine(line, 1, start=LineStart(origin=datetime(2026, 3, 10, 8, tzinfo=berlin))).run(0.5, 0)
    assert inside["good"] == 0 and outside["good"] > 0
    # the same instant in UTC, and a saved request's older clock_s (seconds after a Monday 00:00), agree
    utc = FlowLine(line, 1, start=LineStart(origin=datetime(2026, 3, 10, 9, 30, tzinfo=ZoneInfo("UTC")))).run(0.5, 0)
    assert utc["good"] == 0
    saved = LineStart.model_validate({"clock_s": 10.5 * 3600})
    assert saved.origin == REFERENCE_MONDAY + timedelta(hours=10.5)
    assert FlowLine(line, 1, start=saved).run(0.5, 0)["good"] == 0


def app_for(tmp_path: Path, broker: Any) -> Any:
    keys = {"api_keys": [*AUTH_CONFIG["api_keys"],
                         {"name": "test-engineer-2", "role": "engineer", "key_env": "FT_ENGINEER2_KEY"}]}
    cfg = TwinConfig.model_validate({
        "plant": "demo-plant.yaml", "broker": broker.model_dump(), "database": str(tmp_path / "twin.db"),
        "auth": keys, "jobs": {"workers": 1},
        "control": {"endpoint": "opc.tcp://127.0.0.1:9/none/", "timeout_s": 1, "commands": [
            {"name": "reduce_speed", "assets": ["*/cnc-*"], "kind": "write", "browse_name": "speed_override",
             "value": "double", "min": 50, "max": 100},
            {"name": "stop_for_maintenance", "assets": ["*/cnc-*"], "kind": "method",
             "browse_name": "StopForMaintenance", "value": "double", "min": 60, "max": 28800}]},
        "decisions": {"settings": FAST.model_dump(), "check_s": 0.2, "frequent_failures": None}})
    return create_app(cfg, plant(), env={**os.environ, "FT_ENGINEER2_KEY": "test-engineer2-key-0123456789"},
                      planner=plan_job)


def test_the_twin_proposes_the_best_option_and_records_the_outcome(tmp_path: Path, mosquitto: Any) -> None:
    app = app_for(tmp_path, mosquitto)
    # the RUL alert the rule would raise on cnc-2: 15 minutes left, give or take five
    services_of(app).decisions.alerts_seen[CNC2] = {"kind": "rul", "asset": CNC2, "condition": True,
                                             "detail": {"rul_s": 900, "low_s": 600, "high_s": 1200}}
    with ServedApp(app) as served, httpx.Client(base_url=served.url, headers=auth()) as c:
        assert c.post("/api/decisions", json={"asset": CNC2}, headers=auth("viewer")).status_code == 403
        asked = c.post("/api/decisions", json={"asset": CNC2})
        assert asked.status_code == 202, asked.text
        did = asked.json()["id"]
        assert c.post("/api/decisions", json={"asset": CNC2}).status_code == 409  # one open per station
        d = wait_until(lambda: (x := c.get(f"/api/decisions/{did}").json())["state"] != "evaluating" and x, 60,
                       "the decision to be evaluated")
        assert d["result"]["start"]["stations"]["cnc-2"]["wear_remaining_s"] == 900
        assert d["best"] != "run_on" and len(d["result"]["options"]) == 5
        if d["state"] == "scheduled":  # maintenance at a break or shift end: turned down before it is requested
            rejected = c.post(f"/api/decisions/{did}/reject", json={"comment": "we stop tonight anyway"})
            assert rejected.status_code == 200 and rejected.json()["state"] == "rejected"
            return
        assert d["state"] == "proposed", d
        command = c.get(f"/api/commands/{d['command_id']}").json()
        assert command["requested_by"] == "twin" and command["state"] == "pending"
        assert f"Twin decision {did}" in command["reason"] and "good parts over 6 h" in command["reason"]
        # any engineer approves (the twin asked); no server answers, so the command fails: recorded as such
        done = c.post(f"/api/commands/{d['command_id']}/approve", json={"comment": "go"}, headers=ENGINEER2)
        assert done.status_code == 200 and done.json()["state"] == "failed"
        final = wait_until(lambda: (x := c.get(f"/api/decisions/{did}").json())["state"] == "failed" and x, 10,
                           "the decision to follow its command")
        assert final["outcome"]["command"] == "failed" and final["outcome"]["by"] == "test-engineer-2"
        listed = c.get("/api/decisions", params={"asset": CNC2}, headers=auth("viewer")).json()
        assert [x["id"] for x in listed] == [did]


def test_decisions_are_refused_when_not_configured(tmp_path: Path, mosquitto: Any) -> None:
    cfg = TwinConfig.model_validate({"plant": "demo-plant.yaml", "broker": mosquitto.model_dump(),
                                     "database": str(tmp_path / "twin.db"), "auth": AUTH_CONFIG})
    with ServedApp(create_app(cfg, plant())) as served, httpx.Client(base_url=served.url, headers=auth()) as c:
        assert c.get("/api/decisions").status_code == 404


@pytest.mark.parametrize("asset", ["nope", f"{ENTERPRISE}/plant1/machining/line1/milling/buf-2"])
def test_only_stations_are_decided_on(tmp_path: Path, mosquitto: Any, asset: str) -> None:
    with ServedApp(app_for(tmp_path, mosquitto)) as served, httpx.Client(base_url=served.url, headers=auth()) as c:
        assert c.post("/api/decisions", json={"asset": asset}).status_code == 422


def test_the_proposal_shows_on_the_asset_page_and_in_the_alerts_view(
        tmp_path: Path, mosquitto: Any, page: Any, artifacts: Path) -> None:  # noqa: F811
    from urllib.parse import quote

    from support import API_KEYS

    app = app_for(tmp_path, mosquitto)
    services_of(app).decisions.alerts_seen[CNC2] = {"kind": "rul", "asset": CNC2, "condition": True,
                                             "detail": {"rul_s": 900, "low_s": 600, "high_s": 1200}}
    with ServedApp(app) as served, httpx.Client(base_url=served.url, headers=auth()) as c:
        did = c.post("/api/decisions", json={"asset": CNC2}).json()["id"]
        wait_until(lambda: c.get(f"/api/decisions/{did}").json()["state"] in ("proposed", "scheduled"), 60,
                   "the proposal")
        page.goto(f"{served.url}/#key={API_KEYS['engineer']}")
        page.wait_for_selector("body[data-ready]")
        for view in (f"asset/{quote(CNC2, safe='')}", "alerts"):
            page.evaluate("document.body.removeAttribute('data-ready')")
            page.evaluate(f"location.hash = '#/{view}'")
            page.wait_for_selector(f"[data-decision='{did}'] svg.bars")
            assert page.locator(f"[data-decision='{did}'] .bars .bar").count() == 5  # the options on one chart
            assert page.locator(f"[data-decision='{did}'] .bars .best").count() == 1
            assert page.locator(f"[data-decision='{did}'] button[data-action=reject]").count() == 1
            page.screenshot(path=artifacts / f"decision-{view.split('/')[0]}.png", full_page=True)
