"""B6: Dawid-Skene worker reliability, checked against the expert (or injected) reference.

References
----------
Dawid, A. P. & Skene, A. M. (1979). Maximum likelihood estimation of observer error-rates
    using the EM algorithm. Applied Statistics 28:20-28.
Ustalov, D. et al. (2024). Learning from crowds with Crowd-Kit. JOSS 9(96):6227.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from analysis.metrics.bias.common import _f, say_failure, to_jsonable
from analysis.metrics.expert_vs_crowd.common import (
    MIN_UNITS,
    N_MIN_ANNOTATOR,
    PoolLabels,
    _label,
    _plurality,
    _reference_codes,
    encode_pool_labels,
)

DS_CAVEAT = (
    "Dawid-Skene assumes annotators' errors are conditionally independent given the true "
    "label. A bias the crowd shares, such as tone masking factual errors, makes Dawid-Skene "
    "confidently wrong, so its labels and reliability estimates can never stand in for the "
    "expert or injected reference (methods.md B6)."
)


def dawid_skene_validation(
    table: pd.DataFrame,
    *,
    question: str,
    spec: Mapping[str, Any],
    crowd_pool: str = "crowd",
    expert_pool: str = "expert",
    pool_column: str = "pool",
    reference: Mapping[Any, Any] | pd.Series | None = None,
    min_expert_labels: int = 1,
    n_min: int = N_MIN_ANNOTATOR,
    n_iter: int = 100,
) -> dict[str, Any]:
    """Dawid-Skene (and one-coin DS) worker reliability checked against the reference.

    Fits ``crowdkit.aggregation.DawidSkene`` on the crowd labels; a worker's DS accuracy is
    sum_k prior_k * P(label k | true k) from its confusion matrix. Validation report
    (methods.md B6): Spearman rho between DS accuracy (and OneCoinDawidSkene skill) and the
    expert-referenced accuracy of workers with >= ``n_min`` reference items; accuracy of DS
    labels, majority-vote labels against the reference on the same units.

    Returns
    -------
    dict
        spearman_ds, spearman_one_coin, label_accuracy {dawid_skene, majority_vote}, n_*,
        caveat (always included).
    """
    try:
        from crowdkit.aggregation import DawidSkene, OneCoinDawidSkene
    except ImportError:  # pragma: no cover - dependency missing
        return to_jsonable(
            {"defined": False, "reason": "crowd-kit is not installed", "caveat": DS_CAVEAT}
        )
    enc = encode_pool_labels(table, question, spec, pool_column=pool_column)
    ref, ref_name = _reference_codes(enc, expert_pool, min_expert_labels, reference)
    m = enc.pool == crowd_pool
    base: dict[str, Any] = {
        "question": question,
        "computed": (
            "Dawid-Skene worker accuracy vs expert-referenced accuracy; DS vs MV label accuracy"
        ),
        "reference": ref_name,
        "caveat": DS_CAVEAT,
        "n_units": len(set(enc.unit_index[m])),
        "n_annotators": len(set(enc.annotator[m])),
    }
    if m.sum() < MIN_UNITS or len(set(enc.codes[m])) < 2:
        return to_jsonable(
            {**base, "defined": False, "reason": "too few crowd labels or a single label value"}
        )
    data = pd.DataFrame(
        {"task": enc.unit_index[m], "worker": enc.annotator[m], "label": enc.codes[m]}
    )
    try:
        ds = DawidSkene(n_iter=n_iter).fit(data)
        oc = OneCoinDawidSkene(n_iter=n_iter).fit(data)
    except (ValueError, ZeroDivisionError, np.linalg.LinAlgError) as exc:
        return to_jsonable(
            {**base, "defined": False, "reason": f"Dawid-Skene failed: {say_failure(exc)}"}
        )
    ds_acc = _ds_accuracies(ds, data)
    one_coin = oc.skills_.to_dict()
    per = _reference_accuracy(data, ref, n_min)
    res: dict[str, Any] = {**base, "defined": True, "reason": None, "n_workers_validated": len(per)}
    res["spearman_ds"] = _spearman(per, ds_acc, n_min)
    res["spearman_one_coin"] = _spearman(per, one_coin, n_min)
    units = np.unique(data["task"].to_numpy())
    units_ref = units[ref[units] >= 0]
    if len(units_ref):
        res["label_accuracy"] = _label_accuracy(enc, ds, ref, units_ref, crowd_pool)
    res["worker_estimates"] = _worker_estimates(ds_acc, one_coin, per)
    res["class_priors"] = {str(_label(enc.labels, int(k))): _f(v) for k, v in ds.priors_.items()}
    return to_jsonable(res)


def _reference_accuracy(data: pd.DataFrame, ref: np.ndarray, n_min: int) -> pd.DataFrame:
    """Each worker's accuracy on items with a reference label (workers with >= n_min)."""
    has_ref = ref[data["task"].to_numpy()] >= 0
    d_ref = data.loc[has_ref].assign(ref=ref[data.loc[has_ref, "task"].to_numpy()])
    d_ref["correct"] = (d_ref["label"] == d_ref["ref"]).astype(float)
    per = d_ref.groupby("worker")["correct"].agg(["mean", "size"])
    return per.loc[per["size"] >= n_min]


