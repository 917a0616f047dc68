"""Huge or infinite answers make only what they touch undefined, with the reason in words,
while the rest of the report stands (issue 13, item 6).

An interval answer near 1e300 used to fail the whole report with "value must be finite
or None, got nan": squaring it overflows. Now that question's alpha (and its contested
units) say why they are undefined, every other coefficient and question is computed, and
nothing prints a RuntimeWarning. An infinite answer leaves its question not computed.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from analysis.metrics.agreement import krippendorff_alpha
from analysis.metrics.agreement.alpha import TOO_LARGE
from analysis.metrics.report import agreement_report


def _table(rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    for unit in range(30):
        for annotator in range(4):
            pool = "crowd" if annotator < 2 else "expert"
            answers = {
                "huge": float(rng.normal(1e300, 1e299)),
                "near_max": float(rng.uniform(1e307, 1.7e308)),
                "infinite": float("inf") if (unit, annotator) == (3, 1) else 2.0 + annotator,
                "score": int(rng.integers(1, 4)),
            }
            for question, value in answers.items():
                rows.append((f"u{unit}", f"a{annotator}", pool, question, value))
    return pd.DataFrame(rows, columns=["unit_id", "annotator_id", "pool", "question", "value"])


QUESTIONS = {
    "huge": {"level": "interval"},
    "near_max": {"level": "ratio"},
    "infinite": {"level": "interval"},
    "score": {"level": "ordinal"},
}


@pytest.fixture(scope="module")
def report() -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        return agreement_report(_table(np.random.default_rng(0)), QUESTIONS, n_bootstrap=50)


def test_huge_answers_leave_alpha_undefined_with_the_reason(report):
    for question in ("huge", "near_max"):
        section = report["questions"][question]
        assert section["status"] == "analysed"
        alpha = section["overall"]["krippendorff_alpha"]
        assert alpha["value"] is None and alpha["reason"] == TOO_LARGE
        for pool in ("crowd", "expert"):
            group = section["breakdowns"]["pool"]["groups"][pool]
            assert group["krippendorff_alpha"]["reason"] == TOO_LARGE
        # The category-based coefficients do not square anything: computed.
        assert section["overall"]["percent_agreement"]["value"] is not None
    units = report["questions"]["huge"]["units"]
    assert units["most_contested"] == [] and units["expected_disagreement_reason"] == TOO_LARGE


def test_an_infinite_answer_leaves_its_question_not_computed_and_the_rest_standing(report):
    infinite = report["questions"]["infinite"]
    assert infinite["status"] == "not_computed"
    assert infinite["reason"].startswith("the answers include infinity")
    assert report["questions"]["score"]["status"] == "analysed"
    assert report["questions"]["score"]["overall"]["krippendorff_alpha"]["value"] is not None
    json.dumps(report, allow_nan=False)


def test_the_alpha_function_itself_says_why():
    counts = np.array([[1, 1, 0], [0, 1, 1], [1, 0, 1], [2, 0, 0]], dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        result = krippendorff_alpha(
            counts,
            np.array([1e200, 2e200, 3e200]),
            "interval",
            n_bootstrap=20,
            rng=np.random.default_rng(1),
        )
    assert result.value is None and result.reason == TOO_LARGE
    ordinary = krippendorff_alpha(counts, np.array([1.0, 2.0, 3.0]), "interval")
    assert ordinary.value is not None
