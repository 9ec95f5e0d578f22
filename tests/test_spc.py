"""SPC: chart constants and limits, run rules as detectors, capability indices."""

from __future__ import annotations

import numpy as np
import pytest

from analytics.spc import NELSON, WESTERN_ELECTRIC, capability, cusum, ewma, imr, violations, xbar_r, xbar_s
from analytics.spc.charts import D2, D3, c4


def test_chart_constants_match_the_tables() -> None:
    n = 5
    assert round(3 / (D2[n] * n**0.5), 3) == 0.577  # A2
    assert round(1 + 3 * D3[n] / D2[n], 3) == 2.114  # D4
    assert round(c4(n), 4) == 0.9400
    assert round(3 / (c4(n) * n**0.5), 3) == 1.427  # A3
    assert round(1 + 3 * (1 - c4(n) ** 2) ** 0.5 / c4(n), 3) == 2.089  # B4


def test_xbar_charts_estimate_sigma_of_a_stable_process() -> None:
    rng = np.random.default_rng(1)
    data = rng.normal(50.0, 2.0, size=(400, 5))
    for chart in (xbar_r(data), xbar_s(data)):
        assert chart.center == pytest.approx(50.0, abs=0.1)
        assert chart.ucl - chart.center == pytest.approx(3 * 2.0 / 5**0.5, rel=0.05)
        assert chart.companion is not None and chart.companion.lcl >= 0
        assert len(chart.out_of_control()) <= 4  # 0.27 % false alarms expected, about 1 in 400


def test_imr_flags_a_shifted_part() -> None:
    x = [10.0, 10.1, 9.9, 10.0, 10.05, 9.95, 10.0, 11.5]
    chart = imr(x)
    assert list(chart.out_of_control()) == [7]


def test_ewma_and_cusum_catch_a_small_sustained_shift_that_shewhart_misses() -> None:
    rng = np.random.default_rng(7)
    x = np.concatenate([rng.normal(0, 1, 50), rng.normal(1.0, 1, 50)])  # a 1σ shift at 50
    assert len(imr(x).out_of_control()) <= 2
    e = ewma(x, target=0.0, sigma=1.0)
    c = cusum(x, target=0.0, sigma=1.0)
    first_e, first_c = e.out_of_control()[0], c.out_of_control()[0]
    assert 50 <= first_e < 80 and 50 <= first_c < 80


@pytest.mark.parametrize(("points", "rule"), [
    ([0, 0.2, -0.1, 3.5], "nelson1"),
    ([0.5] * 9, "nelson2"),
    ([-1.0, -0.6, -0.2, 0.2, 0.6, 1.0], "nelson3"),
    ([0.5, -0.5] * 7, "nelson4"),
    ([0, 2.5, 0.1, 2.2], "nelson5"),
    ([1.5, 1.2, 0.2, 1.3, 1.4], "nelson6"),
    ([0.1, -0.1] * 7 + [0.05], "nelson7"),
    ([1.5, -1.5, 1.2, -1.2, 1.4, -1.4, 1.3, -1.3], "nelson8"),
])
def test_each_nelson_rule_fires_on_its_pattern(points: list[float], rule: str) -> None:
    found = {v.rule for v in violations(points, center=0.0, sigma=1.0, rules=NELSON)}
    assert rule in found
    assert rule not in {v.rule for v in violations(points[:-1], 0.0, 1.0, NELSON)}, "fires only when complete"


def test_western_electric_rules_and_reporting_only_new_points() -> None:
    pts = [0.1, 2.1, 2.3, 0.0]
    vs = violations(pts, 0.0, 1.0, WESTERN_ELECTRIC)
    assert [(v.rule, v.index) for v in vs] == [("we2", 2)]
    assert violations(pts, 0.0, 1.0, WESTERN_ELECTRIC, since=3) == []
    assert violations([5.0], 0.0, 0.0) == []  # no σ, no verdict (not a division by zero)


def test_capability_indices() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(10.0, 0.1, 5000)
    c = capability(x, lsl=9.7, usl=10.4)
    assert c.pp == pytest.approx(0.7 / 0.6, rel=0.03)
    assert c.ppk == pytest.approx(0.3 / 0.3, rel=0.03)
    assert c.cp == pytest.approx(c.pp, rel=0.05)  # a stable process: within ≈ overall
    one_sided = capability(x, usl=10.4)
    assert one_sided.cp is None and one_sided.ppk == pytest.approx(0.4 / 0.3, rel=0.03)
    assert capability([1.0]).cp is None
