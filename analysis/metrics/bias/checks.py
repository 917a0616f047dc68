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


# The report settings most checks take, by the keyword they share with the context
# ("rng" is the check's own stream).
CLUSTERED = ("rng", "n_bootstrap", "alpha", "two_way", "label")
RANDOMIZED = (*CLUSTERED, "n_permutations", "treated", "control")


@dataclass(frozen=True)
class Check:
    """One bias check in the report.

    Attributes
    ----------
    name : str
        Its key in the report's ``checks``.
    estimate : callable
        The check: ``estimate(rows of one pool, **arguments)`` -> its result dict.
    questions : mapping
        Its question keyword -> the role whose question it takes; those questions must
        have answers in the table.
    columns : tuple of str
        Design columns the table must have.
    settings : tuple of str
        Report settings it takes, by the :class:`CheckContext` field of the same name.
    derived : callable, optional
        ``derived(rows, context)`` -> further arguments that depend on the data or pool.
    absent : (computed, reason) or None
        What the report says when the questions or columns are missing; None leaves the
        check out of the report instead.
    mixed_model : bool
        The check is a mixed-model fit, run only when the report includes them.
    """

    name: str
    estimate: Callable[..., dict[str, Any]]
    questions: Mapping[str, str]
    columns: tuple[str, ...]
    settings: tuple[str, ...]
    derived: Callable[[pd.DataFrame, CheckContext], dict[str, Any]] | None = None
    absent: tuple[str, str] | None = None
    mixed_model: bool = False

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(self.questions.values())

    def run(self, group: pd.DataFrame, context: CheckContext) -> dict[str, Any]:
        """The check on one pool's rows, with the report's settings."""
        arguments: dict[str, Any] = {
            keyword: context.questions[role] for keyword, role in self.questions.items()
        }
        for name in self.settings:
            arguments[name] = context.rng(self.name) if name == "rng" else getattr(context, name)
        if self.derived is not None:
            arguments.update(self.derived(group, context))
        return self.estimate(group, **arguments)
