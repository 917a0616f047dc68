"""Breakdowns, per-annotator and per-unit statistics, and the assembled JSON report."""

from __future__ import annotations

import hashlib
import json
import resource
import time
from collections import Counter

import numpy as np
import pandas as pd
import pytest

from analysis.metrics.agreement import krippendorff_alpha, reliability_data
from analysis.metrics.breakdowns import (
    annotator_agreement,
    breakdown,
    coefficient_set,
    gold_comparison,
    unit_disagreement,
)
from analysis.metrics.report import SCHEMA_VERSION, agreement_report

LIKERT = ["poor", "fair", "good", "very good", "excellent"]


def rows_from(ratings: dict[str, dict[str, object]], question: str = "q") -> pd.DataFrame:
    """{unit: {annotator: value}} -> long table."""
    return pd.DataFrame(
        [
            {"unit_id": unit, "annotator_id": annotator, "question": question, "value": value}
            for unit, by_annotator in ratings.items()
            for annotator, value in by_annotator.items()
        ]
    )


def synthetic_study(seed: int = 0, n_units: int = 120, n_annotators: int = 12) -> pd.DataFrame:
    """A mixed study: Likert words, binary flag, numeric score, free text, pairwise."""
    rng = np.random.default_rng(seed)
    systems = np.array(["sysA", "sysB", "sysC"])
    rows = []
    for unit in range(n_units):
        truth = int(rng.integers(0, 5))
        system = systems[unit % 3]
        raters = rng.choice(n_annotators, size=int(rng.integers(3, 7)), replace=False)
        pair = ("sysA", "sysB") if unit % 2 else ("sysB", "sysC")
        better = pair[int(rng.integers(0, 2))]
        for annotator in sorted(raters):
            sloppy = annotator == n_annotators - 1
            base = {
                "unit_id": f"u{unit:04d}",
                "annotator_id": f"ann{annotator:02d}",
                "pool": "expert" if annotator < 4 else "crowd",
                "guideline_version": 1 + unit % 2,
                "system": system,
                "active_seconds": float(rng.gamma(2.0, 15.0)),
                "is_gold": unit < 10,
                "gold_value": LIKERT[truth] if unit < 10 else None,
            }
            level = (
                int(rng.integers(0, 5))
                if sloppy
                else int(np.clip(truth + rng.integers(-1, 2) * (rng.random() < 0.3), 0, 4))
            )
            flag = int(rng.random() < (0.5 if sloppy else 0.1)) ^ int(truth >= 3)
            shown = pair if rng.random() < 0.5 else pair[::-1]
            choice = "tie" if rng.random() < 0.1 else ("A" if shown[0] == better else "B")
            if sloppy:
                choice = ["A", "B", "tie"][int(rng.integers(0, 3))]
            answers = {
                "quality": LIKERT[level] if rng.random() > 0.03 else None,
                "has_error": flag,
                "score": round(float(truth * 10 + rng.normal(0, 4)), 1),
                "comment": "free text",
                "preference": choice,
            }
            for question, value in answers.items():
                rows.append(
                    {
                        **base,
                        "question": question,
                        "value": value,
                        "shown_order": shown if question == "preference" else None,
                    }
                )
    table = pd.DataFrame(rows)
    # Gold answers only make sense for the Likert question.
    table.loc[table["question"] != "quality", "gold_value"] = None
    return table


QUESTIONS = {
    "quality": {"level": "ordinal", "order": LIKERT, "type": "likert"},
    "has_error": {"level": "nominal", "type": "binary"},
    "score": {"level": "interval", "type": "numeric"},
    "comment": {"type": "text"},
    "preference": {"level": "nominal", "type": "pairwise"},
    "unused": {"level": "nominal", "type": "choice"},
}


# --------------------------------------------------------------------------- coefficient sets


def test_breakdown_groups_equal_direct_subsets() -> None:
    table = synthetic_study(1)
    spec = QUESTIONS["quality"]
    data = reliability_data(table, "quality", spec)
    pools = table["pool"].to_numpy(dtype=object)[data.source_rows]
    result = breakdown(
        data, pools, rng_for=lambda key: np.random.default_rng(0), n_bootstrap=0, min_shared_units=3
    )
    assert sorted(result["groups"]) == ["crowd", "expert"]
    for pool, section in result["groups"].items():
        direct = reliability_data(table[table["pool"] == pool], "quality", spec)
        assert section == coefficient_set(direct, rng=None, n_bootstrap=0, min_shared_units=3)


