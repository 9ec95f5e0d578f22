"""The web UI in a real browser: Debian's Chromium driven by Playwright against a twin fed over MQTT.

Screenshots of every page go to the session's artifacts folder (`<pytest basetemp>/artifacts`); the README's
picture of the line view is one of them.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import math
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import httpx
import paho.mqtt.client as paho
import pytest
from support import API_KEYS, AUTH_CONFIG, AUTH_ENV, PROJECT, ServedApp, auth, free_port, wait_until

from historian.sqlite import SqliteHistorian
from plantmodel import mqtt, uns
from plantmodel.config import load_config, parse_config
from plantmodel.plant import PlantConfig
from plantmodel.shifts import ShiftCalendarConfig
from plantmodel.telemetry import Event, EventKind, Record, Sample
from simulators.live_line import LineModel
from simulators.opcua_server import PlantServer
from twin.config import TwinConfig
from twin.main import create_app

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the test extra")

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package; Playwright's own browser download is not used
ENTERPRISE = "uitest"  # its own namespace on the shared broker
LINE = f"{ENTERPRISE}/plant1/machining/line1"
CELLS = {"cnc-1": "turning", "buf-1": "turning", "cnc-2": "milling", "buf-2": "milling", "cnc-3": "milling",
         "cv-1": "transfer", "robot-1": "assembly", "buf-3": "assembly", "inspect-1": "quality", "buf-4": "quality",
         "agv-1": "logistics"}
STATIONS = ["cnc-1", "cnc-2", "cnc-3", "cv-1", "robot-1", "inspect-1"]
INSPECT = f"{LINE}/quality/inspect-1"
NOW = datetime.now(UTC).replace(microsecond=0)
PAST = NOW - timedelta(minutes=40)  # the history's story: cnc-2 down from PAST + 10 min to PAST + 25 min
YESTERDAY = NOW - timedelta(hours=26)  # cnc-1 alone has run since then: finished shifts of OEE to show
PLANT_TZ = ZoneInfo("Europe/Berlin")  # the demo plant's site; the browser runs in UTC (see the page fixture)
ENGINEER2_KEY = AUTH_ENV["FT_ENGINEER2_KEY"]
REASONS = {"E204": "tool breakage", "E101": "spindle overload"}
SIZES = {"desktop": (1920, 1080), "tablet": (1280, 800)}


def path(asset: str) -> str:
    return f"{LINE}/{CELLS[asset]}/{asset}"


def plant() -> PlantConfig:
    text = (PROJECT / "configs" / "demo-plant.yaml").read_text()
    return parse_config(text.replace("enterprise: acme", f"enterprise: {ENTERPRISE}"), PlantConfig)


def state(asset: str, to: str, ts: datetime) -> list[Record]:
    """What the simulator reports when a station changes state: the state signal and the event."""
    return [Sample(path(asset), "state", to, "", ts), Event(path(asset), EventKind.STATE_CHANGE, ts, {"to": to})]


def line_running(ts: datetime) -> list[Record]:
    records: list[Record] = []
    for asset in STATIONS:
        records += state(asset, "producing", ts)
        records.append(Sample(path(asset), "parts_good", 10, "parts", ts))
    for asset, capacity in (("buf-1", 8), ("buf-2", 6), ("buf-3", 4), ("buf-4", 12)):
        records += [Sample(path(asset), "capacity", capacity, "parts", ts),
                    Sample(path(asset), "level", 2, "parts", ts)]
    records += [Sample(path("cnc-2"), "spindle_speed", 11000.0, "rpm", ts), *state("agv-1", "producing", ts)]
    return records


def history_story() -> list[Record]:
    cnc1_before = [*state("cnc-1", "producing", YESTERDAY)] + [
        Event(path("cnc-1"), EventKind.PART, YESTERDAY + timedelta(hours=h),
              {"outcome": "good", "count": 70 + 5 * (h % 4)})
        for h in range(1, 26)]  # 70 to 85 parts an hour where the ideal cycle (36 s) allows 100
    inspected = [Event(INSPECT, EventKind.PART, PAST + timedelta(minutes=m), {"outcome": "good", "count": 4})
                 for m in range(5, 40, 5)]  # what leaves the line: its output
    return [*cnc1_before, *line_running(PAST), *inspected, *state("cnc-2", "down", PAST + timedelta(minutes=10)),
            Sample(path("cnc-2"), "spindle_speed", 0.0, "rpm", PAST + timedelta(minutes=10)),
            *state("cnc-2", "producing", PAST + timedelta(minutes=25))]


class CommandServer:
    """The simulator's OPC-UA server with the demo line's machines behind it, for commands the twin sends once
    approved (not paced: the machines only take commands)."""

    def __init__(self, model_plant: PlantConfig) -> None:
        line = model_plant.lines()[0]
        self.model = LineModel(line)
        self.endpoint = f"opc.tcp://127.0.0.1:{free_port()}/factory-twin/"
        self.server = PlantServer([a for a in line.assets() if a.config.sim.interface == "opcua"], self.endpoint,
                                  controls=self.model.controls())
        self.loop = asyncio.new_event_loop()
        self.started = threading.Event()
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self._run(),), daemon=True)

    async def _run(self) -> None:
        self.stop = asyncio.Event()
        await self.server.start(self.model.snapshot())
        self.started.set()
        try:
            await self.stop.wait()
        finally:
            await self.server.stop()

    def __enter__(self) -> CommandServer:
        self.thread.start()
        assert self.started.wait(15), "the simulator's OPC-UA server did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(15)
        self.loop.close()


@dataclass
class Twin:
    url: str
    api: httpx.Client
    publisher: paho.Client
    history: Path
    machines: CommandServer

    def publish(self, records: list[Record]) -> None:
        for r in records:
            topic, payload = uns.encode(r)
            self.publisher.publish(topic, payload, qos=1, retain=False).wait_for_publish(5)


@pytest.fixture(scope="module")
def twin(tmp_path_factory: pytest.TempPathFactory, mosquitto: mqtt.BrokerConfig) -> Iterator[Twin]:
    tmp = tmp_path_factory.mktemp("web-ui")
    history = SqliteHistorian(tmp / "history.db")
    history.write(history_story())
    history.close()
    machines = CommandServer(plant())
    keys = [*AUTH_CONFIG["api_keys"], {"name": "test-engineer-2", "role": "engineer", "key_env": "FT_ENGINEER2_KEY"}]
    config = TwinConfig.model_validate({
        "plant": "demo-plant.yaml", "broker": mosquitto.model_dump(), "auth": {"api_keys": keys},
        "database": str(tmp / "twin.db"), "history": str(tmp / "history.db"),
        "oee": {"reasons": REASONS},
        "spc": [{"asset": INSPECT, "signal": "measured_diameter", "target": 42.0, "sigma": 0.004,
                 "lsl": 41.985, "usl": 42.015}],
        "alerts": {"rules": [
            {"id": "anomaly", "type": "anomaly"}, {"id": "spc", "type": "spc"},
            {"id": "machine-alarm", "type": "machine_alarm", "priority": "high", "severities": {"E204": "critical"}},
            {"id": "oee-target", "type": "oee", "assets": [LINE], "target": 0.6, "min_elapsed_s": 3600}],
            "flood": {"window_s": 600, "max_notifications": 6}},
        "control": {"endpoint": machines.endpoint, "timeout_s": 5, "commands": [
            {"name": "reduce_speed", "assets": ["*/cnc-*"], "kind": "write", "browse_name": "speed_override",
             "value": "double", "min": 50, "max": 100, "description": "feed-rate override, percent"},
            {"name": "reset_alarm", "assets": ["*/cnc-*", "*/robot-*"], "kind": "method",
             "browse_name": "ResetAlarm"}]}})
    calendar = load_config(PROJECT / "configs" / "shifts-demo.yaml", ShiftCalendarConfig)
    publisher = mqtt.make_client(mosquitto, "web-ui-test-publisher")
    mqtt.start(publisher, mosquitto)
    planning = {}
    if "planner" in inspect.signature(create_app).parameters:  # planning jobs run in worker processes
        from planning.planner import plan_job

        planning["planner"] = plan_job
    with machines, ServedApp(create_app(config, plant(), calendar, **planning)) as served, \
            httpx.Client(base_url=served.url, headers=auth(), timeout=5) as api:
        wait_until(publisher.is_connected, 10, "the publisher to connect")
        wait_until(lambda: api.get("/api/health").json()["broker_connected"], 10, "the twin to connect")
        t = Twin(served.url, api, publisher, tmp / "history.db", machines)
        t.publish(line_running(datetime.now(UTC)))
        wait_until(lambda: all(a["state"] != "unknown" for a in api.get("/api/assets").json()), 10,
                   "every asset of the line to have a state")
        yield t
    mqtt.stop(publisher)


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.getbasetemp() / "artifacts"
    folder.mkdir(exist_ok=True)
    return folder


def chromium_browser() -> Iterator[Any]:
    """Debian's Chromium through Playwright's sync API. Its event loop runs in this thread while the browser is
    open, so a fixture of another module must close it with that module (no `asyncio.run` works meanwhile)."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: apt-get install chromium (scripts/test and .ci/run install it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM))
        yield b
        b.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    yield from chromium_browser()


