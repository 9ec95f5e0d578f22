"""A vendor's JSON over MQTT, published by mosquitto_pub, onboarded with a plant model and value maps only:
a status word becomes states, counters become parts, °F becomes °C; one bad field is refused alone."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from opcua_plant import until

from edge_agent.agent import Agent
from edge_agent.config import agent_config_model
from historian.sqlite import SqliteHistorian
from plantmodel import mqtt
from plantmodel.config import load_config
from plantmodel.telemetry import EventKind

PRESS = "acme/plant1/press-shop/line2/line-1/p1"
PLANT = """
enterprise: acme
sites:
  - id: plant1
    areas:
      - id: press-shop
        lines:
          - id: line2
            flow: [p1]
            cells:
              - id: line-1
                assets:
                  - {id: p1, type: press, ideal_cycle_time_s: 2}
"""


def agent_yaml(broker: mqtt.BrokerConfig) -> str:
    return f"""
name: presses-edge
data_dir: ./data
plant: plant.yaml
sources:
  - type: mqtt
    name: presses
    broker: {{host: {broker.host}, port: {broker.port}}}
    qos: 1
    subscriptions:
      - topic: vendor/{{machine}}/status
        asset: acme/plant1/press-shop/line2/line-1/{{machine}}
        timestamp: time
        fields:
          state: {{path: data.statusWord, type: integer, map: {{bits: {{2: down, 0: producing}}, default: idle}}}}
          parts_good: {{path: data.counters.ok, type: integer}}
          parts_scrap: {{path: data.counters.nok, type: integer}}
          oil_temperature: {{path: data.oilTempF, unit: degF, map: {{to_unit: degC}}}}
          alarm_code: {{path: data.alarm, type: text, map: {{max_length: 8}}}}
sinks:
  - {{type: historian, name: history, path: ./data/history.db}}
"""


def publish(broker: mqtt.BrokerConfig, body: dict[str, object]) -> None:
    exe = shutil.which("mosquitto_pub") or "/usr/bin/mosquitto_pub"
    subprocess.run([exe, "-h", broker.host, "-p", str(broker.port), "-q", "1", "-t", "vendor/p1/status",
                    "-m", orjson.dumps(body).decode()], check=True, timeout=30)


def test_vendor_json_with_a_status_word(mosquitto: mqtt.BrokerConfig, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    if shutil.which("mosquitto_pub") is None and not Path("/usr/bin/mosquitto_pub").exists():
        pytest.fail("mosquitto_pub is not installed (apt-get install -y mosquitto-clients)")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "plant.yaml").write_text(PLANT)
    (tmp_path / "agent.yaml").write_text(agent_yaml(mosquitto))
    agent = Agent(load_config(tmp_path / "agent.yaml", agent_config_model()))
    t0 = datetime.now(UTC).replace(microsecond=0)
    messages = [  # statusWord: bit 0 running, bit 2 fault
        (0b001, 100, 3, 122.0, "none"), (0b001, 104, 3, 131.0, "none"),
        (0b101, 106, 4, 140.0, "E17-HYDRAULIC-PRESSURE"), (0b000, 106, 4, 130.0, "none"),
        (0b001, 110, 5, "hot", "none"),
    ]

    async def scenario() -> None:
        stop, ready = asyncio.Event(), asyncio.Event()
        task = asyncio.create_task(agent.run(stop, ready))
        await asyncio.wait_for(ready.wait(), 30)
        for i, (word, ok, nok, oil, alarm) in enumerate(messages):
            body = {"time": (t0 + timedelta(seconds=i)).isoformat(), "data": {
                "statusWord": word, "counters": {"ok": ok, "nok": nok}, "oilTempF": oil, "alarm": alarm}}
            await asyncio.to_thread(publish, mosquitto, body)
        history = SqliteHistorian(tmp_path / "data" / "history.db")
        try:
            await until(lambda: len(history.samples(PRESS, "state")) == len(messages), 30, "every message stored")
        finally:
            history.close()
        stop.set()
        await asyncio.wait_for(task, 30)

    asyncio.run(asyncio.wait_for(scenario(), 90))
    history = SqliteHistorian(tmp_path / "data" / "history.db")
    try:
        states = [s.value for s in history.samples(PRESS, "state")]
        assert states == ["producing", "producing", "down", "idle", "producing"]
        changes = [(e.data["from"], e.data["to"]) for e in history.events(PRESS, EventKind.STATE_CHANGE)]
        assert changes == [(None, "producing"), ("producing", "down"), ("down", "idle"), ("idle", "producing")]
        parts: dict[str, int] = {}
        for e in history.events(PRESS, EventKind.PART):
            parts[e.data["outcome"]] = parts.get(e.data["outcome"], 0) + e.data["count"]
        assert parts == {"good": 10, "scrap": 2}  # counted from the first reading on
        oil = history.samples(PRESS, "oil_temperature")
        assert [round(s.value, 2) for s in oil] == [50.0, 55.0, 60.0, 54.44] and {s.unit for s in oil} == {"°C"}
        alarms = [s.value for s in history.samples(PRESS, "alarm_code")]
        assert alarms[2] == "E17-HYD…" and len(alarms) == len(messages)
    finally:
        history.close()
    # the one bad field ("hot" for a temperature) was refused alone, with its reason; the message's rest flowed
    assert agent.quarantine.counts == {("presses", "wrong_type"): 1}
