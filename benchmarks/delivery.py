"""Delivery counted as sets: what was produced against what a store holds, read back independently.

A difference of counts lets an extra sample hide a missing one and cannot see a duplicate; here each
(series, time, value) is looked up, and what the store holds is a multiset, so a sample stored twice counts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Set
from typing import Any


def delivery(produced: Set[Hashable], stored: Iterable[Hashable]) -> dict[str, Any]:
    """`missing`: produced and not stored; `extra`: stored and never produced; `duplicates`: stored copies beyond
    the first; `loss_pct`: missing as a share of produced."""
    held = Counter(stored)
    missing = sum(1 for p in produced if p not in held)
    extra = sum(n for k, n in held.items() if k not in produced)
    return {"produced": len(produced), "stored": sum(held.values()), "missing": missing, "extra": extra,
            "duplicates": sum(n - 1 for n in held.values() if n > 1),
            "loss_pct": round(100 * missing / len(produced), 3) if produced else 0.0}
