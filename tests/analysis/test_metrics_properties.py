"""Invariances (hypothesis) and a simulation check of the bootstrap interval's coverage."""

from __future__ import annotations

import krippendorff
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from analysis.metrics.agreement import (
    LEVELS,
    cohen_kappa,
    coincidence_alpha,
    fleiss_kappa,
    gwet_ac1,
    krippendorff_alpha,
    percent_agreement,
    reliability_data,
    value_counts_table,
)
from analysis.metrics.report import agreement_report

PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@st.composite
def rating_matrices(draw: st.DrawFn) -> tuple[np.ndarray, int]:
    """Annotators x units integer codes in 0..k-1, -1 = not rated."""
    n_annotators = draw(st.integers(2, 6))
    n_units = draw(st.integers(2, 25))
    n_values = draw(st.integers(2, 6))
    matrix = draw(arrays(np.int64, (n_annotators, n_units), elements=st.integers(-1, n_values - 1)))
    return matrix, n_values


def counts_of(matrix: np.ndarray, n_values: int) -> np.ndarray:
    annotator, unit = np.nonzero(matrix >= 0)
    return value_counts_table(unit, matrix[annotator, unit], matrix.shape[1], n_values)


def same_result(first: float | None, second: float | None) -> bool:
    if first is None or second is None:
        return first is None and second is None
    return abs(first - second) <= 1e-9


@PROPERTY_SETTINGS
@given(rating_matrices(), st.randoms(use_true_random=False))
def test_relabelling_nominal_categories_changes_nothing(
    case: tuple[np.ndarray, int], random
) -> None:
    matrix, n_values = case
    relabel = np.array(random.sample(range(n_values), n_values))
    relabelled = np.where(matrix >= 0, relabel[np.maximum(matrix, 0)], -1)
    original, renamed = counts_of(matrix, n_values), counts_of(relabelled, n_values)
    for coefficient in (
        lambda c: krippendorff_alpha(c, None, "nominal").value,
        lambda c: fleiss_kappa(c).value,
        lambda c: gwet_ac1(c).value,
        lambda c: percent_agreement(c).value,
    ):
        assert same_result(coefficient(original), coefficient(renamed))


@PROPERTY_SETTINGS
@given(rating_matrices(), st.sampled_from(LEVELS), st.randoms(use_true_random=False))
def test_permuting_units_changes_nothing(case: tuple[np.ndarray, int], level: str, random) -> None:
    matrix, n_values = case
    order = np.array(random.sample(range(matrix.shape[1]), matrix.shape[1]))
    original = counts_of(matrix, n_values)
    shuffled = counts_of(matrix[:, order], n_values)
    domain = np.arange(1, n_values + 1)
    assert same_result(
        krippendorff_alpha(original, domain, level).value,
        krippendorff_alpha(shuffled, domain, level).value,
    )


def long_table(matrix: np.ndarray, annotator_names: list[str]) -> pd.DataFrame:
    annotator, unit = np.nonzero(matrix >= 0)
    return pd.DataFrame(
        {
            "unit_id": [f"u{u:02d}" for u in unit],
            "annotator_id": [annotator_names[a] for a in annotator],
            "question": "q",
            "value": matrix[annotator, unit] + 1,
        }
    )


@PROPERTY_SETTINGS
@given(rating_matrices(), st.sampled_from(LEVELS), st.randoms(use_true_random=False))
@pytest.mark.slow
def test_permuting_annotators_changes_nothing(
    case: tuple[np.ndarray, int], level: str, random
) -> None:
    """Renaming annotators (which reorders them in every internal index) leaves alpha and
    the mean pairwise Cohen's kappa unchanged."""
    matrix, _ = case
    names = [f"a{i}" for i in range(matrix.shape[0])]
    shuffled = random.sample(names, len(names))
    spec = {"q": {"level": level}}
    if not (matrix >= 0).any():
        return
    first = agreement_report(long_table(matrix, names), spec, n_bootstrap=0, min_shared_units=1)
    second = agreement_report(long_table(matrix, shuffled), spec, n_bootstrap=0, min_shared_units=1)
    one, two = first["questions"]["q"]["overall"], second["questions"]["q"]["overall"]
    assert same_result(one["krippendorff_alpha"]["value"], two["krippendorff_alpha"]["value"])
    assert same_result(
        one["cohen_kappa_pairs"]["mean_kappa"], two["cohen_kappa_pairs"]["mean_kappa"]
    )