@pytest.fixture()
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 900}, timezone_id="UTC")
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    yield pg
    context.close()
    assert not errors, f"the page raised: {errors}"


def recorded_state(history_file: Path, asset: str, at: datetime) -> str:
    """The state the historian holds for an asset at an instant: its last state sample before then."""
    history = SqliteHistorian(history_file, readonly=True)
    try:
        samples = history.samples(asset=path(asset), signal="state", end=at + timedelta(microseconds=1))
    finally:
        history.close()
    return str(max(samples, key=lambda s: s.ts).value)


def open_ui(page: Any, twin: Twin, view: str = "line", role: str = "engineer", key: str | None = None) -> float:
    """Signs in through the URL fragment, as the demo's printed link does; seconds until the line is drawn."""
    t0 = time.perf_counter()
    page.goto(f"{twin.url}/#key={key or API_KEYS[role]}")
    page.wait_for_selector("body[data-ready=line] .card[data-state]:not([data-state=unknown])")
    loaded = time.perf_counter() - t0
    if view != "line":
        go(page, view)
    return loaded


def go(page: Any, view: str) -> None:
    page.evaluate("document.body.removeAttribute('data-ready')")
    page.evaluate(f"location.hash = {json.dumps('#/' + view)}")
    page.wait_for_selector("body[data-ready]")


def card(page: Any, asset: str) -> Any:
    return page.locator(f'.card[data-asset="{path(asset)}"]')


def test_line_view_shows_every_station_and_a_failure(page: Any, twin: Twin, artifacts: Path) -> None:
    loaded = open_ui(page, twin)
    shown = page.eval_on_selector_all(".card[data-asset]", "cards => cards.map(c => c.dataset.asset)")
    assert shown == [path(a) for a in CELLS]  # every asset, in the line's flow order
    for station in STATIONS:
        assert card(page, station).get_attribute("data-state") == "producing"
    assert "2 / 8" in card(page, "buf-1").inner_text()  # a buffer's fill level
    colour_before = card(page, "cnc-2").evaluate("c => getComputedStyle(c).borderTopColor")
    page.screenshot(path=artifacts / "line-view.png", full_page=True)

    published = time.perf_counter()
    twin.publish(state("cnc-2", "down", datetime.now(UTC)))
    page.wait_for_selector(f'.card[data-asset="{path("cnc-2")}"][data-state=down]', timeout=10_000)
    latency = time.perf_counter() - published
    label = card(page, "cnc-2").locator("[data-role=state]").inner_text()
    assert "DOWN" in label  # said in words, not by colour alone
    assert card(page, "cnc-2").evaluate("c => getComputedStyle(c).borderTopColor") != colour_before
    assert card(page, "cnc-1").get_attribute("data-state") == "producing"
    page.screenshot(path=artifacts / "line-view-station-down.png", full_page=True)
    mode = page.get_attribute("#feed", "data-mode")
    (artifacts / "line-view-timings.json").write_text(json.dumps(
        {"page_load_s": round(loaded, 3), "update_latency_s": round(latency, 3), "feed": mode}))
    twin.publish(state("cnc-2", "producing", datetime.now(UTC)))


def test_every_page_renders_and_is_saved(page: Any, twin: Twin, artifacts: Path) -> None:
    open_ui(page, twin)
    for view, name in (("alerts", "alerts"), ("planning", "planning"), ("replay", "replay"),
                       (f"asset/{quote(path('cnc-2'), safe='')}", "asset")):
        go(page, view)
        assert page.get_attribute("body", "data-ready") == view.split("/")[0]
        assert page.locator("#view h1").count() >= 1
        assert not page.locator("#view .error").count(), page.locator("#view .error").all_inner_texts()
        page.screenshot(path=artifacts / f"{name}.png", full_page=True)
    assert "11000" in page.inner_text("#view")  # the asset view shows cnc-2's live spindle speed


