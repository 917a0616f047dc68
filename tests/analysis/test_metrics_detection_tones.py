"""Error detection by tone with any number of tone conditions (issue 13, item 3).

Five tone conditions with planted per-tone hit and false-alarm rates (tone_studies.py):
every tone gets its rates and d' with intervals that cover the population values, every
pair of tones is contrasted with Holm-adjusted p-values, the treated/control pair is a
parameter, and few known-error outputs give "insufficient data", never an effect.
"""

from __future__ import annotations

import json
from functools import cache
from itertools import combinations

import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests

from analysis.metrics.bias import bias_report, error_detection_by_tone, stable_rng
from tests.analysis.tone_studies import ToneStudy, booleans, simulate

B, PERMS = 200, 200
SEEDS = range(300, 312)
STUDY = ToneStudy(n_prompts=200, expert_prompts=0)
NULL = ToneStudy(
    n_prompts=120,
    expert_prompts=0,
    crowd_hit_rate=dict.fromkeys(ToneStudy().tones, 0.5),
    crowd_false_alarm_rate=dict.fromkeys(ToneStudy().tones, 0.12),
)


STUDIES = {"planted": STUDY, "null": NULL}


@cache
def _result(study: str, seed: int, treated: str = "assertive", control: str = "hedged"):
    return error_detection_by_tone(
        simulate(STUDIES[study], seed),
        rng=stable_rng(seed, "detection"),
        treated=treated,
        control=control,
        n_bootstrap=B,
        n_permutations=PERMS,
    )


@pytest.mark.slow
def test_every_tone_gets_rates_and_d_prime_covering_the_planted_values():
    truth = STUDY.truth()
    covered = {"hit_rate": [], "false_alarm_rate": [], "d_prime": []}
    for seed in SEEDS:
        result = _result("planted", seed)
        assert result["defined"] is True
        assert result["tones"] == ["assertive", "hedged", "baseline", "complex", "simple"]
        assert set(result["by_tone"]) == set(STUDY.tones)
        for tone, block in result["by_tone"].items():
            for key in covered:
                low, high = block[f"{key}_ci"]
                covered[key].append(low <= truth[tone][key] <= high)
    for key, hits in covered.items():
        # 12 seeds x 5 tones at a nominal 95%.
        assert np.mean(hits) >= 0.85, (key, np.mean(hits))


def test_all_pairs_are_contrasted_with_holm_adjusted_p_values():
    result = _result("planted", SEEDS[0])
    contrasts = result["contrasts"]
    tones = result["tones"]
    assert [(c["first"], c["second"]) for c in contrasts] == list(combinations(tones, 2))
    by_tone = result["by_tone"]
    for c in contrasts:
        gap = by_tone[c["second"]]["hit_rate"] - by_tone[c["first"]]["hit_rate"]
        assert c["hit_rate_gap"]["estimate"] == pytest.approx(gap)
        fa = by_tone[c["second"]]["false_alarm_rate"] - by_tone[c["first"]]["false_alarm_rate"]
        assert c["false_alarm_gap"]["estimate"] == pytest.approx(fa)
        d = by_tone[c["second"]]["d_prime"] - by_tone[c["first"]]["d_prime"]
        assert c["d_prime_gap"]["estimate"] == pytest.approx(d)
        low, high = c["hit_rate_gap"]["ci_low"], c["hit_rate_gap"]["ci_high"]
        assert low < c["hit_rate_gap"]["estimate"] < high
    for measure in ("hit_rate_gap", "false_alarm_gap", "d_prime_gap"):
        raw = [c[measure]["p_value"] for c in contrasts]
        expected = multipletests(raw, method="holm")[1]
        assert [c[measure]["p_value_holm"] for c in contrasts] == pytest.approx(list(expected))
    # The first pair is the headline, and its p is the headline's randomization test.
    head = contrasts[0]
    assert (head["first"], head["second"]) == ("assertive", "hedged")
    assert head["hit_rate_gap"]["estimate"] == pytest.approx(result["estimate"])
    assert head["hit_rate_gap"]["p_value"] == result["p_value"]
    # Planted gaps of 0.1 and more are found after the correction.
    assert all(c["hit_rate_differs"] for c in contrasts if abs(c["hit_rate_gap"]["estimate"]) > 0.2)
    assert "detection_differs_between_tones" in result["flags"]
    assert "5 tones" in result["verdict"]
    json.dumps(result, allow_nan=False)


