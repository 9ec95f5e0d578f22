"""OEE by ISO 22400: the worked examples, the edge-case conventions, and live = batch on any stream."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.oee import Counts, EventLog, OeeOptions, ShiftCalendar, Span, TimeModel, Window, compute_kpis
from analytics.oee import oee_windows as batch
from analytics.oee.live import LiveOee
from analytics.oee.model import MIN, US
from plantmodel.shifts import ShiftCalendarConfig
from plantmodel.telemetry import Event, EventKind, to_micros

T0 = datetime(2026, 3, 2, 6, tzinfo=UTC)  # a Monday
S0 = to_micros(T0)


def state(minute: float, to: str) -> Event:
    return Event("a", EventKind.STATE_CHANGE, T0 + timedelta(minutes=minute), {"to": to})


def parts(minute: float, count: int, outcome: str = "good") -> Event:
    return Event("a", EventKind.PART, T0 + timedelta(minutes=minute), {"outcome": outcome, "count": count})


def shift(minutes: int = 480, breaks: tuple[tuple[int, int], ...] = ()) -> Window:
    return Window("s", S0, S0 + minutes * MIN, (Span(S0, S0 + minutes * MIN),),
                  tuple(Span(S0 + a * MIN, S0 + b * MIN) for a, b in breaks))


def one(events: list[Event], window: Window, **opts: float | bool | None):
    return batch(EventLog.from_events(events), [window], OeeOptions(**opts))[0]


def test_worked_example_a_from_the_time_model() -> None:
    tm = TimeModel(calendar=480 * MIN, pot=480 * MIN, pdot=60 * MIN, apt=373 * MIN, failure=47 * MIN, failures=1)
    k = compute_kpis(tm, Counts.of(good=18848, scrap=423), ideal_cycle_s=1.0)
    assert (round(k.availability, 6), round(k.effectiveness, 6), round(k.quality, 6), round(k.oee, 6)) == (
        0.888095, 0.861081, 0.978050, 0.747937)
    assert k.oee == pytest.approx(18848 / 25200, rel=1e-12)


def test_worked_example_a_from_events_and_breaks() -> None:
    # two 15-min breaks and a 30-min meal are planned; 47 min of unplanned stops; 19,271 parts, 423 rejected
    events = [state(0, "producing"), state(150, "down"), state(197, "producing"),
              parts(10, 9000), parts(200, 9848), parts(300, 423, "scrap")]
    w = one(events, shift(480, ((120, 135), (240, 270), (360, 375))), ideal_cycle_s=1.0)
    assert w.time.pbt == 420 * MIN and w.time.apt == 373 * MIN and w.counts.good == 18848
    k = w.kpis
    assert (round(k.availability, 6), round(k.effectiveness, 6), round(k.quality, 6), round(k.oee, 6)) == (
        0.888095, 0.861081, 0.978050, 0.747937)


def test_worked_example_b() -> None:
    tm = TimeModel(calendar=480 * MIN, pot=480 * MIN, apt=400 * MIN, failure=80 * MIN, failures=1)
    k = compute_kpis(tm, Counts.of(good=18816, scrap=384), ideal_cycle_s=1.0)
    assert (round(k.availability, 6), round(k.effectiveness, 6), round(k.quality, 6), round(k.oee, 6)) == (
        0.833333, 0.8, 0.98, 0.653333)


def test_six_losses_add_up_to_planned_busy_minus_fully_productive_time() -> None:
    events = [state(0, "setup"), state(20, "producing"), state(60, "down"), state(61, "producing"),
              state(100, "down"), state(130, "starved"), state(150, "producing"), parts(30, 3000),
              parts(21, 5, "scrap"), parts(200, 40, "scrap"), parts(210, 30, "rework")]
    w = one(events, shift(480, ((240, 270),)), ideal_cycle_s=2.0, startup_s=120)
    losses = w.losses
    assert losses.total() == pytest.approx(losses.planned_busy_time - losses.fully_productive_time, abs=1e-6)
    assert losses.equipment_failure == 30 * 60 and losses.setup_and_adjustment == 20 * 60
    assert losses.idling_and_minor_stops == 60 + 20 * 60  # the 1-min stop and 20 min starved
    assert losses.reduced_yield == 5 * 2.0  # scrap within 2 min of the restart after set-up
    assert losses.process_defects == 70 * 2.0
    assert w.time.failures == 1 and w.time.minor_stops == 1
    assert w.kpis.mttr_s == 30 * 60


def test_no_planned_time_gives_none_not_nan() -> None:
    w = Window("holiday", S0, S0 + 480 * MIN)
    r = one([state(0, "producing"), parts(10, 100)], w, ideal_cycle_s=1.0)
    assert r.time.pbt == 0 and r.kpis.availability is None and r.kpis.oee is None
    assert "no_planned_time" in r.flags and "parts_outside_planned_time" in r.flags
    assert not any(isinstance(v, float) and math.isnan(v) for v in r.kpis.as_dict().values())


def test_effectiveness_above_one_is_flagged_and_clamped_only_on_request() -> None:
    events = [state(0, "producing"), parts(50, 600)]
    r = one(events, shift(60), ideal_cycle_s=10.0)  # 600 parts × 10 s = 100 min in 60 min
    assert r.kpis.effectiveness == pytest.approx(100 / 60) and "effectiveness_above_1" in r.flags
    c = one(events, shift(60), ideal_cycle_s=10.0, clamp=True)
    assert c.kpis.effectiveness == 1.0 and c.kpis.oee == pytest.approx(1.0)


def test_a_part_begun_before_the_window_does_not_accuse_the_ideal_cycle_time() -> None:
    # a 30 s ideal cycle run at 31 s; the shift changes 25 s into a cycle: its part ends 6 s into the shift
    cycle = 31 / 60
    events = [state(-10, "producing")] + [parts(6 / 60 + k * cycle, 1) for k in range(-19, 12)]
    r = one(events, shift(6), ideal_cycle_s=30.0)  # 12 parts × 30 s in 6 min: effectiveness 1.0
    assert r.counts.produced == 12 and r.counts.first == 1
    assert r.kpis.effectiveness == pytest.approx(1.0) and r.flags == ()
    early = one(events, Window("s", S0, S0 + 30 * US, (Span(S0, S0 + 30 * US),)), ideal_cycle_s=30.0)
    assert early.kpis.effectiveness == pytest.approx(1.0) and "effectiveness_above_1" not in early.flags
    tiny = one(events, Window("s", S0, S0 + 10 * US, (Span(S0, S0 + 10 * US),)), ideal_cycle_s=30.0)
    assert tiny.kpis.effectiveness == pytest.approx(3.0)  # as ISO 22400 counts it, and said why
    assert tiny.flags == ("first_part_began_before_window",)
    # a unit that began the window waiting made its first part inside it: nothing to explain away
    idle = [state(-10, "starved"), state(0, "producing"), parts(0.4, 1), parts(0.8, 1)]
    assert "effectiveness_above_1" in one(idle, shift(1), ideal_cycle_s=31.0).flags
    assert one(idle, shift(1), ideal_cycle_s=31.0).counts.first == 0
    # one part at most: a counter's first report of 400 parts in 40 min still says the ideal cycle is wrong
    big = one([state(-10, "producing"), parts(1, 400)], shift(40), ideal_cycle_s=30.0)
    assert big.counts.first == 1 and "effectiveness_above_1" in big.flags


def test_counts_without_ideal_cycle_time() -> None:
    r = one([state(0, "producing"), parts(10, 100), parts(11, 5, "scrap")], shift(60))
    assert r.kpis.availability == 1.0 and r.kpis.quality == pytest.approx(100 / 105)
    assert r.kpis.effectiveness is None and r.kpis.oee is None and r.losses is None
    assert "no_ideal_cycle_time" in r.flags


def test_events_out_of_order_give_the_same_result() -> None:
    events = [state(0, "producing"), state(50, "down"), state(80, "producing"), parts(20, 10), parts(90, 10)]
    a = one(events, shift(120), ideal_cycle_s=1.0)
    b = one(list(reversed(events)), shift(120), ideal_cycle_s=1.0)
    assert a == b and a.time.failure == 30 * MIN


def test_simultaneous_and_repeated_states() -> None:
    # the later of two changes at one instant wins; a stop reported twice is one stop
    events = [state(0, "down"), state(0, "producing"), state(30, "down"), state(31, "down"), state(40, "producing")]
    r = one(events, shift(60), ideal_cycle_s=1.0, minor_stop_s=300)
    assert r.time.apt == 50 * MIN and r.time.failure == 10 * MIN and r.time.failures == 1


def test_unknown_state_before_the_first_event_is_accounted() -> None:
    r = one([state(15, "producing"), parts(20, 2700)], shift(60), ideal_cycle_s=1.0)
    assert r.time.unknown == 15 * MIN and "state_unknown_part_of_time" in r.flags
    assert r.losses.unaccounted == 15 * 60
    assert r.kpis.availability == 1.0 and r.kpis.oee == 1.0  # over the 45 observed minutes
    nothing = one([], shift(60), ideal_cycle_s=1.0)
    assert nothing.kpis.availability is None and "no_state_known" in nothing.flags


def test_a_state_spanning_a_shift_boundary_is_split_and_classified_by_its_full_length() -> None:
    events = [state(0, "producing"), state(470, "down"), state(490, "producing")]
    w1 = Window("early", S0, S0 + 480 * MIN, (Span(S0, S0 + 480 * MIN),))
    w2 = Window("late", S0 + 480 * MIN, S0 + 960 * MIN, (Span(S0 + 480 * MIN, S0 + 960 * MIN),))
    a, b = batch(EventLog.from_events(events), [w1, w2], OeeOptions(ideal_cycle_s=1.0, minor_stop_s=900))
    assert a.time.failure == 10 * MIN and b.time.failure == 10 * MIN  # a 20-min stop: a failure in both
    assert (a.time.failures, b.time.failures) == (1, 0)  # counted once, where it began


def test_shift_calendar_across_daylight_saving_change() -> None:
    cfg = ShiftCalendarConfig(timezone="Europe/Berlin", shifts=[
        {"name": "night", "start": "22:00", "end": "06:00", "breaks": [{"start": "02:00", "end": "02:30"}]}])
    cal = ShiftCalendar(cfg, cfg.tz)
    # clocks go forward at 02:00 on 29 March 2026 and back at 03:00 on 25 October 2026
    spring = cal.periods(to_micros(datetime(2026, 3, 28, 12, tzinfo=UTC)), to_micros(datetime(2026, 3, 29, 12,
                                                                                             tzinfo=UTC)))
    autumn = cal.periods(to_micros(datetime(2026, 10, 24, 12, tzinfo=UTC)), to_micros(datetime(2026, 10, 25, 12,
                                                                                              tzinfo=UTC)))
    assert [(p.end - p.start) / (3600 * US) for p in spring] == [7.0]
    assert [(p.end - p.start) / (3600 * US) for p in autumn] == [9.0]


def test_holidays_and_weekdays() -> None:
    cfg = ShiftCalendarConfig(timezone="UTC", holidays=["2026-03-03"], shifts=[
        {"name": "day", "start": "06:00", "end": "14:00", "days": ["mon", "tue", "wed"]}])
    periods = ShiftCalendar(cfg, cfg.tz).periods(S0 - 6 * 3600 * US, S0 + 7 * 86400 * US)
    assert [p.key for p in periods] == ["2026-03-02/day", "2026-03-04/day"]


def test_day_window_over_shifts() -> None:
    cfg = ShiftCalendarConfig(timezone="UTC", shifts=[
        {"name": "early", "start": "06:00", "end": "14:00", "breaks": [{"start": "10:00", "end": "10:30"}]},
        {"name": "late", "start": "14:00", "end": "22:00"}])
    day0 = S0 - 6 * 3600 * US
    periods = ShiftCalendar(cfg, cfg.tz).periods(day0, day0 + 86400 * US)
    w = Window.over("2026-03-02", day0, day0 + 86400 * US, periods)
    r = one([state(0, "producing")], w, ideal_cycle_s=1.0)
    assert r.time.pot == 16 * 3600 * US and r.time.pdot == 30 * MIN and r.time.calendar == 86400 * US
    assert r.kpis.teep == pytest.approx(0.0)


@pytest.mark.parametrize(("shifts", "message"), [
    ([{"name": "a", "start": "06:00", "end": "14:00"}, {"name": "b", "start": "13:00", "end": "22:00"}], "overlaps"),
    ([{"name": "a", "start": "22:00", "end": "06:00"}, {"name": "b", "start": "05:00", "end": "08:00"}], "overlaps"),
    ([{"name": "a", "start": "06:00", "end": "14:00", "breaks": [{"start": "15:00", "end": "15:10"}]}],
     "not inside"),
])
def test_impossible_calendars_are_refused(shifts: list[dict], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ShiftCalendarConfig(shifts=shifts)


STATES = ["producing", "down", "starved", "blocked", "setup", "planned_stop", "idle", "unknown", "bogus"]


@st.composite
def streams(draw: st.DrawFn) -> list[Event]:
    n = draw(st.integers(0, 40))
    out = []
    for _ in range(n):
        minute = draw(st.integers(-30, 150)) / 2  # some before and after the window, some simultaneous
        if draw(st.booleans()):
            out.append(state(minute, draw(st.sampled_from(STATES))))
        else:
            out.append(parts(minute, draw(st.integers(1, 5)), draw(st.sampled_from(["good", "scrap", "rework"]))))
    return out


@settings(max_examples=300, deadline=None)
@given(events=streams(), shuffle=st.randoms(use_true_random=False), until_min=st.integers(0, 100))
def test_live_equals_batch_on_any_stream(events: list[Event], shuffle, until_min: int) -> None:
    window = shift(60, ((20, 25),))
    opts = OeeOptions(ideal_cycle_s=1.5, minor_stop_s=240, startup_s=90)
    live = LiveOee(window, opts)
    arrival = events[:]
    if shuffle.random() < 0.5:
        shuffle.shuffle(arrival)  # out of order, sometimes
    for e in arrival:
        live.add(e)
    last = max([to_micros(e.ts) for e in events], default=S0)
    until = max(last + 1, S0 + until_min * MIN)  # a live result is asked for after the events it has
    expected = batch(EventLog.from_events(arrival), [window], opts, until=until)  # ties: last arrival wins
    got = live.result(until)
    if not expected:
        assert got.time.calendar == 0
        return
    assert got.time == expected[0].time
    assert got.counts == expected[0].counts
    assert got.kpis == expected[0].kpis


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "factory_twin", "oee", *args], capture_output=True, text=True,
                          timeout=60)


def test_calculator_reproduces_worked_example_a() -> None:
    r = _cli("--planned-busy-time", "420m", "--production-time", "373m", "--ideal-cycle-time", "1s",
             "--produced", "19271", "--good", "18848", "--json")
    assert r.returncode == 0, r.stderr
    k = json.loads(r.stdout)
    assert {n: round(k[n], 6) for n in ("availability", "performance", "quality", "oee")} == {
        "availability": 0.888095, "performance": 0.861081, "quality": 0.978050, "oee": 0.747937}
    table = _cli("--planned-busy-time", "7h", "--production-time", "6h13m", "--ideal-cycle-time", "1",
                 "--produced", "19271", "--good", "18848")
    assert "74.7937%" in table.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["--planned-busy-time", "42x"], "not a duration"),
    (["--planned-busy-time", "420m", "--good", "20000"], "cannot exceed produced"),
    (["--production-time", "-5"], "not a duration"),
    (["--ideal-cycle-time", "-30"], "not a duration"),
    (["--production-time", "0m", "--produced", "700", "--good", "650"], "production time is 0 but 700 parts"),
    (["--ideal-cycle-time", "0s"], "ideal cycle time must be more than 0"),
    (["--rework", "50", "--produced", "725", "--good", "700"], "rework (50) cannot exceed"),
    (["--production-time", "nan"], "not a duration"),
    (["--planned-busy-time", "inf"], "not a duration"),
    (["--ideal-cycle-time", "-inf"], "not a duration"),
    (["--setup-time", "60m"], "setup time together cannot exceed"),
    (["--calendar-time", "400m"], "calendar time cannot be less"),
])
def test_calculator_refuses_impossible_input(args: list[str], message: str) -> None:
    base = {"--planned-busy-time": "420m", "--production-time": "373m", "--produced": "19271", "--good": "18848"}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        base[flag] = value
    r = _cli(*[x for kv in base.items() for x in kv])
    said = " ".join(r.stderr.replace("│", " ").split())  # typer boxes and wraps long lines
    assert r.returncode == 2 and message in said, r.stderr
    assert "Traceback" not in r.stderr


def _reasoned(minute: float, to: str, reason: str | None = None) -> Event:
    data = {"to": to} | ({"reason": reason} if reason else {})
    return Event("a", EventKind.STATE_CHANGE, T0 + timedelta(minutes=minute), data)


def test_stops_unqualified_until_a_reason_is_mapped_or_given_and_the_pareto() -> None:
    from analytics.oee.downtime import find_stops, pareto, qualify

    events = [_reasoned(0, "producing"), _reasoned(10, "down", "E101"), _reasoned(40, "producing"),
              _reasoned(50, "down"), _reasoned(51, "producing"), _reasoned(60, "setup"), _reasoned(75, "producing"),
              _reasoned(100, "down", "E999")]
    until = S0 + 120 * MIN
    stops = find_stops("a", EventLog.from_events(events), until, minor_stop_s=120,
                       reasons={"E101": "spindle overload"})
    assert [(s.kind, s.label, s.end is None) for s in stops] == [
        ("failure", "spindle overload", False), ("minor_stop", "unqualified", False), ("setup", "unqualified", False),
        ("failure", "unqualified", True)]
    stops = qualify(stops, {stops[3].id: "coolant pump"})
    bars = pareto(stops, S0, until)
    assert [(b.key, b.seconds) for b in bars] == [("spindle overload", 1800), ("coolant pump", 1200),
                                                  ("unqualified", 960)]
    assert bars[-1].cumulative == pytest.approx(1.0)
    by_kind = pareto(stops, S0, S0 + 45 * MIN, by=lambda s: s.kind)  # clipped to the window
    assert [(b.key, b.seconds) for b in by_kind] == [("failure", 1800)]


def test_line_oee_is_output_based_at_the_bottleneck_pace() -> None:
    from analytics.oee.line import line_oee

    w = shift(60)
    first = one([state(0, "producing"), parts(30, 100)], w, ideal_cycle_s=20.0)
    last = one([state(0, "producing"), parts(30, 90), parts(31, 5, "scrap")], w, ideal_cycle_s=30.0)
    line = line_oee({"cnc": first, "inspect": last}, {"cnc": 20.0, "inspect": 30.0}, last="inspect")
    assert line.bottleneck == "inspect" and line.oee == pytest.approx(90 * 30 / 3600)
    assert line_oee({}, {}, last="x").oee is None


def test_line_oee_leaves_out_the_time_before_the_state_was_known() -> None:
    from analytics.oee.line import line_oee

    w = shift(480)  # the twin started 5.4 h into the shift: only the last 2.6 h are known
    first = one([state(324, "producing"), parts(400, 100)], w, ideal_cycle_s=20.0)
    last = one([state(324, "producing"), parts(400, 120)], w, ideal_cycle_s=30.0)
    line = line_oee({"cnc": first, "inspect": last}, {"cnc": 20.0, "inspect": 30.0}, last="inspect")
    assert line.unknown_s == 324 * 60 and line.planned_busy_time_s == 156 * 60
    assert line.oee == pytest.approx(120 * 30 / (156 * 60))  # not / 480 min
    assert line.oee == pytest.approx(last.kpis.oee)  # station and line agree on the known time
    assert "state_unknown_part_of_time" in line.flags


def test_line_oee_of_a_window_younger_than_a_cycle_says_why_it_is_above_1() -> None:
    from analytics.oee.line import line_oee

    w = Window("s", S0, S0 + 10 * US, (Span(S0, S0 + 10 * US),))  # 10 s into the shift
    last = one([state(-5, "producing"), parts(5 / 60, 1)], w, ideal_cycle_s=30.0)  # begun before the shift
    line = line_oee({"inspect": last}, {"inspect": 30.0}, last="inspect")
    assert line.oee == pytest.approx(3.0) and line.flags == ("first_part_began_before_window",)
    fresh = one([state(-5, "starved"), state(0, "producing"), parts(5 / 60, 1)], w, ideal_cycle_s=30.0)
    assert "first_part_began_before_window" not in line_oee({"inspect": fresh}, {"inspect": 30.0}, last="inspect").flags
