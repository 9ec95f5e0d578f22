"""A real agent process: a dead sink never blocks the others, health shows it, and its backlog survives a
restart in the spool and drains once the sink is back."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson
from support import Child, agent_health, free_port, mqtt_agent_yaml, wait_until

from plantmodel import mqtt

N = 300


def agent_yaml(tmp: Path, broker: int, uns_port: int, health_port: int) -> Path:
    return mqtt_agent_yaml(tmp, "health-test", broker, health_port, {"pressure": "path: p, unit: bar"}, [
        f"{{type: historian, name: history, path: {tmp / 'data' / 'history.db'}}}",
        f"{{type: uns, name: uns, broker: {{port: {uns_port}}}, timeout_s: 1}}"], telemetry_s=1)


health = agent_health


def test_dead_sink_backlog_is_kept_across_a_restart_and_drains(tmp_path: Path, mosquitto: mqtt.BrokerConfig) -> None:
    hp = free_port()
    dead = free_port()  # nothing listens here: the UNS sink cannot connect
    cfg = agent_yaml(tmp_path, mosquitto.port, dead, hp)
    agent = Child("agent", ["edge", "run", str(cfg), "--log-level", "error"], tmp_path)
    try:
        wait_until(lambda: health(hp)["sources"]["gauges"]["connected"], 20, "the agent's MQTT source to connect")
        pub = mqtt.make_client(mosquitto, "health-test-pub")
        mqtt.start(pub, mosquitto)
        wait_until(pub.is_connected, 10, "the publisher to connect")
        t0 = datetime(2026, 6, 1, tzinfo=UTC)
        for i in range(N):
            ts = (t0 + timedelta(seconds=i)).isoformat()
            payload = orjson.dumps({"timestamp": ts, "p": float(i)})
            pub.publish("health-test/g1/data", payload, qos=1).wait_for_publish(5)
        pub.publish("health-test/g1/data", b"not json", qos=1).wait_for_publish(5)
        mqtt.stop(pub)

        snap = wait_until(lambda: (s := health(hp))["sinks"]["history"]["written"] >= N and s, 20,
                          "the historian sink to write everything while the UNS sink is dead")
        wait_until(lambda: health(hp)["sinks"]["uns"]["errors"] > 0, 20, "the dead sink's errors to be counted")
        snap = health(hp)
        assert snap["status"] == "degraded" and snap["sinks"]["history"]["spool_depth"] == 0
        assert snap["sinks"]["uns"]["spool_depth"] >= N and snap["sinks"]["uns"]["last_error"]
        assert snap["sinks"]["uns"]["oldest_unsent_age_s"] > 0
        assert snap["sources"]["gauges"]["rejected"] == {"malformed_json": 1}
        metrics = httpx.get(f"http://127.0.0.1:{hp}/metrics", timeout=2).text
        assert 'factory_twin_agent_sink_spool_depth_records{agent="health-test",sink="uns"}' in metrics
        status = subprocess.run([sys.executable, "-m", "factory_twin", "edge", "status", str(cfg)],
                                capture_output=True, text=True, timeout=30)
        assert status.returncode == 0 and "sink   uns" in status.stdout and "errors" in status.stdout
    finally:
        assert agent.stop() == 0, agent.stderr()[-3000:]

    # the UNS sink comes back (pointed at the real broker): the backlog drains from the spool
    received: list[str] = []
    sub = mqtt.make_client(mosquitto, "health-test-sub")
    sub.on_message = lambda c, u, m: received.append(m.topic)  # type: ignore[assignment]
    sub.on_connect = lambda c, u, f, rc, p=None: c.subscribe("health-test/#", qos=1)  # type: ignore[assignment]
    mqtt.start(sub, mosquitto)
    cfg = agent_yaml(tmp_path, mosquitto.port, mosquitto.port, hp)
    agent = Child("agent2", ["edge", "run", str(cfg), "--log-level", "error"], tmp_path)
    try:
        wait_until(lambda: health(hp)["sinks"]["uns"]["spool_depth"] == 0, 30, "the UNS backlog to drain")
        wait_until(lambda: sum(t.endswith("/pressure") for t in received) >= N, 20, f"{N} UNS messages")
        assert health(hp)["sinks"]["uns"]["dropped"] == 0
    finally:
        mqtt.stop(sub)
        assert agent.stop() == 0, agent.stderr()[-3000:]


def test_own_telemetry_is_stored_under_an_isa95_path(tmp_path: Path, mosquitto: mqtt.BrokerConfig) -> None:
    from historian import SqliteHistorian

    hp = free_port()
    cfg = agent_yaml(tmp_path, mosquitto.port, mosquitto.port, hp)
    agent = Child("agent", ["edge", "run", str(cfg), "--log-level", "error"], tmp_path)
    try:
        wait_until(lambda: health(hp)["sinks"]["history"]["written"] > 0, 20, "the agent's own metrics to be written")
    finally:
        assert agent.stop() == 0, agent.stderr()[-3000:]
    history = SqliteHistorian(tmp_path / "data" / "history.db", readonly=True)
    try:
        own = history.latest(asset="factory-twin/edge/agents/health-test/health/agent")
    finally:
        history.close()
    assert {"samples_in_per_s", "history.spool_depth", "gauges.connected"} <= {s.signal for s in own}
