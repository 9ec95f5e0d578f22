"""Devices that publish MQTT directly, as an AGV fleet does (VDA 5050 style), not through the line PLC.

Topic ``uagv/v2/<manufacturer>/<serial>/state``; payload, one message per status report::

    {"headerId": 17, "timestamp": "2026-11-29T14:00:01.000000Z", "version": "2.0.0",
     "manufacturer": "acme", "serialNumber": "agv-1", "operatingMode": "AUTOMATIC",
     "driving": true, "missionState": "deliver", "operatingState": "producing",
     "partsDelivered": 12, "batteryState": {"batteryCharge": 87.52, "charging": false},
     "agvPosition": {"x": 41.3, "y": 0.0, "theta": 0.0, "mapId": "line1", "positionInitialized": true}}
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import orjson

from plantmodel import mqtt
from plantmodel.plant import Asset
from plantmodel.telemetry import Sample
from plantmodel.uns import format_ts


class AgvFleet:
    def __init__(self, agvs: Iterable[Asset], broker: mqtt.BrokerConfig, manufacturer: str) -> None:
        self.agvs = {a.path: a for a in agvs}
        self.broker, self.manufacturer = broker, manufacturer
        self.client = mqtt.make_client(broker, mqtt.unique_client_id(f"factory-twin-sim-{manufacturer}-agvs"))
        self.header_id = 0
        self._connected = asyncio.Event()

    async def start(self, timeout_s: float = 10.0) -> None:
        loop = asyncio.get_running_loop()

        def on_connect(*_: Any) -> None:
            loop.call_soon_threadsafe(self._connected.set)

        self.client.on_connect = on_connect
        mqtt.start(self.client, self.broker)
        await asyncio.wait_for(self._connected.wait(), timeout_s)

    def stop(self) -> None:
        mqtt.stop(self.client)

    def topic(self, asset: Asset) -> str:
        return f"uagv/v2/{self.manufacturer}/{asset.id}/state"

    def publish(self, samples: Iterable[Sample]) -> list[Sample]:
        reports: dict[tuple[str, object], dict[str, Sample]] = defaultdict(dict)
        for s in samples:
            if s.asset in self.agvs:
                reports[(s.asset, s.ts)][s.signal] = s
        sent: list[Sample] = []
        for (path, ts), fields in reports.items():
            asset = self.agvs[path]
            value = {name: sample.value for name, sample in fields.items()}
            self.header_id += 1
            message = {
                "headerId": self.header_id, "timestamp": format_ts(ts), "version": "2.0.0",  # type: ignore[arg-type]
                "manufacturer": self.manufacturer, "serialNumber": asset.id, "operatingMode": "AUTOMATIC",
                "driving": value.get("mission") in ("deliver", "return"),
                "missionState": value.get("mission"), "operatingState": value.get("state"),
                "partsDelivered": value.get("parts_good"),
                "batteryState": {"batteryCharge": value.get("battery"),
                                 "charging": value.get("mission") == "wait_for_load"},
                "agvPosition": {"x": value.get("position"), "y": 0.0, "theta": 0.0,
                                "mapId": asset.line_path.rsplit("/", 1)[-1], "positionInitialized": True},
            }
            self.client.publish(self.topic(asset), orjson.dumps(message), qos=1)
            sent.extend(fields.values())
        return sent
