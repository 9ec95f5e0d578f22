"""The agent's mapping layer and event derivation: PLC vocabulary in, the namespace's vocabulary out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from asyncua import ua
from pydantic import ValidationError

from edge_agent.derive import EventDeriver, Roles
from edge_agent.mapping import Mapper, MappingError, ValueMap
from plantmodel.config import parse_config
from plantmodel.plant import PlantConfig
from plantmodel.telemetry import Quality, Sample

T0 = datetime(2026, 12, 1, 6, tzinfo=UTC)
A = "acme/plant1/packing/line2/end/filler-1"


def mapper(**kw: object) -> Mapper:
    return Mapper(ValueMap.model_validate(kw))


def values(m: Mapper, raw: object) -> list[object]:
    return [x.value for x in m.apply(raw)]


@pytest.mark.parametrize(("raw", "state"), [
    (6, "producing"), ("Execute", "producing"), ("execute", "producing"), (11, "down"), ("Held", "down"),
    (5, "starved"), (4, "idle"), (9, "down"), (0, "unknown"), (6.0, "producing"),
    (ua.LocalizedText("Execute", "en"), "producing"),
])
def test_packml_states_by_number_and_name(raw: object, state: str) -> None:
    assert values(mapper(preset="packml"), raw) == [state]


def test_vendor_codes_override_the_preset_and_unknown_codes_are_refused_or_defaulted() -> None:
    m = mapper(preset="packml", states={17: "setup", "Wartung": "down"})
    assert values(m, 17) == ["setup"] and values(m, "wartung") == ["down"] and values(m, 6) == ["producing"]
    with pytest.raises(MappingError) as err:
        values(mapper(states={1: "producing", 2: "down"}), 3)
    assert err.value.reason == "unmapped_value"
    assert values(mapper(states={1: "producing"}, default="unknown"), 99) == ["unknown"]


def test_machinery_item_state_preset() -> None:
    m = mapper(preset="machinery_item_state")
    assert [values(m, v)[0] for v in ("Executing", "NotExecuting", "OutOfService", "NotAvailable", 3, 2)] == [
        "producing", "idle", "down", "idle", "producing", "idle"]
    assert values(mapper(preset="machinery_operation_mode"), 2) == ["setup"]


def test_status_word_first_listed_set_bit_wins() -> None:
    m = mapper(bits={2: "down", 0: "producing", 5: "setup"}, default="idle")
    assert values(m, 0b000001) == ["producing"]
    assert values(m, 0b000101) == ["down"]  # the fault bit is listed first
    assert values(m, 0b100000) == ["setup"]
    assert values(m, 0) == ["idle"]
    with pytest.raises(MappingError):
        values(m, "7")


def test_scaling_and_unit_conversion() -> None:
    m = mapper(scale={"raw": [0, 27648], "eng": [0, 100]})
    assert values(m, 13824) == [50.0]
    m = Mapper(ValueMap.model_validate({"scale": {"factor": 0.1}, "to_unit": "degC"}), "degF")
    out = m.apply(2120)
    assert out[0].value == pytest.approx(100.0) and out[0].unit == "°C"
    assert Mapper(None, "Nm").apply(5.0)[0].unit == "N·m"


def test_arrays_explode_or_stay_whole() -> None:
    out = mapper().apply([20.5, 21.0, 22.5])
    assert [(x.suffix, x.value) for x in out] == [(".0", 20.5), (".1", 21.0), (".2", 22.5)]
    whole = mapper(array="json").apply([1, 2, 3])
    assert [(x.suffix, x.value) for x in whole] == [("", "[1,2,3]")]
    with pytest.raises(MappingError, match="array of 5000"):
        mapper().apply(list(range(5000)))


def test_structures_are_reached_by_field() -> None:
    counts = [{"ID": 1, "Name": "packs", "Count": 41, "AccCount": 9041}]
    assert values(mapper(field="0.AccCount"), counts) == [9041]
    with pytest.raises(MappingError, match="no field"):
        mapper(field="0.Missing").apply(counts)


def test_long_text_is_cut_and_marked() -> None:
    out = mapper(max_length=10).apply("x" * 50)
    assert len(out[0].value) == 10 and out[0].quality is Quality.UNCERTAIN


@pytest.mark.parametrize(("spec", "message"), [
    ({"states": {1: "running"}, "preset": "packml"}, "'running' is not a state of the twin"),
    ({"bits": {0: "down"}, "states": {1: "idle"}}, "do not combine it"),
    ({"scale": {"raw": [0, 10]}}, "give both raw and eng"),
    ({"unit": "flibbertigibbets"}, "unknown unit"),
    ({"unit": "bar", "to_unit": "degC"}, "cannot convert"),
    ({"default": "idle"}, "default is for states"),
])
def test_impossible_maps_are_refused_when_the_config_loads(spec: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ValueMap.model_validate(spec)


def _sample(signal: str, value: object, i: int, asset: str = A) -> Sample:
    return Sample(asset, signal, value, "", T0 + timedelta(seconds=i))  # type: ignore[arg-type]


def _parts(events: list) -> dict[str, int]:
    out: dict[str, int] = {}
    for e in events:
        if e.kind == "part":
            out[e.data["outcome"]] = out.get(e.data["outcome"], 0) + e.data["count"]
    return out


def test_counters_baseline_wrap_and_reset() -> None:
    d = EventDeriver(rollovers={(A, "parts_good"): 65535})
    events = []
    for i, v in enumerate([65530, 65533, 65535, 2, 5]):  # 3 + 2 + 3 (65535 -> 0 -> 2) + 3
        events += d.observe(_sample("parts_good", v, i))
    assert _parts(events) == {"good": 11}
    d = EventDeriver()  # no rollover declared: a drop is a reset to zero
    events = []
    for i, v in enumerate([100, 110, 3, 7]):
        events += d.observe(_sample("parts_good", v, i))
    assert _parts(events) == {"good": 10 + 3 + 4}


def test_total_counter_gives_good_as_total_less_scrap() -> None:
    d = EventDeriver()
    events = []
    stream = [("parts_total", 100), ("parts_scrap", 7), ("parts_total", 101), ("parts_scrap", 8),
              ("parts_total", 105), ("parts_scrap", 8), ("parts_total", 110), ("parts_scrap", 10)]
    for i, (signal, v) in enumerate(stream):
        events += d.observe(_sample(signal, v, i))
    # the last two defects were reported after their packs were counted good: the next packs make up for it
    assert _parts(events) == {"good": 9, "scrap": 3}
    events += d.observe(_sample("parts_total", 113, 9))
    assert _parts(events) == {"good": 13 - 3, "scrap": 3}


def test_catalogue_names_the_state_and_counters_of_a_users_type() -> None:
    plant = parse_config("""
