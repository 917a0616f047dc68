"""The result type of every coefficient: a value, or ``None`` with the reason."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

Level = Literal["nominal", "ordinal", "interval", "ratio"]
LEVELS: tuple[str, ...] = ("nominal", "ordinal", "interval", "ratio")


def _finite_or_none(value: float | None, field_name: str) -> float | None:
    if value is None:
        return None
    as_float = float(value)
    if not math.isfinite(as_float):
        raise ValueError(f"{field_name} must be a finite number or None")
    return as_float


@dataclass(frozen=True)
class Coefficient:
    """One agreement coefficient, or an explicit statement that it is not defined.

    Parameters
    ----------
    name : str
        Coefficient name, e.g. ``"krippendorff_alpha"``.
    value : float or None
        The estimate; ``None`` when the coefficient is not defined for the data.
    reason : str or None
        Why ``value`` is ``None`` (required then, and ``None`` otherwise).
    n_units : int
        Units with at least one rating.
    n_pairable_units : int
        Units with at least two ratings.
    n_ratings : int
        Ratings that entered the computation.
    n_annotators : int or None
        Distinct annotators, when the caller knows them (value counts do not).
    method : str or None
        How the value was computed (estimator, generalisation used, ...).
    components : tuple of (str, float or None)
        Intermediate quantities, e.g. observed and chance agreement.
    ci_low, ci_high : float or None
        Percentile bootstrap confidence interval bounds.
    confidence_level : float or None
        Nominal coverage of the interval.
    ci_reason : str or None
        Why there is no interval although a bootstrap was requested (or that none was).
    n_bootstrap : int
        Bootstrap resamples drawn.
    n_bootstrap_defined : int
        Resamples on which the coefficient was defined (the others had no variation).
    bootstrap_se : float or None
        Standard deviation of the defined bootstrap replicates.
    p_below : tuple of (float, float)
        ``(threshold, share of defined replicates strictly below threshold)``.

    Raises
    ------
    ValueError
        If a float field is NaN or infinite, or ``value``/``reason`` are inconsistent.
    """

    name: str
    value: float | None
    reason: str | None = None
    n_units: int = 0
    n_pairable_units: int = 0
    n_ratings: int = 0
    n_annotators: int | None = None
    method: str | None = None
    components: tuple[tuple[str, float | None], ...] = ()
    ci_low: float | None = None
    ci_high: float | None = None
    confidence_level: float | None = None
    ci_reason: str | None = None
    n_bootstrap: int = 0
    n_bootstrap_defined: int = 0
    bootstrap_se: float | None = None
    p_below: tuple[tuple[float, float], ...] = ()

    def __post_init__(self) -> None:
        # Validating here means no NaN can ever reach the JSON report unnoticed.
        for field_name in ("value", "ci_low", "ci_high", "confidence_level", "bootstrap_se"):
            object.__setattr__(
                self, field_name, _finite_or_none(getattr(self, field_name), field_name)
            )
        object.__setattr__(
            self,
            "components",
            tuple((str(k), _finite_or_none(v, k)) for k, v in self.components),
        )
        object.__setattr__(
            self,
            "p_below",
            tuple(
                (float(_finite_or_none(t, "threshold")), float(_finite_or_none(p, "p_below")))
                for t, p in self.p_below
            ),
        )
        if self.value is None and not self.reason:
            raise ValueError(f"{self.name}: an undefined coefficient needs a reason")
        if self.value is not None and self.reason is not None:
            raise ValueError(f"{self.name}: a defined coefficient cannot carry a reason")

    @property
    def defined(self) -> bool:
        """Whether the coefficient has a value."""
        return self.value is not None

    @classmethod
    def undefined(cls, name: str, reason: str, **counts: Any) -> Coefficient:
        """Build a not-defined result carrying ``reason`` and whatever counts are known."""
        return cls(name=name, value=None, reason=reason, **counts)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict (plain ``int``/``float``/``str``/``None`` only)."""
        return {
            "name": self.name,
            "value": self.value,
            "defined": self.defined,
            "reason": self.reason,
            "method": self.method,
            "n_units": int(self.n_units),
            "n_pairable_units": int(self.n_pairable_units),
            "n_ratings": int(self.n_ratings),
            "n_annotators": None if self.n_annotators is None else int(self.n_annotators),
            "components": {k: v for k, v in self.components},
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "confidence_level": self.confidence_level,
            "ci_method": "percentile bootstrap over units" if self.n_bootstrap else None,
            "ci_reason": self.ci_reason,
            "n_bootstrap": int(self.n_bootstrap),
            "n_bootstrap_defined": int(self.n_bootstrap_defined),
            "bootstrap_se": self.bootstrap_se,
            "p_below": [{"threshold": t, "probability": p} for t, p in self.p_below],
        }


_NO_PAIRS = "no unit was rated by two or more annotators, so there are no pairs"


def _agreement_context(m: np.ndarray, n_annotators: int | None) -> dict[str, Any]:
    """The counts every coefficient reports, from the ratings per unit ``m``."""
    return {
        "n_units": int((m > 0).sum()),
        "n_pairable_units": int((m >= 2).sum()),
        "n_ratings": int(m.sum()),
        "n_annotators": n_annotators,
    }
