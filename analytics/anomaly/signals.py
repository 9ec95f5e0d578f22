"""Rows of named signals in, a matrix in the model's column order out: extra signals are ignored, a missing
one is an error naming it or, by policy, filled with its training mean (it then contributes nothing).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum

import numpy as np
from numpy.typing import ArrayLike, NDArray

Signals = Mapping[str, ArrayLike] | ArrayLike


class MissingPolicy(StrEnum):
    RAISE = "raise"
    IMPUTE = "impute"


class SignalMismatch(ValueError):
    """The input does not carry the signals the model was trained on."""


def signal_names(X: Signals) -> tuple[str, ...]:
    """Names of the columns: the mapping's keys, or x0, x1, … for a plain array (as scikit-learn does)."""
    if isinstance(X, Mapping):
        return tuple(str(k) for k in X)
    arr = np.asarray(X)
    if arr.ndim != 2:
        raise ValueError(f"expected a 2-D array (rows × signals), got shape {arr.shape}")
    return tuple(f"x{i}" for i in range(arr.shape[1]))


def to_matrix(X: Signals, names: Sequence[str], fill: NDArray[np.float64] | None = None,
              policy: MissingPolicy | str = MissingPolicy.RAISE) -> NDArray[np.float64]:
    """A new float matrix with one column per name, in order; the input is never modified."""
    policy = MissingPolicy(policy)
    if isinstance(X, Mapping):
        missing = [n for n in names if n not in X]
        if missing and (policy is MissingPolicy.RAISE or fill is None):
            raise SignalMismatch(f"missing signals {missing}; the model was trained on {list(names)}")
        present = [np.asarray(X[n], dtype=float).ravel() for n in names if n in X]
        rows = len(present[0]) if present else 0
        cols = []
        for j, n in enumerate(names):
            if n in X:
                col = np.asarray(X[n], dtype=float).ravel()
                if len(col) != rows:
                    raise SignalMismatch(f"signal {n!r} has {len(col)} rows, others have {rows}")
                cols.append(col)
            else:
                assert fill is not None
                cols.append(np.full(rows, fill[j]))
        return np.column_stack(cols) if cols else np.empty((0, len(names)))
    arr = np.array(X, dtype=float, copy=True)
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    if arr.ndim != 2 or arr.shape[1] != len(names):
        raise SignalMismatch(f"expected {len(names)} columns ({list(names)}), got shape {arr.shape}; "
                             "pass a mapping of signal name to values to select by name")
    return arr


def impute_nan(matrix: NDArray[np.float64], fill: NDArray[np.float64], policy: MissingPolicy | str,
               names: Sequence[str]) -> NDArray[np.float64]:
    """NaN readings (a sensor dropout) follow the same policy as a missing signal."""
    bad = np.isnan(matrix)
    if not bad.any():
        return matrix
    if MissingPolicy(policy) is MissingPolicy.RAISE:
        cols = sorted({names[int(j)] for j in np.nonzero(bad)[1]})
        raise SignalMismatch(f"NaN values in signals {cols}")
    return np.where(bad, fill[None, :], matrix)

