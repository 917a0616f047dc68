"""The fast bootstrap paths give the slow paths' replicates to the last bit (issue 13,
item 8: speed without changing a single replicate).

Each test runs the same draws through the direct computation (a weight per rating, a
loop per replicate) and through the fast one, on data large enough to exercise the
blocks, and compares with ``np.array_equal``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from analysis.metrics import agreement
from analysis.metrics.bias.bootstrap import (
    LinearStat,
    _Clusters,
    _group_sum_matrix,
    _replicates,
    _wsum,
)
from analysis.metrics.expert_vs_crowd.common import _loo_expert, encode_pool_labels
from analysis.metrics.expert_vs_crowd.cross_pool import _expert_ceiling, _kappa_from_pairs
from analysis.metrics.expert_vs_crowd.within_pool import _ac1_replicates


def _ratings(n_units: int, n_annotators: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(n_units), n_annotators)
    annotator = np.tile(np.arange(n_annotators), n_units)
    return pd.DataFrame(
        {
            "unit_id": unit.astype(str),
            "prompt_id": (unit // 3).astype(str),
            "annotator_id": annotator.astype(str),
            "y": rng.integers(1, 6, len(unit)).astype(float),
            "arm": (annotator < n_annotators // 4).astype(int),
        }
    )


def _lenient(frame: pd.DataFrame, values: np.ndarray) -> tuple[LinearStat, object]:
    """A leniency-like statistic: the mean per (unit, arm), then a prompt-weighted mean of
    the arm difference -- as a LinearStat and as the plain function of the row weights."""
    codes, _ = pd.factorize(frame["unit_id"], sort=True)
    n_units = codes.max() + 1
    grp = 2 * codes + frame["arm"].to_numpy()
    g_y = _group_sum_matrix(grp, values, 2 * n_units)
    g_n = _group_sum_matrix(grp, np.ones(len(frame)), 2 * n_units)
    unit_prompt = pd.Series(pd.factorize(frame["prompt_id"], sort=True)[0]).groupby(codes).first()
    unit_prompt = unit_prompt.to_numpy()

    def finish(sums: np.ndarray, mp: np.ndarray) -> np.ndarray:
        mean = sums[:, : 2 * n_units] / sums[:, 2 * n_units :]
        d = mean[:, 1::2] - mean[:, 0::2]
        # Units a replicate did not draw have no mean: left out, as leniency_msd does.
        ok = np.isfinite(d)
        wp = mp[:, unit_prompt] * ok
        return ((np.where(ok, d, 0.0) * wp).sum(1) / wp.sum(1))[:, None]

    def plain(w: np.ndarray, mp: np.ndarray) -> np.ndarray:
        return finish(np.hstack([_wsum(w, g_y), _wsum(w, g_n)]), mp)

    return LinearStat(sparse.hstack([g_y, g_n]).tocsr(), finish), plain


@pytest.mark.parametrize("scheme", ["prompt", "annotator", "rating", "pigeonhole"])
def test_cluster_sums_give_the_replicates_of_row_weights(scheme):
    frame = _ratings(600, 12, seed=1)
    clusters = _Clusters(frame)
    linear, plain = _lenient(frame, frame["y"].to_numpy())
    assert linear.whole()
    fast = _replicates(linear, clusters, np.random.default_rng(5), 300, scheme)
    slow = _replicates(plain, clusters, np.random.default_rng(5), 300, scheme)
    # A replicate that drew no annotator of one arm is undefined in both.
    assert fast.shape == (300, 1) and np.isfinite(fast).mean() > 0.9
    assert np.array_equal(fast, slow, equal_nan=True)


def test_fractional_answers_take_the_row_path_and_stay_exact():
    frame = _ratings(200, 8, seed=2)
    values = frame["y"].to_numpy() + 0.1
    linear, plain = _lenient(frame, values)
    assert not linear.whole()
    clusters = _Clusters(frame)
    fast = _replicates(linear, clusters, np.random.default_rng(3), 100, "prompt")
    slow = _replicates(plain, clusters, np.random.default_rng(3), 100, "prompt")
    assert np.array_equal(fast, slow)


@pytest.mark.parametrize(("n", "categories", "raters"), [(40, 2, 3), (800, 5, 9), (3000, 3, 2)])
def test_ac1_replicates_equal_the_loop(n, categories, raters):
    rng = np.random.default_rng(n)
    counts = rng.multinomial(raters, rng.dirichlet(np.ones(categories)), size=n).astype(float)
    idx = rng.integers(0, n, size=(150, n))
    loop = [agreement.gwet_ac1(counts[i], n_categories=categories).value for i in idx]
    assert np.array_equal(_ac1_replicates(counts, categories, idx), np.array(loop))


def test_expert_ceiling_from_unit_sums_equals_weights_per_rating():
    rng = np.random.default_rng(4)
    rows = []
    for unit in range(300):
        truth = rng.integers(0, 3)
        for expert in rng.choice(6, size=int(rng.integers(3, 6)), replace=False):
            label = truth if rng.random() < 0.8 else rng.integers(0, 3)
            rows.append((f"u{unit}", f"e{expert}", "expert", "q", int(label)))
    table = pd.DataFrame(rows, columns=["unit_id", "annotator_id", "pool", "question", "value"])
    enc = encode_pool_labels(table, "q", {"level": "nominal"})
    e_all = enc.counts("expert")
    ceiling = _expert_ceiling(enc, e_all, "expert", np.random.default_rng(8), 200, 0.05)
    # The direct computation: every rating weighted by its unit's draw.
    loo = _loo_expert(e_all, enc.unit_index, enc.codes)
    _, u_idx = np.unique(loo["units"], return_inverse=True)
    counts = np.random.default_rng(8).multinomial(
        u_idx.max() + 1, np.full(u_idx.max() + 1, 1.0 / (u_idx.max() + 1)), size=200
    )
    weights = counts.astype(float)[:, u_idx]
    acc = (loo["own"] == loo["consensus"]).astype(float)
    reps = (weights @ acc) / weights.sum(1)
    lo, hi = np.quantile(reps, [0.025, 0.975])
    assert ceiling["single_expert_accuracy"]["ci_low"] == float(lo)
    assert ceiling["single_expert_accuracy"]["ci_high"] == float(hi)
    kappas = _kappa_from_pairs(loo["own"], loo["consensus"], weights, 3)
    lo, hi = np.quantile(kappas, [0.025, 0.975])
    assert ceiling["cohen_kappa"]["ci_low"] == float(lo)
    assert ceiling["cohen_kappa"]["ci_high"] == float(hi)