def test_coefficient_set_counts_and_prevalence() -> None:
    table = rows_from({"u1": {"a": 1, "b": 1, "c": 2}, "u2": {"a": 2, "b": 2}, "u3": {"a": 3}})
    data = reliability_data(table, "q", {"level": "ordinal"})
    result = coefficient_set(data, rng=None, n_bootstrap=0)
    counts = result["counts"]
    assert (
        counts["n_units"],
        counts["n_pairable_units"],
        counts["n_annotators"],
        counts["n_ratings"],
    ) == (3, 2, 3, 6)
    assert counts["categories"] == [
        {"label": 1, "count": 2, "prevalence": 2 / 6},
        {"label": 2, "count": 3, "prevalence": 3 / 6},
        {"label": 3, "count": 1, "prevalence": 1 / 6},
    ]
    assert counts["ratings_per_unit"] == {"min": 1, "median": 2.0, "max": 3}
    assert result["krippendorff_alpha"]["value"] == pytest.approx(
        krippendorff_alpha(data.value_counts(), data.positions, "ordinal").value
    )


# --------------------------------------------------------------------------- per annotator


def test_nominal_leave_one_out_handcrafted() -> None:
    table = rows_from(
        {
            "u0": {"a": "x", "b": "x", "c": "x", "d": "y"},
            "u1": {"a": "y", "b": "y", "c": "x", "d": "x"},
            "u2": {"a": "x", "b": "y", "c": "z"},  # no majority among others: not compared
        }
    )
    data = reliability_data(table, "q", {"level": "nominal"})
    result = annotator_agreement(data, min_annotator_items=1)
    by_id = {entry["annotator_id"]: entry for entry in result["annotators"]}
    assert by_id["a"]["n_items"] == 3 and by_id["a"]["n_compared"] == 2
    assert by_id["a"]["consensus_agreement"] == 0.5
    assert by_id["d"]["consensus_agreement"] == 0.0
    assert by_id["a"]["pairwise_agreement_with_others"] == pytest.approx((2 / 3 + 1 / 3 + 0) / 3)
    assert result["score"] == "consensus_agreement" and result["higher_is_better"]


def brute_force_consensus(matrix: np.ndarray, level: str) -> dict[int, list[float]]:
    """Per annotator: the list of (own - consensus) or agree flags, by explicit loops."""
    out: dict[int, list[float]] = {}
    for unit in range(matrix.shape[1]):
        raters = [a for a in range(matrix.shape[0]) if not np.isnan(matrix[a, unit])]
        for a in raters:
            others = [matrix[b, unit] for b in raters if b != a]
            if not others:
                continue
            if level == "nominal":
                top = Counter(others).most_common()
                if len(top) > 1 and top[0][1] == top[1][1]:
                    continue
                out.setdefault(a, []).append(float(top[0][0] == matrix[a, unit]))
            elif level == "ordinal":
                out.setdefault(a, []).append(matrix[a, unit] - float(np.median(others)))
            else:
                out.setdefault(a, []).append(matrix[a, unit] - float(np.mean(others)))
    return out


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval"])
def test_leave_one_out_matches_brute_force(level: str) -> None:
    rng = np.random.default_rng(3)
    values = np.array([0.0, 1, 2, 3, 4]) if level != "interval" else np.array([0.0, 1.5, 2, 5, 9])
    matrix = values[rng.integers(0, 5, size=(6, 50))]
    matrix[rng.random(matrix.shape) < 0.3] = np.nan
    table = pd.DataFrame(
        [
            {
                "unit_id": f"u{u:02d}",
                "annotator_id": f"a{a}",
                "question": "q",
                "value": matrix[a, u],
            }
            for a in range(6)
            for u in range(50)
            if not np.isnan(matrix[a, u])
        ]
    )
    data = reliability_data(table, "q", {"level": level})
    result = annotator_agreement(data, min_annotator_items=1)
    expected = brute_force_consensus(matrix, level)
    for entry in result["annotators"]:
        a = int(entry["annotator_id"][1:])
        assert entry["n_compared"] == len(expected[a])
        if level == "nominal":
            assert entry["consensus_agreement"] == pytest.approx(np.mean(expected[a]))
        else:
            # Ordinal deviations are in rank steps; the ranks here equal the values.
            assert entry["mean_abs_deviation"] == pytest.approx(np.mean(np.abs(expected[a])))
            assert entry["mean_signed_deviation"] == pytest.approx(np.mean(expected[a]))


