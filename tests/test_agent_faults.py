"""Fault tests on a real agent process under load, each bounded in time: what was produced is stored, once."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import orjson
from support import Child, VictoriaMetrics, agent_health, free_port, mqtt_agent_yaml, wait_until

from plantmodel import mqtt

FIELDS = ("p", "t", "f", "v", "i")
RATE = 200  # messages per second, each with len(FIELDS) samples


def agent_yaml(tmp: Path, broker: int, sinks: list[str], health_port: int, spool: str = "") -> Path:
    return mqtt_agent_yaml(tmp, "faulttest", broker, health_port, {f: f"path: {f}" for f in FIELDS}, sinks,
                           timestamp="ts", extra=spool)


health = agent_health


class Publisher(threading.Thread):
    """A steady load: `n` messages at RATE per second, each value distinct, timestamps 1 ms apart."""

    def __init__(self, broker: mqtt.BrokerConfig, n: int) -> None:
        super().__init__(daemon=True)
        self.broker, self.n, self.sent = broker, n, 0
        self.t0 = int(time.time() * 1000) - 10 * n  # in the recent past, 10 ms apart

    def run(self) -> None:
        client = mqtt.make_client(self.broker, "fault-test-pub")
        mqtt.start(client, self.broker)
        wait_until(client.is_connected, 10, "the publisher to connect")
        start = time.monotonic()
        for i in range(self.n):
            msg = {"ts": self.t0 + 10 * i} | {f: float(i * 10 + k) for k, f in enumerate(FIELDS)}
            client.publish("faulttest/g1/data", orjson.dumps(msg), qos=1).wait_for_publish(10)
            self.sent = i + 1
            ahead = start + (i + 1) / RATE - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)  # pacing the load, not synchronisation
        mqtt.stop(client)


def test_tsdb_down_for_30_s_under_load_loses_and_duplicates_nothing(tmp_path: Path,
                                                                     mosquitto: mqtt.BrokerConfig) -> None:
    vm = VictoriaMetrics(tmp_path).start()
    hp = free_port()
    sinks = [f"{{type: historian, name: tsdb, influxdb: {{url: '{vm.url}', database: factory, bucket: factory, "
             "timeout_s: 2}}"]
    agent = Child("agent", ["edge", "run", str(agent_yaml(tmp_path, mosquitto.port, sinks, hp)),
                            "--log-level", "error"], tmp_path)
    n = RATE * 45
    pub = Publisher(mosquitto, n)
    try:
        wait_until(lambda: health(hp)["sources"]["gauges"]["connected"], 20, "the agent to subscribe")
        pub.start()
        wait_until(lambda: pub.sent >= RATE * 5, 30, "5 s of load before the outage")
        vm.stop()
        outage = time.monotonic()
        wait_until(lambda: health(hp)["sinks"]["tsdb"]["failing"], 20, "the agent to notice the TSDB is down")
        wait_until(lambda: time.monotonic() - outage >= 30, 40, "30 s of outage", interval=0.5)
        during = health(hp)["sinks"]["tsdb"]
        assert during["spool_depth"] > RATE * len(FIELDS) * 20  # held in the spool meanwhile
        vm.start()
        pub.join(60)
        assert pub.sent == n

        def stored() -> int:
            return sum(len(v) for _, v, _ in vm.export('{__name__=~"(p|t|f|v|i)_value"}'))

        wait_until(lambda: stored() >= n * len(FIELDS), 60, f"{n * len(FIELDS)} samples in the TSDB")
        series = vm.export('{__name__=~"(p|t|f|v|i)_value"}')
        for metric, values, stamps in series:
            assert len(stamps) == len(set(stamps)) == n, metric["__name__"]
            k = FIELDS.index(metric["__name__"][0])
            assert sorted(values) == [float(i * 10 + k) for i in range(n)], metric["__name__"]
        snap = health(hp)["sinks"]["tsdb"]
        assert snap["dropped"] == 0 and snap["errors"] > 0 and not snap["failing"]
    finally:
        vm.stop()
        assert agent.stop() == 0, agent.stderr()[-3000:]


def test_a_full_spool_drops_the_oldest_and_counts_exactly(tmp_path: Path, mosquitto: mqtt.BrokerConfig) -> None:
    hp = free_port()
    dead = free_port()
    sinks = [f"{{type: historian, name: history, path: {tmp_path / 'h.db'}}}",
             f"{{type: uns, name: dead, broker: {{port: {dead}}}, timeout_s: 1}}"]
    cfg = agent_yaml(tmp_path, mosquitto.port, sinks, hp, spool="spool: {max_records: 1000}")
    agent = Child("agent", ["edge", "run", str(cfg), "--log-level", "error"], tmp_path)
    n = 600  # 3,000 samples, one row of 5 per message, through a spool of 1,000
    try:
        wait_until(lambda: health(hp)["sources"]["gauges"]["connected"], 20, "the agent to subscribe")
        pub = Publisher(mosquitto, n)
        pub.start()
        pub.join(60)
        snap = wait_until(lambda: (s := health(hp)["sinks"])["history"]["written"] >= n * 5 and s, 30,
                          "the live sink to write everything")
        assert snap["history"]["dropped"] == 0
        assert snap["dead"]["dropped"] + snap["dead"]["spool_depth"] == n * len(FIELDS)
        assert snap["dead"]["spool_depth"] == 1000 and snap["dead"]["dropped"] == 2000
        assert health(hp)["status"] == "degraded"
    finally:
        assert agent.stop() == 0, agent.stderr()[-3000:]
