"""Expert-vs-crowd metrics: exact crowd-size curve, agreement, annotator accuracy, DS check."""

from __future__ import annotations

import json
from functools import cache

import krippendorff
import numpy as np
import pandas as pd
import pytest

from analysis.metrics import agreement
from analysis.metrics.bias import stable_rng
from analysis.metrics.expert_vs_crowd import (
    DEFAULT_SPECS,
    DS_CAVEAT,
    annotator_accuracy,
    annotator_leniency_blups,
    beta_binomial_shrinkage,
    cross_pool_agreement,
    dawid_skene_validation,
    encode_pool_labels,
    expert_vs_crowd_report,
    leniency_msd,
    majority_of_k_curve,
    majority_of_k_exact,
    majority_of_k_monte_carlo,
    within_pool_agreement,
)
from analysis.simulation import (
    PoolBehaviour,
    SimulatedStudy,
    SimulationConfig,
    population_truth,
    simulate_study,
)

FLAG = "has_factual_error"
FLAG_SPEC = DEFAULT_SPECS["error_flag"]
B = 200


def _config() -> SimulationConfig:
    # Perfect experts make the expert consensus the true error status, so the crowd's
    # planted per-label accuracy is known exactly (population_truth "label_accuracy").
    crowd = PoolBehaviour(
        n_annotators=30,
        ratings_per_unit=5,
        hit_rate_assertive=0.4,
        hit_rate_hedged=0.6,
        false_alarm_rate=0.15,
        leniency_mean=0.5,
        tone_bias=0.2,
    )
    expert = PoolBehaviour(
        n_annotators=5,
        ratings_per_unit=3,
        hit_rate_assertive=1.0,
        hit_rate_hedged=1.0,
        false_alarm_rate=0.0,
        leniency_mean=0.0,
        tone_bias=0.2,
    )
    return SimulationConfig(
        n_prompts=25,
        n_systems=3,
        error_probability=0.5,
        pairwise=False,
        pools={"crowd": crowd, "expert": expert},
    )


CONFIG = _config()
TRUTH = population_truth(CONFIG)


@cache
def _study(seed: int) -> SimulatedStudy:
    return simulate_study(CONFIG, rng=np.random.default_rng(seed))


@cache
def _full_study() -> SimulatedStudy:
    crowd = PoolBehaviour(n_annotators=25, ratings_per_unit=4, tone_bias=0.4)
    expert = PoolBehaviour(
        n_annotators=5,
        ratings_per_unit=3,
        hit_rate_assertive=0.9,
        hit_rate_hedged=0.9,
        false_alarm_rate=0.05,
    )
    cfg = SimulationConfig(n_prompts=20, pools={"crowd": crowd, "expert": expert})
    return simulate_study(cfg, rng=np.random.default_rng(42))


# ---------------------------------------------------------------------------------------
# B3: exact majority-of-k
# ---------------------------------------------------------------------------------------


def test_exact_majority_matches_monte_carlo():
    rng = np.random.default_rng(0)
    n = rng.integers(5, 12, size=40)
    c = rng.integers(0, n + 1)
    for k in (1, 2, 3, 4, 5):
        exact = majority_of_k_exact(n, c, k)
        mc = majority_of_k_monte_carlo(n, c, k, rng=np.random.default_rng(k), n_draws=20_000)
        # Monte Carlo SE <= 0.0036 per item; 0.02 is > 5 SE.
        assert np.max(np.abs(exact - mc)) < 0.02, k


def test_exact_majority_known_values():
    n, c = np.array([5, 5, 4, 6]), np.array([3, 0, 2, 6])
    assert np.allclose(majority_of_k_exact(n, c, 1), c / n)
    # With ties counted 1/2, k = 2 equals k = 1 (expected share of correct labels).
    assert np.allclose(majority_of_k_exact(n, c, 2), c / n)
    # k = n is the plain majority of all labels.
    assert majority_of_k_exact([5], [3], 5)[0] == pytest.approx(1.0)
    assert majority_of_k_exact([4], [2], 4)[0] == pytest.approx(0.5)
    # Hand-computed: n=5, c=3, k=3: P(>=2 correct) = (C(3,2)C(2,1) + C(3,3)) / C(5,3) = 7/10.
    assert majority_of_k_exact([5], [3], 3)[0] == pytest.approx(0.7)
    with pytest.raises(ValueError):
        majority_of_k_exact([3], [1], 4)
    with pytest.raises(ValueError):
        majority_of_k_exact([3], [4], 1)
    with pytest.raises(ValueError):
        majority_of_k_exact([3], [1], 0)


