"""Hostile and broken MQTT input against a real agent process and Debian's mosquitto.

A poison payload (a NaN literal, integers beyond 64 bits, numbers beyond a float) is quarantined alone: the
good messages around it, from another device and in the same commit group, are all stored; QoS 1
acknowledgements keep flowing (mosquitto's in-flight window of 20 would otherwise fill); a restart with
poison queued in the persistent session changes nothing; and the health says what is wrong, not "ok".
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from support import Child, agent_health, free_port, mqtt_agent_yaml, wait_until

from edge_agent.spool import Spool
from historian import SqliteHistorian
from plantmodel import mqtt
from plantmodel.telemetry import Sample

T0 = datetime(2026, 6, 1, tzinfo=UTC)
ROOT = "hostile"
POISON = [  # what orjson refuses and the fallback parser used to pass on
    b'{"timestamp": "%s", "p": NaN, "c": 18446744073709551616}',
    b'{"timestamp": "%s", "p": 1e400, "c": -99999999999999999999999}',
    b'{"timestamp": "%s", "p": 1, "c": 1' + b"0" * 400 + b"}",
    b'{"timestamp": "%s", "p": Infinity, "c": 2}',
    b'{"timestamp": "%s", "p": [[[[[[]]]]]], "c": {"x": NaN}}',
]


def agent_yaml(tmp: Path, broker: int, health_port: int, extra_source: str = "", protocol: str = "3.1.1") -> Path:
    path = mqtt_agent_yaml(tmp, ROOT, broker, health_port, {"pressure": "path: p, unit: bar",
                                                            "count": "path: c, type: integer"},
                           [f"{{type: historian, name: history, path: {tmp / 'data' / 'history.db'}}}"],
                           protocol=protocol)
    if extra_source:
        path.write_text(path.read_text().replace("    clean_session: false\n",
                                                 f"    clean_session: false\n{extra_source}"))
    return path


def good(i: int) -> tuple[str, bytes, float]:
    ts = T0 + timedelta(seconds=i)
    return ts.isoformat(), orjson.dumps({"timestamp": ts.isoformat(), "p": float(i), "c": i}), float(i)


def stored(path: Path) -> set[tuple[str, str, datetime, Any]]:
    """What the historian holds for the good device, read back independently of the agent."""
    history = SqliteHistorian(path, readonly=True)
    try:
        return {(s.asset, s.signal, s.ts, s.value) for s in history.samples(f"{ROOT}/plant/area/line/cell/good")}
    finally:
        history.close()


def expected(indices: range) -> set[tuple[str, str, datetime, Any]]:
    asset = f"{ROOT}/plant/area/line/cell/good"
    return ({(asset, "pressure", T0 + timedelta(seconds=i), float(i)) for i in indices}
            | {(asset, "count", T0 + timedelta(seconds=i), float(i)) for i in indices})


def publish(broker: mqtt.BrokerConfig, messages: list[tuple[str, bytes]]) -> None:
    pub = mqtt.make_client(broker, mqtt.unique_client_id("hostile-pub"))
    mqtt.start(pub, broker)
    wait_until(pub.is_connected, 10, "the publisher to connect")
    try:
        infos = [pub.publish(topic, payload, qos=1) for topic, payload in messages]
        for info in infos:
            info.wait_for_publish(10)
    finally:
        mqtt.stop(pub)


def interleaved(indices: range) -> list[tuple[str, bytes]]:
    out = []
    for i in indices:
        ts, payload, _ = good(i)
        out.append((f"{ROOT}/good/data", payload))
        out.append((f"{ROOT}/bad/data", POISON[i % len(POISON)].replace(b"%s", ts.encode())))
    return out


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])  # paho in its thread; the MQTT 5 session on the loop
def test_poison_payloads_are_quarantined_alone_and_acks_keep_flowing(tmp_path: Path, mosquitto: mqtt.BrokerConfig,
                                                                     protocol: str) -> None:
    hp = free_port()
    cfg = agent_yaml(tmp_path, mosquitto.port, hp, protocol=protocol)
    history = tmp_path / "data" / "history.db"
    agent = Child("agent", ["edge", "run", str(cfg), "--log-level", "error"], tmp_path)
    try:
        wait_until(lambda: agent_health(hp)["sources"]["gauges"]["connected"], 20, "the agent to subscribe")
        publish(mosquitto, interleaved(range(0, 60)))  # three times mosquitto's in-flight window of 20
        wait_until(lambda: stored(history) >= expected(range(0, 60)), 30,
                   "every good message around the poison to be stored")
        snap = agent_health(hp)
        rejected = snap["sources"]["gauges"]["rejected"]
        assert rejected.get("not_finite", 0) >= 36 and rejected.get("wrong_type", 0) >= 24, rejected
        assert "internal_error" not in rejected, rejected  # each field judged, none crashed the decoder
        assert snap["status"] == "ok", snap["problems"]
        assert snap["spool"]["commit_error"] is None
    finally:
        assert agent.stop() == 0, agent.stderr()[-3000:]

    # poison queued in the persistent session while the agent is away: the restart takes it in like the rest
    publish(mosquitto, interleaved(range(60, 100)))
    agent = Child("agent2", ["edge", "run", str(cfg), "--log-level", "error"], tmp_path)
    try:
        wait_until(lambda: stored(history) >= expected(range(0, 100)), 30,
                   "the good messages queued beside the poison to be stored after a restart")
        publish(mosquitto, interleaved(range(100, 110)))  # and the session still flows afterwards
        wait_until(lambda: stored(history) >= expected(range(0, 110)), 20, "new messages after the poison")
        assert stored(history) == expected(range(0, 110))  # nothing forged or mangled from the poison
    finally:
        assert agent.stop() == 0, agent.stderr()[-3000:]


def test_a_commit_never_fails_for_one_records_content(tmp_path: Path) -> None:
    """A record the spool cannot encode goes to `refuse` alone; its group commits and its acks run."""
    refused: list[tuple[Sample, str]] = []
    acked: list[int] = []

    async def scenario() -> None:
        spool = Spool(tmp_path / "spool.db", ["history"], refuse=lambda r, why: refused.append((r, why)))
        ok = Sample("a/b/c/d/e/f", "pressure", 1.5, "bar", T0)
        poison = Sample("a/b/c/d/e/f", "count", 2**64, "", T0)
        spool.append([ok], committed=lambda: acked.append(1))
        spool.append([poison, ok], committed=lambda: acked.append(2))
        spool.append([poison], committed=lambda: acked.append(3))
        spool.flush()
        _, records = spool.read("history", 100)
        assert records == [ok, ok] and acked == [1, 2, 3]
        assert [r for r, _ in refused] == [poison, poison] and "64-bit" in refused[0][1]
        assert spool.stats.rejected == 2 and spool.commit_error is None
        spool.close()

    asyncio.run(scenario())


def test_the_agent_quarantines_what_the_spool_refuses(tmp_path: Path, mosquitto: mqtt.BrokerConfig) -> None:
    """Through the whole agent: a value beyond 64 bits from a mapping is refused at the agent's intake (the
    spool, its last line of defence, is tested directly above), counted and kept in the quarantine, and the
    good sample beside it is spooled and acknowledged."""
    from edge_agent.agent import Agent
    from edge_agent.config import agent_config_model
    from plantmodel.config import load_config

    cfg = load_config(agent_yaml(tmp_path, mosquitto.port, 0), agent_config_model())

    async def scenario() -> None:
        agent = Agent(cfg)
        acked: list[bool] = []
        agent.emit([Sample(f"{ROOT}/plant/area/line/cell/x", "count", 2**70, "", T0),
                    Sample(f"{ROOT}/plant/area/line/cell/x", "pressure", 3.0, "bar", T0)],
                   committed=lambda: acked.append(True))
        agent.spool.flush()
        assert acked == [True] and agent.spool.depth("history") == 1
        assert agent.quarantine.counts[("intake", "out_of_range")] == 1
        assert "count" in agent.quarantine.recent(1)[0].detail
        agent.spool.close()
        agent.quarantine.close()

    asyncio.run(scenario())


def test_a_silent_feed_degrades_the_health_and_is_reconnected(tmp_path: Path, mosquitto: mqtt.BrokerConfig) -> None:
    hp = free_port()
    cfg = agent_yaml(tmp_path, mosquitto.port, hp, extra_source="    silence_s: 2\n")
    agent = Child("agent", ["edge", "run", str(cfg), "--log-level", "error"], tmp_path)
    try:
        wait_until(lambda: agent_health(hp)["sources"]["gauges"]["connected"], 20, "the agent to subscribe")
        publish(mosquitto, [(f"{ROOT}/good/data", good(i)[1]) for i in range(3)])
        snap = wait_until(lambda: (s := agent_health(hp))["status"] == "degraded" and s, 15,
                          "the silence to show in the health")
        assert any("no message for" in p for p in snap["problems"]), snap["problems"]
        wait_until(lambda: agent_health(hp)["sources"]["gauges"]["silence_restarts"] >= 1, 15,
                   "the silent source to be reconnected")
        # a client under the agent's old fixed id cannot take the session over: the ids carry an instance id
        intruder = mqtt.make_client(mosquitto, f"{ROOT}-gauges", clean_session=True)
        mqtt.start(intruder, mosquitto)
        wait_until(intruder.is_connected, 10, "the intruder to connect")
        try:
            publish(mosquitto, [(f"{ROOT}/good/data", good(i)[1]) for i in range(3, 6)])
            wait_until(lambda: agent_health(hp)["status"] == "ok", 15, "a message to end the silence")
            wait_until(lambda: stored(tmp_path / "data" / "history.db") >= expected(range(0, 6)), 15,
                       "the messages after the silence")
        finally:
            mqtt.stop(intruder)
    finally:
        assert agent.stop() == 0, agent.stderr()[-3000:]


def test_samples_out_of_the_time_window_never_leave_the_agent(tmp_path: Path, mosquitto: mqtt.BrokerConfig) -> None:
    """A device stamping 2099 (a forged or jumped clock) or 1970 (epoch seconds read as milliseconds) is stopped
    at the agent's intake (plantmodel.validation, the rule the historian and the twin apply too): quarantined
    under its source's name with the field at fault, never spooled, so neither the historian nor the unified
    namespace sees it; the good device's values beside it all arrive."""
    hp = free_port()
    cfg = mqtt_agent_yaml(tmp_path, ROOT, mosquitto.port, hp, {"pressure": "path: p, unit: bar",
                                                               "count": "path: c, type: integer"},
                          [f"{{type: historian, name: history, path: {tmp_path / 'data' / 'history.db'}}}",
                           f"{{type: uns, name: uns, broker: {{port: {mosquitto.port}}}}}"])
    history = tmp_path / "data" / "history.db"
    forged = [b'{"timestamp": "2099-01-01T00:00:31Z", "p": 96.0, "c": 1}',
              b'{"timestamp": "1970-01-01T00:00:05Z", "p": 1.0, "c": 2}']
    messages = []
    for i in range(20):
        messages += [(f"{ROOT}/good/data", good(i)[1]), (f"{ROOT}/bad/data", forged[i % 2])]
    seen: list[str] = []
    watcher = mqtt.make_client(mosquitto, mqtt.unique_client_id("hostile-uns"))
    watcher.on_message = lambda _c, _u, m: seen.append(m.topic)
    mqtt.start(watcher, mosquitto)
    wait_until(watcher.is_connected, 10, "the namespace watcher to connect")
    watcher.subscribe(f"{ROOT}/plant/area/line/cell/#", qos=1)
    agent = Child("agent", ["edge", "run", str(cfg), "--log-level", "error"], tmp_path)
    try:
        wait_until(lambda: agent_health(hp)["sources"]["gauges"]["connected"], 20, "the agent to subscribe")
        publish(mosquitto, messages)
        wait_until(lambda: stored(history) >= expected(range(20)), 30, "the good device's values to be stored")
        wait_until(lambda: len([t for t in seen if "/good/" in t]) >= 40, 20, "the good values in the namespace")
        snap = agent_health(hp)
        assert snap["sources"]["gauges"]["rejected"].get("bad_timestamp") == 40, snap["sources"]["gauges"]
        assert snap["sinks"]["history"]["errors"] == 0
    finally:
        assert agent.stop() == 0, agent.stderr()[-3000:]
        mqtt.stop(watcher)
    assert stored(history) == expected(range(20))
    assert not [t for t in seen if "/bad/" in t], "a refused value reached the unified namespace"
    from edge_agent.quarantine import Quarantine
    kept = Quarantine(tmp_path / "data" / "quarantine.db").recent(100)
    assert {(r.source, r.reason, r.field) for r in kept} == {("gauges", "bad_timestamp", "ts")}
    assert any("ahead of the plant clock" in r.detail for r in kept) and any("before 2000" in r.detail for r in kept)