def _ds_accuracies(ds: Any, data: pd.DataFrame) -> dict[str, float]:
    """A worker's DS accuracy: sum_k prior_k * P(label k | true k)."""
    priors = ds.priors_
    errs = ds.errors_
    ds_acc = {}
    for w in data["worker"].unique():
        acc = 0.0
        for k, pk in priors.items():
            try:
                acc += float(pk) * float(errs.loc[(w, k), k])
            except KeyError:
                continue
        ds_acc[w] = acc
    return ds_acc


def _spearman(per: pd.DataFrame, est: Mapping[str, float], n_min: int) -> dict[str, Any]:
    """Spearman rho between a model's worker estimates and reference accuracies."""
    if len(per) < 3:
        return {
            "rho": None,
            "p_value": None,
            "reason": f"needs >= 3 workers with >= {n_min} reference items",
        }
    x = np.array([est.get(w, np.nan) for w in per.index])
    y = per["mean"].to_numpy()
    ok = np.isfinite(x)
    if ok.sum() < 3 or np.std(x[ok]) == 0 or np.std(y[ok]) == 0:
        return {"rho": None, "p_value": None, "reason": "constant accuracies"}
    r = stats.spearmanr(x[ok], y[ok])
    return {"rho": _f(r.statistic), "p_value": _f(r.pvalue), "n_workers": int(ok.sum())}


def _label_accuracy(
    enc: PoolLabels, ds: Any, ref: np.ndarray, units_ref: np.ndarray, crowd_pool: str
) -> dict[str, Any]:
    """Accuracy of DS labels and of majority-vote labels against the reference."""
    mv = _plurality(enc.counts(crowd_pool), 1)
    ds_l = np.array([ds.labels_.get(u, -1) for u in units_ref])
    mv_l = mv[units_ref]
    r_l = ref[units_ref]
    return {
        "n_units": len(units_ref),
        "dawid_skene": _f((ds_l == r_l).mean()),
        "majority_vote": _f(np.where(mv_l >= 0, mv_l == r_l, 0.5).mean()),
        "majority_vote_rule": "plurality; a tied unit counts 1/2",
    }


def _worker_estimates(
    ds_acc: Mapping[str, float], one_coin: Mapping[str, float], per: pd.DataFrame
) -> list[dict[str, Any]]:
    return [
        {
            "annotator_id": w,
            "ds_accuracy": _f(ds_acc.get(w)),
            "one_coin_skill": _f(one_coin.get(w)),
            "reference_accuracy": _f(per["mean"].get(w)) if w in per.index else None,
            "n_reference_items": int(per["size"].get(w)) if w in per.index else None,
        }
        for w in sorted(ds_acc)
    ]
