"""Agreement coefficients: published worked examples and independent implementations."""

from __future__ import annotations

import json
import math

import krippendorff
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats import inter_rater

from analysis.metrics import agreement
from analysis.metrics.agreement import (
    Coefficient,
    bootstrap_alpha,
    canonical_preferences,
    cohen_kappa,
    cohen_kappa_pairs,
    coincidence_alpha,
    encode_values,
    fleiss_kappa,
    gwet_ac1,
    krippendorff_alpha,
    percent_agreement,
    preference_agreement,
    reliability_data,
    value_counts_from_matrix,
    value_counts_table,
)

NA = np.nan

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: four
# coders (A-D) x twelve units, interval-coded values 1-5 with missing data.
KRIPPENDORFF_2011 = np.array(
    [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, NA, NA, NA],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NA, 3],
        [NA, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NA],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NA],
    ]
)


def long_table(matrix: np.ndarray, question: str = "q") -> pd.DataFrame:
    """Annotators x units matrix -> the long annotation table the platform produces."""
    rows = [
        {"unit_id": f"u{u:03d}", "annotator_id": f"a{a:02d}", "question": question, "value": v}
        for a, row in enumerate(matrix)
        for u, v in enumerate(row)
        if not (isinstance(v, float) and math.isnan(v))
    ]
    return pd.DataFrame(rows)


def random_matrix(
    seed: int, n_annotators: int = 5, n_units: int = 40, n_values: int = 5, missing: float = 0.3
) -> np.ndarray:
    rng = np.random.default_rng(seed)
    truth = rng.integers(1, n_values + 1, size=n_units)
    noise = rng.integers(-1, 2, size=(n_annotators, n_units)) * (
        rng.random((n_annotators, n_units)) < 0.5
    )
    matrix = np.clip(truth + noise, 1, n_values).astype(float)
    matrix[rng.random(matrix.shape) < missing] = np.nan
    return matrix


# --------------------------------------------------------------------------- published


@pytest.mark.parametrize(
    ("level", "published"),
    [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)],
)
def test_krippendorff_2011_four_coders_twelve_units(level: str, published: float) -> None:
    """Krippendorff (2011) section C reports alpha = .743 (nominal), .815 (ordinal),
    .849 (interval) and .797 (ratio) for the 4 x 12 data with missing values."""
    counts, domain = value_counts_from_matrix(KRIPPENDORFF_2011)
    result = krippendorff_alpha(counts, domain, level)
    assert round(result.value, 3) == published
    assert round(coincidence_alpha(counts, domain, level), 3) == published
    assert result.n_units == 12
    assert result.n_pairable_units == 11  # unit 12 has a single value
    assert result.n_ratings == 41


def test_krippendorff_2011_binary_two_observers() -> None:
    """Krippendorff (2011) section A: two observers, ten units, binary data, alpha = 0.095."""
    observers = np.array(
        [[0, 1, 0, 0, 0, 0, 0, 0, 1, 0], [1, 1, 1, 0, 0, 1, 0, 0, 0, 0]], dtype=float
    )
    counts, domain = value_counts_from_matrix(observers)
    assert round(krippendorff_alpha(counts, domain, "nominal").value, 3) == 0.095
    # The paper's coincidence matrix: o_00 = 10, o_01 = o_10 = 4, o_11 = 2.
    np.testing.assert_allclose(agreement.coincidence_matrix(counts), [[10, 4], [4, 2]])


