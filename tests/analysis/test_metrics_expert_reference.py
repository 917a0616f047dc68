"""Expert vs crowd with any number of experts per unit (issue 13, item 2).

One expert label per output is a valid reference: every block that compares the crowd
with the experts is computed, the section says how reliable the reference is, the
expert-expert ceiling says it is unknown rather than coming back empty, and the crowd's
hit rate, false alarms and under-reporting against the experts come per tone with
intervals. A task's yes/no answers (booleans) meet the design's 0/1 known errors.
"""

from __future__ import annotations

import json
from functools import cache

import numpy as np
import pandas as pd
import pytest

from analysis.metrics.bias import stable_rng
from analysis.metrics.expert_vs_crowd import (
    cross_pool_agreement,
    detection_against_experts,
    expert_vs_crowd_report,
    majority_of_k_curve,
)
from tests.analysis.tone_studies import QUESTION, ToneStudy, booleans, simulate

SINGLE = ToneStudy(n_prompts=120, expert_prompts=120, n_crowd=120)
FLAG_ROLE = {"error_flag": QUESTION}
# The spec as the services pass it: the question's declaration, which says nothing of
# yes/no (a task's binary question is "nominal").
DECLARED = {"error_flag": {"level": "nominal"}}


@cache
def _single(seed: int) -> pd.DataFrame:
    return booleans(simulate(SINGLE, seed))


@cache
def _report(seed: int, min_expert_labels: int = 1) -> dict:
    return expert_vs_crowd_report(
        _single(seed),
        FLAG_ROLE,
        specs=DECLARED,
        seed=seed,
        n_bootstrap=100,
        min_expert_labels=min_expert_labels,
    )


def _with_second_expert(table: pd.DataFrame, agree: float, seed: int) -> pd.DataFrame:
    """Every expert-rated output gets a second expert label, equal to the first with
    probability ``agree``."""
    rng = np.random.default_rng(seed)
    experts = table[table["pool"] == "expert"].copy()
    flip = rng.random(len(experts)) > agree
    experts["value"] = [not v if f else v for v, f in zip(experts["value"], flip, strict=True)]
    experts["annotator_id"] = "expert-second"
    return pd.concat([table, experts], ignore_index=True)


def test_one_expert_label_per_unit_is_a_reference_and_its_reliability_is_unknown():
    report = _report(1)
    flag = report["questions"]["error_flag"]
    reference = flag["reference"]
    assert reference["expert_labels_per_unit"] == {"1": 600, "2": 0, "3 or more": 0}
    assert reference["n_units_with_reference"] == 600
    assert reference["reliability"].startswith("unknown, single expert")
    assert reference["within_expert_agreement"] is None
    assert "fixed" in reference["intervals"]
    cross = flag["cross_pool"]
    assert cross["defined"] is True
    rates = cross["pairwise_rates"]
    assert rates["p_crowd_expert"]["estimate"] is not None
    assert rates["p_crowd_expert"]["ci_low"] < rates["p_crowd_expert"]["estimate"]
    assert rates["p_expert_expert"]["estimate"] is None
    assert rates["p_expert_expert"]["reason"] == "unknown: a single expert label per unit"
    assert cross["consensus"]["n_units"] > 500
    for block in ("crowd_size_curve", "annotator_accuracy", "dawid_skene"):
        assert flag[block]["defined"] is True, block
    assert report["parameters"]["min_expert_labels"] == 1
    json.dumps(report, allow_nan=False)


def test_min_expert_labels_is_a_parameter_and_two_need_two_labels():
    report = _report(1, min_expert_labels=2)
    flag = report["questions"]["error_flag"]
    assert flag["reference"]["n_units_with_reference"] == 0
    assert flag["crowd_size_curve"]["defined"] is False
    assert "reference" in flag["crowd_size_curve"]["reason"]
    assert report["parameters"]["min_expert_labels"] == 2


def test_with_two_experts_the_reliability_is_their_agreement():
    table = _with_second_expert(_single(2), agree=0.9, seed=2)
    report = expert_vs_crowd_report(table, FLAG_ROLE, specs=DECLARED, seed=2, n_bootstrap=100)
    flag = report["questions"]["error_flag"]
    reference = flag["reference"]
    assert reference["expert_labels_per_unit"]["2"] == 600
    assert reference["reliability"].startswith("within-expert agreement")
    alpha = reference["within_expert_agreement"]["krippendorff_alpha"]
    assert alpha["value"] == flag["within_pool"]["expert"]["krippendorff_alpha"]["value"]
    assert 0.5 < alpha["value"] < 0.9
    # Two labels that disagree have no unique plurality: those units have no reference.
    assert 0 < reference["n_units_tied_or_too_few"] < 120
    assert flag["cross_pool"]["pairwise_rates"]["p_expert_expert"]["estimate"] > 0.8


