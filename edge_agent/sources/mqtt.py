"""MQTT source: JSON, plain numbers and Sparkplug B from devices and gateways, mapped onto asset signals.

Sample config (an AGV fleet reporting VDA 5050 style state messages, a sensor publishing bare numbers,
and a Sparkplug B edge node)::

    - type: mqtt
      name: agv-fleet
      broker:
        host: 10.0.0.5
        port: 8883
        tls: true
        ca_file: /etc/factory-twin/broker-ca.pem   # verify the broker; default: the system's CAs
        cert_file: /etc/factory-twin/edge.pem      # optional client certificate ...
        key_file: /etc/factory-twin/edge-key.pem   # ... and its key
        username: edge
        password_env: MQTT_PASSWORD                # the environment variable, never the password
        protocol: "5"                              # or "3.1.1" (paho; for brokers without MQTT 5)
      qos: 1                      # default per subscription: 0, 1 or 2
      receive_max: 20000          # MQTT 5: messages the broker may send ahead of our acknowledgements
      clean_session: false        # a persistent session: the broker keeps QoS 1/2 messages while we are away
      session_expiry_s: 86400     # MQTT 5: how long the broker keeps that session
      share_group: null           # e.g. ingest: agents of one group split the messages (MQTT shared subscription)
      silence_s: 30               # no message for this long: health degraded, then reconnect (0: never)
      subscriptions:
        - topic: uagv/v2/acme/{serial}/state       # {name} matches one topic level
          asset: acme/plant1/machining/line1/logistics/{serial}
          timestamp: timestamp                     # field path; ISO 8601, epoch seconds or milliseconds
          fields:
            battery: {path: batteryState.batteryCharge, unit: "%"}
            position: {path: agvPosition.x, unit: m}
            mission: {path: missionState, type: text}
        - topic: sensors/{room}/temperature        # the payload is just "21.5"
          format: number
          qos: 0
          asset: acme/plant1/utilities/{room}
          fields:
            temperature: {unit: degC}              # exactly one field; stamped on arrival
      sparkplug:                                   # see edge_agent/sources/sparkplug.py
        - group: line1                             # assets acme/plant1/machining/line1/<edge node>/<device>
          area: acme/plant1/machining

A message that is not JSON (or not a number, or not Sparkplug B), or has no usable timestamp, is
rejected whole; a field or metric that is missing, of the wrong type or not finite is rejected alone,
and the message's other fields still flow. Every rejection is counted by reason and kept. A QoS 1/2
message is acknowledged once what it held is committed to the spool or quarantined, whatever it held.

With MQTT 5 the source runs its own session on the event loop (`mqtt5_session.py`): messages are taken in
batches, one spool row and one write of acknowledgements per batch. With 3.1.1 it runs paho in its thread,
whose messages are handed to the event loop in batches too.

The client id is the agent's name, the source's name and the agent's instance id (kept in its data folder),
unless `client_id` is given: another client that connects under a guessed name cannot take the session over.
A feed that publishes all the time and falls silent for `silence_s` marks the agent's health degraded (with
the reason) and is reconnected and subscribed again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any, Literal, Self

import orjson
import paho.mqtt.client as paho
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from edge_agent.mapping import Mapper, MappingError, ValueMap
from edge_agent.plugins import PluginConfig, PluginContext, Source, SourceHealth, source
from edge_agent.sources.mqtt5_session import Message, Session
from edge_agent.sources.sparkplug import NAMESPACE, PartialPayload, SparkplugDecoder, SparkplugMapping
from edge_agent.sources.sparkplug_b import rebirth_command
from plantmodel import mqtt, units
from plantmodel.catalog import SignalName
from plantmodel.telemetry import Quality, Sample
from plantmodel.uns import PayloadError, parse_ts

log = logging.getLogger(__name__)
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


class FieldMapping(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    path: str | None = Field(None, min_length=1, description="dotted path into the JSON object (json format)")
    unit: str = ""
    type: Literal["number", "integer", "text", "boolean", "any"] = Field(
        "number", description="what the field holds; any: let the mapping decide (arrays, structures)")
    map: ValueMap | None = Field(None, description="how the raw value becomes the signal's (edge_agent/mapping.py)")

    _unit = field_validator("unit")(lambda unit: units.normalise(unit))  # one spelling per unit in the namespace


class TopicMapping(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    topic: str = Field(min_length=1)
    format: Literal["json", "number"] = "json"
    qos: Literal[0, 1, 2] | None = Field(None, description="default: the source's qos")
    asset: str = Field(min_length=1, description="ISA-95 path; may use the topic's {placeholders}")
    timestamp: str | None = Field("timestamp", description="field path of the source timestamp (json format)")
    fields: dict[SignalName, FieldMapping] = Field(min_length=1)

    @model_validator(mode="after")
    def _placeholders(self) -> Self:
        if any(c in self.topic for c in "#+"):
            raise ValueError("use {placeholders} rather than MQTT wildcards, so each level has a name")
        if self.format == "json" and any(f.path is None for f in self.fields.values()):
            raise ValueError("a json mapping needs a path for every field")
        if self.format == "number" and len(self.fields) != 1:
            raise ValueError("a number payload is one value: give exactly one field")
        levels = self.topic.split("/")
        names = [m.group(1) for level in levels for m in [_PLACEHOLDER.fullmatch(level)] if m]
        if any("{" in level and not _PLACEHOLDER.fullmatch(level) for level in levels):
            raise ValueError("a {placeholder} must fill a whole topic level")
        unknown = set(_PLACEHOLDER.findall(self.asset)) - set(names)
        if unknown:
            raise ValueError(f"asset uses {sorted(unknown)} which the topic does not define")
        return self

    @property
    def filter(self) -> str:
        return "/".join("+" if _PLACEHOLDER.fullmatch(level) else level for level in self.topic.split("/"))

    def match(self, topic: str) -> dict[str, str] | None:
        pattern, levels = self.topic.split("/"), topic.split("/")
        if len(pattern) != len(levels):
            return None
        found: dict[str, str] = {}
        for p, level in zip(pattern, levels, strict=True):
            m = _PLACEHOLDER.fullmatch(p)
            if m:
                found[m.group(1)] = level
            elif p != level:
                return None
        return found


class MqttSourceConfig(PluginConfig):
    type: Literal["mqtt"]
    broker: mqtt.BrokerConfig = mqtt.BrokerConfig()
    qos: Literal[0, 1, 2] = 1
    client_id: str | None = None
    clean_session: bool = False
    session_expiry_s: int = Field(86400, ge=0, description="MQTT 5: how long the broker keeps our session")
    receive_max: int = Field(20000, ge=1, le=65535, description="MQTT 5: messages the broker may send ahead of our "
                             "acknowledgements, which wait for the spool's commit")
    silence_s: float = Field(0, ge=0, description="no message for this long on a feed that always publishes: "
                             "health degraded, then reconnect and subscribe again; 0: never")
    subscriptions: list[TopicMapping] = Field([], description="JSON and plain-number topics")
    sparkplug: list[SparkplugMapping] = Field([], description="Sparkplug B groups")
    share_group: str | None = Field(None, pattern=r"^[^/#+$]+$", description="subscribe as a member of this "
                                    "shared subscription ($share/<group>/<filter>): the agents of one group split "
                                    "the messages between them, each into its own spool")

    @model_validator(mode="after")
    def _something(self) -> Self:
        if not self.subscriptions and not self.sparkplug:
            raise ValueError("give subscriptions, sparkplug groups or both")
        if self.share_group and self.sparkplug:
            raise ValueError("share_group splits messages between agents; Sparkplug needs every message of a node "
                             "(births, aliases, deaths) in one agent: use a source of its own for sparkplug")
        return self

    def filters(self) -> list[tuple[str, int]]:
        share = f"$share/{self.share_group}/" if self.share_group else ""
        return [*((share + m.filter, self.qos if m.qos is None else m.qos) for m in self.subscriptions),
                *((g.filter, self.qos) for g in self.sparkplug)]


def _lookup(body: Any, path: str) -> Any:
    for key in path.split("."):
        if not isinstance(body, dict) or key not in body:
            raise KeyError(path)
        body = body[key]
    return body


def _convert(raw: Any, mapping: FieldMapping) -> Any:
    where = mapping.path or ""
    kind = mapping.type
    if kind == "any" and raw is not None:
        return raw
    if kind == "text" and isinstance(raw, str):
        return raw
    if kind == "boolean" and isinstance(raw, bool):
        return raw
    if kind == "integer" and isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if kind == "number" and isinstance(raw, int | float) and not isinstance(raw, bool):
        if not math.isfinite(raw):
            raise PayloadError(where, "not_finite", f"expected a finite number, got {raw!r}")
        return float(raw)
    raise PayloadError(where, "missing" if raw is None else "wrong_type",
                       f"expected {'an' if kind == 'integer' else 'a'} {kind}, got {raw!r}")


@source
class MqttSource(Source):
    config_model = MqttSourceConfig
    config: MqttSourceConfig

    def __init__(self, config: MqttSourceConfig, ctx: PluginContext) -> None:
        super().__init__(config, ctx)
        client_id = config.client_id or ctx.client_id(config.name)
        persistent = not config.clean_session
        self.session: Session | None = None
        self.client: paho.Client | None = None
        if config.broker.protocol == "5":
            self.session = Session(config.broker, client_id, config.filters(), self._take,
                                   clean_start=config.clean_session,
                                   session_expiry_s=config.session_expiry_s if persistent else 0,
                                   receive_max=config.receive_max, on_state=self._state)
        else:
            self.client = mqtt.make_client(config.broker, client_id, clean_session=config.clean_session)
            # QoS 1/2 messages are acknowledged only once their samples are committed to the agent's spool, so
            # the broker redelivers whatever a crash (even kill -9) caught between receipt and commit
            self.client.manual_ack_set(True)
        self.sparkplug = {g.group: SparkplugDecoder(g) for g in config.sparkplug}
        self.mappers = {(i, signal): Mapper(f.map, f.unit) for i, m in enumerate(config.subscriptions)
                        for signal, f in m.fields.items()}
        self.last_message = time.monotonic()  # or the last (re)connection
        self.silent = False  # silence_s passed without a message; cleared by the next one
        self.restarts = 0  # reconnections forced by silence
        self._unacked: dict[int, tuple[float, int]] = {}  # batch -> (when it came, QoS 1/2 messages), until acked
        self._batches = 0
        self._routes: dict[str, tuple[int, TopicMapping, str] | None] = {}  # topic -> subscription, asset
        self._inbox: list[tuple[str, bytes, int, int]] = []  # paho's thread -> the loop: topic, payload, qos, mid
        self._inbox_lock = threading.Lock()
        self._inbox_scheduled = False

    def health(self) -> SourceHealth:
        return replace(super().health(), silence_restarts=self.restarts)

    def problems(self) -> list[str]:
        out = []
        if self.silent:
            out.append(self.last_error or f"no message for {self.config.silence_s:g} s")
        oldest = min((t for t, _ in self._unacked.values()), default=None)
        waiting = sum(n for _, n in self._unacked.values())
        if oldest is not None and time.monotonic() - oldest > 30:
            out.append(f"{waiting} QoS 1/2 messages not acknowledged for {time.monotonic() - oldest:.0f} s "
                       "(the broker holds back further ones)")
        return out

    async def run(self) -> None:
        if self.session is not None:
            await self._run_session(self.session)
        else:
            await self._run_paho()

    def _state(self, up: bool, why: str | None) -> None:
        self.connected = up
        if up:
            self.last_error = None
            self.last_message = time.monotonic()
            self.ready.set()
        elif why and not self.silent:
            self.last_error = why

    async def _run_session(self, session: Session) -> None:
        tasks = [asyncio.create_task(session.run())]
        if self.config.silence_s:
            tasks.append(asyncio.create_task(self._watch_silence()))
        try:
            await asyncio.gather(*tasks)
        finally:
            session.close()
            for task in tasks:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*tasks, return_exceptions=True)

    async def _run_paho(self) -> None:
        loop = asyncio.get_running_loop()
        assert self.client is not None

        def on_connect(client: paho.Client, userdata: Any, flags: Any, rc: Any, props: Any = None) -> None:
            if rc.is_failure:
                self.last_error = f"{self.config.broker.url} refused the connection: {rc}"
                return
            client.subscribe(self.config.filters())
            self.connected, self.last_error = True, None
            self.last_message = time.monotonic()

        def on_subscribe(client: paho.Client, userdata: Any, mid: int, codes: Any, props: Any = None) -> None:
            loop.call_soon_threadsafe(self.ready.set)

        def on_disconnect(client: paho.Client, userdata: Any, flags: Any, rc: Any, props: Any = None) -> None:
            self.connected = False
            if getattr(rc, "is_failure", False) and self.last_error is None:  # keep a refusal's own reason
                self.last_error = f"connection to {self.config.broker.url} lost: {rc}"

        def on_connect_fail(client: paho.Client, userdata: Any) -> None:
            self.last_error = f"cannot connect to {self.config.broker.url}"

        def on_message(client: paho.Client, userdata: Any, msg: paho.MQTTMessage) -> None:
            """paho's thread: queue the message; the loop takes all that queued up at once."""
            with self._inbox_lock:
                self._inbox.append((msg.topic, msg.payload, msg.qos, msg.mid))  # type: ignore[arg-type]  # bytes
                if self._inbox_scheduled:
                    return
                self._inbox_scheduled = True
            loop.call_soon_threadsafe(self._take_inbox, client)

        self.client.on_connect, self.client.on_subscribe = on_connect, on_subscribe
        self.client.on_disconnect, self.client.on_message = on_disconnect, on_message
        self.client.on_connect_fail = on_connect_fail
        persistent = not self.config.clean_session
        mqtt.start(self.client, self.config.broker, self.config.session_expiry_s if persistent else None)
        try:
            if self.config.silence_s:
                await self._watch_silence()
            await asyncio.Event().wait()
        finally:
            mqtt.stop(self.client)

    def _take_inbox(self, client: paho.Client) -> None:
        with self._inbox_lock:
            inbox, self._inbox, self._inbox_scheduled = self._inbox, [], False
        acks = [(mid, qos) for _, _, qos, mid in inbox if qos]

        def ack() -> None:
            for mid, qos in acks:
                client.ack(mid, qos)

        self._take([(topic, payload, qos) for topic, payload, qos, _ in inbox], ack)

    def _take(self, messages: list[Message], ack: Callable[[], None]) -> None:
        """On the loop: a batch of messages into one spool row; acknowledged once it is committed, and should the
        hand-over fail, kept in the quarantine and acknowledged anyway, so that nothing can hold up the broker's
        window. What a message held that was rejected is in the quarantine (committed) already."""
        now = time.monotonic()
        self.last_message, self.silent = now, False
        samples: list[Sample] = []
        for topic, payload, _ in messages:
            try:
                samples.extend(self.decode(topic, payload))
            except Exception as exc:  # a decoder bug: keep the message, go on with the others
                self.ctx.quarantine.reject(self.config.name, "internal_error", "payload",
                                           f"{type(exc).__name__}: {exc}", topic, payload)
        waiting = sum(1 for _, _, qos in messages if qos)
        self._batches += 1
        batch = self._batches
        if waiting:
            self._unacked[batch] = (now, waiting)

        def committed() -> None:
            self._unacked.pop(batch, None)
            ack()

        try:
            self.ctx.emit(samples, committed=committed, source=self.config.name)
        except Exception as exc:
            log.exception("samples of %d messages could not be taken in", len(messages))
            for topic, payload, _ in messages:
                self.ctx.quarantine.reject(self.config.name, "internal_error", "payload",
                                           f"{type(exc).__name__}: {exc}", topic, payload)
            committed()

    async def _watch_silence(self) -> None:
        """A feed that always publishes and goes quiet is broken (a lost subscription, a session taken over):
        say so in the health, then reconnect, at most once per `silence_s`."""
        limit = self.config.silence_s
        while True:
            await asyncio.sleep(min(1.0, limit / 4))
            quiet = time.monotonic() - self.last_message
            if not self.connected or quiet < limit:
                continue
            self.silent = True
            self.last_error = f"no message for {quiet:.0f} s (silence_s: {limit:g}); reconnected and subscribed again"
            log.warning("source %s: no message for %.0f s: reconnecting to %s", self.config.name, quiet,
                        self.config.broker.url)
            self.restarts += 1
            if self.session is not None:
                self.session.drop(self.last_error)
            elif self.client is not None:
                mqtt.reconnect(self.client)
            self.last_message = time.monotonic()

    def decode(self, topic: str, payload: bytes) -> list[Sample]:
        """Samples from one message; every rejection goes to the quarantine with its reason."""
        name = self.config.name
        levels = topic.split("/", 2)
        if len(levels) > 2 and levels[0] == NAMESPACE and levels[1] in self.sparkplug:
            return self._sparkplug(self.sparkplug[levels[1]], topic, payload)
        route = self._routes.get(topic, _UNROUTED)
        if route is _UNROUTED:
            route = self._route(topic)
        if route is None:
            self.ctx.quarantine.reject(name, "unknown_topic", "topic", "no subscription maps this topic",
                                       topic, payload)
            return []
        index, mapping, asset = route
        if mapping.format == "number":
            return self._number(index, mapping, asset, topic, payload)
        try:
            body = _loads(payload)
            ts_raw = _lookup(body, mapping.timestamp) if mapping.timestamp else None
            ts = parse_ts(ts_raw, mapping.timestamp or "timestamp")
        except PayloadError as exc:
            self.ctx.quarantine.reject(name, exc.reason, exc.field, exc.detail, topic, payload)
            return []
        except KeyError as exc:
            self.ctx.quarantine.reject(name, "missing", str(exc.args[0]), "timestamp field is missing",
                                       topic, payload)
            return []
        samples: list[Sample] = []
        for signal, field in mapping.fields.items():
            try:
                value = _convert(_lookup(body, field.path or ""), field)
            except KeyError:
                self.ctx.quarantine.reject(name, "missing", field.path, "field is missing", topic, payload)
                continue
            except PayloadError as exc:
                self.ctx.quarantine.reject(name, exc.reason, exc.field, exc.detail, topic, payload)
                continue
            self._mapped(index, asset, signal, field, value, ts, samples, topic, payload)
        return samples

    def _route(self, topic: str) -> tuple[int, TopicMapping, str] | None:
        """The subscription that maps a topic and the asset it names, remembered: topics repeat. Topics are
        input, so the memory is bounded (emptied when full)."""
        hit = next(((i, m, f) for i, m in enumerate(self.config.subscriptions) if (f := m.match(topic)) is not None),
                   None)
        route = None
        if hit is not None:
            index, mapping, found = hit
            route = (index, mapping, _PLACEHOLDER.sub(lambda m: found[m.group(1)], mapping.asset))
        if len(self._routes) >= ROUTES_KEPT:
            self._routes.clear()
        self._routes[topic] = route
        return route

    def _mapped(self, index: int, asset: str, signal: str, field: FieldMapping, value: Any, ts: datetime,
                out: list[Sample], topic: str, payload: bytes) -> None:
        """The field's samples through its mapping; a value the mapping refuses is quarantined alone."""
        if field.map is None and isinstance(value, bool | int | float | str):
            out.append(Sample(asset, signal, value, field.unit, ts, Quality.GOOD))  # the common case, kept fast
            return
        try:
            mapped = self.mappers[(index, signal)].apply(value)
        except MappingError as exc:
            self.ctx.quarantine.reject(self.config.name, exc.reason, field.path or signal, exc.detail, topic, payload)
            return
        for m in mapped:
            out.append(Sample(asset, signal + m.suffix, m.value, m.unit, ts, m.quality or Quality.GOOD))
        if field.map is not None and field.map.counter is not None and field.map.counter.rollover is not None:
            self.ctx.rollovers[(asset, signal)] = field.map.counter.rollover


    def _number(self, index: int, mapping: TopicMapping, asset: str, topic: str, payload: bytes) -> list[Sample]:
        ((signal, field),) = mapping.fields.items()
        text = payload.decode("utf-8", errors="replace").strip()
        try:
            raw: Any = {"true": True, "false": False}.get(text.lower()) if field.type == "boolean" else (
                text if field.type == "text" else int(text) if field.type == "integer" else float(text))
        except ValueError:
            raw = None
        try:
            value = _convert(raw, field.model_copy(update={"path": "payload"}))
        except PayloadError as exc:
            reason = "malformed_number" if raw is None else exc.reason
            self.ctx.quarantine.reject(self.config.name, reason, "payload", f"{exc.detail} ({text[:40]!r})",
                                       topic, payload)
            return []
        samples: list[Sample] = []
        self._mapped(index, asset, signal, field, value, self.ctx.clock.now(), samples, topic, payload)
        return samples

    def _sparkplug(self, decoder: SparkplugDecoder, topic: str, payload: bytes) -> list[Sample]:
        try:
            return decoder.decode(topic, payload, self.ctx.clock.now())
        except PartialPayload as partial:
            for exc in partial.problems:
                self.ctx.quarantine.reject(self.config.name, exc.reason, exc.field, exc.detail, topic, payload)
            return partial.samples
        except PayloadError as exc:
            self.ctx.quarantine.reject(self.config.name, exc.reason, exc.field, exc.detail, topic, payload)
            return []
        finally:
            self._request_rebirths(decoder)

    def _request_rebirths(self, decoder: SparkplugDecoder) -> None:
        """NCMD Node Control/Rebirth to each edge node whose data came before its births (rate-limited)."""
        for node in decoder.rebirths_due(time.monotonic()):
            topic = f"{NAMESPACE}/{decoder.mapping.group}/NCMD/{node}"
            assert self.client is not None  # rebirths are asked for on paho's client only
            self.client.publish(topic, rebirth_command(int(time.time() * 1000)), qos=0)
            log.info("%s: data from Sparkplug edge node %s/%s before its births; asked it for a rebirth",
                     self.config.name, decoder.mapping.group, node)


INT64 = range(-(2**63), 2**63)
ROUTES_KEPT = 100_000  # topics whose subscription is remembered
_UNROUTED: Any = object()


def _int64(text: str) -> int | float:
    """An integer as orjson gives it (64 bits); a larger one as a float, so nothing beyond 64 bits travels on."""
    value = int(text)
    if value in INT64:
        return value
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def _loads(payload: bytes) -> Any:
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError:
        try:  # NaN / Infinity literals and integers beyond 64 bits: accept the JSON, let each field be judged
            body = json.loads(payload, parse_int=_int64)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise PayloadError("payload", "malformed_json", f"not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise PayloadError("payload", "malformed_json", "expected a JSON object")
    return body