CONTRAST = """els => els.map(e => {
    const rgb = c => c.match(/[\\d.]+/g).slice(0, 3).map(Number).map(v => v / 255)
        .map(v => v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
    const lum = c => { const [r, g, b] = rgb(c); return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
    let node = e, bg = "rgba(0, 0, 0, 0)";
    while (node && (bg === "rgba(0, 0, 0, 0)" || bg === "transparent")) {
        bg = getComputedStyle(node).backgroundColor; node = node.parentElement;
    }
    const [a, b] = [lum(getComputedStyle(e).color), lum(bg)].sort((x, y) => y - x);
    return [e.textContent.trim(), (a + 0.05) / (b + 0.05)];
})"""


def test_state_labels_meet_the_contrast_minimum(page: Any, twin: Twin) -> None:
    twin.publish(state("cnc-3", "down", datetime.now(UTC)) + state("robot-1", "starved", datetime.now(UTC)))
    open_ui(page, twin)
    page.wait_for_selector(f'.card[data-asset="{path("robot-1")}"][data-state=starved]')
    ratios = page.eval_on_selector_all(".card .state, .card .name, .card .since, header nav a, .card dd", CONTRAST)
    low = [(text, round(r, 2)) for text, r in ratios if r < 4.5]  # WCAG 2 AA for normal text
    assert ratios and not low, low
    twin.publish(state("cnc-3", "producing", datetime.now(UTC)) + state("robot-1", "producing", datetime.now(UTC)))


def test_keyboard_alone_reaches_an_asset(page: Any, twin: Twin) -> None:
    open_ui(page, twin)
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.dataset.asset") == path("cnc-1"):
            break
    else:
        pytest.fail("Tab never reached the first station")
    page.keyboard.press("Enter")
    page.wait_for_selector("body[data-ready=asset]")
    assert path("cnc-1") in page.inner_text("#view h1")


def test_a_wrong_key_gets_the_sign_in_form(page: Any, twin: Twin) -> None:
    page.goto(f"{twin.url}/#key=not-a-key")
    page.wait_for_selector("#login:not([hidden])")
    assert "not accepted" in page.inner_text("#login-error")
    page.fill("#key", API_KEYS["viewer"])
    page.click("#login button[type=submit]")
    page.wait_for_selector("body[data-ready=line]")
    assert "viewer" in page.inner_text("#who")


def test_acknowledging_an_alert_in_the_page_changes_it_in_the_api(page: Any, twin: Twin, artifacts: Path) -> None:
    ts = datetime.now(UTC)
    twin.publish([Sample(INSPECT, "measured_diameter", 42.0, "mm", ts),
                  Sample(INSPECT, "measured_diameter", 42.05, "mm", ts + timedelta(seconds=1))])  # out of control
    alert = wait_until(lambda: next((a for a in twin.api.get("/api/alerts").json()
                                     if a["asset"] == INSPECT and a.get("acknowledged") is False), None), 10,
                       "an unacknowledged SPC alert on the inspection station")
    open_ui(page, twin, "alerts")
    row = page.locator(f'tr[data-alert="{alert["id"]}"]')
    row.locator("input[name=comment]").fill("bore checked by hand")
    row.locator("button[data-action=ack]").click()
    row.locator("button[data-action=ack]").wait_for(state="detached")  # redrawn from the API: nothing to ack
    after = twin.api.get(f"/api/alerts/{alert['id']}").json()
    assert after["acknowledged"] is True
    assert focus_is_not_body(page)  # focus went to the alert's next action, or the message
    assert [(t["action"], t["who"], t["comment"]) for t in after["transitions"] if t["action"] == "ack"] == [
        ("ack", "test-engineer", "bore checked by hand")]
    page.select_option("#f-state", "")  # any state: an event alert seen to may be closed at once
    page.click(".filters button[type=submit]")
    shown = after["state"].replace("_", " ")
    page.wait_for_selector(f'tr[data-alert="{alert["id"]}"] [data-role=alert-state]:text-matches("{shown}")')
    page.screenshot(path=artifacts / "alerts-acknowledged.png", full_page=True)


def test_a_viewer_sees_alerts_but_no_actions(page: Any, twin: Twin) -> None:
    open_ui(page, twin, "alerts", role="viewer")
    assert "may look but not act" in page.inner_text("#view")
    assert page.locator("button[data-action]").count() == 0
    assert page.locator("#ack-selected, input[name=select]").count() == 0
    go(page, "downtime")  # stops and the Pareto, but no reason form
    assert "giving reasons needs an engineer" in page.inner_text("#view")
    assert page.locator("form.reason-form").count() == 0
    go(page, "commands")  # the requests, but neither a request form nor a decision
    assert page.locator("form.request, button[data-action=approve], button[data-action=reject]").count() == 0


def test_a_planning_study_runs_from_the_page_and_its_variants_are_compared(page: Any, twin: Twin,
                                                                           artifacts: Path) -> None:
    if "planner" not in inspect.signature(create_app).parameters:
        pytest.skip("this twin runs no planning jobs (create_app takes no planner)")
    open_ui(page, twin, "planning")
    page.fill("#p-hours", "4")
    page.fill("#p-reps", "2")
    # variants in a form, not JSON: keep the third example, edit its value, add a second change to it
    for _ in range(2):
        page.locator(".variant").first.locator("button[data-action=remove-variant]").click()
    variant = page.locator(".variant")
    assert variant.count() == 1
    assert variant.locator("[name=variant-name]").input_value() == "bigger buffer after turning"
    variant.locator("li.change [name=value]").fill("16")
    variant.locator("button[data-action=add-change]").click()
    change = variant.locator("li.change").nth(1)
    change.locator("[name=asset]").select_option("buf-2")
    change.locator("[name=field]").fill("capacity")
    change.locator("[name=value]").fill("10")
    page.click("form.plan button[type=submit]")
    job = page.locator("article.job").first
    job.wait_for()
    job_id = job.get_attribute("data-job")
    page.wait_for_selector(f'article.job[data-job="{job_id}"][data-state=done] svg.bars', timeout=120_000)
    record = twin.api.get(f"/api/jobs/{job_id}").json()
    assert record["scenario"]["variants"] == [
        {"name": "bigger buffer after turning", "set": {"buf-1.capacity": 16, "buf-2.capacity": 10}}]
    result = record["result"]
    names = [v["name"] for v in result["variants"]]
    assert names == ["baseline", "bigger buffer after turning"]
    article = page.locator(f'article.job[data-job="{job_id}"]')
    text = article.inner_text()
    assert all(n in text for n in names)
    assert article.locator("svg.bars").count() >= 2  # throughput and difference
    # a difference is drawn as a gain or a loss only when its 95 % interval is clear of zero
    for v in result["variants"]:
        if not v.get("delta_vs_baseline"):
            continue
        lo, hi = v["delta_vs_baseline"]["ci95"]
        expected = "gain" if lo > 0 else "loss" if hi < 0 else "unclear"
        bar = article.locator(f'svg[aria-label="difference to baseline"] g.bar[data-bar="{v["name"]}"]')
        assert expected in (bar.get_attribute("class") or ""), (v["name"], lo, hi)
        if expected == "unclear":
            assert "no clear difference" in (bar.text_content() or "")
        cell = article.locator(f'tr[data-variant="{v["name"]}"] td[data-role=delta]')
        assert expected in (cell.get_attribute("class") or "")
    page.screenshot(path=artifacts / "planning.png", full_page=True)


