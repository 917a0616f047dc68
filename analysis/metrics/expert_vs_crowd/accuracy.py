"""B4: per-annotator accuracy against the reference, with Wilson intervals, empirical-Bayes
shrinkage and funnel-plot limits.

References
----------
Wilson, E. B. (1927). Probable inference, the law of succession, and statistical inference.
    JASA 22:209-212.
Efron, B. & Morris, C. (1975). Data analysis using Stein's estimator and its
    generalizations. JASA 70:311-319.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats

from analysis.metrics import agreement
from analysis.metrics.bias.common import _f, to_jsonable
from analysis.metrics.expert_vs_crowd.common import (
    MIN_SHRINK_ANNOTATORS,
    N_MIN_ANNOTATOR,
    _reference_codes,
    encode_pool_labels,
)


def beta_binomial_shrinkage(
    correct: np.ndarray | Sequence[int], n: np.ndarray | Sequence[int]
) -> dict[str, Any]:
    """Empirical-Bayes posterior-mean accuracies under a Beta(a, b) prior fitted by ML.

    Fits (a, b) by maximising sum_a log BetaBinom(c_a; n_a, a, b) (Efron & Morris 1975;
    methods.md B4) and returns (c_a + a)/(n_a + a + b). When the data show no
    overdispersion the MLE drifts to a + b -> infinity and every annotator shrinks to the
    pool mean; that case is reported.

    Parameters
    ----------
    correct, n : array_like of int
        Correct labels and labels per annotator.

    Returns
    -------
    dict
        prior_a, prior_b, prior_mean, shrunk (list), no_overdispersion (bool),
        defined/reason.
    """
    c = np.asarray(correct, dtype=float)
    m = np.asarray(n, dtype=float)
    if c.shape != m.shape or np.any(m < 1) or np.any((c < 0) | (c > m)):
        raise ValueError("need 0 <= correct <= n and n >= 1 per annotator")
    if len(c) < MIN_SHRINK_ANNOTATORS:
        return {
            "defined": False,
            "reason": f"needs >= {MIN_SHRINK_ANNOTATORS} annotators to fit a prior",
            "shrunk": [None] * len(c),
        }
    p = c / m
    mean = c.sum() / m.sum()
    if mean in (0.0, 1.0):
        return {
            "defined": False,
            "reason": "every annotator is always right or always wrong: no prior to fit",
            "shrunk": [float(x) for x in p],
        }
    var = p.var()
    # Method-of-moments start, guarded against zero spread.
    s0 = max(mean * (1 - mean) / var - 1, 1.0) if var > 0 else 100.0
    upper = math.log(1e6)

    def nll(theta: np.ndarray) -> float:
        a, b = np.exp(theta)
        return -float(stats.betabinom.logpmf(c, m, a, b).sum())

    opt = optimize.minimize(
        nll,
        np.log([mean * s0, (1 - mean) * s0]),
        method="L-BFGS-B",
        bounds=[(-10, upper), (-10, upper)],
    )
    a, b = np.exp(opt.x)
    no_od = (a + b) > 1e5
    shrunk = (c + a) / (m + a + b)
    return {
        "defined": True,
        "reason": None,
        "prior_a": float(a),
        "prior_b": float(b),
        "prior_mean": float(a / (a + b)),
        "no_overdispersion": bool(no_od),
        "optimizer_converged": bool(opt.success),
        "shrunk": [float(x) for x in shrunk],
    }


def _wilson(c: int, n: int, alpha: float) -> tuple[float, float]:
    from statsmodels.stats.proportion import proportion_confint

    lo, hi = proportion_confint(c, n, alpha=alpha, method="wilson")
    return float(lo), float(hi)


def annotator_accuracy(
    table: pd.DataFrame,
    *,
    question: str,
    spec: Mapping[str, Any],
    pool: str = "crowd",
    expert_pool: str = "expert",
    pool_column: str = "pool",
    reference: Mapping[Any, Any] | pd.Series | None = None,
    min_expert_labels: int = 1,
    n_min: int = N_MIN_ANNOTATOR,
    alpha: float = 0.05,
) -> dict[str, Any]:
    """Per-annotator accuracy against the reference, with Wilson CIs and EB shrinkage.

    For each annotator of ``pool`` with >= ``n_min`` reference items: accuracy with a Wilson
    (1927) interval, sensitivity/specificity for binary questions, Cohen's kappa against
    the reference, the beta-binomial posterior mean, and funnel-plot limits
    p-bar +- 1.96 sqrt(p-bar(1 - p-bar)/n_a) (methods.md B4). Flags: Wilson upper bound
    below chance (1/q; 0.5 for binary labels), or shrunken accuracy below the pool's 10th
    percentile.

    Returns
    -------
    dict
        annotators (list of per-annotator dicts), prior, pool_mean_accuracy, n_flagged.
    """
    enc = encode_pool_labels(table, question, spec, pool_column=pool_column)
    ref, ref_name = _reference_codes(enc, expert_pool, min_expert_labels, reference)
    m = (enc.pool == pool) & (ref[enc.unit_index] >= 0)
    df = pd.DataFrame(
        {
            "annotator": enc.annotator[m],
            "code": enc.codes[m],
            "ref": ref[enc.unit_index[m]],
        }
    )
    base = {
        "question": question,
        "pool": pool,
        "reference": ref_name,
        "computed": "share of an annotator's labels equal to the reference label",
        "n_min": n_min,
    }
    if df.empty:
        return to_jsonable(
            {**base, "defined": False, "reason": "no overlap with the reference", "annotators": []}
        )
    df["correct"] = (df["code"] == df["ref"]).astype(int)
    g = df.groupby("annotator")
    summary = g.agg(n=("correct", "size"), correct=("correct", "sum"))
    eligible = summary.loc[summary["n"] >= n_min]
    shrink, pool_stats = _pool_stats(eligible, enc.labels)
    rows = [
        _annotator_entry(
            ann,
            r,
            g.get_group(ann),
            shrink["shrunk"][i] if shrink.get("shrunk") else None,
            pool_stats,
            alpha,
        )
        for i, (ann, r) in enumerate(eligible.iterrows())
    ]
    return to_jsonable(
        {
            **base,
            "defined": len(rows) > 0,
            "reason": None if rows else f"no annotator has >= {n_min} reference items",
            "n_annotators": len(rows),
            "n_units": int(pd.Series(enc.unit_index[m]).nunique()),
            "n_annotators_below_n_min": int((summary["n"] < n_min).sum()),
            "chance_accuracy": pool_stats["chance"],
            "pool_mean_accuracy": pool_stats["pool_mean"],
            "prior": {k: v for k, v in shrink.items() if k != "shrunk"},
            "pool_p10_shrunk_accuracy": pool_stats["p10"],
            "n_flagged": sum(1 for r in rows if r["flags"]),
            "annotators": rows,
        }
    )


def _pool_stats(
    eligible: pd.DataFrame, labels: Sequence[Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The beta-binomial prior of the eligible annotators, and what each annotator is
    judged against: chance (1/q), the positive label of a binary question, the pool's mean
    accuracy and the 10th percentile of shrunken accuracy."""
    q = len(labels)
    binary = q == 2 and set(labels) <= {0, 1}
    shrink = (
        beta_binomial_shrinkage(eligible["correct"].to_numpy(), eligible["n"].to_numpy())
        if len(eligible)
        else {"defined": False, "reason": "no annotator has enough reference items", "shrunk": []}
    )
    pool_mean = float(eligible["correct"].sum() / eligible["n"].sum()) if len(eligible) else None
    shrunk_vals = [v for v in shrink.get("shrunk", []) if v is not None]
    p10 = float(np.percentile(shrunk_vals, 10)) if shrink.get("defined") and shrunk_vals else None
    return shrink, {
        "q": q,
        "chance": 1.0 / q,
        "positive": list(labels).index(1) if binary else None,
        "pool_mean": pool_mean,
        "p10": p10,
    }


