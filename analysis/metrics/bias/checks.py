"""The shape of a bias check as the report runs it: what it needs, and how to run it.

Each check module ends with a :class:`Check` (its ``SPEC``); :func:`bias_report` runs the
table of them (:data:`analysis.metrics.bias.report.CHECKS`) for every pool instead of
naming each check by hand.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from analysis.metrics.bias.common import stable_rng


@dataclass(frozen=True)
class CheckContext:
    """What a check needs to know about the report it runs in, for one pool."""

    questions: Mapping[str, str]
    pool: str
    label: str
    pool_column: str
    seed: int
    n_bootstrap: int
    n_permutations: int
    alpha: float
    treated: str
    control: str
    include_mixed_model: bool
    two_way: str

    def rng(self, check: str) -> np.random.Generator:
        """The check's own random stream in this pool (:func:`stable_rng`)."""
        return stable_rng(self.seed, self.pool, check)


@dataclass(frozen=True)
class Check:
    """One bias check in the report.

    Attributes
    ----------
    name : str
        Its key in the report's ``checks``.
    roles : tuple of str
        Question roles whose questions must have answers in the table.
    columns : tuple of str
        Design columns the table must have.
    run : callable
        ``run(rows of one pool, context)`` -> the check's result dict.
    absent : (computed, reason) or None
        What the report says when the roles or columns are missing; None leaves the
        check out of the report instead.
    mixed_model : bool
        The check is a mixed-model fit, run only when the report includes them.
    """

    name: str
    roles: tuple[str, ...]
    columns: tuple[str, ...]
    run: Callable[[pd.DataFrame, CheckContext], dict[str, Any]]
    absent: tuple[str, str] | None = None
    mixed_model: bool = False
