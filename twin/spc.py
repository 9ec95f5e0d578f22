"""SPC on the inspection station's quality characteristics; run-rule violations become alerts.

Limits come from the configured target and σ, or else from the first `baseline` measurements (an I-MR
phase I study); each new measurement is then checked against the Nelson rules, and an EWMA chart of weight
`ewma_lambda` with limits `ewma_width` σ of the EWMA wide: run rules on single measurements of a part made
every half minute false-alarm several times a day on a healthy process (Nelson 1 alone, 0.27 % of points),
while the EWMA chart at λ 0.1 and 4 σ crosses its limit about once in 25 000 healthy points and still sees a
shift of one σ within a few dozen parts. Which of these raise an alert is the alert rule's choice.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from analytics.spc import NELSON, capability, imr, violations
from plantmodel.telemetry import Sample


@dataclass(frozen=True, slots=True)
class SpcAlert:
    asset: str
    signal: str
    rule: str
    description: str
    value: float
    ts: Any


class Characteristic:
    def __init__(self, asset: str, signal: str, lsl: float | None, usl: float | None, target: float | None,
                 sigma: float | None, baseline: int = 30, keep: int = 500, ewma_lambda: float = 0.1,
                 ewma_width: float = 4.0) -> None:
        self.asset, self.signal, self.lsl, self.usl = asset, signal, lsl, usl
        self.target, self.sigma, self.baseline = target, sigma, baseline
        self.ewma_lambda, self.ewma_width = ewma_lambda, ewma_width
        self.ewma: float | None = None
        self.ewma_out = False
        self.values: deque[float] = deque(maxlen=keep)
        self.times: deque[Any] = deque(maxlen=keep)
        self.checked = 0

    @property
    def limits_known(self) -> bool:
        return self.target is not None and self.sigma is not None

    def add(self, sample: Sample) -> list[SpcAlert]:
        if not isinstance(sample.value, int | float) or isinstance(sample.value, bool) or not np.isfinite(
                sample.value):
            return []
        self.values.append(float(sample.value))
        self.times.append(sample.ts)
        if not self.limits_known:
            if len(self.values) < self.baseline:
                return []
            chart = imr(list(self.values)[: self.baseline])
            self.target = self.target if self.target is not None else chart.center
            self.sigma = self.sigma if self.sigma is not None else chart.sigma
        pts = list(self.values)[-15:]  # the longest rule looks at 15 points
        found = violations(pts, self.target, self.sigma, NELSON, since=len(pts) - 1)  # type: ignore[arg-type]
        out = [SpcAlert(self.asset, self.signal, v.rule, v.description, pts[-1], sample.ts) for v in found]
        if (crossed := self._ewma(pts[-1])) is not None:
            out.append(SpcAlert(self.asset, self.signal, "ewma", crossed, pts[-1], sample.ts))
        return out

    def _ewma(self, x: float) -> str | None:
        """The EWMA chart's crossing of its limit (once per excursion), described; None otherwise."""
        assert self.target is not None and self.sigma is not None
        lam = self.ewma_lambda
        self.ewma = x if self.ewma is None else lam * x + (1 - lam) * self.ewma
        limit = self.ewma_width * self.sigma * (lam / (2 - lam)) ** 0.5
        out = abs(self.ewma - self.target) > limit
        crossed, self.ewma_out = out and not self.ewma_out, out
        if not crossed:
            return None
        side = "above" if self.ewma > self.target else "below"
        return f"EWMA (λ {lam:g}) {side} its {self.ewma_width:g}σ limit: the mean has shifted"

    def as_dict(self) -> dict[str, Any]:
        values = list(self.values)
        cap = capability(values, self.lsl, self.usl) if len(values) >= 2 else None
        c, s = self.target, self.sigma
        return {"asset": self.asset, "signal": self.signal, "lsl": self.lsl, "usl": self.usl, "center": c,
                "sigma": s, "ucl": c + 3 * s if c is not None and s is not None else None,
                "lcl": c - 3 * s if c is not None and s is not None else None, "n": len(values),
                "points": [{"ts": t, "value": v} for t, v in zip(self.times, values, strict=True)][-100:],
                "capability": None if cap is None else {"cp": cap.cp, "cpk": cap.cpk, "pp": cap.pp,
                                                        "ppk": cap.ppk, "mean": cap.mean}}


class SpcMonitor:
    def __init__(self, characteristics: list[Characteristic], on_alert: Callable[[SpcAlert], None]) -> None:
        self.by_key = {(c.asset, c.signal): c for c in characteristics}
        self.on_alert = on_alert

    def observe(self, sample: Sample) -> None:
        c = self.by_key.get((sample.asset, sample.signal))
        if c is not None:
            for alert in c.add(sample):
                self.on_alert(alert)