def test_the_treated_and_control_tones_are_parameters():
    result = _result("planted", SEEDS[1], treated="baseline", control="simple")
    by_tone = result["by_tone"]
    assert result["tones"][:2] == ["baseline", "simple"]
    assert result["estimate"] == pytest.approx(
        by_tone["simple"]["hit_rate"] - by_tone["baseline"]["hit_rate"]
    )
    assert "simple minus baseline" in result["contrasts"][0]["computed"]
    assert "in baseline answers" in result["verdict"]
    # The per-tone numbers do not depend on which pair is the headline.
    default = _result("planted", SEEDS[1])
    for tone in STUDY.tones:
        assert by_tone[tone]["hit_rate"] == pytest.approx(default["by_tone"][tone]["hit_rate"])


def test_a_missing_treated_tone_leaves_the_headline_undefined_but_keeps_every_tone():
    result = _result("planted", SEEDS[2], treated="neutral")
    assert result["defined"] is False and result["estimate"] is None
    assert (
        "“neutral”" in result["reason"]
        and "assertive, baseline, complex, hedged, simple" in result["reason"]
    )
    assert result["verdict"].startswith("not computed")
    assert set(result["by_tone"]) == set(STUDY.tones)
    assert all(block["hit_rate"] is not None for block in result["by_tone"].values())
    assert len(result["contrasts"]) == 10
    assert result["flags"] == [] and result["flagged"] is False


def test_few_known_error_outputs_say_insufficient_data_never_an_effect():
    # A huge planted gap (hit rate 0.1 vs 0.9) on 6 prompts: at most 6, mostly fewer than
    # 5, known-error outputs per tone. A tone below 5 gets no rates and no contrast, so
    # nothing is claimed about it; the headline says why in words.
    tiny = ToneStudy(
        n_prompts=6,
        expert_prompts=0,
        crowd_hit_rate={**ToneStudy().crowd_hit_rate, "assertive": 0.1, "hedged": 0.9},
    )
    for seed in range(40, 46):
        result = error_detection_by_tone(
            simulate(tiny, seed), rng=stable_rng(seed, "tiny"), n_bootstrap=B, n_permutations=PERMS
        )
        assert result["defined"] is False and result["estimate"] is None
        assert result["flags"] == ["insufficient_data"] and result["flagged"] is False
        assert "need at least 5" in result["reason"]
        assert "{" not in result["reason"] and "np." not in result["reason"]
        for tone, block in result.get("by_tone", {}).items():
            if not block["defined"]:
                assert "need at least 5" in block["reason"], tone
                assert all(tone not in (c["first"], c["second"]) for c in result["contrasts"])
    # Between 5 and 29 known-error outputs per tone the numbers come with the warning.
    few = error_detection_by_tone(
        simulate(ToneStudy(n_prompts=30, expert_prompts=0), 3),
        rng=stable_rng(0, "few"),
        n_bootstrap=B,
        n_permutations=PERMS,
    )
    assert few["defined"] is True and "insufficient_data" in few["flags"]
    assert all(block["insufficient_data"] for block in few["by_tone"].values())
    assert all(c["insufficient_data"] for c in few["contrasts"])
    assert any("fewer than 30 known-error outputs" in w for w in few["warnings"])


@pytest.mark.slow
def test_no_tone_difference_rarely_flags_any_pair():
    flagged = []
    for seed in range(500, 520):
        result = _result("null", seed)
        flagged.append(any(c["hit_rate_differs"] for c in result["contrasts"]))
    # Holm keeps the family-wise error near 5%.
    assert np.mean(flagged) <= 0.15


def test_boolean_flags_give_the_same_numbers_as_zero_one_flags():
    table = simulate(STUDY, SEEDS[3])
    a = error_detection_by_tone(table, rng=stable_rng(1, "b"), n_bootstrap=50, n_permutations=50)
    b = error_detection_by_tone(
        booleans(table), rng=stable_rng(1, "b"), n_bootstrap=50, n_permutations=50
    )
    assert a == b


def test_a_reference_made_from_a_pools_own_labels_is_not_a_finding():
    """One expert label per output, and the known errors taken from it: the expert pool
    agrees with the reference on every output, which says nothing about its skill."""
    table = simulate(ToneStudy(n_prompts=120, expert_prompts=120), 8)
    experts = table[table["pool"] == "expert"].copy()
    judged = experts.set_index("output_id")["value"].astype(int)
    table["n_known_errors"] = table["output_id"].map(judged)
    report = bias_report(
        table,
        {"error_flag": "has_factual_error"},
        n_bootstrap=B,
        n_permutations=PERMS,
        include_mixed_model=False,
    )
    expert = report["pools"]["expert"]["checks"]["error_detection_by_tone"]
    assert "made from their labels" in expert["not_a_finding"]
    assert expert["flags"] == [] and expert["flagged"] is False
    assert expert["verdict"].startswith("not a finding")
    assert not any(f["pool"] == "expert" for f in report["flagged"])
    # The crowd, checked against the same reference, is a finding as usual.
    crowd = report["pools"]["crowd"]["checks"]["error_detection_by_tone"]
    assert "not_a_finding" not in crowd
