"""Rounding shared by the ranking sections: ratings to 0.01 Elo, the rest to 4 digits."""

from __future__ import annotations

import numpy as np


def _round(value: float | None, digits: int = 4) -> float | None:
    if value is None or not np.isfinite(value):
        return None
    return round(float(value), digits)


def _elo(value: float) -> float | None:
    return _round(value, 2)
