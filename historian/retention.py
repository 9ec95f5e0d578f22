"""How long history is kept, per measurement (signal name): raw samples, then one-minute rollups.

Rules are tried in order and the first whose ``signals`` pattern matches a signal name applies; a signal
no rule matches is kept forever. Rollups (count, sum, min, max, last per minute) are written with the raw
samples, so dropping raw samples at their retention leaves the downsampled history behind.

>>> rules = [RetentionRule(signals="vibration_*", raw_days=2), RetentionRule(raw_days=30, rollup_days=730)]
>>> rule_for(rules, "vibration_rms").raw_days, rule_for(rules, "spindle_speed").raw_days
(2.0, 30.0)
"""

from __future__ import annotations

from collections.abc import Sequence
from fnmatch import fnmatchcase

from pydantic import BaseModel, ConfigDict, Field

DAY_US = 86_400 * 1_000_000


class RetentionRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    signals: str = Field("*", description="signal names this rule applies to (* and ? wildcards)")
    raw_days: float | None = Field(None, gt=0, description="days raw samples are kept; none: forever")
    rollup_days: float | None = Field(None, gt=0, description="days one-minute rollups are kept; none: forever")


KEEP_ALL = RetentionRule()


def rule_for(rules: Sequence[RetentionRule], signal: str) -> RetentionRule:
    return next((r for r in rules if fnmatchcase(signal, r.signals)), KEEP_ALL)


def cutoff_us(days: float | None, now_us: int) -> int | None:
    """Timestamps before this are past retention (None: nothing is)."""
    return None if days is None else now_us - int(days * DAY_US)
