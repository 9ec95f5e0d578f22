from __future__ import annotations

from datetime import UTC, datetime

import pytest

from plantmodel.telemetry import Event, EventKind, Quality, Sample
from plantmodel.uns import PayloadError, decode, encode

ASSET = "acme/plant1/machining/line1/turning/cnc-1"
TS = datetime(2026, 11, 29, 14, 0, 0, 123456, tzinfo=UTC)


@pytest.mark.parametrize("value", [12000.5, 7, True, "producing", 0.0])
def test_sample_round_trip(value: object) -> None:
    sample = Sample(ASSET, "x", value, "rpm", TS, Quality.UNCERTAIN)  # type: ignore[arg-type]
    topic, payload = encode(sample)
    assert topic == f"{ASSET}/x"
    assert decode(topic, payload) == sample


def test_event_round_trip() -> None:
    event = Event(ASSET, EventKind.STATE_CHANGE, TS, {"from": "starved", "to": "producing"})
    topic, payload = encode(event)
    assert topic == f"{ASSET}/_event/state_change"
    assert decode(topic, payload) == event


@pytest.mark.parametrize(("topic", "payload", "field", "reason"), [
    (f"{ASSET}/x", b"{not json", "payload", "malformed_json"),
    (f"{ASSET}/x", b"[1, 2]", "payload", "malformed_json"),
    (f"{ASSET}/x", b'{"value": 1.0}', "ts", "missing"),
    (f"{ASSET}/x", b'{"value": 1.0, "ts": "yesterday"}', "ts", "bad_timestamp"),
    (f"{ASSET}/x", b'{"ts": "2026-01-01T00:00:00Z"}', "value", "missing"),
    (f"{ASSET}/x", b'{"value": [1], "ts": "2026-01-01T00:00:00Z"}', "value", "wrong_type"),
    (f"{ASSET}/x", b'{"value": 1, "ts": "2026-01-01T00:00:00Z", "quality": "great"}', "quality", "wrong_type"),
    ("acme/too/short/x", b'{"value": 1, "ts": "2026-01-01T00:00:00Z"}', "topic", "bad_topic"),
    (f"{ASSET}/_event/explosion", b'{"ts": "2026-01-01T00:00:00Z"}', "topic", "unknown_event"),
])
def test_bad_messages_name_the_field(topic: str, payload: bytes, field: str, reason: str) -> None:
    with pytest.raises(PayloadError) as err:
        decode(topic, payload)
    assert (err.value.field, err.value.reason) == (field, reason)


def test_epoch_milliseconds_are_accepted() -> None:
    sample = decode(f"{ASSET}/x", b'{"value": 1, "ts": 1764424800123}')
    assert sample.ts == datetime(2025, 11, 29, 14, 0, 0, 123000, tzinfo=UTC)


def test_status_code_and_server_timestamp_travel_when_present() -> None:
    from datetime import UTC, datetime

    from plantmodel.telemetry import Quality, Sample
    from plantmodel.uns import decode, encode

    ts = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    s = Sample("a/b/c/d/e/f", "speed", 1.5, "rpm", ts, Quality.BAD, 0x80310000, ts)
    assert decode(*encode(s)) == s
    plain = Sample("a/b/c/d/e/f", "speed", 1.5, "rpm", ts)
    assert b"status" not in encode(plain)[1] and decode(*encode(plain)) == plain


def test_epoch_seconds_are_not_taken_for_milliseconds() -> None:
    """A `ts` in Unix seconds (as `date +%s` gives) must not become a date in January 1970."""
    from plantmodel.uns import parse_ts

    seconds, millis = parse_ts(1764928800, "ts"), parse_ts(1764928800123, "ts")
    assert seconds.year == millis.year == 2025 and (millis - seconds).total_seconds() == 0.123
    assert parse_ts(1764928800.5, "ts").microsecond == 500_000
