"""Values and failures as sentences show them to people: every reason, warning and refusal
the metrics write goes through here, so none shows a Python repr or a numpy type."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd


def say(value: Any) -> str:
    """A value as a sentence shows it to people: no Python repr, no numpy type.

    Text is quoted (“yes”), numbers are written plainly (0, 2.5), booleans as true/false,
    missing values as "empty", and collections as their items joined by commas.
    """
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NA or value is pd.NaT:
        return "empty"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "empty"
        if math.isinf(value):
            return "infinity" if value > 0 else "minus infinity"
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else f"{value:.6g}"
    if isinstance(value, str):
        return f"“{value}”"
    if isinstance(value, Mapping):
        return ", ".join(f"{say(k)}: {say(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset, np.ndarray, pd.Index, pd.Series)):
        return ", ".join(say(v) for v in list(value))
    return f"“{value}”"


def say_failure(exc: BaseException) -> str:
    """Why a numerical fit failed, in words (a library's message may hold a repr)."""
    if isinstance(exc, np.linalg.LinAlgError):
        return "a singular matrix (the data do not separate the effects)"
    if isinstance(exc, ZeroDivisionError):
        return "a division by zero (no variation to fit)"
    return "degenerate data for this model"
