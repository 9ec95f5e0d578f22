"""The twin's OpenAPI schema, fuzzed with schemathesis against the real server: no request, however odd,
gets a 5xx, and every route refuses a caller without a key."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from support import ServedApp, auth
from test_twin_history import build

from plantmodel.mqtt import BrokerConfig


@pytest.fixture(scope="module")
def twin_schema(tmp_path_factory: pytest.TempPathFactory, mosquitto: BrokerConfig) -> Iterator[Any]:
    tmp: Path = tmp_path_factory.mktemp("schema")
    # generous limits: the fuzzer is one caller making hundreds of requests
    app = build(tmp, broker=mosquitto.model_dump(), rate_limits={"expensive": "100000/minute"},
                control={"endpoint": "opc.tcp://127.0.0.1:1/none/", "timeout_s": 1, "commands": [
                    {"name": "reduce_speed", "assets": ["*/cnc-*"], "kind": "write", "browse_name": "speed_override",
                     "value": "double", "min": 50, "max": 100},
                    {"name": "reset_alarm", "assets": ["*"], "kind": "method", "browse_name": "ResetAlarm"}]})
    with ServedApp(app) as served:
        yield schemathesis.openapi.from_url(f"{served.url}/openapi.json")


FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)


def operations(schema: Any) -> list[Any]:
    ops = [result.ok() for result in schema.get_all_operations()]
    assert len(ops) >= 15, "the schema lost its routes"
    return ops


def test_no_request_gets_a_server_error(twin_schema: Any) -> None:
    for op in operations(twin_schema):
        @given(case=op.as_strategy())
        @FUZZ
        def no_5xx(case: Any) -> None:
            response = case.call(headers=auth("admin"), timeout=20)
            assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text[:500]}"

        no_5xx()


def test_every_route_refuses_a_caller_without_a_key(twin_schema: Any) -> None:
    for op in operations(twin_schema):
        @given(case=op.as_strategy())
        @settings(FUZZ, max_examples=3)
        def refused(case: Any) -> None:
            response = case.call(headers={"Authorization": ""}, timeout=20)
            no_route = response.status_code == 404 and response.json() == {"detail": "Not Found"}  # e.g. a newline
            assert response.status_code == 401 or no_route, f"{case.method} {case.formatted_path}: {response.text}"

        refused()
