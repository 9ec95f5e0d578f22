"""The spool: nothing a sink has not confirmed is lost across restarts; overflow is exact and counted."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from edge_agent.spool import OverflowPolicy, Spool, decode, encode
from plantmodel.telemetry import Event, EventKind, Quality, Sample

T0 = datetime(2026, 5, 1, tzinfo=UTC)


def sample(i: int) -> Sample:
    return Sample("a/b/c/d/e/cnc-1", "spindle_speed", float(i), "rpm", T0 + timedelta(microseconds=i))


def test_records_round_trip_exactly() -> None:
    records = [Sample("x/y", "s", 1.5, "rpm", T0, Quality.UNCERTAIN), Sample("x/y", "t", "producing", "", T0),
               Sample("x/y", "n", 7, "parts", T0 + timedelta(microseconds=1)), Sample("x/y", "b", True, "", T0),
               Event("x/y", EventKind.STATE_CHANGE, T0, {"from": None, "to": "down", "reason": "E1"}),
               Sample("x/y", "s", 2.0, "rpm", T0, Quality.BAD, 0x80310000, T0 + timedelta(milliseconds=3))]
    assert decode(encode(records)) == records


def test_what_a_sink_did_not_confirm_survives_a_restart(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db", ["hist", "uns"])
    for i in range(10):
        spool.append([sample(i)])
    spool.flush()
    seq, got = spool.read("hist", 4)
    assert got == [sample(i) for i in range(4)]
    spool.ack("hist", seq)
    spool._db.close()  # no orderly close: as after kill -9 (the rows were committed)
    again = Spool(tmp_path / "spool.db", ["hist", "uns"])
    assert again.read("hist", 100)[1] == [sample(i) for i in range(4, 10)]
    assert again.read("uns", 100)[1] == [sample(i) for i in range(10)]
    assert again.depth("hist") == 6 and again.depth("uns") == 10
    again.close()


def test_drop_oldest_keeps_the_newest_and_counts_exactly(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db", ["fast", "dead"], max_records=1000)
    for i in range(5000):
        spool.append([sample(i)])
        if i % 100 == 99:
            spool.flush()
            seq, _ = spool.read("fast", 10_000)
            spool.ack("fast", seq)
    spool.flush()
    _, kept = spool.read("dead", 10_000)
    assert spool.stats.dropped == {"fast": 0, "dead": 4000}
    assert kept == [sample(i) for i in range(4000, 5000)]
    spool.close()
    reopened = Spool(tmp_path / "spool.db", ["fast", "dead"], max_records=1000)
    assert reopened.stats.dropped["dead"] == 4000  # the count survives a restart too
    reopened.close()


def test_drop_newest_refuses_while_full(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db", ["dead"], max_records=100, overflow=OverflowPolicy.DROP_NEWEST)
    for i in range(250):
        spool.append([sample(i)])
    spool.flush()
    assert spool.stats.refused == 150 and spool.stats.dropped["dead"] == 150
    assert spool.read("dead", 1000)[1] == [sample(i) for i in range(100)]
    spool.close()


def test_a_new_sink_starts_at_the_oldest_record_kept_and_a_removed_one_lets_go(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db", ["a", "b"])
    for i in range(5):
        spool.append([sample(i), sample(100 + i)])
    spool.flush()
    seq, _ = spool.read("a", 4)  # two rows of two records
    spool.ack("a", seq)
    spool.close()
    grown = Spool(tmp_path / "spool.db", ["a", "c"])  # "b" removed: rows only it needed can go
    assert grown.read("c", 100)[1] == grown.read("a", 100)[1]
    assert grown.depth("c") == 6
    grown.close()


def test_commit_callbacks_run_only_after_the_commit(tmp_path: Path) -> None:
    async def main() -> list[str]:
        spool = Spool(tmp_path / "spool.db", ["s"], commit_interval_s=0.01)
        seen: list[str] = []
        spool.append([sample(1)], committed=lambda: seen.append("acked"))
        assert seen == [] and spool.read("s", 10)[1] == []  # gathered, not yet committed or visible
        assert await spool.wait("s", 5)
        seen.append(f"visible:{len(spool.read('s', 10)[1])}")
        spool.close()
        return seen

    assert asyncio.run(main()) == ["acked", "visible:1"]


@pytest.mark.parametrize("policy", list(OverflowPolicy))
def test_overflow_policy_is_named_in_config(policy: OverflowPolicy) -> None:
    from edge_agent.config import SpoolSettings

    assert SpoolSettings.model_validate({"overflow": policy.value}).overflow is policy


def test_retry_waits_with_jitter_and_honours_retry_after() -> None:
    import random

    from edge_agent.agent import retry_delay
    from edge_agent.plugins import RetryLater

    rng = random.Random(1)
    delays = [retry_delay(4.0, ConnectionError("down"), rng) for _ in range(200)]
    assert 2.0 <= min(delays) < 2.5 and 5.5 < max(delays) <= 6.0  # ±50 %, so agents do not retry in step
    assert retry_delay(0.5, RetryLater("429", 30.0), rng) == 30.0
    assert retry_delay(8.0, RetryLater("429", 1.0), rng) >= 4.0


def test_influx_errors_map_to_retry_later_or_refused() -> None:
    from historian.influx import InfluxError, _retry_after

    assert _retry_after("12") == 12.0 and _retry_after("Wed, 21 Oct 2026 07:28:00 GMT") is None
    assert InfluxError("x", 429).retryable and InfluxError("x", 503).retryable and InfluxError("x").retryable
    assert not InfluxError("field type conflict", 400).retryable