enterprise: acme
asset_types:
  tablet_press:
    extends: press
    state: run_state
    part_counters: {tablets_ok: good, tablets_rejected: scrap}
    signals:
      run_state: {kind: state}
      tablets_ok: {kind: counter, unit: parts}
      tablets_rejected: {kind: counter, unit: parts}
sites:
  - id: plant1
    areas:
      - id: packing
        lines:
          - id: line2
            flow: [filler-1]
            cells:
              - id: end
                assets:
                  - {id: filler-1, type: tablet_press}
""", PlantConfig)
    d = EventDeriver(Roles.of(plant))
    events = d.observe(_sample("run_state", "idle", 0)) + d.observe(_sample("run_state", "producing", 1))
    events += d.observe(_sample("state", "down", 2))  # not this type's state signal
    for i, v in enumerate([10, 12]):
        events += d.observe(_sample("tablets_ok", v, 3 + i)) + d.observe(_sample("parts_good", v * 2, 3 + i))
    assert [e.data["to"] for e in events if e.kind == "state_change"] == ["idle", "producing"]
    assert _parts(events) == {"good": 2}


def test_one_spelling_per_unit_reaches_the_namespace() -> None:
    from edge_agent.sources.mqtt import FieldMapping
    from edge_agent.sources.opcua_tags import OpcUaTag

    assert FieldMapping(unit="degC").unit == FieldMapping(unit="°C").unit == "°C"
    assert OpcUaTag(node="ns=2;i=1", asset="a", signal="b", unit="celsius").unit == "°C"
    assert Mapper(None, "deg_C").apply(21.5)[0].unit == "°C"  # a unit read from the server at run time


def test_good_and_total_counters_give_scrap_when_they_change_together() -> None:
    """A machine tool's PartsGood beside PartsCompleted: one notification carries both changes."""
    d = EventDeriver()
    events = d.observe_batch([_sample("parts_total", 40, 0), _sample("parts_good", 30, 0)])
    events += d.observe_batch([_sample("parts_total", 47, 1), _sample("parts_good", 35, 1)])  # 5 good, 2 bad
    events += d.observe_batch([_sample("parts_good", 38, 2), _sample("parts_total", 50, 2)])  # order within: any
    assert _parts(events) == {"good": 8, "scrap": 2}