def test_replay_slider_shows_the_past_state_from_history(page: Any, twin: Twin, artifacts: Path) -> None:
    down_at = PAST + timedelta(minutes=15)
    open_ui(page, twin, f"replay/{down_at.isoformat()}")
    cnc2 = f'.card[data-asset="{path("cnc-2")}"]'
    page.wait_for_selector(f"{cnc2}[data-state=down]")  # opened at that instant: cnc-2 was down then
    assert card(page, "cnc-1").get_attribute("data-state") == "producing"
    page.screenshot(path=artifacts / "replay.png", full_page=True)
    # the story's half hour on the slider: at each stop every station shows what the historian holds then;
    # the range is typed in plant time (Europe/Berlin) while the browser runs in UTC
    page.fill("#r-from", f"{PAST.astimezone(PLANT_TZ):%Y-%m-%d %H:%M:%S}")
    page.fill("#r-to", f"{(PAST + timedelta(minutes=30)).astimezone(PLANT_TZ):%Y-%m-%d %H:%M:%S}")
    seen = set()
    for position in (0, 300, 500, 700, 1000):
        page.eval_on_selector("#r-slider", "(s, v) => { s.value = v; s.dispatchEvent(new Event('input')); }",
                              position)
        expected = PAST + timedelta(minutes=30) * position / 1000
        page.wait_for_function("want => document.querySelector('#view').dataset.replayAt === want",
                               arg=iso_ms(expected))
        at = datetime.fromisoformat(page.get_attribute("#view", "data-replay-at") or "")
        for station in STATIONS:
            shown = card(page, station).get_attribute("data-state")
            assert shown == recorded_state(twin.history, station, at), f"{station} at {at}"
        seen.add(card(page, "cnc-2").get_attribute("data-state"))
    assert seen == {"producing", "down"}  # the slider went through the failure and out of it


def test_replay_lists_the_alerts_open_at_the_instant(page: Any, twin: Twin) -> None:
    before = datetime.now(UTC)
    twin.publish([Sample(INSPECT, "measured_diameter", 42.0, "mm", before),
                  Sample(INSPECT, "measured_diameter", 41.95, "mm", before + timedelta(seconds=1))])
    wait_until(lambda: any(a["asset"] == INSPECT for a in twin.api.get("/api/alerts").json()), 10,
               "an SPC alert on the inspection station")
    later = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
    expected = {a["id"] for a in twin.api.get("/api/replay", params={"at": later.isoformat()}).json()["alerts"]}
    assert expected, "the twin's replay knows no alert open after the violation"
    open_ui(page, twin, f"replay/{later.isoformat()}")
    page.wait_for_function(f"document.querySelector('#view').dataset.replayAt === {json.dumps(iso_ms(later))}")
    shown = {int(i) for i in page.eval_on_selector_all(".replay-alerts li[data-alert]",
                                                        "items => items.map(i => i.dataset.alert)")}
    assert shown == expected
    # the slider's start, half an hour before: nothing was open
    page.eval_on_selector("#r-slider", "s => { s.value = 0; s.dispatchEvent(new Event('input')); }")
    page.wait_for_selector(".replay-alerts li.muted")  # "none"
    assert not page.locator(".replay-alerts li[data-alert]").count()


def iso_ms(t: datetime) -> str:
    """An instant as JavaScript's toISOString() writes it."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


PERCENT = r"(\d+(?:\.\d+)?) %"


def test_no_kpi_above_100_percent_is_shown_without_its_reason(page: Any, twin: Twin, artifacts: Path) -> None:
    import re

    # 400 good parts from cnc-3 (ideal cycle 30 s), producing for 40 min: performance far above 100 %
    twin.publish([Event(path("cnc-3"), EventKind.PART, datetime.now(UTC), {"outcome": "good", "count": 400})])
    wait_until(lambda: next(a for a in twin.api.get("/api/assets").json() if a["id"] == path("cnc-3"))["oee"]
               ["performance"] > 1, 10, "cnc-3's performance above 1")

    def shift_start() -> datetime:
        return datetime.fromisoformat(twin.api.get("/api/oee").json()["current"]["start"])
    started = shift_start()
    open_ui(page, twin)
    page.wait_for_selector(f'.card[data-asset="{path("cnc-3")}"] .impossible[data-flag=effectiveness_above_1] .why')
    for station in STATIONS:  # any figure above 100 % on a card carries its reason beside it
        text = card(page, station).locator(".parts").inner_text()
        if any(float(v) > 100 for v in re.findall(PERCENT, text)):
            assert "ideal cycle time" in text, (station, text)
    # the line's OEE counts only the planned time whose state is known, and says how much is not (unless the
    # shift began after the history's story did, which the wall clock decides: all of it is known then; a shift
    # that changed while the page was drawn leaves either one possible)
    unknown = started < PAST
    settled = shift_start() == started
    if unknown and settled:
        page.wait_for_selector(".line-status [data-role=unknown-time]")
        assert "unknown" in page.inner_text(".line-status [data-role=line-oee]")
    elif settled:
        assert page.locator(".line-status [data-role=unknown-time]").count() == 0
    page.screenshot(path=artifacts / "line-view-flags.png", full_page=True)

    go(page, f"asset/{quote(path('cnc-3'), safe='')}")
    page.wait_for_selector("#oee [data-kpi=performance] .why")
    notes = page.locator("#oee ul.flags li").evaluate_all("items => items.map(i => i.dataset.flag)")
    assert "effectiveness_above_1" in notes
    if settled and shift_start() == started:
        assert ("state_unknown_part_of_time" in notes) == unknown
    kpis = page.locator("#oee dl.kpis dd[data-kpi]").all_inner_texts()
    for text in kpis:
        if any(float(v) > 100 for v in re.findall(PERCENT, text)):
            assert "ideal cycle time" in text, text
    if settled and shift_start() == started:
        assert page.locator("#oee [data-role=unknown-time]").count() == int(unknown)
    page.screenshot(path=artifacts / "asset-flags.png", full_page=True)


# ---- the shift supervisor's screen ---------------------------------------------------------------------------

def alarm(asset: str, code: str, ts: datetime) -> list[Record]:
    """A machine's alarm code signal ('none' when it clears), as a controller reports it."""
    return [Sample(path(asset), "alarm_code", code, "", ts)]


