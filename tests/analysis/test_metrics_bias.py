"""Bias checks on simulated data: planted effects are recovered, null effects rarely flagged.

Every calibration test runs a check on many fixed seeds of the simulator and compares with
the simulator's exact population value (``population_truth``). Thresholds: the planted
value lies inside the 95% interval in >= 80% of seeds (nominal 95%), and with nothing
planted the check flags in <= 10% of seeds (nominal 5%); the seeds are fixed, so the tests
are deterministic, and the margins keep them meaningful (a check that is biased, too
narrow or too wide fails).
"""

from __future__ import annotations

import json
from functools import cache

import numpy as np
import pytest
from scipy import stats

from analysis.metrics import bias
from analysis.metrics.bias import (
    bias_report,
    error_detection_by_tone,
    length_bias,
    paired_tone_premium,
    perceived_assertiveness_check,
    position_bias,
    tone_mixed_model,
)
from analysis.simulation import (
    PoolBehaviour,
    SimulatedStudy,
    SimulationConfig,
    population_truth,
    simulate_study,
)

N_PLANTED = 50
N_NULL = 120
B = 200  # bootstrap replicates in tests; reports default to 1,000
PERMS = 500


def _config(planted: bool) -> SimulationConfig:
    crowd = PoolBehaviour(
        n_annotators=25,
        ratings_per_unit=3,
        noise_sd=0.7,
        leniency_sd=0.3,
        tone_bias=0.45 if planted else 0.0,
        hit_rate_assertive=0.3 if planted else 0.5,
        hit_rate_hedged=0.6 if planted else 0.5,
        false_alarm_rate=0.1,
        error_penalty=0.8,
        position_bias=0.08 if planted else 0.0,
        length_bias=0.3 if planted else 0.0,
        tie_rate=0.1,
    )
    return SimulationConfig(
        n_prompts=30, n_systems=3, error_probability=0.5, pools={"crowd": crowd}
    )


PLANTED = _config(True)
NULL = _config(False)
TRUTH_PLANTED = population_truth(PLANTED)["crowd"]
TRUTH_NULL = population_truth(NULL)["crowd"]


@cache
def _study(planted: bool, seed: int) -> SimulatedStudy:
    return simulate_study(PLANTED if planted else NULL, rng=np.random.default_rng(seed))


def _seeds(planted: bool) -> range:
    return range(1000, 1000 + N_PLANTED) if planted else range(5000, 5000 + N_NULL)


def _rng(seed: int, check: str) -> np.random.Generator:
    # Analysis randomness must not share a stream with the simulation's.
    return bias.stable_rng(seed, check)


CHECKS = {
    "tone_premium": (
        lambda t, r: paired_tone_premium(t, rng=r, n_bootstrap=B, n_permutations=PERMS),
        "tone_premium",
        0.0,
    ),
    "detection_gap": (
        lambda t, r: error_detection_by_tone(t, rng=r, n_bootstrap=B, n_permutations=PERMS),
        "detection_gap",
        0.0,
    ),
    "position": (
        lambda t, r: position_bias(t, rng=r, n_bootstrap=B),
        "first_position_share",
        0.5,
    ),
    "length": (lambda t, r: length_bias(t, rng=r, n_bootstrap=B), "length_slope", 0.0),
}


@cache
def _results(check: str, planted: bool) -> tuple[dict, ...]:
    fn = CHECKS[check][0]
    return tuple(fn(_study(planted, s).annotations, _rng(s, check)) for s in _seeds(planted))


@pytest.mark.parametrize("check", sorted(CHECKS))
@pytest.mark.slow
def test_planted_effect_is_recovered(check):
    _, key, null_value = CHECKS[check]
    truth = TRUTH_PLANTED[key]
    assert abs(truth - null_value) > 0.05, "the planted effect must be non-trivial"
    res = _results(check, True)
    assert all(r["defined"] for r in res)
    covered = [r["ci_low"] <= truth <= r["ci_high"] for r in res]
    assert np.mean(covered) >= 0.8, (check, np.mean(covered))
    # No systematic bias: the mean estimate is within 3 Monte Carlo SEs of the truth.
    est = np.array([r["estimate"] for r in res])
    assert abs(est.mean() - truth) < 3 * est.std(ddof=1) / np.sqrt(len(est)) + 0.01
    # Most seeds detect an effect of this size.
    assert np.mean([r["flagged"] for r in res]) >= 0.6


