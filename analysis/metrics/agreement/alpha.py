"""Krippendorff's alpha at every level of measurement: the coincidence-matrix form, the
unit bootstrap, and the reference point estimate of the ``krippendorff`` package.

References
----------
.. [K2011] Krippendorff, K. (2011). *Computing Krippendorff's Alpha-Reliability*.
   Annenberg School for Communication, University of Pennsylvania.
.. [K2019] Krippendorff, K. (2019). *Content Analysis: An Introduction to Its Methodology*,
   4th ed., ch. 12. SAGE.
.. [Z2016] Zapf, A., Castell, S., Morawietz, L., & Karch, A. (2016). Measuring inter-rater
   reliability for nominal data - which coefficients and confidence intervals are
   appropriate? *BMC Medical Research Methodology*, 16, 93.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import krippendorff
import numpy as np
from scipy import sparse

from analysis.metrics.agreement.coefficient import (
    _NO_PAIRS,
    LEVELS,
    Coefficient,
    _agreement_context,
)
from analysis.metrics.say import say

# Memory guards, in float64 cells (8 bytes each). They keep the worst case well inside
# the 2 GB budget: the krippendorff package materialises about three units x V x V arrays,
# and a units x categories count table must fit comfortably too.
_PACKAGE_MAX_CELLS = 4_000_000
_DENSE_COINCIDENCE_MAX_CELLS = 20_000_000
_BOOTSTRAP_CHUNK_CELLS = 4_000_000

# Below this relative size an expected-disagreement sum is floating-point noise from the
# moment formula (all values equal); see _alpha_sums.
_RELATIVE_ZERO = 1e-12


def _validated_counts(value_counts: Any) -> np.ndarray:
    counts = np.asarray(value_counts, dtype=np.float64)
    if counts.ndim != 2:
        raise ValueError("value_counts must be a 2-D units x categories array")
    if (counts < 0).any() or not np.isfinite(counts).all():
        raise ValueError("value_counts must hold non-negative finite counts")
    if not np.array_equal(counts, np.round(counts)):
        raise ValueError("value_counts must hold whole numbers")
    return counts


def _validated_positions(value_domain: Any, n_categories: int, level: str) -> np.ndarray:
    if level not in LEVELS:
        raise ValueError(
            f"unknown level of measurement {say(level)}; expected one of {say(LEVELS)}"
        )
    if value_domain is None:
        positions = np.arange(n_categories, dtype=np.float64)
    else:
        try:
            positions = np.asarray(value_domain, dtype=np.float64)
        except (TypeError, ValueError):
            if level != "nominal":
                raise ValueError(f"{level} alpha needs a numeric value_domain") from None
            positions = np.arange(n_categories, dtype=np.float64)
    if positions.shape != (n_categories,):
        raise ValueError("value_domain must have one entry per value_counts column")
    if level != "nominal" and len(np.unique(positions)) != n_categories:
        raise ValueError("value_domain entries must be distinct")
    if level != "nominal" and n_categories > 1 and (np.diff(positions) <= 0).any():
        raise ValueError(f"{level} alpha needs value_domain in increasing order")
    if level == "ratio" and (positions < 0).any():
        raise ValueError("ratio alpha needs non-negative values")
    return positions


def distance_matrix(positions: np.ndarray, level: str, marginals: np.ndarray) -> np.ndarray:
    """Krippendorff's squared difference function between every pair of categories.

    Parameters
    ----------
    positions : numpy.ndarray
        Numeric position of each category.
    level : {"nominal", "ordinal", "interval", "ratio"}
        Metric to use.
    marginals : numpy.ndarray
        Pairable values per category ``n_c`` (the ordinal metric depends on them).

    Returns
    -------
    numpy.ndarray
        ``V x V`` matrix ``delta^2_ck``, per [K2011]_ pp. 4-6: nominal ``[c != k]``;
        ordinal ``(sum_{g=c..k} n_g - (n_c + n_k)/2)^2``; interval ``(c - k)^2``; ratio
        ``((c - k)/(c + k))^2``.

    Notes
    -----
    The ordinal metric is computed as ``(mid_k - mid_c)^2`` with mid-ranks
    ``mid_v = cumsum(n)_v - n_v / 2``, which equals the summation form for ``c <= k``.
    """
    if level == "nominal":
        return 1.0 - np.eye(len(positions))
    if level == "ordinal":
        mid_ranks = np.cumsum(marginals) - marginals / 2.0
        return (mid_ranks[:, None] - mid_ranks[None, :]) ** 2
    # Answers near the largest float overflow here; the infinities (NaN for the ratio
    # metric) are left for the callers, which say why alpha is then undefined.
    with np.errstate(over="ignore", invalid="ignore"):
        difference = positions[:, None] - positions[None, :]
        if level == "interval":
            return difference**2
        total = positions[:, None] + positions[None, :]
        ratio = np.divide(difference, total, out=np.zeros_like(difference), where=total != 0)
        return np.where(np.isfinite(total) & np.isfinite(difference), ratio**2, np.nan)


def coincidence_matrix(value_counts: Any) -> np.ndarray:
    """Krippendorff's coincidence matrix ``o_ck``.

    Parameters
    ----------
    value_counts : array_like, shape (units, V)
        Ratings per unit and category.

    Returns
    -------
    numpy.ndarray
        ``o_ck = sum_u (n_uc n_uk - [c = k] n_uc) / (m_u - 1)`` over pairable units
        ([K2011]_ p. 3, [K2019]_ §12.2.3).
    """
    counts = _validated_counts(value_counts)
    counts = counts[counts.sum(axis=1) >= 2]
    scaled = counts / (counts.sum(axis=1, keepdims=True) - 1.0)
    return scaled.T @ counts - np.diag(scaled.sum(axis=0))


@dataclass(frozen=True)
class _AlphaPlan:
    """Per-unit sufficient statistics for alpha, summed with weights to resample units.

    For every level, ``alpha = 1 - (n - 1) * observed / expected`` where ``observed =
    sum_ck o_ck delta_ck``, ``expected = sum_ck n_c n_k delta_ck`` and ``n`` is the number
    of pairable values ([K2011]_ eq. for alpha with coincidences). Every one of these is a
    sum over units of a per-unit quantity, except that ``expected`` (and, for ordinal data,
    ``delta``) is a fixed function of the summed marginals. So a bootstrap resample of
    units is a weighted sum of per-unit features -- one matrix product per batch.

    Feature columns per level:

    * nominal, ratio: ``[observed_u, n_u1 .. n_uV]`` (``delta`` fixed);
    * interval: ``[observed_u, m_u, sum x, sum x^2]`` with centred positions, so the cost
      does not grow with the number of distinct values;
    * ordinal: the unit's full coincidence contribution ``o_u`` flattened to ``V^2``
      columns, because ``delta`` depends on the resampled marginals.
    """

    level: str
    features: np.ndarray | sparse.csr_matrix
    positions: np.ndarray
    distance: np.ndarray | None


# Why alpha is undefined when its sums are not finite numbers.
TOO_LARGE = (
    "the answers are too large for alpha's squared differences to be computed (they "
    "exceed the largest number a computer holds); rescale the answers, e.g. to other units"
)


def _alpha_plan(pairable_counts: np.ndarray, positions: np.ndarray, level: str) -> _AlphaPlan:
    # Squared differences of answers near 1e154 or more overflow: the sums then hold
    # infinities, which the callers check and report as the reason alpha is undefined.
    with np.errstate(over="ignore", invalid="ignore"):
        return _plan(pairable_counts, positions, level)


def _plan(pairable_counts: np.ndarray, positions: np.ndarray, level: str) -> _AlphaPlan:
    m = pairable_counts.sum(axis=1)
    if level == "interval":
        marginals = pairable_counts.sum(axis=0)
        # Centring keeps the moment formulas free of catastrophic cancellation.
        centred = positions - (marginals @ positions) / marginals.sum()
        sum_x = pairable_counts @ centred
        sum_x2 = pairable_counts @ centred**2
        within = np.clip(sum_x2 - sum_x**2 / m, 0.0, None)
        observed = 2.0 * m * within / (m - 1.0)
        features = np.column_stack([observed, m, sum_x, sum_x2])
        return _AlphaPlan(level, features, centred, None)
    if level in ("nominal", "ratio"):
        distance = distance_matrix(positions, level, np.zeros(len(positions)))
        if level == "nominal":
            raw = m**2 - (pairable_counts**2).sum(axis=1)
        else:
            raw = ((pairable_counts @ distance) * pairable_counts).sum(axis=1)
        observed = raw / (m - 1.0)
        return _AlphaPlan(level, np.column_stack([observed, pairable_counts]), positions, distance)
    return _AlphaPlan(level, _unit_coincidences(pairable_counts), positions, None)


def _unit_coincidences(pairable_counts: np.ndarray) -> np.ndarray | sparse.csr_matrix:
    """Each unit's coincidence contribution ``o_u`` flattened to ``V*V`` columns."""
    n_units, n_values = pairable_counts.shape
    m = pairable_counts.sum(axis=1)
    if n_units * n_values * n_values <= _DENSE_COINCIDENCE_MAX_CELLS:
        products = pairable_counts[:, :, None] * pairable_counts[:, None, :]
        diagonal = np.arange(n_values)
        products[:, diagonal, diagonal] -= pairable_counts
        return (products / (m - 1.0)[:, None, None]).reshape(n_units, n_values * n_values)
    # Sparse: a unit only has entries for the categories it actually received.
    unit, category = np.nonzero(pairable_counts)
    per_unit = np.bincount(unit, minlength=n_units)
    first_of_unit = np.cumsum(per_unit) - per_unit
    repeats = per_unit[unit]
    left = np.repeat(np.arange(len(unit)), repeats)
    offset = np.arange(len(left)) - np.repeat(np.cumsum(repeats) - repeats, repeats)
    right = first_of_unit[unit[left]] + offset
    u = unit[left]
    c_left, c_right = category[left], category[right]
    n_left = pairable_counts[u, c_left]
    data = (n_left * pairable_counts[u, c_right] - (c_left == c_right) * n_left) / (m[u] - 1.0)
    return sparse.csr_matrix(
        (data, (u, c_left * n_values + c_right)), shape=(n_units, n_values * n_values)
    )