def test_gwet_handbook_cac_raw4raters() -> None:
    """Gwet (2014) dataset ``cac.raw4raters`` as documented in the irrCAC README
    (github.com/kgwet/irrCAC): percent agreement 0.8181818, AC1 0.77544 (pe 0.1903212),
    Fleiss' kappa 0.76117 (pe 0.2387153), Krippendorff's alpha 0.74342.

    The dataset has the same per-unit value counts as Krippendorff's 4 x 12 example (only
    the rater who gave unit 12's lone rating differs), and every coefficient here depends
    on the per-unit counts only.
    """
    counts, domain = value_counts_from_matrix(KRIPPENDORFF_2011)
    pa = percent_agreement(counts)
    ac1 = gwet_ac1(counts)
    fleiss = fleiss_kappa(counts)
    alpha = krippendorff_alpha(counts, domain, "nominal")
    assert round(pa.value, 7) == 0.8181818
    assert round(ac1.value, 5) == 0.77544
    assert round(dict(ac1.components)["chance_agreement"], 7) == 0.1903212
    assert round(fleiss.value, 5) == 0.76117
    assert round(dict(fleiss.components)["chance_agreement"], 7) == 0.2387153
    assert round(alpha.value, 5) == 0.74342
    assert "generalised" in fleiss.method  # unequal raters per unit


