"""A thermal signal as a first-order lag of the machine's work.

A spindle's temperature follows what the machine does: it rises towards a running level while it produces and
falls back towards the ambient one while it stands, with one time constant (Newton's law of cooling). Its level
therefore swings by degrees with every stop and restart, which hides a sensor that drifts by half a degree; its
departure from this lag does not swing. `ThermalLag` learns the ambient level, the rise and the time constant
from a trace of (time, producing, reading), and then says what a reading should be.

>>> import numpy as np
>>> t = np.arange(0.0, 7200.0)
>>> producing = (t % 2400) < 1600
>>> x, y = 0.0, []
>>> for p in producing:
...     x += (float(p) - x) * (1 - np.exp(-1 / 600))
...     y.append(24 + 22 * x)
>>> lag = ThermalLag().fit(t, producing, np.array(y))
>>> round(lag.tau_s_), round(lag.ambient_, 2), round(lag.rise_, 2)
(600, 24.0, 22.0)
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import minimize_scalar
from scipy.signal import lfilter

TAUS_S = tuple(float(v) for v in np.geomspace(30.0, 7200.0, 49))


class ThermalLag:
    """expected = ambient + rise · x, where x follows producing (1) or standing (0) with time constant tau_s."""

    def __init__(self, taus_s: tuple[float, ...] = TAUS_S) -> None:
        self.taus_s = taus_s

    @staticmethod
    def _lag(t: NDArray[np.float64], producing: NDArray[np.float64], tau: float) -> tuple[NDArray[np.float64],
                                                                                          NDArray[np.float64]]:
        """x from 0, and the decay of a start away from it (the trace may begin warm), on the trace's usual step
        (a filter over the whole trace at once: fitting stays in milliseconds on a day of rows)."""
        dt = float(np.median(np.diff(t))) if len(t) > 1 else 1.0
        k = math.exp(-dt / tau)
        x = np.asarray(lfilter([1 - k], [1, -k], producing), dtype=np.float64)
        return x, k ** np.arange(len(t), dtype=np.float64)

    def fit(self, t_s: ArrayLike, producing: ArrayLike, reading: ArrayLike) -> ThermalLag:
        """Least squares for ambient, rise and the start, at each time constant of the grid; the best one wins."""
        t, p, y = (np.asarray(a, dtype=np.float64) for a in (t_s, producing, reading))

        def solve(tau: float) -> tuple[float, NDArray[np.float64], NDArray[np.float64]]:
            design = np.column_stack([np.ones(len(t)), *self._lag(t, p, tau)])
            coef = np.asarray(np.linalg.lstsq(design, y, rcond=None)[0], dtype=np.float64)
            return float(np.sum((y - design @ coef) ** 2)), coef, design

        sse = [solve(tau)[0] for tau in self.taus_s]
        i = int(np.argmin(sse))  # then refined between the grid's neighbours
        lo, hi = math.log(self.taus_s[max(i - 1, 0)]), math.log(self.taus_s[min(i + 1, len(self.taus_s) - 1)])
        found = minimize_scalar(lambda v: solve(math.exp(v))[0], bounds=(lo, hi), method="bounded",
                                options={"xatol": 1e-3})
        self.tau_s_ = math.exp(float(found.x)) if found.fun <= sse[i] else self.taus_s[i]
        best_sse, coef, design = solve(self.tau_s_)
        # how well the trace pins the levels down: a machine that ran throughout shows its rise but not where it
        # would cool to (the warm-up from the start and the lag are then one curve)
        unscaled = np.linalg.pinv(design.T @ design)
        noise = best_sse / max(len(t) - 3, 1)
        self.ambient_se_, self.rise_se_ = (math.sqrt(max(float(unscaled[j, j]) * noise, 0.0)) for j in (0, 1))
        self.ambient_, self.rise_ = float(coef[0]), float(coef[1])
        self.rms_ = math.sqrt(best_sse / max(len(t), 1))
        self.spread_ = float(np.std(y))
        return self

    def explains(self, share: float = 0.2) -> bool:
        """Whether the lag explains the trace: what is left is a small share of the signal's own spread (a machine
        that never stopped in the trace shows no lag to learn), and the levels are known to within the noise."""
        pinned = max(self.ambient_se_, self.rise_se_) <= self.rms_
        return self.rise_ != 0 and self.rms_ <= share * self.spread_ and pinned

    def start(self, reading: float) -> float:
        """x from a reading: the state that reading means."""
        return min(1.0, max(0.0, (reading - self.ambient_) / self.rise_)) if self.rise_ else 0.0

    def advance(self, x: float, dt_s: float, producing: bool) -> float:
        return x + (float(producing) - x) * (1 - math.exp(-max(dt_s, 0.0) / self.tau_s_))

    def expected(self, x: float) -> float:
        return self.ambient_ + self.rise_ * x

    def residuals(self, t_s: ArrayLike, producing: ArrayLike, reading: ArrayLike) -> tuple[NDArray[np.float64], float]:
        """reading − expected along a trace, x started from its first reading; and x at its end."""
        t, p, y = (np.asarray(a, dtype=np.float64) for a in (t_s, producing, reading))
        out = np.empty(len(t))
        x = self.start(float(y[0])) if len(y) else 0.0
        last = t[0] if len(t) else 0.0
        for i in range(len(t)):
            x = self.advance(x, t[i] - last, bool(p[i]))
            last = t[i]
            out[i] = y[i] - self.expected(x)
        return out, x

    def params(self) -> list[float]:
        return [self.tau_s_, self.ambient_, self.rise_, self.rms_, self.spread_, self.ambient_se_, self.rise_se_]

    @classmethod
    def from_params(cls, params: list[float]) -> ThermalLag:
        lag = cls()
        (lag.tau_s_, lag.ambient_, lag.rise_, lag.rms_, lag.spread_, lag.ambient_se_,
         lag.rise_se_) = (float(v) for v in params)
        return lag