def test_boolean_answers_meet_the_zero_one_known_errors():
    """The demo's bug: a task's error flags are booleans, the design's reference 0/1."""
    report = _report(3)
    injected = report["questions"]["error_flag"]["crowd_size_curve_injected"]
    assert injected["defined"] is True, injected.get("reason")
    assert injected["reference"] == "design n_known_errors > 0"
    as_ints = expert_vs_crowd_report(
        simulate(SINGLE, 3), FLAG_ROLE, specs=DECLARED, seed=3, n_bootstrap=100
    )
    assert as_ints["questions"]["error_flag"] == report["questions"]["error_flag"]


def test_a_reference_outside_the_answers_is_refused_in_words():
    table = _single(1)
    with pytest.raises(ValueError) as refused:
        majority_of_k_curve(
            table,
            question=QUESTION,
            spec={"level": "nominal", "binary": True},
            rng=stable_rng(0, "x"),
            reference=pd.Series({"o1": np.int64(7)}),
            n_bootstrap=10,
        )
    message = str(refused.value)
    assert "7" in message and "np." not in message and "int64" not in message


def test_cross_pool_without_two_crowd_labels_says_so():
    table = _single(1)
    few = table[table["unit_id"].isin(["o1", "o2", "o3"])]
    result = cross_pool_agreement(
        few,
        question=QUESTION,
        spec={"level": "nominal", "binary": True},
        rng=stable_rng(0, "c"),
        n_bootstrap=10,
    )
    assert result["defined"] is False
    assert result["reason"] == (
        "only 3 units have at least 2 crowd labels and an expert label (need 10)"
    )


def test_under_reporting_hit_rates_and_false_alarms_against_the_experts():
    result = _report(4)["questions"]["error_flag"]["detection_against_experts"]
    assert result["defined"] is True
    assert result["tones"] == ["assertive", "hedged", "baseline", "complex", "simple"]
    assert set(result["by_tone"]) == {*SINGLE.tones, "all"}
    assert result["checked_pool"] == "crowd" and "circular" in result["not_checked"]["expert"]
    table = _single(4)
    crowd = table[table["pool"] == "crowd"]
    expert = table[table["pool"] == "expert"].set_index("unit_id")["value"].astype(int)
    for tone in SINGLE.tones:
        block = result["by_tone"][tone]
        rows = crowd[crowd["tone"] == tone]
        ref = rows["unit_id"].map(expert)
        flags = rows["value"].astype(int)
        assert block["hit_rate"]["estimate"] == pytest.approx(flags[ref == 1].mean())
        assert block["false_alarm_rate"]["estimate"] == pytest.approx(flags[ref == 0].mean())
        share = flags.groupby(rows["unit_id"]).mean()
        units = share.index
        expert_rate = expert.loc[units].mean()
        crowd_rate = (share > 0.5).mean()
        ur = block["under_reporting"]
        assert ur["expert_rate"] == pytest.approx(expert_rate)
        assert ur["crowd_majority_rate"] == pytest.approx(crowd_rate)
        assert ur["estimate"] == pytest.approx(expert_rate - crowd_rate)
        assert ur["ci_low"] <= ur["estimate"] <= ur["ci_high"]
    gap = result["tone_gap"]
    assert gap["hit_rate_gap"]["estimate"] == pytest.approx(
        result["by_tone"]["hedged"]["hit_rate"]["estimate"]
        - result["by_tone"]["assertive"]["hit_rate"]["estimate"]
    )


def test_few_reference_errors_per_tone_say_insufficient_data():
    tiny = booleans(simulate(ToneStudy(n_prompts=8, expert_prompts=8, n_crowd=60), 5))
    result = detection_against_experts(
        tiny,
        question=QUESTION,
        spec={"level": "nominal", "binary": True},
        rng=stable_rng(0, "t"),
        n_bootstrap=50,
    )
    for tone in ToneStudy().tones:
        block = result["by_tone"][tone]
        assert block["insufficient_data"] is True
        if not block["defined"]:
            assert "need at least 5" in block["reason"] and "under_reporting" not in block
    assert result["tone_gap"]["insufficient_data"] is True
