"""The web UI in a real browser: Debian's Chromium driven by Playwright against a twin fed over MQTT.

Screenshots of every page go to the session's artifacts folder (`<pytest basetemp>/artifacts`); the README's
picture of the line view is one of them.
"""

from __future__ import annotations

import asyncio
import inspect
import json
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
from simulators.line import LineModel
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
        Event(path("cnc-1"), EventKind.PART, YESTERDAY + timedelta(hours=h), {"outcome": "good", "count": 60 + 10 * h})
        for h in range(1, 26)]
    return [*cnc1_before, *line_running(PAST), *state("cnc-2", "down", PAST + timedelta(minutes=10)),
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
        from factory_twin.planning import plan_job

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


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: apt-get install chromium (scripts/test and .ci/run install it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM))
        yield b
        b.close()


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
    page.fill("#r-from", f"{PAST.astimezone(PLANT_TZ):%Y-%m-%dT%H:%M:%S}")
    page.fill("#r-to", f"{(PAST + timedelta(minutes=30)).astimezone(PLANT_TZ):%Y-%m-%dT%H:%M:%S}")
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
    open_ui(page, twin)
    page.wait_for_selector(f'.card[data-asset="{path("cnc-3")}"] .impossible[data-flag=effectiveness_above_1] .why')
    for station in STATIONS:  # any figure above 100 % on a card carries its reason beside it
        text = card(page, station).locator(".parts").inner_text()
        if any(float(v) > 100 for v in re.findall(PERCENT, text)):
            assert "ideal cycle time" in text, (station, text)
    # the line's OEE counts only the planned time whose state is known, and says how much is not
    page.wait_for_selector(".line-status [data-role=unknown-time]")
    assert "unknown" in page.inner_text(".line-status [data-role=line-oee]")
    page.screenshot(path=artifacts / "line-view-flags.png", full_page=True)

    go(page, f"asset/{quote(path('cnc-3'), safe='')}")
    page.wait_for_selector("#oee [data-kpi=performance] .why")
    notes = page.locator("#oee ul.flags li").evaluate_all("items => items.map(i => i.dataset.flag)")
    assert "effectiveness_above_1" in notes and "state_unknown_part_of_time" in notes
    kpis = page.locator("#oee dl.kpis dd[data-kpi]").all_inner_texts()
    for text in kpis:
        if any(float(v) > 100 for v in re.findall(PERCENT, text)):
            assert "ideal cycle time" in text, text
    assert page.locator("#oee [data-role=unknown-time]").count() == 1
    page.screenshot(path=artifacts / "asset-flags.png", full_page=True)