@pytest.mark.parametrize("check", sorted(CHECKS))
@pytest.mark.slow
def test_no_planted_effect_is_rarely_flagged(check):
    _, key, null_value = CHECKS[check]
    assert TRUTH_NULL[key] == pytest.approx(null_value, abs=1e-12)
    res = _results(check, False)
    flagged = np.mean([r["flagged"] for r in res])
    assert flagged <= 0.10, (check, flagged)
    p_small = np.mean([r["p_value"] is not None and r["p_value"] < 0.05 for r in res])
    assert p_small <= 0.10, (check, p_small)
    covered = np.mean([r["ci_low"] <= null_value <= r["ci_high"] for r in res])
    assert covered >= 0.9


def test_tone_premium_by_error_status_and_masking_index_cover_truth():
    res = _results("tone_premium", True)
    for key, truth_key in (
        ("with_errors", "tone_premium_with_errors"),
        ("error_free", "tone_premium_error_free"),
    ):
        blocks = [r["by_error_status"][key] for r in res]
        cov = np.mean([b["ci_low"] <= TRUTH_PLANTED[truth_key] <= b["ci_high"] for b in blocks])
        assert cov >= 0.8, key
    m = [r["masking_index"] for r in res]
    assert TRUTH_PLANTED["masking_index"] > 0.05
    cov = np.mean([x["ci_low"] <= TRUTH_PLANTED["masking_index"] <= x["ci_high"] for x in m])
    assert cov >= 0.8


def test_detection_rates_per_tone_cover_truth():
    res = _results("detection_gap", True)
    for tone in ("assertive", "hedged"):
        hr = [r["by_tone"][tone]["hit_rate_ci"] for r in res]
        truth = TRUTH_PLANTED[f"hit_rate_{tone}"]
        assert np.mean([lo <= truth <= hi for lo, hi in hr]) >= 0.8
    fa = [r["by_tone"]["hedged"]["false_alarm_rate_ci"] for r in res]
    assert np.mean([lo <= TRUTH_PLANTED["false_alarm_rate"] <= hi for lo, hi in fa]) >= 0.8


def test_pigeonhole_option_is_wider_than_default():
    t = _study(True, 1000).annotations
    cgm = paired_tone_premium(t, rng=_rng(1, "a"), n_bootstrap=B, n_permutations=PERMS)
    pig = paired_tone_premium(
        t, rng=_rng(1, "a"), n_bootstrap=B, n_permutations=PERMS, two_way="pigeonhole"
    )
    assert pig["ci_high"] - pig["ci_low"] > cgm["ci_high"] - cgm["ci_low"]
    assert "pigeonhole" in pig["ci_method"] and "Cameron" in cgm["ci_method"]
    assert pig["estimate"] == cgm["estimate"]


# ---------------------------------------------------------------------------------------
# Mixed model
# ---------------------------------------------------------------------------------------


@pytest.mark.slow
def test_mixed_model_recovers_planted_tone_coefficient():
    crowd = PoolBehaviour(
        n_annotators=20,
        ratings_per_unit=3,
        tone_bias=0.5,
        hit_rate_assertive=0.5,
        hit_rate_hedged=0.5,
        noise_sd=0.6,
    )
    # max_errors=1 makes tone x errors saturated, so b_T is the error-free contrast.
    cfg = SimulationConfig(
        n_prompts=20, n_systems=3, max_errors=1, pairwise=False, pools={"crowd": crowd}
    )
    truth = population_truth(cfg)["crowd"]["tone_premium_error_free"]
    hits = []
    for seed in range(6):
        st = simulate_study(cfg, rng=np.random.default_rng(700 + seed))
        r = tone_mixed_model(st.rubric)
        assert r["method"] == "mixedlm" and r["converged"]
        hits.append(r["ci_low"] <= truth <= r["ci_high"])
        assert r["flagged"]
        assert set(r["coefficients"]) >= {"tone", "n_known_errors", "tone_x_errors"}
        assert r["variance_components_sd"]["annotator"] is not None
        json.dumps(r, allow_nan=False)
    assert sum(hits) >= 5


def test_mixed_model_failure_is_reported_not_raised(monkeypatch):
    st = _study(True, 1000)
    monkeypatch.setattr(
        bias.regression, "_fit_crossed_mixedlm", lambda *a, **k: (None, [], "forced failure")
    )
    r = tone_mixed_model(st.rubric)
    assert r["converged"] is False
    assert r["method"] == "ols_annotator_fe_two_way_cluster"
    assert "forced failure" in r["reason"]
    assert r["estimate"] is not None
    json.dumps(r, allow_nan=False)


def test_mixed_model_too_few_rows_is_not_defined():
    st = _study(True, 1000)
    tiny = st.rubric[st.rubric["output_id"].isin(["o00000", "o00001"])]
    r = tone_mixed_model(tiny)
    assert r["defined"] is False and r["reason"]