@pytest.mark.slow
def test_curve_recovers_planted_crowd_accuracy():
    truth = TRUTH["crowd"]["label_accuracy"]
    hits, est = [], []
    for seed in range(25):
        st = _study(200 + seed)
        r = majority_of_k_curve(
            st.rubric,
            question=FLAG,
            spec=FLAG_SPEC,
            rng=stable_rng(seed, "curve"),
            n_bootstrap=B,
        )
        assert r["defined"] and r["k"] == [1, 2, 3, 4, 5]
        hits.append(r["ci_low"][0] <= truth <= r["ci_high"][0])
        est.append(r["accuracy"][0])
    assert np.mean(hits) >= 0.8
    assert abs(np.mean(est) - truth) < 3 * np.std(est, ddof=1) / np.sqrt(len(est)) + 0.005


def test_curve_equals_mean_of_per_unit_exact_values_and_is_stratified():
    st = _study(200)
    r = majority_of_k_curve(
        st.rubric, question=FLAG, spec=FLAG_SPEC, rng=stable_rng(0, "c"), n_bootstrap=50
    )
    enc = encode_pool_labels(st.rubric, FLAG, FLAG_SPEC)
    crowd, expert = enc.counts("crowd"), enc.counts("expert")
    ref = expert.argmax(1)  # perfect experts: unanimous
    n = crowd.sum(1).astype(int)
    c = crowd[np.arange(len(ref)), ref].astype(int)
    for k in (1, 3, 5):
        assert r["accuracy"][k - 1] == pytest.approx(majority_of_k_exact(n, c, k).mean())
    # Class 1 (erroneous outputs): per-label recall < 1/2 -> majority voting gets worse.
    cls1 = r["by_reference_class"]["1"]["accuracy"]
    assert cls1[0] < 0.5 and cls1[4] < cls1[0]
    assert any("Condorcet" in w for w in r["warnings"])
    # Perfect experts: the ceiling is 1 and the crowd never reaches it.
    assert r["ceiling"]["single_expert_accuracy"] == pytest.approx(1.0)
    assert r["k_star"] is None and "not reached" in r["k_star_reason"]


def test_curve_with_injected_reference_and_too_few_units():
    st = _study(201)
    rows = st.rubric[st.rubric["question"] == FLAG]
    injected = rows.groupby("unit_id")["n_known_errors"].first().gt(0).astype(int)
    a = majority_of_k_curve(
        st.rubric,
        question=FLAG,
        spec=FLAG_SPEC,
        rng=stable_rng(0, "i"),
        n_bootstrap=30,
        reference=injected,
    )
    b = majority_of_k_curve(
        st.rubric, question=FLAG, spec=FLAG_SPEC, rng=stable_rng(0, "i"), n_bootstrap=30
    )
    # Perfect experts agree with the injected manifest, so the curves coincide.
    assert a["accuracy"] == pytest.approx(b["accuracy"])
    few = st.rubric[st.rubric["prompt_id"] == "p0000"]
    r = majority_of_k_curve(few, question=FLAG, spec=FLAG_SPEC, rng=stable_rng(0, "f"))
    assert r["defined"] is False and r["reason"]
    with pytest.raises(ValueError):
        majority_of_k_curve(
            st.rubric, question=FLAG, spec=FLAG_SPEC, rng=stable_rng(0, "i"), max_k=0
        )


# ---------------------------------------------------------------------------------------
# B1/B2: agreement
# ---------------------------------------------------------------------------------------


def test_within_pool_alpha_matches_krippendorff_package_and_ac1_has_ci():
    st = _full_study()
    r = within_pool_agreement(
        st.rubric, question=FLAG, spec=FLAG_SPEC, rng=stable_rng(0, "w"), n_bootstrap=100
    )
    assert set(r) == {"crowd", "expert"}
    for pool in ("crowd", "expert"):
        rows = st.rubric[(st.rubric["question"] == FLAG) & (st.rubric["pool"] == pool)]
        m = rows.pivot(index="annotator_id", columns="unit_id", values="value").astype(float)
        expected = krippendorff.alpha(reliability_data=m.to_numpy(), level_of_measurement="nominal")
        got = r[pool]["krippendorff_alpha"]
        assert got["value"] == pytest.approx(expected, abs=1e-9)
        ac1 = r[pool]["gwet_ac1"]
        assert ac1["ci_low"] <= ac1["value"] <= ac1["ci_high"]
        assert sum(r[pool]["prevalence"].values()) == pytest.approx(1.0)
    # Accurate experts agree more than the noisy crowd.
    assert r["expert"]["krippendorff_alpha"]["value"] > r["crowd"]["krippendorff_alpha"]["value"]


