"""The old hours-in-a-period calendar form is still read: converted once into the wall-clock calendar, with a
warning that names the file and key and shows the new form, and planning exactly the time it planned before."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from support import PROJECT

from planning.line_estimate import open_share
from plantmodel.config import ConfigError, parse_config
from plantmodel.period_calendar import DeprecatedConfig, PeriodCalendar, convert
from plantmodel.plant import PlantConfig
from plantmodel.shifts import ShiftCalendarConfig
from simulators.flow.line import FlowLine
from simulators.flow.shifts import Calendar

HOUR = 3600.0
WHERE = "sites[0].areas[0].lines[0].simulation.calendar"
#: the calendars the example plants were written with before the wall-clock form
OLD = {
    "automotive weekly": {"period_h": 168, "shifts": [{"start": 0, "end": 120}, {"start": 126, "end": 134}],
                          "breaks": [{"start": 10, "end": 10.5}, {"start": 34, "end": 34.5}, {"start": 58, "end": 58.5},
                                     {"start": 82, "end": 82.5}, {"start": 106, "end": 106.5}],
                          "maintenance": [{"start": 126, "end": 134}]},
    "smt two shifts": {"shifts": [{"start": "06:00", "end": "14:00"}, {"start": "14:00", "end": "22:00"}],
                       "breaks": [{"start": "09:30", "end": "09:45"}, {"start": "12:00", "end": "12:30"},
                                  {"start": "17:30", "end": "17:45"}, {"start": "20:00", "end": "20:30"}]},
    "pharma day": {"shifts": [{"start": "06:00", "end": "22:00"}], "breaks": [{"start": "12:00", "end": "12:30"}],
                   "maintenance": [{"start": "21:00", "end": "22:00"}]},
    "night over midnight": {"shifts": [{"start": 0, "end": 6}, {"start": 6, "end": 14}, {"start": 22, "end": 24}],
                            "breaks": [{"start": 2, "end": 2.5}, {"start": 23, "end": 23.25}]},
    "weekly over sunday night": {"period_h": 168, "shifts": [{"start": 0, "end": 30}, {"start": 40, "end": 90},
                                                             {"start": 160, "end": 168}],
                                 "breaks": [{"start": 23.5, "end": 24.5}, {"start": 2, "end": 3},
                                            {"start": 63.5, "end": 64.5}],
                                 "maintenance": [{"start": 165, "end": 166}]},
}


def old_stops(raw: dict[str, Any], hours: float) -> list[tuple[float, float, str]]:
    """What the simulator closed the line on for the old form (its former `closed_intervals`, period after
    period), touching stops of one reason joined."""
    spec = PeriodCalendar.model_validate(raw)
    one: list[tuple[float, float, str]] = []
    t = 0.0
    for shift in sorted(spec.shifts, key=lambda s: s.start):
        if shift.start > t:
            one.append((t * HOUR, shift.start * HOUR, "off_shift"))
        t = shift.end
    if t < spec.period_h:
        one.append((t * HOUR, spec.period_h * HOUR, "off_shift"))
    one += [(b.start * HOUR, b.end * HOUR, "break") for b in spec.breaks]
    one += [(m.start * HOUR, m.end * HOUR, "maintenance") for m in spec.maintenance]
    period = spec.period_h * HOUR
    stops = sorted((s + k * period, e + k * period, r) for k in range(int(hours * HOUR // period) + 1)
                   for s, e, r in one)
    return joined([(s, min(e, hours * HOUR), r) for s, e, r in stops if s < hours * HOUR])


def joined(stops: list[tuple[float, float, str]]) -> list[tuple[float, float, str]]:
    out: list[tuple[float, float, str]] = []
    for s, e, r in sorted(stops):
        if out and out[-1][1] == s and out[-1][2] == r:
            out[-1] = (out[-1][0], e, r)
        else:
            out.append((s, e, r))
    return out


def new_stops(calendar: ShiftCalendarConfig, hours: float) -> list[tuple[float, float, str]]:
    """What the simulator closes the line on now, from the run's default origin (a Monday 00:00)."""
    import simpy

    return joined(Calendar(simpy.Environment(), calendar).stops(0.0, hours * HOUR))