def open_alert(twin: Twin, asset: str, rule: str = "machine-alarm") -> dict[str, Any]:
    return wait_until(lambda: next((a for a in twin.api.get("/api/alerts", params={"state": "open"}).json()
                                    if a["asset"] == path(asset) and a["rule"] == rule), None), 10,
                      f"an open {rule} alert on {asset}")


def plant_stamp(ts: str) -> str:
    """An instant as every screen writes it: plant time (Europe/Berlin), 24 h, ISO date."""
    return f"{datetime.fromisoformat(ts).astimezone(PLANT_TZ):%Y-%m-%d %H:%M:%S}"


def rgb(css: str) -> tuple[int, ...]:
    return tuple(int(float(v)) for v in css[css.index("(") + 1:css.index(")")].split(",")[:3])


def grey(css: str) -> bool:
    """Unsaturated: ISA-101's colour for what is normal."""
    r, g, b = rgb(css)
    return max(r, g, b) - min(r, g, b) <= 24


def focus_is_not_body(page: Any) -> bool:
    return bool(page.evaluate("document.activeElement && document.activeElement !== document.body"))


def shift_and_zone_now() -> tuple[str, str]:
    """The demo calendar's shift (configs/shifts-demo.yaml) and the plant's zone abbreviation, now."""
    now = datetime.now(PLANT_TZ)
    return "early" if 6 <= now.hour < 14 else "late" if 14 <= now.hour < 22 else "night", now.strftime("%Z")


def test_line_status_strip_says_oee_output_shift_and_what_is_down(page: Any, twin: Twin, artifacts: Path) -> None:
    shift_before = shift_and_zone_now()  # the strip shows the shift of an instant between this and the check
    ts = datetime.now(UTC)
    twin.publish(state("cnc-2", "down", ts) + alarm("cnc-2", "E204", ts))
    open_ui(page, twin)
    strip = page.locator(f'.line-status[data-line="{LINE}"]')
    strip.locator(f'[data-role=down] li[data-asset="{path("cnc-2")}"]').wait_for()
    page.wait_for_function("() => /tool breakage/.test(document.querySelector('.line-status [data-role=down]')"
                           ".innerText)")  # the stop's alarm code in words, once the stop list is read
    down = strip.locator("[data-role=down]").inner_text()
    assert "5-axis machining centre" in down and "E204: tool breakage" in down
    assert rgb(strip.locator("[data-role=down]").evaluate("e => getComputedStyle(e).borderTopColor"))[0] > 150
    # OEE over the time whose state is known, and the unknown time said as such
    oee = strip.locator("[data-role=line-oee]").inner_text()
    assert "%" in oee and "with known state" in oee
    # output against target: the line's oee rule asks 60 %
    target = twin.api.get("/api/oee").json()["lines"][0]["target"]
    output = strip.locator("[data-role=output]").inner_text()
    assert target["oee"] == 0.6 and "OEE 60 %" in output and " of " in output
    # the shift by name, its hours and the plant clock with its zone
    shift = strip.locator("[data-role=shift]").inner_text()
    assert any(name in shift and zone in shift for name, zone in (shift_before, shift_and_zone_now())), shift
    # alert badges by severity: the machine alarm E204 is critical (its rule says so)
    strip.locator("[data-role=alerts] .sev-critical").wait_for()
    card(page, "cnc-2").locator(".alerts .sev-critical").wait_for()
    # ISA-101: a running station and a normal tile in grey; the abnormal in colour
    running = card(page, "cnc-1").locator("[data-role=state]").evaluate("e => getComputedStyle(e).backgroundColor")
    broken = card(page, "cnc-2").locator("[data-role=state]").evaluate("e => getComputedStyle(e).backgroundColor")
    assert grey(running) and not grey(broken) and rgb(broken)[0] > 150
    assert grey(strip.locator("[data-role=shift]").evaluate("e => getComputedStyle(e).backgroundColor"))
    page.screenshot(path=artifacts / "line-status-down.png", full_page=True)
    later = datetime.now(UTC)
    twin.publish(state("cnc-2", "producing", later) + alarm("cnc-2", "none", later))
    page.wait_for_selector(".line-status [data-role=down]:has-text('nothing')")


