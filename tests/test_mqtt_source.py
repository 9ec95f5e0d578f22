"""The MQTT source against Debian's mosquitto: TLS with password and client certificate, persistent sessions
keeping QoS 1/2 messages while the agent is away, and Sparkplug B with the broker delivering a node's will."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as paho
import pytest
from opcua_plant import until
from test_sparkplug import birth, device_birth, payload

from edge_agent.plugins import PluginContext
from edge_agent.quarantine import Quarantine
from edge_agent.sources.mqtt import MqttSource, MqttSourceConfig
from edge_agent.sources.sparkplug_b import DataType
from plantmodel import mqtt
from plantmodel.telemetry import NO_COMMUNICATION, Quality, Sample

STATE = {"topic": "dev/{id}/state", "asset": "acme/plant1/{id}", "timestamp": "ts",
         "fields": {"speed": {"path": "speed"}}}


class Running:
    """An MQTT source running in the test's loop, collecting what it emits."""

    def __init__(self, folder: Path, broker: mqtt.BrokerConfig, **config: Any) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.samples: list[Sample] = []
        self.quarantine = Quarantine(folder / "q.db")
        cfg = MqttSourceConfig.model_validate({"type": "mqtt", "name": "mq", "broker": broker.model_dump(),
                                               **config})
        self.source = MqttSource(cfg, PluginContext("edge", folder, self._emit, self.quarantine))
        self.task: asyncio.Task[None] | None = None

    def _emit(self, samples: list[Sample], committed: Callable[[], None] | None = None, source: str = "") -> None:
        self.samples.extend(samples)
        if committed is not None:
            committed()  # kept: like the agent's spool after its commit

    async def __aenter__(self) -> Running:
        self.task = asyncio.create_task(self.source.run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.task is not None
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        self.quarantine.close()


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(scenario(), 60))


def publisher(broker: mqtt.BrokerConfig, client_id: str) -> paho.Client:
    client = mqtt.make_client(broker, client_id)
    connected = asyncio.Event()
    loop = asyncio.get_running_loop()
    client.on_connect = lambda *a: loop.call_soon_threadsafe(connected.set)
    mqtt.start(client, broker)
    client.connected_event = connected  # type: ignore[attr-defined]
    return client


def state(speed: float) -> bytes:
    return orjson.dumps({"ts": "2026-11-29T10:00:00Z", "speed": speed})