def test_planted_bad_annotator_is_flagged_only() -> None:
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 3, size=200)
    rows = []
    for annotator in range(11):
        for unit, label in enumerate(truth):
            good = annotator < 10 and rng.random() < 0.9
            value = int(label) if good else int(rng.integers(0, 3))
            rows.append(
                {
                    "unit_id": f"u{unit}",
                    "annotator_id": f"c{annotator:02d}",
                    "question": "q",
                    "value": value,
                }
            )
    for annotator in range(2):  # a two-person pool cannot be judged against itself
        for unit, label in enumerate(truth[:50]):
            rows.append(
                {
                    "unit_id": f"u{unit}",
                    "annotator_id": f"e{annotator}",
                    "question": "q",
                    "value": int(label),
                }
            )
    table = pd.DataFrame(rows)
    pools = {f"c{a:02d}": "crowd" for a in range(11)} | {"e0": "expert", "e1": "expert"}
    data = reliability_data(table, "q", {"level": "nominal"})
    result = annotator_agreement(data, pool_of_annotator=pools, min_annotator_items=10)
    flagged = [e["annotator_id"] for e in result["annotators"] if e["flag"]["flagged"]]
    assert flagged == ["c10"]
    assert result["pools"]["expert"]["median"] is None
    assert "fewer than 3" in result["pools"]["expert"]["reason"]
    expert = next(e for e in result["annotators"] if e["annotator_id"] == "e0")
    assert expert["flag"]["flagged"] is None and expert["flag"]["reason"]
    crowd = result["pools"]["crowd"]
    assert crowd["cutoff"] == pytest.approx(crowd["median"] - 2 * 1.4826 * crowd["mad"])


def test_gold_accuracy() -> None:
    table = rows_from(
        {
            "g1": {"a": "good", "b": "poor"},
            "g2": {"a": "fair", "b": "fair"},
            "u3": {"a": "good", "b": "good"},
        }
    )
    gold = {"g1": "good", "g2": "fair"}
    data = reliability_data(table, "q", {"level": "ordinal", "order": LIKERT})
    gold_of_rating = [gold.get(str(data.unit_ids[u])) for u in data.unit_index]
    comparison = gold_comparison(data, gold_of_rating)
    result = annotator_agreement(data, gold=comparison, min_annotator_items=1)
    by_id = {e["annotator_id"]: e["gold"] for e in result["annotators"]}
    assert by_id["a"] == {"n": 2, "n_correct": 2, "accuracy": 1.0, "mean_abs_error": None}
    assert by_id["b"]["accuracy"] == 0.5


# --------------------------------------------------------------------------- per unit


def test_unit_disagreement_scores_and_order() -> None:
    nominal = rows_from(
        {
            "u1": {"a": "x", "b": "x", "c": "y"},  # 1 - 2/6 agreeing ordered pairs = 2/3
            "u2": {"a": "x", "b": "y", "c": "z"},  # 1
            "u3": {"a": "x", "b": "x"},  # 0
            "u0": {"a": "y", "b": "z"},  # 1, sorts before u2 on ties
            "u4": {"a": "x"},  # unpairable, not scored
        }
    )
    result = unit_disagreement(reliability_data(nominal, "q", {"level": "nominal"}), top_n=3)
    assert [u["unit_id"] for u in result["most_contested"]] == ["u0", "u2", "u1"]
    assert [u["disagreement"] for u in result["most_contested"]] == pytest.approx([1, 1, 2 / 3])
    assert result["n_units_scored"] == 4
    assert result["most_contested"][2]["ratings"] == [
        {"label": "x", "count": 2},
        {"label": "y", "count": 1},
    ]

    interval = rows_from({"u1": {"a": 1.0, "b": 2.0, "c": 3.0}, "u2": {"a": 5.0, "b": 5.0}})
    scored = unit_disagreement(reliability_data(interval, "q", {"level": "interval"}))
    top = scored["most_contested"][0]
    assert top["unit_id"] == "u1"
    assert top["disagreement"] == pytest.approx(2 * np.var([1, 2, 3], ddof=1))
    # D_e over the five pairable values 1, 2, 3, 5, 5: mean squared difference of pairs.
    values = np.array([1, 2, 3, 5, 5.0])
    expected = np.mean(
        [(x - y) ** 2 for i, x in enumerate(values) for j, y in enumerate(values) if i != j]
    )
    assert scored["expected_disagreement"] == pytest.approx(expected)
    assert top["disagreement_vs_chance"] == pytest.approx(top["disagreement"] / expected)