def _alpha_sums(plan: _AlphaPlan, summed: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return ``(n, observed, expected)`` per row of summed features; ``expected`` is 0
    where the (re)sample has no variation (and not finite where the sums overflowed)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return _sums(plan, summed)


def _sums(plan: _AlphaPlan, summed: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if plan.level == "interval":
        observed, n, sum_x, sum_x2 = summed.T
        expected = 2.0 * (n * sum_x2 - sum_x**2)
        noise = expected <= _RELATIVE_ZERO * 2.0 * n * sum_x2
        return n, observed, np.where(noise, 0.0, expected)
    if plan.level in ("nominal", "ratio"):
        observed, marginals = summed[:, 0], summed[:, 1:]
        n = marginals.sum(axis=1)
        if plan.level == "nominal":
            expected = n**2 - (marginals**2).sum(axis=1)
        else:
            expected = ((marginals @ plan.distance) * marginals).sum(axis=1)
        return n, observed, expected
    n_values = len(plan.positions)
    coincidences = summed.reshape(-1, n_values, n_values)
    marginals = coincidences.sum(axis=2)
    mid_ranks = np.cumsum(marginals, axis=1) - marginals / 2.0
    distance = (mid_ranks[:, :, None] - mid_ranks[:, None, :]) ** 2
    observed = (coincidences * distance).sum(axis=(1, 2))
    expected = np.einsum("bc,bck,bk->b", marginals, distance, marginals)
    return marginals.sum(axis=1), observed, expected


def _alpha_from_sums(n: np.ndarray, observed: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Alpha per row; NaN where the row has no variation or its sums are not finite."""
    result = np.full(len(n), np.nan)
    varied = (expected > 0) & np.isfinite(expected) & np.isfinite(observed)
    result[varied] = 1.0 - (n[varied] - 1.0) * observed[varied] / expected[varied]
    result[~np.isfinite(result)] = np.nan
    return result


def _pairable(value_counts: Any) -> np.ndarray:
    counts = _validated_counts(value_counts)
    return counts[counts.sum(axis=1) >= 2]


def coincidence_alpha(
    value_counts: Any, value_domain: Any = None, level: str = "nominal"
) -> float | None:
    """Krippendorff's alpha from per-unit coincidence statistics (own implementation).

    This is the estimator the bootstrap resamples (see ``_AlphaPlan``); tests check it
    against ``krippendorff.alpha`` to 1e-9.

    Parameters
    ----------
    value_counts : array_like, shape (units, V)
        Ratings per unit and category.
    value_domain : array_like, optional
        Position of each category; defaults to ``0..V-1``.
    level : {"nominal", "ordinal", "interval", "ratio"}
        Metric.

    Returns
    -------
    float or None
        ``alpha = 1 - D_o / D_e`` ([K2011]_), or ``None`` when undefined (no pairable
        unit, or no variation among pairable values). :func:`krippendorff_alpha` says why.
    """
    counts = _validated_counts(value_counts)
    positions = _validated_positions(value_domain, counts.shape[1], level)
    pairable = counts[counts.sum(axis=1) >= 2]
    if len(pairable) == 0:
        return None
    plan = _alpha_plan(pairable, positions, level)
    summed = np.asarray(plan.features.sum(axis=0)).reshape(1, -1)
    value = _alpha_from_sums(*_alpha_sums(plan, summed))[0]
    return None if np.isnan(value) else float(value)


def bootstrap_alpha(
    value_counts: Any,
    value_domain: Any = None,
    level: str = "nominal",
    *,
    n_bootstrap: int = 1000,
    rng: np.random.Generator,
) -> np.ndarray:
    """Bootstrap replicates of Krippendorff's alpha, resampling pairable units.

    Parameters
    ----------
    value_counts, value_domain, level
        As in :func:`coincidence_alpha`.
    n_bootstrap : int
        Number of resamples.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    numpy.ndarray
        ``n_bootstrap`` replicates; NaN marks a resample with no variation (alpha
        undefined there). Callers must handle these (the report counts them).

    Notes
    -----
    Each replicate draws ``U`` pairable units with replacement (multinomial counts,
    [Z2016]_), and recomputes alpha in full, including the ordinal metric's dependence
    on the marginals. Per-unit statistics are computed once, so a batch of ``b``
    replicates is a ``(b x U) @ (U x K)`` product.
    """
    if not isinstance(rng, np.random.Generator):
        raise ValueError("rng must be a numpy.random.Generator")
    if n_bootstrap < 0:
        raise ValueError("n_bootstrap must be non-negative")
    counts = _validated_counts(value_counts)
    positions = _validated_positions(value_domain, counts.shape[1], level)
    pairable = counts[counts.sum(axis=1) >= 2]
    n_units = len(pairable)
    if n_units == 0 or n_bootstrap == 0:
        return np.full(n_bootstrap, np.nan)
    plan = _alpha_plan(pairable, positions, level)
    batch = max(1, min(n_bootstrap, _BOOTSTRAP_CHUNK_CELLS // max(n_units, plan.features.shape[1])))
    replicates = np.empty(n_bootstrap)
    for start in range(0, n_bootstrap, batch):
        size = min(batch, n_bootstrap - start)
        draws = rng.integers(0, n_units, size=(size, n_units))
        draws += (np.arange(size) * n_units)[:, None]
        weights = np.bincount(draws.ravel(), minlength=size * n_units).reshape(size, n_units)
        weights = weights.astype(np.float64)
        if sparse.issparse(plan.features):
            summed = np.asarray((plan.features.T @ weights.T).T)
        else:
            summed = weights @ plan.features
        replicates[start : start + size] = _alpha_from_sums(*_alpha_sums(plan, summed))
    return replicates


def _bootstrap_summary(
    replicates: np.ndarray, thresholds: Sequence[float], confidence_level: float
) -> dict[str, Any]:
    defined = replicates[np.isfinite(replicates)]
    summary: dict[str, Any] = {
        "n_bootstrap": len(replicates),
        "n_bootstrap_defined": len(defined),
        "confidence_level": confidence_level,
    }
    if len(defined) < 2:
        summary["ci_reason"] = "fewer than two bootstrap resamples had any variation"
        return summary
    tail = (1.0 - confidence_level) / 2.0
    low, high = np.quantile(defined, [tail, 1.0 - tail])
    summary.update(
        ci_low=float(low),
        ci_high=float(high),
        bootstrap_se=float(np.std(defined, ddof=1)),
        p_below=tuple((float(t), float(np.mean(defined < t))) for t in thresholds),
    )
    return summary


def _validate_bootstrap_args(
    n_bootstrap: int,
    rng: np.random.Generator | None,
    thresholds: Sequence[float],
    confidence_level: float,
) -> None:
    if not isinstance(n_bootstrap, numbers.Integral) or n_bootstrap < 0:
        raise ValueError("n_bootstrap must be a non-negative integer")
    if n_bootstrap and not isinstance(rng, np.random.Generator):
        raise ValueError("a bootstrap needs rng=np.random.Generator")
    if not 0.0 < confidence_level < 1.0:
        raise ValueError("confidence_level must be strictly between 0 and 1")
    for threshold in thresholds:
        if not isinstance(threshold, numbers.Real) or not math.isfinite(threshold):
            raise ValueError(f"thresholds must be finite numbers, got {say(threshold)}")


def krippendorff_alpha(
    value_counts: Any,
    value_domain: Any = None,
    level: str = "nominal",
    *,
    n_bootstrap: int = 0,
    rng: np.random.Generator | None = None,
    thresholds: Sequence[float] = (),
    confidence_level: float = 0.95,
    n_annotators: int | None = None,
) -> Coefficient:
    """Krippendorff's alpha with an optional unit-bootstrap confidence interval.

    Parameters
    ----------
    value_counts : array_like, shape (units, V)
        Ratings per unit and category; missing ratings simply are not counted.
    value_domain : array_like, optional
        Position of each category (increasing for non-nominal levels). Defaults to
        ``0..V-1``.
    level : {"nominal", "ordinal", "interval", "ratio"}
        Metric ([K2011]_).
    n_bootstrap : int, default 0
        Resamples for the percentile interval; 0 disables it.
    rng : numpy.random.Generator, optional
        Required when ``n_bootstrap > 0``.
    thresholds : sequence of float
        Reliability cut-offs (e.g. 0.667 and 0.8, [K2019]_ §12.4); for each, the share
        of bootstrap replicates below it is reported.
    confidence_level : float, default 0.95
        Interval coverage.
    n_annotators : int, optional
        Passed through for reporting.

    Returns
    -------
    Coefficient
        ``alpha = 1 - D_o / D_e`` ([K2011]_). The point estimate comes from
        ``krippendorff.alpha`` when its dense ``units x V x V`` intermediate fits the
        memory guard, otherwise from :func:`coincidence_alpha` (identical to 1e-9, see
        tests); ``method`` says which. ``components`` holds ``D_o`` and ``D_e``.
        Undefined (with a reason) when no unit has two ratings or the pairable ratings
        show no variation.

    Raises
    ------
    ValueError
        Invalid counts, domain, level or bootstrap arguments.
    """
    name = "krippendorff_alpha"
    counts = _validated_counts(value_counts)
    positions = _validated_positions(value_domain, counts.shape[1], level)
    _validate_bootstrap_args(n_bootstrap, rng, thresholds, confidence_level)
    m = counts.sum(axis=1)
    context = _agreement_context(m, n_annotators)
    if context["n_ratings"] == 0:
        return Coefficient.undefined(name, "no ratings", **context)
    pairable = counts[m >= 2]
    if len(pairable) == 0:
        return Coefficient.undefined(name, _NO_PAIRS, **context)
    plan = _alpha_plan(pairable, positions, level)
    with np.errstate(over="ignore", invalid="ignore"):
        summed = np.asarray(plan.features.sum(axis=0)).reshape(1, -1)
    n, observed, expected = _alpha_sums(plan, summed)
    if not (np.isfinite(observed[0]) and np.isfinite(expected[0])):
        return Coefficient.undefined(name, TOO_LARGE, **context)
    if expected[0] <= 0:
        return Coefficient.undefined(
            name,
            "all pairable ratings have the same value: with no variation, alpha is undefined",
            **context,
        )
    components = (
        ("observed_disagreement", float(observed[0] / n[0])),
        ("expected_disagreement", float(expected[0] / (n[0] * (n[0] - 1.0)))),
    )
    value, method = _point_estimate(pairable, positions, level, (n, observed, expected))
    if not math.isfinite(value):
        return Coefficient.undefined(name, TOO_LARGE, **context)
    bootstrap: dict[str, Any] = {}
    if n_bootstrap:
        replicates = bootstrap_alpha(pairable, positions, level, n_bootstrap=n_bootstrap, rng=rng)
        bootstrap = _bootstrap_summary(replicates, thresholds, confidence_level)
    else:
        bootstrap["ci_reason"] = "bootstrap disabled (n_bootstrap=0)"
    return Coefficient(
        name=name, value=value, method=method, components=components, **context, **bootstrap
    )


def _point_estimate(
    pairable: np.ndarray,
    positions: np.ndarray,
    level: str,
    sums: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> tuple[float, str]:
    """Alpha from the krippendorff package (the reference), or from the coincidence
    sums when the package's arrays would not fit the memory budget; and the method."""
    n_values = pairable.shape[1]
    if len(pairable) * n_values * n_values <= _PACKAGE_MAX_CELLS:
        # Nominal positions are arbitrary codes; hand the package plain distinct indices.
        package_domain = np.arange(n_values) if level == "nominal" else positions
        with np.errstate(over="ignore", invalid="ignore"):
            value = float(
                krippendorff.alpha(
                    value_counts=pairable, value_domain=package_domain, level_of_measurement=level
                )
            )
        return value, f"{level} metric; point estimate: krippendorff package"
    value = float(_alpha_from_sums(*sums)[0])
    return value, f"{level} metric; point estimate: per-unit coincidence sums (memory guard)"