# ---------------------------------------------------------------------------------------
# Perceived assertiveness
# ---------------------------------------------------------------------------------------


def test_perceived_assertiveness_manipulation_check():
    st = _study(True, 1000)
    r = perceived_assertiveness_check(st.rubric, rng=_rng(0, "pa"), n_bootstrap=B, fit_model=False)
    mc = r["manipulation_check"]
    assert mc["estimate"] > 0.5 and not mc["manipulation_failed"]
    assert r["confounded"] is True
    assert any("confounded" in w for w in r["warnings"])
    # Remove the manipulation: the check must say so.
    cfg = SimulationConfig(
        n_prompts=30,
        pairwise=False,
        pools={"crowd": PoolBehaviour(n_annotators=20, assertiveness_gap=0.0)},
    )
    st0 = simulate_study(cfg, rng=np.random.default_rng(3))
    r0 = perceived_assertiveness_check(
        st0.rubric, rng=_rng(0, "pa"), n_bootstrap=B, fit_model=False
    )
    assert r0["manipulation_check"]["manipulation_failed"]
    assert "manipulation_failed" in r0["flags"]


# ---------------------------------------------------------------------------------------
# Formulas, edge cases, validation
# ---------------------------------------------------------------------------------------


def test_loglinear_dprime_matches_hautus_formula():
    d, c = bias._loglinear_dprime(
        np.array([8.0]), np.array([10.0]), np.array([2.0]), np.array([10.0])
    )
    zh, zf = stats.norm.ppf(8.5 / 11), stats.norm.ppf(2.5 / 11)
    assert d[0] == pytest.approx(zh - zf)
    assert c[0] == pytest.approx(-(zh + zf) / 2)
    # Perfect rates stay finite thanks to the correction.
    d, _ = bias._loglinear_dprime(
        np.array([10.0]), np.array([10.0]), np.array([0.0]), np.array([10.0])
    )
    assert np.isfinite(d[0])


def test_detection_point_estimates_equal_hand_computation():
    t = _study(True, 1001).rubric
    r = error_detection_by_tone(t, rng=_rng(0, "d"), n_bootstrap=50, n_permutations=100)
    f = t[t["question"] == "has_factual_error"].assign(y=lambda d: d["value"].astype(int))
    err = f["n_known_errors"] > 0
    for tone in ("assertive", "hedged"):
        hr = f.loc[err & (f["tone"] == tone), "y"].mean()
        fa = f.loc[~err & (f["tone"] == tone), "y"].mean()
        assert r["by_tone"][tone]["hit_rate"] == pytest.approx(hr)
        assert r["by_tone"][tone]["false_alarm_rate"] == pytest.approx(fa)
    assert r["estimate"] == pytest.approx(
        r["by_tone"]["hedged"]["hit_rate"] - r["by_tone"]["assertive"]["hit_rate"]
    )
    assert "missed" in r["verdict"] and "%" in r["verdict"] and "[" in r["verdict"]


def test_paired_point_estimate_equals_hand_computation():
    t = _study(True, 1002).rubric
    r = paired_tone_premium(t, rng=_rng(0, "p"), n_bootstrap=50, n_permutations=100)
    q = t[t["question"] == "quality"].assign(y=lambda d: d["value"].astype(float))
    m = q.groupby(["prompt_id", "system", "n_known_errors", "tone"])["y"].mean().unstack()
    assert r["estimate"] == pytest.approx((m["assertive"] - m["hedged"]).mean())
    assert r["n_pairs"] == len(m)
    assert r["flagged"] == (r["ci_low"] > 0 or r["ci_high"] < 0)


def test_binary_answers_accept_yes_no_and_reject_garbage():
    t = _study(True, 1003).rubric.copy()
    rows = t["question"] == "has_factual_error"
    yes_no = t.copy()
    yes_no.loc[rows, "value"] = yes_no.loc[rows, "value"].map({1: "Yes", 0: "no"})
    a = error_detection_by_tone(t, rng=_rng(0, "x"), n_bootstrap=20, n_permutations=20)
    b = error_detection_by_tone(yes_no, rng=_rng(0, "x"), n_bootstrap=20, n_permutations=20)
    assert a["estimate"] == b["estimate"]
    bad = t.copy()
    bad.loc[bad.index[rows][0], "value"] = "maybe"
    with pytest.raises(ValueError):
        error_detection_by_tone(bad, rng=_rng(0, "x"), n_bootstrap=20)