# --------------------------------------------------------------------------- full report


def test_report_is_json_and_deterministic() -> None:
    table = synthetic_study(2)
    first = agreement_report(table, QUESTIONS, n_bootstrap=200, seed=7, min_shared_units=5)
    again = agreement_report(
        table.sample(frac=1.0, random_state=1),
        QUESTIONS,
        n_bootstrap=200,
        seed=7,
        min_shared_units=5,
    )
    other = agreement_report(table, QUESTIONS, n_bootstrap=200, seed=8, min_shared_units=5)
    encoded = json.dumps(first, sort_keys=True, allow_nan=False)
    # Digests, not strings: pytest's diff of two 100 kB strings would take minutes.
    digest = hashlib.sha256(encoded.encode()).hexdigest()
    # Row order is irrelevant: ratings are put in (unit, annotator) order first.
    assert digest == hashlib.sha256(json.dumps(again, sort_keys=True).encode()).hexdigest()
    assert digest != hashlib.sha256(json.dumps(other, sort_keys=True).encode()).hexdigest()
    assert json.loads(encoded) == first


def test_report_structure() -> None:
    table = synthetic_study(3)
    report = agreement_report(
        table, QUESTIONS, n_bootstrap=100, seed=0, min_shared_units=5, top_contested=5
    )
    assert report["schema_version"] == SCHEMA_VERSION
    assert set(report) == {
        "schema_version",
        "parameters",
        "input",
        "methods",
        "questions",
        "annotators",
    }
    assert report["parameters"]["thresholds"] == [0.667, 0.8]
    questions = report["questions"]
    assert questions["comment"]["status"] == "skipped" and questions["comment"]["reason"]
    assert questions["unused"]["status"] == "no_data"
    quality = questions["quality"]
    assert quality["status"] == "analysed"
    assert quality["labels"] == LIKERT
    assert set(quality["breakdowns"]) == {"pool", "guideline_version", "system"}
    assert set(quality["breakdowns"]["system"]["groups"]) == {"sysA", "sysB", "sysC"}
    assert set(quality["breakdowns"]["guideline_version"]["groups"]) == {"1", "2"}
    alpha = quality["overall"]["krippendorff_alpha"]
    assert alpha["ci_low"] <= alpha["value"] <= alpha["ci_high"]
    assert [p["threshold"] for p in alpha["p_below"]] == [0.667, 0.8]
    assert len(quality["units"]["most_contested"]) == 5
    assert quality["n_missing_answers"] > 0
    # The sloppy annotator answers at random on every question.
    assert any(e["annotator_id"] == "ann11" and e["flagged"] for e in report["annotators"])
    gold = next(e for e in report["annotators"] if e["annotator_id"] == "ann00")["gold"]
    assert gold is None or 0 <= gold["accuracy"] <= 1
    preference = questions["preference"]
    assert preference["labels"] == ["sysA", "sysB", "sysC", "tie"]
    assert set(preference["preference"]) == {"coding", "votes", "with_ties", "without_ties"}
    votes = preference["preference"]["votes"]
    assert votes["first_position"] + votes["second_position"] + votes["tie"] == votes["n"]
    assert preference["preference"]["with_ties"]["percent_agreement"]["value"] == pytest.approx(
        preference["overall"]["percent_agreement"]["value"]
    )
    assert "system" not in preference["breakdowns"] or preference["breakdowns"]["system"]["groups"]
    seconds = [e["median_active_seconds"] for e in report["annotators"]]
    assert all(s is not None and s > 0 for s in seconds)