@pytest.mark.parametrize("name", OLD)
def test_the_converted_calendar_plans_exactly_the_time_the_old_form_did(name: str) -> None:
    calendar = convert(OLD[name], WHERE)
    assert new_stops(calendar, 3 * 168) == old_stops(OLD[name], 3 * 168)


def test_the_hand_migrated_example_plants_plan_what_they_planned_before() -> None:
    for config, old in (("automotive-plant", "automotive weekly"), ("electronics-smt-plant", "smt two shifts"),
                        ("pharma-packaging-plant", "pharma day")):
        plant = parse_config((PROJECT / "configs" / f"{config}.yaml").read_text(), PlantConfig)
        calendar = plant.lines()[0].config.simulation.calendar
        assert calendar is not None
        assert new_stops(calendar, 2 * 168) == old_stops(OLD[old], 2 * 168), config
        spec = PeriodCalendar.model_validate(OLD[old])  # the old open share, as line_estimate computed it
        shift = sum(s.end - s.start for s in spec.shifts)
        stops = sum(b.end - b.start for b in [*spec.breaks, *spec.maintenance])
        assert open_share(calendar) == pytest.approx((shift - stops) / spec.period_h, abs=1e-12)


def test_a_plant_file_in_the_old_form_is_read_with_a_warning_showing_the_new_form() -> None:
    text = (PROJECT / "configs" / "demo-plant.yaml").read_text().replace(
        "              seed: 42\n", "              seed: 42\n              calendar: " + yaml.safe_dump(
            OLD["pharma day"], default_flow_style=True, width=1000))
    with pytest.warns(DeprecatedConfig) as caught:
        plant = parse_config(text, PlantConfig, "plants/old.yaml")
    [warning] = caught
    message = str(warning.message)
    assert message.startswith(f"plants/old.yaml: {WHERE} is written in the old form")
    new_form = yaml.safe_load(message.split("write it so:\n", 1)[1])["calendar"]
    # the site's time zone; one shift with its break and its maintenance slot
    assert new_form == {"timezone": "Europe/Berlin", "shifts": [{
        "name": "06:00-22:00", "start": "06:00", "end": "22:00", "breaks": [
            {"start": "12:00", "end": "12:30"},
            {"start": "21:00", "end": "22:00", "name": "maintenance", "kind": "maintenance"}]}]}
    # what it shows is what was read: written into the file, it reads the same, without a warning
    calendar = plant.lines()[0].config.simulation.calendar
    assert ShiftCalendarConfig.model_validate(new_form) == calendar
    # and a run on it is the run the old form gave: 16 h open a day less the break and the slot
    result = FlowLine(plant.lines()[0], 1).run(hours=48)
    planned = {r for st in result["stations"].values() for r in st["time_s"]}
    assert "planned_stop" in planned
    assert open_share(calendar) == pytest.approx(14.5 / 24)


def test_an_old_period_that_is_not_a_day_or_a_week_is_refused_naming_the_key() -> None:
    text = (PROJECT / "configs" / "demo-plant.yaml").read_text().replace(
        "              seed: 42\n", "              seed: 42\n              calendar: {period_h: 48, shifts: "
        "[{start: 6, end: 30}]}\n")
    with pytest.raises(ConfigError) as err:
        parse_config(text, PlantConfig, "plants/old.yaml")
    assert f"{WHERE}.period_h (line " in str(err.value)
    assert "a pattern repeating every 48 h cannot be written as wall-clock shifts" in str(err.value)


def test_times_off_the_minute_are_refused() -> None:
    with pytest.raises(ValueError, match=r"calendar\.breaks\[0\]\.start: 10\.01 h does not fall on a whole minute"):
        convert({"shifts": [{"start": 6, "end": 14}], "breaks": [{"start": 10.01, "end": 10.5}]}, "calendar")