@PROPERTY_SETTINGS
@given(rating_matrices(), st.sampled_from(LEVELS))
def test_own_alpha_equals_package_whenever_defined(
    case: tuple[np.ndarray, int], level: str
) -> None:
    matrix, n_values = case
    counts = counts_of(matrix, n_values)
    domain = np.arange(1, n_values + 1, dtype=float)
    ours = coincidence_alpha(counts, domain, level)
    pairable = counts[counts.sum(axis=1) >= 2]
    varied = (pairable.sum(axis=0) > 0).sum() >= 2
    assert (ours is not None) == varied
    if varied:
        expected = krippendorff.alpha(
            value_counts=pairable, value_domain=domain, level_of_measurement=level
        )
        assert ours == pytest.approx(expected, abs=1e-9)
        assert ours <= 1.0 + 1e-12


@PROPERTY_SETTINGS
@given(rating_matrices())
def test_bounds_and_symmetry(case: tuple[np.ndarray, int]) -> None:
    matrix, n_values = case
    counts = counts_of(matrix, n_values)
    agreement = percent_agreement(counts).value
    assert agreement is None or 0.0 <= agreement <= 1.0
    for result in (fleiss_kappa(counts), gwet_ac1(counts)):
        assert result.value is None or result.value <= 1.0 + 1e-12
    a = np.where(matrix[0] >= 0, matrix[0], np.nan)
    b = np.where(matrix[1] >= 0, matrix[1], np.nan)
    for weights in (None, "linear", "quadratic"):
        forward = cohen_kappa(a, b, n_categories=n_values, weights=weights).value
        backward = cohen_kappa(b, a, n_categories=n_values, weights=weights).value
        assert same_result(forward, backward)


# --------------------------------------------------------------------------- coverage


def nominal_study(rng: np.random.Generator, n_units: int, reliability: float) -> np.ndarray:
    """Each rating copies the unit's true category with probability ``reliability`` and is
    otherwise a fresh draw from the same prevalence. Every rating then has marginal
    distribution ``prevalence`` and two ratings agree with probability
    ``r^2 + (1 - r^2) sum(p^2)``, so the population alpha is exactly ``r^2``."""
    prevalence = np.array([0.5, 0.3, 0.2])
    truth = rng.choice(3, size=n_units, p=prevalence)
    copies = rng.random((4, n_units)) < reliability
    noise = rng.choice(3, size=(4, n_units), p=prevalence)
    ratings = np.where(copies, truth, noise).astype(float)
    ratings[rng.random(ratings.shape) < 0.2] = np.nan  # missing ratings
    return ratings


def interval_study(rng: np.random.Generator, n_units: int, unit_sd: float) -> np.ndarray:
    """Rating = unit effect (SD ``unit_sd``) + rater noise (SD 1), rounded to 0.1. The
    population alpha is the intraclass correlation ``unit_sd^2 / (unit_sd^2 + 1)`` up to
    the tiny rounding noise (variance 0.01/12)."""
    effects = rng.normal(0.0, unit_sd, size=n_units)
    ratings = np.round(effects + rng.normal(0.0, 1.0, size=(3, n_units)), 1)
    ratings[rng.random(ratings.shape) < 0.15] = np.nan
    return ratings


def counts_from_ratings(ratings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    annotator, unit = np.nonzero(~np.isnan(ratings))
    domain, codes = np.unique(ratings[annotator, unit], return_inverse=True)
    return value_counts_table(unit, codes, ratings.shape[1], len(domain)), domain


@pytest.mark.parametrize(
    ("level", "simulate", "true_alpha"),
    [
        ("nominal", lambda rng: nominal_study(rng, 150, 0.7), 0.7**2),
        ("interval", lambda rng: interval_study(rng, 300, 1.0), 1.0 / (1.0 + 1.0 + 0.01 / 12)),
    ],
    ids=["nominal", "interval"],
)
@pytest.mark.slow
def test_bootstrap_interval_covers_population_alpha(
    level: str, simulate, true_alpha: float
) -> None:
    """Across 200 simulated studies the 95% percentile interval should contain the
    population alpha about 95% of the time; 0.85-0.99 allows for Monte Carlo error
    (binomial SD ~0.015) and the percentile method's small-sample under-coverage (about
    0.89 for interval data with only 150 units, hence 300 units there)."""
    covered = 0
    n_studies = 200
    for seed in range(n_studies):
        rng = np.random.default_rng(seed)
        counts, domain = counts_from_ratings(simulate(rng))
        result = krippendorff_alpha(
            counts, domain, level, n_bootstrap=300, rng=rng, confidence_level=0.95
        )
        covered += result.ci_low <= true_alpha <= result.ci_high
    coverage = covered / n_studies
    assert 0.85 <= coverage <= 0.99, coverage


def test_reliability_data_of_property_tables_is_consistent() -> None:
    """Guard for the helpers above: the long table round-trips to the same counts."""
    matrix = np.array([[0, 1, -1], [0, -1, 2]])
    data = reliability_data(long_table(matrix, ["a", "b"]), "q", {"level": "ordinal"})
    np.testing.assert_array_equal(data.value_counts(), counts_of(matrix, 3))