def test_invalid_inputs_raise():
    t = _study(True, 1000).annotations
    with pytest.raises(ValueError):
        paired_tone_premium(t.drop(columns=["tone"]), rng=_rng(0, "v"))
    with pytest.raises(ValueError):
        paired_tone_premium(t, rng=0)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        length_bias(t, rng=_rng(0, "v"), alpha=1.5)
    with pytest.raises(ValueError):
        position_bias(t, rng=_rng(0, "v"), two_way="bogus")
    bad = t.copy()
    bad.loc[bad["question"] == "preference", "value"] = "C"
    with pytest.raises(ValueError):
        position_bias(bad, rng=_rng(0, "v"))
    with pytest.raises(ValueError):
        bias_report(t, {"qualty": "quality"})
    with pytest.raises(ValueError):
        paired_tone_premium("not a frame", rng=_rng(0, "v"))  # type: ignore[arg-type]


def test_too_little_data_gives_not_defined_with_reason():
    t = _study(True, 1000).rubric
    few = t[t["prompt_id"].isin(["p0000"])]
    r = paired_tone_premium(few, rng=_rng(0, "n"), n_bootstrap=20)
    assert r["defined"] is False and "pairs" in r["reason"] and r["estimate"] is None
    d = error_detection_by_tone(few, rng=_rng(0, "n"), n_bootstrap=20)
    assert d["defined"] is False and "insufficient_data" in d["flags"]
    assert d["verdict"].startswith("not computed")
    empty = t[t["question"] == "nope"]
    assert position_bias(empty, rng=_rng(0, "n"))["defined"] is False
    for res in (r, d):
        json.dumps(res, allow_nan=False)


def test_position_bias_without_shown_order_warns():
    t = _study(True, 1000).pairwise.drop(columns=["shown_order"])
    r = position_bias(t, rng=_rng(0, "q"), n_bootstrap=50)
    assert any("shown_order missing" in w for w in r["warnings"])
    assert 0 <= r["tie_rate"]["estimate"] <= 1


def test_holm_adjustment():
    adj = bias._holm([0.01, None, 0.04, 0.03])
    assert adj[1] is None
    assert adj[0] == pytest.approx(0.03)
    assert adj[2] == pytest.approx(0.06) and adj[3] == pytest.approx(0.06)


def test_to_jsonable_removes_numpy_and_nan():
    out = bias.to_jsonable(
        {"a": np.float64("nan"), "b": np.int64(3), "c": [np.bool_(True)], 4: np.inf}
    )
    assert out == {"a": None, "b": 3, "c": [True], "4": None}
    json.dumps(out, allow_nan=False)


@pytest.mark.slow
def test_bias_report_structure_determinism_and_json():
    crowd = PoolBehaviour(n_annotators=15, ratings_per_unit=3, tone_bias=0.4)
    expert = PoolBehaviour(n_annotators=5, ratings_per_unit=2)
    cfg = SimulationConfig(n_prompts=12, pools={"crowd": crowd, "expert": expert})
    t = simulate_study(cfg, rng=np.random.default_rng(9)).annotations
    kw = {"seed": 3, "n_bootstrap": 50, "n_permutations": 100, "include_mixed_model": False}
    a = bias_report(t, **kw)
    b = bias_report(t, **kw)
    assert a == b
    c = bias_report(t, **{**kw, "seed": 4})
    assert c != a
    json.dumps(a, allow_nan=False)
    assert a["section"] == "bias" and set(a["pools"]) == {"crowd", "expert"}
    assert a["overall"]["pooled_over_pools"] is True
    for pool in a["pools"].values():
        assert set(pool["checks"]) >= {
            "tone_premium_paired",
            "error_detection_by_tone",
            "position_bias",
            "length_bias",
            "perceived_assertiveness",
        }
        for chk in pool["checks"].values():
            for key in (
                "estimate",
                "ci_low",
                "ci_high",
                "p_value",
                "n_units",
                "n_annotators",
                "n_ratings",
                "flagged",
                "verdict",
                "warnings",
                "computed",
            ):
                assert key in chk, key
    assert isinstance(a["flagged"], list)
    # A missing question is reported, not raised.
    no_pref = bias_report(t[t["question"] != "preference"], **kw)
    assert no_pref["pools"]["crowd"]["checks"]["position_bias"]["defined"] is False


@pytest.mark.slow
def test_bias_report_with_mixed_model_is_json_safe():
    t = _study(True, 1000).annotations
    small = t[t["prompt_id"].isin([f"p{j:04d}" for j in range(12)])]
    r = bias_report(small, seed=0, n_bootstrap=30, n_permutations=50)
    json.dumps(r, allow_nan=False)
    mm = r["pools"]["crowd"]["checks"]["tone_premium_mixed_model"]
    assert mm["check"] == "tone_premium_mixed_model"
    pa = r["pools"]["crowd"]["checks"]["perceived_assertiveness"]
    assert pa["confounded"] is True and pa["estimate"] is not None