def test_report_undefined_cases_serialise() -> None:
    table = rows_from({"u1": {"a": "x", "b": "x"}, "u2": {"a": "x"}})
    report = agreement_report(
        table, {"q": {"level": "nominal", "order": ["x", "y"]}}, n_bootstrap=50
    )
    overall = report["questions"]["q"]["overall"]
    assert overall["krippendorff_alpha"]["value"] is None
    assert overall["krippendorff_alpha"]["reason"]
    assert overall["fleiss_kappa"]["value"] is None
    # With the declared two-category scale, unanimous answers give AC1 = 1 (Gwet 2008).
    assert overall["gwet_ac1"]["value"] == 1.0
    json.dumps(report, allow_nan=False)
    # Without 'order' only one category is known, so AC1's q = 1 and it is undefined.
    unordered = agreement_report(table, {"q": {"level": "nominal"}}, n_bootstrap=50)
    ac1 = unordered["questions"]["q"]["overall"]["gwet_ac1"]
    assert ac1["value"] is None and "fewer than two categories" in ac1["reason"]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda t, q: (t.drop(columns="annotator_id"), q), "required columns"),
        (lambda t, q: (t, {k: v for k, v in q.items() if k != "score"}), "not in the spec"),
        (lambda t, q: (t, {**q, "score": {"level": "cardinal"}}), "level must be"),
        (lambda t, q: (t, {**q, "quality": {"level": "ordinal"}}), "need an 'order'"),
        (
            lambda t, q: (t, {**q, "quality": {"level": "ordinal", "order": "poor"}}),
            "list of labels",
        ),
    ],
)
def test_report_rejects_invalid_input(mutate, message: str) -> None:
    table, questions = mutate(synthetic_study(4, n_units=20), QUESTIONS)
    with pytest.raises(ValueError, match=message):
        agreement_report(table, questions, n_bootstrap=0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_bootstrap": -1},
        {"seed": -3},
        {"confidence_level": 1.0},
        {"thresholds": (float("nan"),)},
        {"min_shared_units": 0},
    ],
)
def test_report_rejects_invalid_parameters(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        agreement_report(synthetic_study(4, n_units=10), QUESTIONS, **kwargs)


@pytest.mark.slow
def test_million_row_report_is_fast_and_bounded() -> None:
    """20,000 units x 50 annotators = 1,000,000 rows with pools, versions, systems, gold
    and 1,000 bootstrap resamples per alpha: well under 60 s and 2 GB."""
    rng = np.random.default_rng(0)
    n_units, n_annotators = 20_000, 50
    unit = np.repeat(np.arange(n_units), n_annotators)
    annotator = np.tile(np.arange(n_annotators), n_units)
    truth = rng.integers(1, 6, size=n_units)
    value = np.clip(
        truth[unit] + rng.integers(-1, 2, size=len(unit)) * (rng.random(len(unit)) < 0.4), 1, 5
    )
    table = pd.DataFrame(
        {
            "unit_id": pd.Categorical.from_codes(unit, [f"u{i}" for i in range(n_units)]),
            "annotator_id": pd.Categorical.from_codes(
                annotator, [f"a{i}" for i in range(n_annotators)]
            ),
            "question": "quality",
            "value": value.astype(float),
            "pool": np.where(annotator < 10, "expert", "crowd"),
            "guideline_version": 1 + unit % 2,
            "system": np.array(["s0", "s1", "s2", "s3"])[unit % 4],
            "active_seconds": rng.gamma(2.0, 20.0, size=len(unit)),
            "is_gold": unit < 200,
            "gold_value": np.where(unit < 200, truth[unit], np.nan),
        }
    )
    start = time.perf_counter()
    report = agreement_report(table, {"quality": {"level": "ordinal"}}, n_bootstrap=1000, seed=0)
    elapsed = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assert elapsed < 60
    assert peak_mb < 2048
    overall = report["questions"]["quality"]["overall"]
    assert overall["krippendorff_alpha"]["n_bootstrap_defined"] == 1000
    assert overall["cohen_kappa_pairs"]["n_pairs"] == 1225


def test_report_edge_cases_stay_explicit() -> None:
    empty = pd.DataFrame(columns=["unit_id", "annotator_id", "question", "value"])
    report = agreement_report(empty, {"q": {"level": "nominal"}})
    assert report["questions"]["q"]["status"] == "no_data"
    assert report["annotators"] == []

    single = pd.DataFrame(
        {
            "unit_id": ["u1", "u2", "u3"],
            "annotator_id": "a",
            "question": "q",
            "value": [1, 2, 2],
            "guideline_version": [1.0, None, 2.0],  # float column because of the gap
        }
    )
    report = agreement_report(single, {"q": {"level": "ordinal"}})
    json.dumps(report, allow_nan=False)
    section = report["questions"]["q"]
    assert "two or more annotators" in section["overall"]["krippendorff_alpha"]["reason"]
    assert section["overall"]["cohen_kappa_pairs"]["n_pairs"] == 0
    assert section["units"]["expected_disagreement_reason"] == "no unit has two or more ratings"
    versions = section["breakdowns"]["guideline_version"]
    assert sorted(versions["groups"]) == ["1", "2"]
    assert versions["n_ratings_without_group"] == 1
    assert section["annotators"]["annotators"][0]["flag"]["flagged"] is None