def test_alerts_keep_their_order_and_say_what_codes_mean(page: Any, twin: Twin, artifacts: Path) -> None:
    t = datetime.now(UTC)
    twin.publish(alarm("cnc-1", "E101", t))
    older = open_alert(twin, "cnc-1")
    twin.publish(alarm("cnc-3", "F-GENERIC", t + timedelta(seconds=1)))
    newer = open_alert(twin, "cnc-3")
    open_ui(page, twin, "alerts")
    rows = page.locator(".alerts-table tbody tr[data-alert]")
    page.locator(f'tr[data-alert="{newer["id"]}"]').wait_for()
    before = rows.evaluate_all("rs => rs.map(r => r.dataset.alert)")
    assert before.index(str(newer["id"])) < before.index(str(older["id"]))  # newest first raised on top
    # the older alert clears and comes back: updated later than the newer one, yet its row stays where it was
    twin.publish(alarm("cnc-1", "none", t + timedelta(seconds=2)) + alarm("cnc-1", "E101", t + timedelta(seconds=3)))
    wait_until(lambda: twin.api.get(f"/api/alerts/{older['id']}").json()["occurrences"] >= 2, 10, "a second occurrence")
    row = page.locator(f'tr[data-alert="{older["id"]}"]')
    row.locator("[data-role=alert-state]:has-text('×2')").wait_for()
    assert rows.evaluate_all("rs => rs.map(r => r.dataset.alert)") == before
    again = twin.api.get(f"/api/alerts/{older['id']}").json()
    assert row.locator("[data-role=priority]").inner_text() == "high"
    assert row.locator("[data-role=raised]").inner_text().startswith(plant_stamp(again["raised_at"]))
    assert row.locator("[data-role=last]").inner_text() == plant_stamp(again["last_at"])
    assert plant_stamp(again["last_at"]) > plant_stamp(again["raised_at"])
    assert "so far" in row.locator("[data-role=duration]").inner_text()
    assert "E101" in row.locator("[data-role=text]").inner_text()
    assert "spindle overload" in row.locator("[data-role=text]").inner_text()  # the twin's configured reason
    generic = page.locator(f'tr[data-alert="{newer["id"]}"] [data-role=text]').inner_text()
    assert "F-GENERIC" in generic and "without a specific alarm code" in generic
    page.screenshot(path=artifacts / "alerts-stable-order.png", full_page=True)
    end = datetime.now(UTC)
    twin.publish(alarm("cnc-1", "none", end) + alarm("cnc-3", "none", end))


def test_the_alerts_view_shows_the_twins_flood_state(page: Any, twin: Twin, artifacts: Path) -> None:
    t = datetime.now(UTC)
    for i in range(4):  # machine alarms that come and go on three machines: more than 6 in 10 minutes
        for k, asset in enumerate(("robot-1", "cv-1", "inspect-1")):
            at = t + timedelta(seconds=2 * (3 * i + k))
            twin.publish(alarm(asset, "E550", at) + alarm(asset, "none", at + timedelta(seconds=1)))
    wait_until(lambda: twin.api.get("/api/alerts/summary").json()["flood"]["flooding"], 10, "an alert flood")
    open_ui(page, twin, "alerts")
    banner = page.locator("#flood[data-flooding=yes]")
    banner.wait_for()
    text = banner.inner_text()
    assert "Alert flood" in text and "critical ones still go out" in text
    assert rgb(banner.evaluate("e => getComputedStyle(e).backgroundColor")) != rgb("rgb(233, 235, 238)")
    page.screenshot(path=artifacts / "alerts-flood.png", full_page=True)


def test_acknowledge_the_selection_with_one_comment(page: Any, twin: Twin) -> None:
    t = datetime.now(UTC)
    twin.publish(alarm("cnc-1", "E204", t) + alarm("cnc-3", "E204", t))
    chosen = [open_alert(twin, "cnc-1"), open_alert(twin, "cnc-3")]
    wait_until(lambda: all(not twin.api.get(f"/api/alerts/{a['id']}").json()["acknowledged"] for a in chosen), 10,
               "both alerts unacknowledged")
    open_ui(page, twin, "alerts")
    for a in chosen:
        page.locator(f'tr[data-alert="{a["id"]}"] input[name=select]').check()
    assert page.inner_text("#ack-selected") == "Acknowledge selected (2)"
    page.fill("#bulk-comment", "seen at shift handover")
    page.click("#ack-selected")
    page.wait_for_selector("#alerts-msg:has-text('Acknowledged 2 of 2')")
    for a in chosen:
        after = twin.api.get(f"/api/alerts/{a['id']}").json()
        assert after["acknowledged"] is True
        assert [(x["who"], x["comment"]) for x in after["transitions"] if x["action"] == "ack"] == [
            ("test-engineer", "seen at shift handover")]
    assert focus_is_not_body(page)
    # select-all takes every alert that can be acknowledged, and only those
    page.check("#select-all")
    can = page.locator("tr[data-alert] input[name=select]").count()
    assert page.inner_text("#ack-selected") == f"Acknowledge selected ({can})"
    page.uncheck("#select-all")
    end = datetime.now(UTC)
    twin.publish(alarm("cnc-1", "none", end) + alarm("cnc-3", "none", end))


PANEL_GAPS = """ps => ps.map(p => [p.id || (p.querySelector("h2") || p).textContent.slice(0, 40),
    p.getBoundingClientRect().bottom - p.lastElementChild.getBoundingClientRect().bottom])"""
CHART_TEXT_PX = """texts => texts.map(t => [t.textContent,
    parseFloat(getComputedStyle(t).fontSize) * t.ownerSVGElement.getScreenCTM().a])"""