def test_cross_pool_agreement_ceiling_and_numeric_blocks():
    st = _full_study()
    r = cross_pool_agreement(
        st.rubric, question=FLAG, spec=FLAG_SPEC, rng=stable_rng(0, "x"), n_bootstrap=100
    )
    assert r["defined"]
    rates = r["pairwise_rates"]
    assert rates["p_expert_expert"]["estimate"] > rates["p_crowd_expert"]["estimate"]
    assert rates["ratio_ce_over_ee"]["estimate"] == pytest.approx(
        rates["p_crowd_expert"]["estimate"] / rates["p_expert_expert"]["estimate"]
    )
    kap = r["consensus"]["cohen_kappa"]
    assert -1 <= kap["estimate"] <= 1 and kap["ci_low"] <= kap["estimate"] <= kap["ci_high"]
    assert r["expert_ceiling"]["single_expert_accuracy"]["estimate"] > 0.8
    q = cross_pool_agreement(
        st.rubric,
        question="quality",
        spec=DEFAULT_SPECS["quality"],
        rng=stable_rng(0, "q"),
        n_bootstrap=100,
    )
    assert "bland_altman" in q and "lin_ccc" in q
    lo, hi = q["bland_altman"]["limits_of_agreement"]
    assert lo < q["bland_altman"]["mean_difference"]["estimate"] < hi
    json.dumps(q, allow_nan=False)


def test_pairwise_preferences_are_mapped_through_shown_order():
    st = _full_study()
    pw = st.pairwise
    r = cross_pool_agreement(
        pw,
        question="preference",
        spec=DEFAULT_SPECS["preference"],
        rng=stable_rng(0, "p"),
        n_bootstrap=50,
    )
    assert r["defined"] and "pairwise_rates_s2" in r
    # Flipping every shown order together with the A/B answer is the same judgement.
    flipped = pw.copy()
    flipped["shown_order"] = flipped["shown_order"].map(lambda t: (t[1], t[0]))
    flipped["value"] = flipped["value"].map({"A": "B", "B": "A", "tie": "tie"})
    r2 = cross_pool_agreement(
        flipped,
        question="preference",
        spec=DEFAULT_SPECS["preference"],
        rng=stable_rng(0, "p"),
        n_bootstrap=50,
    )
    assert r2["pairwise_rates"]["p_crowd_expert"] == r["pairwise_rates"]["p_crowd_expert"]


# ---------------------------------------------------------------------------------------
# B4: per-annotator accuracy and shrinkage
# ---------------------------------------------------------------------------------------


def test_annotator_accuracy_wilson_and_shrinkage_track_true_skill():
    st = _study(210)
    r = annotator_accuracy(st.rubric, question=FLAG, spec=FLAG_SPEC, n_min=10)
    assert r["defined"] and r["n_annotators"] == 30
    prior_mean = r["prior"]["prior_mean"]
    true = st.annotators.set_index("annotator_id")
    pi1 = CONFIG.error_probability
    rows = []
    for a in r["annotators"]:
        lo, hi = a["wilson_ci"]
        assert lo <= a["accuracy"] <= hi
        # Shrinkage moves every estimate towards the prior mean, never past it.
        assert abs(a["shrunk_accuracy"] - prior_mean) <= abs(a["accuracy"] - prior_mean) + 1e-12
        t = true.loc[a["annotator_id"]]
        skill = pi1 * (t["hit_rate_assertive"] + t["hit_rate_hedged"]) / 2 + (1 - pi1) * (
            1 - t["false_alarm_rate"]
        )
        rows.append((a["shrunk_accuracy"], a["accuracy"], skill))
        assert a["sensitivity"] is not None and a["specificity"] is not None
    shrunk, raw, skill = np.array(rows).T
    # EB estimates are at least as close to the true skills as the raw accuracies.
    assert np.mean((shrunk - skill) ** 2) <= np.mean((raw - skill) ** 2)
    assert np.corrcoef(shrunk, skill)[0, 1] > 0.3


