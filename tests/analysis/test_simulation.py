"""Tests of the annotator simulator: shape, determinism, design invariants and exact truths."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import special

from analysis.simulation import (
    ANNOTATION_COLUMNS,
    PoolBehaviour,
    SimulationConfig,
    config_to_dict,
    expected_likert,
    logit_normal_mean,
    population_truth,
    simulate_study,
)


def small_config(**kw) -> SimulationConfig:
    pools = {
        "crowd": PoolBehaviour(n_annotators=12, ratings_per_unit=3, tone_bias=0.4),
        "expert": PoolBehaviour(n_annotators=4, ratings_per_unit=2, unit_fraction=0.5),
    }
    return SimulationConfig(n_prompts=8, n_systems=3, pools=pools, **kw)


def test_same_seed_gives_identical_tables_and_other_seeds_differ():
    a = simulate_study(small_config(), rng=np.random.default_rng(7))
    b = simulate_study(small_config(), rng=np.random.default_rng(7))
    c = simulate_study(small_config(), rng=np.random.default_rng(8))
    pd.testing.assert_frame_equal(a.rubric, b.rubric)
    pd.testing.assert_frame_equal(a.pairwise, b.pairwise)
    pd.testing.assert_frame_equal(a.annotators, b.annotators)
    assert not a.rubric["value"].equals(c.rubric["value"])


def test_table_shapes_and_design_invariants():
    cfg = small_config()
    st = simulate_study(cfg, rng=np.random.default_rng(1))
    assert list(st.rubric.columns) == list(ANNOTATION_COLUMNS)
    assert list(st.pairwise.columns) == list(ANNOTATION_COLUMNS)
    n_outputs = cfg.n_prompts * cfg.n_systems * 2
    assert len(st.outputs) == n_outputs
    crowd = st.rubric[st.rubric["pool"] == "crowd"]
    assert len(crowd) == n_outputs * 3 * 3  # outputs x k x questions
    expert = st.rubric[st.rubric["pool"] == "expert"]
    # unit_fraction 0.5 keeps half the contents, both tone variants of each.
    assert expert["output_id"].nunique() == n_outputs // 2
    kept = st.outputs.set_index("output_id").loc[expert["output_id"].unique()]
    assert (kept.groupby("content_id")["tone"].nunique() == 2).all()
    # k distinct annotators per unit and question.
    per_unit = crowd.groupby(["unit_id", "question"])["annotator_id"].agg(["size", "nunique"])
    assert (per_unit["size"] == 3).all() and (per_unit["nunique"] == 3).all()
    # Matched variants share content, error count and length.
    g = st.outputs.groupby("content_id")
    assert (g["n_known_errors"].nunique() == 1).all()
    assert (g["output_length"].nunique() == 1).all()
    assert set(st.outputs["tone"]) == {"assertive", "hedged"}
    q = crowd.loc[crowd["question"] == "quality", "value"].astype(int)
    assert q.between(1, 5).all()
    f = crowd.loc[crowd["question"] == "has_factual_error", "value"].astype(int)
    assert set(f.unique()) <= {0, 1}
    # Pairwise: A/B/tie, order counterbalanced within units (k = 3 -> both orders appear).
    pw = st.pairwise[st.pairwise["pool"] == "crowd"]
    assert set(pw["value"]) <= {"A", "B", "tie"}
    orders = pw.groupby("unit_id")["shown_order"].agg(lambda s: len(set(s)))
    assert (orders == 2).all()
    assert len(st.annotations) == len(st.rubric) + len(st.pairwise)
    assert set(st.annotators["pool"]) == {"crowd", "expert"}
    assert isinstance(config_to_dict(cfg)["pools"]["crowd"], dict)


@pytest.mark.parametrize(
    "kw",
    [
        {"n_prompts": 0},
        {"error_probability": 1.5},
        {"n_systems": 1},  # pairwise needs two systems
        {"system_effects": (0.0,)},
        {"pools": {"crowd": PoolBehaviour(n_annotators=2, ratings_per_unit=3)}},
        {"pools": {"crowd": PoolBehaviour(position_bias=0.7)}},
        {"pools": {"crowd": PoolBehaviour(hit_rate_hedged=-0.1)}},
        {"pools": {"crowd": PoolBehaviour(noise_sd=0.0)}},
        {"pools": {}},
    ],
)
def test_invalid_config_raises(kw):
    with pytest.raises(ValueError):
        simulate_study(SimulationConfig(**kw), rng=np.random.default_rng(0))


def test_rng_must_be_a_generator():
    with pytest.raises(ValueError):
        simulate_study(small_config(), rng=0)  # type: ignore[arg-type]


def test_expected_likert_and_logit_normal_mean_match_monte_carlo():
    rng = np.random.default_rng(3)
    for m, s in [(3.0, 0.8), (4.6, 1.1), (1.2, 0.5)]:
        x = np.clip(np.floor(rng.normal(m, s, 400_000) + 0.5), 1, 5)
        assert abs(x.mean() - expected_likert(m, s)) < 0.01
    for p, sd in [(0.3, 0.5), (0.8, 1.2)]:
        z = rng.normal(size=400_000)
        mc = special.expit(special.logit(p) + sd * z).mean()
        assert abs(mc - logit_normal_mean(p, sd)) < 0.003
    assert logit_normal_mean(1.0, 0.5) == 1.0


def test_population_truth_matches_a_large_simulation():
    """The exact estimands agree with a big sample (many annotators, many prompts)."""
    crowd = PoolBehaviour(
        n_annotators=400,
        ratings_per_unit=4,
        tone_bias=0.4,
        hit_rate_assertive=0.3,
        hit_rate_hedged=0.55,
        false_alarm_rate=0.1,
        position_bias=0.07,
        length_bias=0.3,
        leniency_mean=0.2,
    )
    cfg = SimulationConfig(n_prompts=1500, n_systems=3, pools={"crowd": crowd})
    st = simulate_study(cfg, rng=np.random.default_rng(11))
    truth = population_truth(cfg)["crowd"]
    r = st.rubric
    f = r[r["question"] == "has_factual_error"].assign(y=lambda d: d["value"].astype(int))
    err = f["n_known_errors"] > 0
    hr_a = f.loc[err & (f["tone"] == "assertive"), "y"].mean()
    hr_h = f.loc[err & (f["tone"] == "hedged"), "y"].mean()
    fa = f.loc[~err, "y"].mean()
    assert abs(hr_a - truth["hit_rate_assertive"]) < 0.02
    assert abs(hr_h - truth["hit_rate_hedged"]) < 0.02
    assert abs(fa - truth["false_alarm_rate"]) < 0.015
    q = r[r["question"] == "quality"].assign(y=lambda d: d["value"].astype(float))
    assert abs(q["y"].mean() - truth["mean_quality"]) < 0.05
    m = q.groupby(["prompt_id", "system", "tone"])["y"].mean().unstack()
    assert abs((m["assertive"] - m["hedged"]).mean() - truth["tone_premium"]) < 0.04
    z = (np.log(q["output_length"].astype(float)) - cfg.mean_log_length) / cfg.log_length_sd
    x = np.column_stack(
        [np.ones(len(q)), z, q["n_known_errors"].astype(float), q["tone"] == "assertive"]
    )
    slope = np.linalg.lstsq(x, q["y"].to_numpy(), rcond=None)[0][1]
    assert abs(slope - truth["length_slope"]) < 0.03
    pw = st.pairwise
    non_tie = pw[pw["value"] != "tie"]
    assert abs((non_tie["value"] == "A").mean() - truth["first_position_share"]) < 0.015
    assert abs((pw["value"] == "tie").mean() - truth["tie_rate"]) < 0.01
