"""Process capability (within-subgroup σ: Cp, Cpk) and performance (overall σ: Pp, Ppk).

>>> c = capability([10.0, 10.1, 9.9, 10.05, 9.95], lsl=9.5, usl=10.5)
>>> round(c.pp, 3), round(c.ppk, 3)
(2.108, 2.108)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from analytics.spc.charts import D2


@dataclass(frozen=True, slots=True)
class Capability:
    mean: float
    sigma_within: float
    sigma_overall: float
    cp: float | None
    cpk: float | None
    pp: float | None
    ppk: float | None
    n: int


def _index(spread: float, sigma: float) -> float | None:
    return spread / sigma if sigma > 0 else None


def capability(x: Sequence[float], lsl: float | None = None, usl: float | None = None,
               sigma_within: float | None = None) -> Capability:
    """One-sided specs give only Cpk/Ppk; σ within defaults to the moving range (individuals)."""
    a = np.asarray(x, dtype=float)
    a = a[np.isfinite(a)]
    if a.size < 2:
        return Capability(float(a.mean()) if a.size else 0.0, 0.0, 0.0, None, None, None, None, int(a.size))
    mean = float(a.mean())
    overall = float(a.std(ddof=1))
    within = sigma_within if sigma_within is not None else float(np.abs(np.diff(a)).mean() / D2[2])

    def pair(sigma: float) -> tuple[float | None, float | None]:
        both = _index(usl - lsl, 6 * sigma) if lsl is not None and usl is not None else None
        sides = [v for v in ((_index(usl - mean, 3 * sigma) if usl is not None else None),
                             (_index(mean - lsl, 3 * sigma) if lsl is not None else None)) if v is not None]
        return both, (min(sides) if sides else None)

    cp, cpk = pair(within)
    pp, ppk = pair(overall)
    return Capability(mean, within, overall, cp, cpk, pp, ppk, int(a.size))