def test_beta_binomial_shrinkage_cases():
    rng = np.random.default_rng(5)
    p = rng.beta(8, 4, size=60)
    n = rng.integers(20, 60, size=60)
    c = rng.binomial(n, p)
    r = beta_binomial_shrinkage(c, n)
    assert r["defined"] and r["prior_mean"] == pytest.approx(8 / 12, abs=0.05)
    # No overdispersion: identical binomial skill -> a + b runs off, everything shrinks to
    # (nearly) the pool mean.
    c0 = rng.binomial(40, 0.7, size=60)
    r0 = beta_binomial_shrinkage(c0, np.full(60, 40))
    assert np.ptp(r0["shrunk"]) < np.ptp(c0 / 40) / 3
    assert beta_binomial_shrinkage([3, 4], [10, 10])["defined"] is False
    with pytest.raises(ValueError):
        beta_binomial_shrinkage([11], [10])


# ---------------------------------------------------------------------------------------
# B5/B6
# ---------------------------------------------------------------------------------------


def test_leniency_msd_recovers_planted_difference():
    truth = TRUTH["crowd"]["mean_quality"] - TRUTH["expert"]["mean_quality"]
    assert truth > 0.3
    hits = []
    for seed in range(15):
        r = leniency_msd(_study(200 + seed).rubric, rng=stable_rng(seed, "msd"), n_bootstrap=B)
        hits.append(r["ci_low"] <= truth <= r["ci_high"])
        assert r["flagged"]
    assert np.mean(hits) >= 0.8


def test_leniency_blups_track_true_leniency():
    st = _study(202)
    r = annotator_leniency_blups(st.rubric, pool="crowd")
    got = pd.DataFrame(r["annotators"]).set_index("annotator_id")["blup"]
    true = st.annotators.set_index("annotator_id").loc[got.index, "leniency"]
    assert np.corrcoef(got, true)[0, 1] > 0.6


def test_dawid_skene_validation_report():
    st = _full_study()
    r = dawid_skene_validation(st.rubric, question=FLAG, spec=FLAG_SPEC, n_min=10)
    assert r["defined"] and r["caveat"] == DS_CAVEAT
    assert r["spearman_ds"]["rho"] is not None
    acc = r["label_accuracy"]
    assert 0.5 < acc["dawid_skene"] <= 1 and 0.5 < acc["majority_vote"] <= 1
    assert len(r["worker_estimates"]) == 25
    json.dumps(r, allow_nan=False)


def test_agreement_module_is_reused_for_alpha():
    # The coefficients must be the agreement report's, not a second implementation.
    st = _full_study()
    enc = encode_pool_labels(st.rubric, FLAG, FLAG_SPEC)
    counts = enc.counts("expert")
    counts = counts[counts.sum(1) > 0]
    direct = agreement.krippendorff_alpha(counts, np.arange(2), "nominal").value
    r = within_pool_agreement(
        st.rubric, question=FLAG, spec=FLAG_SPEC, rng=stable_rng(0, "w"), n_bootstrap=0
    )
    assert r["expert"]["krippendorff_alpha"]["value"] == pytest.approx(direct)


# ---------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------


@pytest.mark.slow
def test_report_structure_determinism_and_json():
    st = _full_study()
    t = st.annotations
    # Preference blocks are exercised above; two roles keep the double run fast.
    kw = {
        "questions": {"quality": "quality", "error_flag": FLAG},
        "seed": 1,
        "n_bootstrap": 40,
        "max_k": 4,
    }
    a = expert_vs_crowd_report(t, **kw)
    assert a == expert_vs_crowd_report(t, **kw)
    json.dumps(a, allow_nan=False)
    assert a["section"] == "expert_vs_crowd" and a["defined"]
    flag = a["questions"]["error_flag"]
    assert set(flag) >= {
        "within_pool",
        "cross_pool",
        "crowd_size_curve",
        "crowd_size_curve_injected",
        "annotator_accuracy",
        "dawid_skene",
    }
    assert flag["crowd_size_curve"]["k"] == [1, 2, 3, 4]
    assert "crowd_size_curve" not in a["questions"]["quality"]
    idx = a["bias_indices"]["pools"]["crowd"]
    assert set(idx) >= {
        "tone_premium",
        "detection_gap",
        "length_bias",
        "position_bias",
        "leniency_msd",
        "under_reporting",
    }
    assert a["bias_indices"]["pools"]["expert"]["leniency_msd"]["reason"] == "reference pool"


def test_report_without_expert_pool_and_bad_roles():
    t = _full_study().annotations
    crowd_only = t[t["pool"] == "crowd"]
    r = expert_vs_crowd_report(crowd_only, n_bootstrap=10)
    assert r["defined"] is False and "expert" in r["reason"]
    with pytest.raises(ValueError):
        expert_vs_crowd_report(t, {"flags": FLAG})
    with pytest.raises(ValueError):
        expert_vs_crowd_report(t.drop(columns=["pool"]))
