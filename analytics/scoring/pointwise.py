"""Point-wise confusion counts pooled over files (micro average), as SKAB reports them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike


@dataclass(frozen=True, slots=True)
class Confusion:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    @classmethod
    def of(cls, truth: ArrayLike, predicted: ArrayLike) -> Confusion:
        """
        >>> Confusion.of([1, 1, 0, 0], [1, 0, 1, 0])
        Confusion(tp=1, fp=1, fn=1, tn=1)
        """
        t = np.asarray(truth).astype(bool)
        p = np.asarray(predicted).astype(bool)
        if t.shape != p.shape:
            raise ValueError(f"truth has shape {t.shape}, prediction {p.shape}")
        return cls(int((t & p).sum()), int((~t & p).sum()), int((t & ~p).sum()), int((~t & ~p).sum()))

    def __add__(self, other: Confusion) -> Confusion:
        return Confusion(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn, self.tn + other.tn)

    @property
    def f1(self) -> float:
        """TP / (TP + (FP + FN) / 2)."""
        denominator = self.tp + (self.fp + self.fn) / 2
        return self.tp / denominator if denominator else 0.0

    @property
    def far(self) -> float:
        """False alarm rate, % of normal rows flagged."""
        return 100.0 * self.fp / (self.fp + self.tn) if self.fp + self.tn else 0.0

    @property
    def mar(self) -> float:
        """Missed alarm rate, % of anomalous rows not flagged."""
        return 100.0 * self.fn / (self.fn + self.tp) if self.fn + self.tp else 0.0