def test_tls_with_password_and_client_certificate(mosquitto_tls: mqtt.BrokerConfig, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FT_TEST_MQTT_WRONG", "not-the-password")
    wrong_password = mosquitto_tls.model_copy(update={"password_env": "FT_TEST_MQTT_WRONG"})
    no_client_cert = mosquitto_tls.model_copy(update={"cert_file": None, "key_file": None})

    async def scenario() -> None:
        async with (Running(tmp_path / "ok", mosquitto_tls, subscriptions=[STATE], client_id="tls-ok") as ok,
                    Running(tmp_path / "pw", wrong_password, subscriptions=[STATE], client_id="tls-pw") as pw,
                    Running(tmp_path / "cert", no_client_cert, subscriptions=[STATE], client_id="tls-nc") as nc):
            await until(ok.source.ready.is_set, 15, "the source to subscribe over TLS")
            pub = publisher(mosquitto_tls, "tls-publisher")
            await asyncio.wait_for(pub.connected_event.wait(), 10)
            pub.publish("dev/m1/state", state(12.5), qos=1).wait_for_publish(5)
            await until(lambda: [s.value for s in ok.samples] == [12.5], 10, "the value over TLS")
            mqtt.stop(pub)
            await until(lambda: pw.source.last_error and "refused" in pw.source.last_error, 15,
                        "the wrong password to be refused")
            await until(lambda: nc.source.last_error, 15, "a client without certificate to be refused")
            assert not pw.samples and not nc.samples and not pw.source.connected and not nc.source.connected

    run(scenario)


class Holding(Running):
    """A source whose commits wait until the test releases them, as a slow spool would."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.held: list[Callable[[], None]] = []

    def _emit(self, samples: list[Sample], committed: Callable[[], None] | None = None, source: str = "") -> None:
        self.samples.extend(samples)
        if committed is not None:
            self.held.append(committed)

    def release(self) -> None:
        held, self.held = self.held, []
        for committed in held:
            committed()


@pytest.mark.parametrize("qos", [1, 2])
def test_mqtt5_session_acknowledges_only_what_was_committed(mosquitto: mqtt.BrokerConfig, tmp_path: Path,
                                                           qos: int) -> None:
    """With MQTT 5 the broker sends at most Receive Maximum messages ahead of our acknowledgements, and those
    wait for the spool's commit: nothing more arrives while commits are held, everything once they are done,
    each message once."""
    broker = mosquitto.model_copy(update={"protocol": "5"})

    async def scenario() -> None:
        async with Holding(tmp_path, broker, subscriptions=[STATE], qos=qos, receive_max=10,
                           client_id=f"held-{qos}") as src:
            await until(src.source.ready.is_set, 15, "the source to subscribe")
            pub = publisher(mosquitto, f"held-pub-{qos}")
            await asyncio.wait_for(pub.connected_event.wait(), 10)
            infos = [pub.publish("dev/m1/state", state(float(i)), qos=qos) for i in range(30)]
            await until(lambda: len(src.samples) >= 10, 10, "the first ten messages")
            await asyncio.sleep(1.0)  # what the broker would send on without acknowledgements (none may come)
            assert len(src.samples) == 10, "the broker sent beyond Receive Maximum, or we acknowledged early"
            while len(src.samples) < 30:
                src.release()
                await until(lambda: src.held or len(src.samples) >= 30, 10, "more messages after the commit")
            src.release()
            for info in infos:
                info.wait_for_publish(5)
            mqtt.stop(pub)
            assert sorted(s.value for s in src.samples) == [float(i) for i in range(30)]

    run(scenario)


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
def test_a_shared_subscription_splits_the_messages_between_agents(mosquitto: mqtt.BrokerConfig, tmp_path: Path,
                                                                  protocol: str) -> None:
    """Scale-out beyond one core: agents of one `share_group` (MQTT shared subscription, the broker's own
    load sharing) each take a part of the messages into their own spool, and together every message once."""
    broker = mosquitto.model_copy(update={"protocol": protocol})
    cfg: dict[str, Any] = {"subscriptions": [STATE], "qos": 1, "share_group": f"ingest{protocol[0]}"}

    async def scenario() -> None:
        async with (Running(tmp_path / "a", broker, client_id=f"share-a-{protocol}", **cfg) as a,
                    Running(tmp_path / "b", broker, client_id=f"share-b-{protocol}", **cfg) as b):
            await until(lambda: a.source.ready.is_set() and b.source.ready.is_set(), 15, "both to subscribe")
            pub = publisher(mosquitto, f"share-pub-{protocol}")
            await asyncio.wait_for(pub.connected_event.wait(), 10)
            infos = [pub.publish(f"dev/m{i % 7}/state", state(float(i)), qos=1) for i in range(200)]
            await until(lambda: len(a.samples) + len(b.samples) >= 200, 20, "every message in one of the two")
            for info in infos:
                info.wait_for_publish(5)
            mqtt.stop(pub)
            got_a, got_b = {s.value for s in a.samples}, {s.value for s in b.samples}
            assert got_a and got_b, "the broker gave every message to one member"
            assert not got_a & got_b and got_a | got_b == {float(i) for i in range(200)}
            assert len(a.samples) + len(b.samples) == 200

    run(scenario)


def test_sparkplug_is_not_shared() -> None:
    with pytest.raises(ValueError, match="Sparkplug needs every message"):
        MqttSourceConfig.model_validate({"type": "mqtt", "name": "mq", "share_group": "g",
                                         "sparkplug": [{"group": "line1", "area": "acme/plant1/machining"}]})


@pytest.mark.parametrize(("protocol", "qos"), [("3.1.1", 1), ("5", 2)])
def test_persistent_session_keeps_messages_while_the_agent_is_away(mosquitto: mqtt.BrokerConfig, tmp_path: Path,
                                                                   protocol: str, qos: int) -> None:
    broker = mosquitto.model_copy(update={"protocol": protocol})
    cfg = {"subscriptions": [STATE], "qos": qos, "clean_session": False, "client_id": f"persist-{protocol}",
           "session_expiry_s": 300}

    async def scenario() -> None:
        async with Running(tmp_path / "first", broker, **cfg) as first:
            await until(first.source.ready.is_set, 15, "the first session to subscribe")
        pub = publisher(broker, f"persist-publisher-{protocol}")
        await asyncio.wait_for(pub.connected_event.wait(), 10)
        for i in range(30):  # the agent is away: the broker queues these for its session
            pub.publish("dev/m1/state", state(float(i)), qos=qos).wait_for_publish(5)
        mqtt.stop(pub)
        async with Running(tmp_path / "second", broker, **cfg) as second:
            await until(lambda: len(second.samples) >= 30, 15, "the queued messages")
            assert [s.value for s in second.samples] == [float(i) for i in range(30)]  # all, once, in order

    run(scenario)


def test_sparkplug_node_will_marks_node_and_device_bad(mosquitto: mqtt.BrokerConfig, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with Running(tmp_path, mosquitto, sparkplug=[{"group": "line1", "area": "acme/plant1/machining"}]
                           ) as spb:
            await until(spb.source.ready.is_set, 15, "the source to subscribe")
            node = mqtt.make_client(mosquitto, "gw-1")
            node.will_set("spBv1.0/line1/NDEATH/gw-1", payload({"name": "bdSeq", "datatype": 4, "long_value": 0},
                                                               ts=None), qos=1)
            connected = asyncio.Event()
            loop = asyncio.get_running_loop()
            node.on_connect = lambda *a: loop.call_soon_threadsafe(connected.set)
            mqtt.start(node, mosquitto)
            await asyncio.wait_for(connected.wait(), 10)
            node.publish("spBv1.0/line1/NBIRTH/gw-1", birth(0), qos=1).wait_for_publish(5)
            node.publish("spBv1.0/line1/DBIRTH/gw-1/cnc-1", device_birth(), qos=1).wait_for_publish(5)
            node.publish("spBv1.0/line1/DDATA/gw-1/cnc-1", payload(
                {"alias": 10, "datatype": DataType.Double, "double_value": 1300.0}), qos=1).wait_for_publish(5)
            await until(lambda: any(s.value == 1300.0 for s in spb.samples), 10, "device data by alias")
            node.loop_stop()
            node.socket().close()  # the node drops off the network: no DISCONNECT, so the broker sends its will
            dead = await until(lambda: [s for s in spb.samples if s.quality == Quality.BAD], 15, "the node's death")
            await until(lambda: len([s for s in spb.samples if s.quality == Quality.BAD]) == 4, 5, "all four marks")
            assert {(s.asset, s.signal) for s in dead} >= {("acme/plant1/machining/line1/gw-1/cnc-1", "spindle.speed")}
            assert all(s.status == NO_COMMUNICATION for s in dead)
            assert spb.quarantine.total() == 0

    run(scenario)