def test_charts_are_readable_and_read_out_and_zoom(page: Any, twin: Twin, artifacts: Path) -> None:
    base = datetime.now(UTC)
    twin.publish([Sample(INSPECT, "measured_diameter", v, "mm", base + timedelta(seconds=i))
                  for i, v in enumerate([42.002, 41.998, 42.004])])
    twin.publish(alarm("cnc-2", "E204", base + timedelta(seconds=3)))
    open_alert(twin, "cnc-2")
    open_ui(page, twin, f"asset/{quote(INSPECT, safe='')}")
    spc = page.locator("#spc")
    spc.locator("svg.chart").wait_for()
    # axis text at least 12 px on the screen, units on the axis, tick labels that differ (precision from the range)
    sizes = page.eval_on_selector_all("#view svg.chart text", CHART_TEXT_PX)
    assert sizes and all(px >= 12 for _, px in sizes), [s for s in sizes if s[1] < 12]
    ticks = spc.locator(".ytick").all_text_contents()
    assert len(ticks) == len(set(ticks)) >= 4, ticks
    decimals = {len(t.split(".")[-1]) if "." in t else 0 for t in ticks}
    step = round(float(ticks[1].replace("−", "-")) - float(ticks[0].replace("−", "-")), 9)
    assert decimals == {max(0, -math.floor(math.log10(step) + 1e-9))}, ticks  # as many as the step needs
    assert spc.locator(".unit").first.text_content() == "mm"
    assert any("USL 42.015 mm" == (t or "") for t in spc.locator(".hlabel").all_text_contents())
    assert "plant time" in (spc.locator(".unit").last.text_content() or "")
    # Cp and Cpk from three measurements come with a warning
    assert "at least 25" in spc.locator("[data-role=capability-warning]").inner_text()
    # hover: the value under the pointer, with its unit and plant time
    svg = spc.locator("svg.chart")
    svg.scroll_into_view_if_needed()
    box = svg.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.8, box["y"] + box["height"] / 2)
    readout = spc.locator(".readout")
    page.wait_for_function("() => / mm/.test(document.querySelector('#spc .readout').textContent)")
    import re
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d · 4[12]\.\d{3,4} mm", readout.inner_text()), readout.inner_text()
    # zoom by dragging across, reset; zoom by Ctrl + wheel, reset
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.3, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.6, y, steps=5)
    page.mouse.up()
    spc.locator("svg.chart[data-zoomed=yes]").wait_for()
    spc.locator("button[data-role=reset-zoom]").click()
    spc.locator("svg.chart[data-zoomed=no]").wait_for()
    # zoomed onto the newest measurements, all within the ±0.015 mm tolerance: three decimals, none alike
    page.mouse.move(box["x"] + box["width"] * 0.93, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] - 2, y, steps=5)
    page.mouse.up()
    spc.locator("svg.chart[data-zoomed=yes]").wait_for()
    ticks = spc.locator(".ytick").all_text_contents()
    assert len(ticks) == len(set(ticks)) >= 5 and all(len(t.split(".")[-1]) == 3 for t in ticks), ticks
    spc.locator("button[data-role=reset-zoom]").click()
    spc.locator("svg.chart[data-zoomed=no]").wait_for()
    page.mouse.move(box["x"] + box["width"] * 0.5, y)
    page.keyboard.down("Control")
    page.mouse.wheel(0, -300)
    page.keyboard.up("Control")
    spc.locator("svg.chart[data-zoomed=yes]").wait_for()
    assert spc.locator("button[data-role=reset-zoom]").is_enabled()
    page.screenshot(path=artifacts / "chart-spc-zoomed.png", full_page=True)
    spc.locator("button[data-role=reset-zoom]").click()
    # keyboard: arrows read the points out
    spc.locator("svg.chart").focus()
    page.keyboard.press("ArrowLeft")
    assert " mm" in readout.inner_text()

    go(page, f"asset/{quote(path('cnc-2'), safe='')}")
    marker = page.locator("#signals .marker .mlabel").first
    marker.wait_for()
    assert "tool breakage" in (marker.text_content() or "") or "E204" in (marker.text_content() or "")
    assert page.locator("#signals .unit").first.text_content() == "rpm"
    # the waterfall stands on a value axis in hours or minutes
    page.locator("#oee svg.waterfall").wait_for()
    assert page.locator("#oee svg.waterfall .ytick").count() >= 3
    assert page.locator("#oee svg.waterfall .unit").text_content() in ("h", "min")
    sizes = page.eval_on_selector_all("#view svg.chart text", CHART_TEXT_PX)
    assert all(px >= 12 for _, px in sizes), [s for s in sizes if s[1] < 12]
    # no half-empty panels: each shown panel ends where its content ends
    gaps = page.eval_on_selector_all("#view section.panel:not([hidden])", PANEL_GAPS)
    assert gaps and all(gap < 40 for _, gap in gaps), gaps
    page.screenshot(path=artifacts / "asset-markers.png", full_page=True)
    twin.publish(alarm("cnc-2", "none", datetime.now(UTC)))


DATE_LIKE = r"\b\d{1,4}[./-]\d{1,2}[./-]\d{1,4}\b"


def test_every_time_is_plant_time_in_one_format(page: Any, twin: Twin) -> None:
    import re

    open_ui(page, twin, "alerts")
    clock = page.inner_text("#plant-clock")
    assert "plant time" in clock and "Europe/Berlin" in clock and re.search(r"\b\d\d:\d\d:\d\d\b", clock)
    first = twin.api.get("/api/alerts", params={"state": "", "limit": 1}).json()
    if first:
        shown = page.locator(f'tr[data-alert="{first[0]["id"]}"] [data-role=raised]').inner_text()
        assert shown.startswith(plant_stamp(first[0]["raised_at"]))  # the browser is in UTC; the plant is not
    for view in ("line", "alerts", "downtime", "commands", "replay", f"asset/{quote(path('cnc-2'), safe='')}"):
        go(page, view)
        text = " ".join([page.inner_text("body"), *page.locator("svg text").all_text_contents(),
                         *page.eval_on_selector_all("input", "xs => xs.map(x => x.value)")])
        assert not re.search(r"\b(AM|PM|am|pm)\b", text), view
        dates = re.findall(DATE_LIKE, text)
        assert all(re.fullmatch(r"\d{4}-\d\d-\d\d", d) for d in dates), (view, dates)


def test_downtime_reasons_are_entered_and_counted_in_the_pareto(page: Any, twin: Twin, artifacts: Path) -> None:
    open_ui(page, twin, "downtime")
    page.select_option("#d-window", "all")
    page.click("form.filters button[type=submit]")
    stops = twin.api.get("/api/downtime", params={"asset": path("cnc-2")}).json()
    stop = next(s for s in stops if s["kind"] == "failure" and not s["qualified"] and not s["open"])  # the story's
    row = page.locator(f'tr[data-stop="{stop["id"]}"]')
    row.wait_for()
    assert "no reason yet" in row.locator("[data-role=reason]").inner_text()
    assert row.locator("td").nth(2).inner_text() == plant_stamp(stop["start"])
    row.locator("input[name=reason]").fill("spindle bearing replaced")
    row.locator("input[name=comment]").fill("per the maintenance log")
    row.locator("button[type=submit]").click()
    page.wait_for_selector("#downtime-msg:has-text('saved')")
    after = next(s for s in twin.api.get("/api/downtime", params={"asset": path("cnc-2")}).json()
                 if s["id"] == stop["id"])
    assert (after["reason"], after["by"], after["comment"]) == (
        "spindle bearing replaced", "test-engineer", "per the maintenance log")
    assert focus_is_not_body(page)
    page.select_option("#d-by", "reason")
    page.click("form.filters button[type=submit]")
    page.locator('#pareto g.col[data-col="spindle bearing replaced"]').wait_for()
    page.locator("#pareto polyline.cumulative").wait_for()
    bar = page.locator('#pareto g.col[data-col="spindle bearing replaced"] title').text_content() or ""
    assert bar.startswith(f"spindle bearing replaced: {stop['duration_s'] / 60:.1f} min"), bar
    assert page.locator(f'tr[data-stop="{stop["id"]}"] [data-role=reason]').inner_text().startswith(
        "spindle bearing replaced")
    page.screenshot(path=artifacts / "downtime.png", full_page=True)