# Wikipedia, "Fleiss' kappa", worked example: 10 subjects, 14 raters, 5 categories.
WIKIPEDIA_FLEISS = np.array(
    [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
)


def test_fleiss_wikipedia_example() -> None:
    """Wikipedia's Fleiss' kappa example (10 subjects x 14 raters) gives kappa = 0.210;
    statsmodels.stats.inter_rater.fleiss_kappa agrees."""
    result = fleiss_kappa(WIKIPEDIA_FLEISS)
    assert round(result.value, 3) == 0.210
    assert result.value == pytest.approx(inter_rater.fleiss_kappa(WIKIPEDIA_FLEISS), abs=1e-12)
    assert result.method.startswith("Fleiss (1971), 14 ratings")


# Fleiss (1971), table 1: 30 patients, 6 psychiatrists each, 5 diagnoses (as in the
# statsmodels test suite, statsmodels/stats/tests/test_inter_rater.py `diagnoses`).
FLEISS_1971_DIAGNOSES = np.array(
    [
        [4, 4, 4, 4, 4, 4],
        [2, 2, 2, 5, 5, 5],
        [2, 3, 3, 3, 3, 5],
        [5, 5, 5, 5, 5, 5],
        [2, 2, 2, 4, 4, 4],
        [1, 1, 3, 3, 3, 3],
        [3, 3, 3, 3, 5, 5],
        [1, 1, 3, 3, 3, 4],
        [1, 1, 4, 4, 4, 4],
        [5, 5, 5, 5, 5, 5],
        [1, 4, 4, 4, 4, 4],
        [1, 2, 4, 4, 4, 4],
        [2, 2, 2, 3, 3, 3],
        [1, 4, 4, 4, 4, 4],
        [2, 2, 4, 4, 4, 5],
        [3, 3, 3, 3, 3, 5],
        [1, 1, 1, 4, 5, 5],
        [1, 1, 1, 1, 1, 2],
        [2, 2, 4, 4, 4, 4],
        [1, 3, 3, 5, 5, 5],
        [5, 5, 5, 5, 5, 5],
        [2, 4, 4, 4, 4, 4],
        [2, 2, 4, 5, 5, 5],
        [1, 1, 4, 4, 4, 4],
        [1, 4, 4, 4, 4, 5],
        [2, 2, 2, 2, 2, 4],
        [1, 1, 1, 1, 5, 5],
        [2, 2, 4, 4, 4, 4],
        [1, 3, 3, 3, 3, 3],
        [5, 5, 5, 5, 5, 5],
    ]
)


def test_fleiss_1971_diagnoses() -> None:
    """Fleiss (1971) reports kappa = .430 for the 30 x 6 psychiatric diagnoses."""
    counts, _ = value_counts_from_matrix(FLEISS_1971_DIAGNOSES.T)
    assert round(fleiss_kappa(counts).value, 3) == 0.430
    table, _ = inter_rater.aggregate_raters(FLEISS_1971_DIAGNOSES)
    assert fleiss_kappa(counts).value == pytest.approx(inter_rater.fleiss_kappa(table), abs=1e-12)


def test_cohen_wikipedia_example() -> None:
    """Wikipedia, "Cohen's kappa": 50 proposals, yes/yes 20, yes/no 5, no/yes 10, no/no 15
    gives p_o = 0.7, p_e = 0.5 and kappa = 0.4."""
    a = np.array([0] * 20 + [0] * 5 + [1] * 10 + [1] * 15)
    b = np.array([0] * 20 + [1] * 5 + [0] * 10 + [1] * 15)
    assert cohen_kappa(a, b, n_categories=2).value == pytest.approx(0.4, abs=1e-12)


def test_cohen_statsmodels_sas_example() -> None:
    """statsmodels' test suite checks its cohens_kappa against a SAS printout for the
    3 x 3 table [[0, 4, 1], [0, 8, 0], [0, 1, 5]]: kappa 0.4842, weighted (linear) 0.4701."""
    table = np.array([[0, 4, 1], [0, 8, 0], [0, 1, 5]])
    a = np.repeat(np.arange(3), table.sum(axis=1))
    b = np.concatenate([np.repeat(np.arange(3), row) for row in table])
    assert round(cohen_kappa(a, b, n_categories=3).value, 4) == 0.4842
    assert round(cohen_kappa(a, b, n_categories=3, weights="linear").value, 4) == 0.4701


# --------------------------------------------------------------- independent implementations


@pytest.mark.parametrize("level", agreement.LEVELS)
@pytest.mark.parametrize("seed", range(12))
def test_own_alpha_matches_krippendorff_package(level: str, seed: int) -> None:
    """The coincidence-sum estimator (used by the bootstrap) equals krippendorff.alpha."""
    matrix = random_matrix(
        seed, n_annotators=3 + seed % 4, n_units=30 + 7 * seed, n_values=2 + seed % 6
    )
    counts, domain = value_counts_from_matrix(matrix)
    expected = krippendorff.alpha(matrix, level_of_measurement=level)
    assert coincidence_alpha(counts, domain, level) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("level", agreement.LEVELS)
def test_own_alpha_matches_package_on_irregular_numeric_domain(level: str) -> None:
    """Unequally spaced numeric values exercise the interval and ratio metrics."""
    rng = np.random.default_rng(7)
    values = np.array([0.0, 0.5, 2.0, 3.0, 7.5, 10.0])
    matrix = values[rng.integers(0, 6, size=(4, 60))]
    matrix[rng.random(matrix.shape) < 0.25] = np.nan
    counts, domain = value_counts_from_matrix(matrix)
    expected = krippendorff.alpha(matrix, level_of_measurement=level)
    assert coincidence_alpha(counts, domain, level) == pytest.approx(expected, abs=1e-9)


def test_memory_guarded_paths_give_the_package_value(monkeypatch: pytest.MonkeyPatch) -> None:
    """Forcing the own point estimate and the sparse ordinal coincidences changes nothing."""
    matrix = random_matrix(3, n_annotators=6, n_units=80, n_values=7)
    counts, domain = value_counts_from_matrix(matrix)
    reference = {lvl: krippendorff_alpha(counts, domain, lvl).value for lvl in agreement.LEVELS}
    monkeypatch.setattr(agreement.alpha, "_PACKAGE_MAX_CELLS", 0)
    monkeypatch.setattr(agreement.alpha, "_DENSE_COINCIDENCE_MAX_CELLS", 0)
    for level, value in reference.items():
        guarded = krippendorff_alpha(counts, domain, level)
        assert "memory guard" in guarded.method
        assert guarded.value == pytest.approx(value, abs=1e-9)


@pytest.mark.parametrize("level", agreement.LEVELS)
@pytest.mark.parametrize("sparse_path", [False, True])
def test_bootstrap_replicates_are_unit_resamples(
    level: str, sparse_path: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each weighted-sum replicate equals krippendorff.alpha on the explicitly resampled
    units (same draws), i.e. the fast bootstrap is exactly the unit bootstrap."""
    if sparse_path:
        monkeypatch.setattr(agreement.alpha, "_DENSE_COINCIDENCE_MAX_CELLS", 0)
    matrix = random_matrix(11, n_annotators=4, n_units=25, n_values=5)
    counts, domain = value_counts_from_matrix(matrix)
    pairable = counts[counts.sum(axis=1) >= 2]
    replicates = bootstrap_alpha(
        counts, domain, level, n_bootstrap=30, rng=np.random.default_rng(5)
    )
    draws = np.random.default_rng(5).integers(0, len(pairable), size=(30, len(pairable)))
    for replicate, drawn in zip(replicates, draws, strict=True):
        expected = krippendorff.alpha(
            value_counts=pairable[drawn], value_domain=domain, level_of_measurement=level
        )
        assert replicate == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("seed", range(8))
def test_fleiss_matches_statsmodels_on_random_tables(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_raters = int(rng.integers(2, 9))
    table = rng.multinomial(n_raters, rng.dirichlet(np.ones(4)), size=50)
    assert fleiss_kappa(table).value == pytest.approx(inter_rater.fleiss_kappa(table), abs=1e-12)


@pytest.mark.parametrize("seed", range(8))
def test_cohen_matches_sklearn_and_statsmodels(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 5, size=120)
    b = np.clip(a + rng.integers(-1, 2, size=120), 0, 4)
    labels = list(range(5))
    for weights in (None, "linear", "quadratic"):
        ours = cohen_kappa(a, b, n_categories=5, weights=weights).value
        assert ours == pytest.approx(
            cohen_kappa_score(a, b, labels=labels, weights=weights), abs=1e-12
        )
    confusion = np.bincount(a * 5 + b, minlength=25).reshape(5, 5)
    assert cohen_kappa(a, b, n_categories=5).value == pytest.approx(
        inter_rater.cohens_kappa(confusion, return_results=False), abs=1e-12
    )


@pytest.mark.parametrize("small_blocks", [False, True])
def test_pairwise_kappas_match_sklearn_for_every_pair(
    small_blocks: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if small_blocks:  # one annotator per block, and the sorted-key lookup of pairs
        monkeypatch.setattr(agreement.kappa, "_CO_RATING_BLOCK_CELLS", 1)
        monkeypatch.setattr(agreement.kappa, "_DENSE_PAIR_LOOKUP_MAX", 0)
    matrix = random_matrix(2, n_annotators=7, n_units=60, n_values=4, missing=0.4)
    spec = {"level": "ordinal"}
    data = reliability_data(long_table(matrix), "q", spec)
    result = cohen_kappa_pairs(data, min_shared_units=10)
    codes = np.full((data.n_annotators, data.n_units), -1)
    codes[data.annotator_index, data.unit_index] = data.codes
    expected_pairs = []
    for a in range(7):
        for b in range(a + 1, 7):
            both = (codes[a] >= 0) & (codes[b] >= 0)
            if both.sum() >= 10:
                expected_pairs.append((a, b, both))
    assert result["n_pairs"] == len(expected_pairs) > 0
    for pair, (a, b, both) in zip(result["pairs"], expected_pairs, strict=True):
        assert (pair["a"], pair["b"], pair["n"]) == (
            data.annotator_ids[a],
            data.annotator_ids[b],
            int(both.sum()),
        )
        for key, weights in (
            ("kappa", None),
            ("kappa_linear", "linear"),
            ("kappa_quadratic", "quadratic"),
        ):
            assert pair[key] == pytest.approx(
                cohen_kappa_score(
                    codes[a][both], codes[b][both], labels=range(data.n_categories), weights=weights
                ),
                abs=1e-12,
            )
    kappas = [p["kappa"] for p in result["pairs"]]
    assert result["mean_kappa"] == pytest.approx(np.mean(kappas))


def test_pairwise_kappas_respect_min_shared_units_and_nominal_weights() -> None:
    matrix = random_matrix(4, n_annotators=4, n_units=30, missing=0.0)
    matrix[3, 5:] = np.nan  # annotator 3 shares only five units with anyone
    data = reliability_data(long_table(matrix), "q", {"level": "nominal"})
    result = cohen_kappa_pairs(data, min_shared_units=10)
    assert {p["b"] for p in result["pairs"]} == {"a01", "a02"}
    assert result["weighted"] is False
    assert all(p["kappa_linear"] is None for p in result["pairs"])
    assert cohen_kappa_pairs(data, min_shared_units=5)["n_pairs"] == 6


@pytest.mark.filterwarnings("ignore::pandas.errors.SettingWithCopyWarning")
def test_ac1_matches_irrcac_when_installed() -> None:
    irr = pytest.importorskip("irrCAC.raw")
    for seed in range(5):
        matrix = random_matrix(seed, n_annotators=4, n_units=30)
        counts, _ = value_counts_from_matrix(matrix)
        frame = pd.DataFrame(matrix.T)
        expected = irr.CAC(frame, digits=12).gwet()["est"]["coefficient_value"]
        assert gwet_ac1(counts).value == pytest.approx(expected, abs=1e-9)
        expected_fleiss = irr.CAC(frame, digits=12).fleiss()["est"]["coefficient_value"]
        assert fleiss_kappa(counts).value == pytest.approx(expected_fleiss, abs=1e-9)


# --------------------------------------------------------------------------- undefined


def test_single_category_is_undefined_not_zero() -> None:
    counts = np.array([[3, 0], [2, 0], [4, 0]])
    alpha = krippendorff_alpha(counts, None, "nominal")
    assert alpha.value is None and not alpha.defined
    assert "same value" in alpha.reason
    assert fleiss_kappa(counts).value is None
    assert "one category" in fleiss_kappa(counts).reason
    # AC1 stays defined: perfect agreement with no chance agreement (Gwet 2008).
    assert gwet_ac1(counts).value == 1.0
    assert percent_agreement(counts).value == 1.0


def test_no_pairable_unit_is_undefined() -> None:
    counts = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]])
    for result in (
        krippendorff_alpha(counts, None, "ordinal"),
        fleiss_kappa(counts),
        gwet_ac1(counts),
        percent_agreement(counts),
    ):
        assert result.value is None
        assert "two or more annotators" in result.reason
        assert result.n_units == 3 and result.n_pairable_units == 0


def test_empty_data_is_undefined() -> None:
    alpha = krippendorff_alpha(np.zeros((0, 3)), None, "interval")
    assert alpha.value is None and alpha.reason == "no ratings"
    assert cohen_kappa([np.nan], [1.0], n_categories=2).value is None


def test_identical_constant_pair_has_undefined_kappa() -> None:
    result = cohen_kappa([1, 1, 1], [1, 1, 1], n_categories=3)
    assert result.value is None and "one identical category" in result.reason


def test_interval_without_variation_is_undefined_despite_rounding() -> None:
    counts = np.zeros((50, 1))
    counts[:, 0] = 3
    assert krippendorff_alpha(counts, [0.1], "interval").value is None


def test_coefficient_serialises_and_rejects_nan() -> None:
    result = krippendorff_alpha(
        *value_counts_from_matrix(KRIPPENDORFF_2011),
        "interval",
        n_bootstrap=50,
        rng=np.random.default_rng(0),
        thresholds=(0.667, 0.8),
    )
    as_json = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert as_json["value"] == result.value
    assert [p["threshold"] for p in as_json["p_below"]] == [0.667, 0.8]
    with pytest.raises(ValueError, match="finite"):
        Coefficient(name="x", value=float("nan"))
    with pytest.raises(ValueError, match="reason"):
        Coefficient(name="x", value=None)


# --------------------------------------------------------------------------- bootstrap


def test_bootstrap_is_seeded_and_reports_threshold_probabilities() -> None:
    counts, domain = value_counts_from_matrix(random_matrix(1, n_units=200))

    def run(seed: int) -> Coefficient:
        return krippendorff_alpha(
            counts,
            domain,
            "ordinal",
            n_bootstrap=400,
            rng=np.random.default_rng(seed),
            thresholds=(0.3, 0.667, 0.8, 0.99),
        )

    first, again, other = run(1), run(1), run(2)
    assert first.to_dict() == again.to_dict()
    assert first.ci_low != other.ci_low
    assert first.ci_low < first.value < first.ci_high
    probabilities = [p for _, p in first.p_below]
    assert probabilities == sorted(probabilities)
    assert probabilities[-1] == 1.0  # nothing near 0.99 on noisy synthetic data
    replicates = bootstrap_alpha(
        counts, domain, "ordinal", n_bootstrap=400, rng=np.random.default_rng(1)
    )
    assert first.p_below[1][1] == pytest.approx(np.mean(replicates < 0.667))
    assert first.bootstrap_se == pytest.approx(np.std(replicates, ddof=1))
    assert [first.ci_low, first.ci_high] == pytest.approx(np.quantile(replicates, [0.025, 0.975]))


def test_bootstrap_counts_resamples_without_variation() -> None:
    # One varied unit among many unanimous ones: some resamples miss it entirely.
    counts = np.array([[2, 0]] * 6 + [[1, 1]])
    result = krippendorff_alpha(
        counts, None, "nominal", n_bootstrap=200, rng=np.random.default_rng(0)
    )
    assert result.value is not None
    assert 0 < result.n_bootstrap_defined < 200


def test_bootstrap_requires_a_generator() -> None:
    with pytest.raises(ValueError, match="Generator"):
        krippendorff_alpha(np.array([[2, 0], [1, 1]]), None, "nominal", n_bootstrap=10)


# --------------------------------------------------------------------------- encoding


def test_ordinal_word_labels_follow_order() -> None:
    encoded = encode_values(["low", "high", None, "mid"], "ordinal", ["low", "mid", "high"])
    assert encoded.codes.tolist() == [0, 2, -1, 1]
    assert encoded.labels == ("low", "mid", "high")
    assert encoded.positions.tolist() == [0.0, 1.0, 2.0]


def test_word_labels_reproduce_numeric_alpha() -> None:
    """The package docstring's word-label version of Krippendorff's data: ordinal .815."""
    words = np.array(["very low", "low", "mid", "high", "very high"], dtype=object)
    matrix = np.where(
        np.isnan(KRIPPENDORFF_2011), None, words[np.nan_to_num(KRIPPENDORFF_2011).astype(int) - 1]
    )
    data = reliability_data(long_table(matrix), "q", {"level": "ordinal", "order": list(words)})
    alpha = krippendorff_alpha(data.value_counts(), data.positions, "ordinal")
    assert round(alpha.value, 3) == 0.815


def test_encoding_rejects_invalid_answers() -> None:
    with pytest.raises(ValueError, match="not listed in 'order'"):
        encode_values(["low", "huge"], "ordinal", ["low", "high"])
    with pytest.raises(ValueError, match="need an 'order'"):
        encode_values(["low", "high"], "ordinal")
    with pytest.raises(ValueError, match="non-negative"):
        encode_values([1.0, -2.0], "ratio")
    with pytest.raises(ValueError, match="duplicate"):
        encode_values([1], "ordinal", [1, 2, 1])
    with pytest.raises(ValueError, match="unknown level"):
        encode_values([1], "cardinal")


def test_numeric_interval_domain_is_sorted_and_nominal_labels_mixed() -> None:
    encoded = encode_values([3, 1, 10], "interval", order=[10, 3, 1])
    assert encoded.labels == (1, 3, 10)
    assert encoded.positions.tolist() == [1.0, 3.0, 10.0]
    mixed = encode_values(["b", 2, "a", 2.0], "nominal")
    assert mixed.labels == (2, "a", "b")
    assert mixed.codes.tolist() == [2, 0, 1, 0]


def test_reliability_matrix_round_trip_and_duplicates() -> None:
    table = long_table(KRIPPENDORFF_2011)
    data = reliability_data(table, "q", {"level": "interval"})
    np.testing.assert_array_equal(data.matrix(), KRIPPENDORFF_2011)
    duplicated = pd.concat([table, table.iloc[[0]]])
    with pytest.raises(ValueError, match="more than once"):
        reliability_data(duplicated, "q", {"level": "interval"})
    with pytest.raises(ValueError, match="required columns"):
        reliability_data(table.drop(columns="value"), "q", {"level": "interval"})


def test_value_counts_from_matrix_rejects_bad_shapes_and_values() -> None:
    with pytest.raises(ValueError, match="2-D"):
        value_counts_from_matrix([1.0, 2.0])
    with pytest.raises(ValueError, match="not in value_domain"):
        value_counts_from_matrix([[1.0, 7.0]], value_domain=[1.0, 2.0])


def test_value_counts_table_guards_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(agreement.data, "_MAX_COUNT_CELLS", 10)
    with pytest.raises(ValueError, match="bin"):
        value_counts_table(np.array([0]), np.array([0]), 4, 4)


# --------------------------------------------------------------------------- preferences


def test_preferences_are_mapped_back_to_systems() -> None:
    votes = canonical_preferences(
        ["A", "B", "tie", " a ", None],
        [("s2", "s1"), ("s2", "s1"), None, ("s1", "s2"), None],
    )
    assert votes.winner.tolist() == ["s2", "s1", "tie", "s1", None]
    assert votes.position.tolist() == ["first", "second", "tie", "first", None]
    assert votes.pair.tolist() == ["s1 | s2", "s1 | s2", None, "s1 | s2", None]


@pytest.mark.parametrize(
    ("values", "orders", "message"),
    [
        (["C"], [("s1", "s2")], "'A', 'B' or 'tie'"),
        (["A"], [None], "exactly two"),
        (["A"], [("s1",)], "exactly two"),
        (["A"], [("tie", "s2")], "named 'tie'"),
        (["A"], [("s1", "s1")], "two different"),
    ],
)
def test_invalid_preferences_raise(values: list, orders: list, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        canonical_preferences(values, orders)


def test_counterbalanced_votes_agree_after_mapping() -> None:
    """Two annotators who always prefer the same system, shown in opposite orders, give
    opposite letters but agree perfectly once the votes are mapped to systems."""
    rows = []
    for unit in range(12):
        winner_first = unit % 3 != 0
        for annotator, order in (("x", ("s1", "s2")), ("y", ("s2", "s1"))):
            preferred = "s1" if winner_first else "s2"
            letter = "A" if order[0] == preferred else "B"
            rows.append(
                {
                    "unit_id": f"u{unit}",
                    "annotator_id": annotator,
                    "question": "p",
                    "value": letter,
                    "shown_order": order,
                }
            )
    rows.append(
        {"unit_id": "u0", "annotator_id": "z", "question": "p", "value": "tie", "shown_order": None}
    )
    table = pd.DataFrame(rows)
    data = reliability_data(table, "p", {"level": "nominal", "type": "pairwise"})
    assert data.labels == ("s1", "s2", "tie")
    result = preference_agreement(data)
    without = result["without_ties"]
    assert without["percent_agreement"]["value"] == 1.0
    assert without["krippendorff_alpha"]["value"] == pytest.approx(1.0)
    # With ties, unit u0 has (s2, s2, tie): 1 agreeing pair of 3.
    expected = (11 * 1.0 + 1 / 3) / 12
    assert result["with_ties"]["percent_agreement"]["value"] == pytest.approx(expected)
    # The raw letters would have looked like total disagreement.
    raw = reliability_data(table, "p", {"level": "nominal"})
    assert percent_agreement(raw.value_counts()).value < 0.1


def test_pairwise_unit_with_two_system_pairs_is_rejected() -> None:
    table = pd.DataFrame(
        {
            "unit_id": ["u1", "u1"],
            "annotator_id": ["x", "y"],
            "question": ["p", "p"],
            "value": ["A", "A"],
            "shown_order": [("s1", "s2"), ("s1", "s3")],
        }
    )
    with pytest.raises(ValueError, match="different system pairs"):
        reliability_data(table, "p", {"level": "nominal", "type": "pairwise"})