def _annotator_entry(
    ann: Any,
    r: pd.Series,
    sub: pd.DataFrame,
    shrunk: float | None,
    pool_stats: Mapping[str, Any],
    alpha: float,
) -> dict[str, Any]:
    """One annotator's accuracy, interval, kappa, funnel limits and flags (worse than
    chance: Wilson upper bound below 1/q; shrunken accuracy below the pool's 10th
    percentile)."""
    lo, hi = _wilson(int(r["correct"]), int(r["n"]), alpha)
    acc = r["correct"] / r["n"]
    entry: dict[str, Any] = {
        "annotator_id": ann,
        "n_items": int(r["n"]),
        "accuracy": float(acc),
        "wilson_ci": [lo, hi],
        "shrunk_accuracy": shrunk,
    }
    kap = agreement.cohen_kappa(
        sub["code"].to_numpy(), sub["ref"].to_numpy(), n_categories=pool_stats["q"]
    )
    entry["kappa_vs_reference"] = kap.value
    pos = pool_stats["positive"]
    if pos is not None:
        is_pos = sub["ref"] == pos
        entry["sensitivity"] = _f(sub.loc[is_pos, "correct"].mean()) if is_pos.any() else None
        entry["specificity"] = _f(sub.loc[~is_pos, "correct"].mean()) if (~is_pos).any() else None
    pool_mean = pool_stats["pool_mean"]
    if pool_mean is not None:
        half = 1.96 * math.sqrt(pool_mean * (1 - pool_mean) / r["n"])
        entry["funnel_limits"] = [pool_mean - half, pool_mean + half]
        entry["outside_funnel"] = bool(abs(acc - pool_mean) > half)
    flags = []
    if hi < pool_stats["chance"]:
        flags.append("worse_than_chance")
    p10 = pool_stats["p10"]
    if p10 is not None and entry["shrunk_accuracy"] is not None and entry["shrunk_accuracy"] < p10:
        flags.append("below_pool_p10")
    entry["flags"] = flags
    return entry