def test_a_command_needs_a_second_engineer(browser: Any, page: Any, twin: Twin, artifacts: Path) -> None:
    open_ui(page, twin, "commands")
    form = page.locator("form.request")
    form.locator("[name=asset]").select_option(path("cnc-2"))
    form.locator("[name=command]").select_option("reduce_speed")
    form.locator("[name=value]").fill("80")
    form.locator("[name=reason]").fill("spindle running hot, slow it down until the coolant is checked")
    form.locator("button[type=submit]").click()
    page.wait_for_selector("[data-role=command-msg]:has-text('requested')")
    assert focus_is_not_body(page)
    command = twin.api.get("/api/commands", params={"state": "pending"}).json()[0]
    assert page.inner_text("#command-count") == "1"  # waiting for approval, in the header
    mine = page.locator(f'[data-role=pending-commands] tr[data-command="{command["id"]}"]')
    assert mine.get_attribute("data-own") == "yes"
    assert mine.locator("button[data-action=approve]").is_disabled()  # four eyes: not by the one who asked
    assert "another engineer must approve" in mine.inner_text()
    page.screenshot(path=artifacts / "commands-pending.png", full_page=True)

    other = browser.new_context(viewport={"width": 1400, "height": 900}, timezone_id="UTC")
    try:
        second = other.new_page()
        open_ui(second, twin, "commands", key=ENGINEER2_KEY)
        row = second.locator(f'[data-role=pending-commands] tr[data-command="{command["id"]}"]')
        assert row.get_attribute("data-own") == "no"
        row.locator("input[name=comment]").fill("agreed, checked with the operator")
        row.locator("button[data-action=approve]").click()
        second.locator(f'[data-role=done-commands] tr[data-command="{command["id"]}"]').wait_for(timeout=15_000)
        done = twin.api.get(f"/api/commands/{command['id']}").json()
        assert (done["state"], done["decided_by"]) == ("executed", "test-engineer-2"), done
        assert "executed" in second.locator(
            f'[data-role=done-commands] tr[data-command="{command["id"]}"]').inner_text()
        assert focus_is_not_body(second)
        second.locator("#command-count").wait_for(state="hidden")  # the header's count follows at once
        assert twin.machines.model.controls()[path("cnc-2")].speed_override == 80.0  # the machine obeyed
        second.screenshot(path=artifacts / "commands-approved.png", full_page=True)
    finally:
        other.close()


def test_oee_by_shift_on_the_asset_page(page: Any, twin: Twin, artifacts: Path) -> None:
    history = twin.api.get("/api/oee/history", params={"asset": path("cnc-1")}).json()
    assert len(history) >= 2, "the history's day of cnc-1 makes finished shifts"
    open_ui(page, twin, f"asset/{quote(path('cnc-1'), safe='')}")
    panel = page.locator("#oee-shifts")
    panel.locator("svg.columns").wait_for()
    assert panel.locator("h2").inner_text() == "OEE by shift"
    shown = panel.locator("tr[data-window]").evaluate_all("rs => rs.map(r => r.dataset.window)")
    assert {w["window"] for w in history[-11:]} <= set(shown)
    assert panel.locator("svg.columns g.col").count() == len(shown)
    assert panel.locator("svg.columns .unit").text_content() == "%"
    page.screenshot(path=artifacts / "asset-oee-by-shift.png", full_page=True)


def test_focus_goes_to_each_new_view_never_to_body(page: Any, twin: Twin) -> None:
    open_ui(page, twin)
    for view in ("alerts", "downtime", "commands", "replay", "planning", f"asset/{quote(path('cnc-2'), safe='')}",
                 "line"):
        go(page, view)
        assert page.evaluate("document.activeElement.tagName") == "H1", view
    page.keyboard.press("Tab")  # and the keyboard goes on from there into the view
    assert page.evaluate("document.getElementById('view').contains(document.activeElement)")


def test_strip_and_badges_meet_the_contrast_minimum(page: Any, twin: Twin) -> None:
    ts = datetime.now(UTC)
    twin.publish(state("cnc-3", "down", ts) + alarm("cnc-3", "E204", ts))
    open_ui(page, twin)
    page.wait_for_selector(".line-status [data-role=down] li")
    page.wait_for_selector(".line-status .sev-badge")
    ratios = page.eval_on_selector_all(".tile-label, .tile-value, .tile-sub, .down-list li, .sev-badge, "
                                       "#plant-clock time, #plant-clock .zone", CONTRAST)
    low = [(text, round(r, 2)) for text, r in ratios if r < 4.5]
    assert ratios and not low, low
    later = datetime.now(UTC)
    twin.publish(state("cnc-3", "producing", later) + alarm("cnc-3", "none", later))


PAGES = [("line", "line"), ("alerts", "alerts"), ("downtime", "downtime"), ("commands", "commands"),
         ("replay", "replay"), ("planning", "planning"),
         *((f"asset/{quote(path(a), safe='')}", f"asset-{a}") for a in ("cnc-1", "cnc-2", "inspect-1"))]


@pytest.mark.parametrize("size", list(SIZES))
def test_every_page_at_desktop_and_tablet_size(browser: Any, twin: Twin, artifacts: Path, size: str) -> None:
    width, height = SIZES[size]
    context = browser.new_context(viewport={"width": width, "height": height}, timezone_id="UTC")
    errors: list[str] = []
    try:
        pg = context.new_page()
        pg.on("pageerror", lambda exc: errors.append(str(exc)))
        open_ui(pg, twin)
        for view, name in PAGES:
            if view != "line":  # open_ui has drawn the line already
                go(pg, view)
            pg.wait_for_function("() => [...document.querySelectorAll('.chart-box')].every(b => b.firstChild)")
            assert not pg.locator("#view > .error").count(), pg.locator("#view .error").all_inner_texts()
            # nothing wider than the screen: no sideways scrolling on the tablet either
            assert pg.evaluate("document.documentElement.scrollWidth") <= width, (name, size)
            gaps = pg.eval_on_selector_all("#view section.panel:not([hidden])", PANEL_GAPS)
            assert all(gap < 40 for _, gap in gaps), (name, size, gaps)  # no panel stretched half empty
            pg.screenshot(path=artifacts / f"{name}-{size}.png", full_page=True)
        go(pg, "line")
        # the whole line, status strip included, fits on the screen without scrolling
        bottom = pg.eval_on_selector_all(".card[data-asset]",
                                         "cs => Math.max(...cs.map(c => c.getBoundingClientRect().bottom))")
        assert bottom <= height, (size, bottom)
    finally:
        context.close()
    assert not errors, errors
