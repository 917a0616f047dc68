"""B2: crowd-expert agreement against the expert-expert ceiling.

References
----------
Zheng, L. et al. (2023). Judging LLM-as-a-Judge with MT-Bench and Chatbot Arena. NeurIPS.
Chiang, W.-L. et al. (2024). Chatbot Arena. ICML (crowd-expert vs expert-expert agreement).
Lin, L. I. (1989). A concordance correlation coefficient to evaluate reproducibility.
    Biometrics 45:255-268.
Bland, J. M. & Altman, D. G. (1986). Statistical methods for assessing agreement between two
    methods of clinical measurement. Lancet 327:307-310.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from analysis.metrics import agreement
from analysis.metrics.bias.bootstrap import _bootstrap_counts, _group_sum_matrix
from analysis.metrics.bias.common import _f, to_jsonable
from analysis.metrics.expert_vs_crowd.common import (
    MIN_UNITS,
    PoolLabels,
    _est,
    _loo_expert,
    _plurality,
    encode_pool_labels,
)


def _pair_rates(c: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    nc, ne = c.sum(1), e.sum(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        pcc = (c * (c - 1)).sum(1) / (nc * (nc - 1))
        pee = (e * (e - 1)).sum(1) / (ne * (ne - 1))
        pce = (c * e).sum(1) / (nc * ne)
    return pcc, pce, pee


def _pair_cells(a: np.ndarray, b: np.ndarray, q: int) -> np.ndarray:
    """One row per label pair marking its cell of the q x q confusion table."""
    onehot = np.zeros((len(a), q * q))
    onehot[np.arange(len(a)), a * q + b] = 1.0
    return onehot


def _kappa_from_pairs(a: np.ndarray, b: np.ndarray, w: np.ndarray, q: int) -> np.ndarray:
    """Cohen's kappa for weighted label pairs; w is (B x pairs). Vectorised over rows."""
    return _kappa_from_confusion((w @ _pair_cells(a, b, q)).reshape(-1, q, q))


def _kappa_from_confusion(conf: np.ndarray) -> np.ndarray:
    """Cohen's kappa of each B x q x q confusion table."""
    n = conf.sum(axis=(1, 2))
    po = np.trace(conf, axis1=1, axis2=2) / n
    pe = (conf.sum(2) * conf.sum(1)).sum(1) / n**2
    with np.errstate(divide="ignore", invalid="ignore"):
        return (po - pe) / (1 - pe)


def cross_pool_agreement(
    table: pd.DataFrame,
    *,
    question: str,
    spec: Mapping[str, Any],
    rng: np.random.Generator,
    crowd_pool: str = "crowd",
    expert_pool: str = "expert",
    pool_column: str = "pool",
    n_bootstrap: int = 1000,
    alpha: float = 0.05,
    min_expert_labels: int = 1,
) -> dict[str, Any]:
    """Crowd-expert agreement against the expert-expert ceiling (methods.md B2).

    * P_cc, P_ce, P_ee: probability that two distinct random labels (crowd-crowd,
      crowd-expert, expert-expert) on the same unit agree, averaged over units with >= 2
      labels from each pool; headline ratio P_ce / P_ee. With a single expert label per
      unit P_ee (and so the ratio) is unknown: P_cc and P_ce are then given over the units
      with >= 2 crowd labels and an expert label, and P_ee says why it is missing. For
      pairwise questions both S1 (ties count) and S2 (tie labels removed) are given
      (Zheng et al. 2023).
    * Crowd plurality vs expert consensus per unit: percent agreement and Cohen's kappa.
    * Ceiling: each expert's label vs the plurality of the other experts (leave-one-out):
      accuracy and kappa.
    * For numeric scales: Bland-Altman mean difference of unit means (crowd - expert) with
      95% limits of agreement, and Lin's concordance correlation.

    All CIs are percentile unit bootstraps.

    Returns
    -------
    dict
        JSON-serialisable; ``defined`` false with a reason when fewer than
        :data:`MIN_UNITS` units carry two crowd labels and an expert label.
    """
    if not isinstance(rng, np.random.Generator):
        raise ValueError("rng must be a numpy.random.Generator")
    enc = encode_pool_labels(table, question, spec, pool_column=pool_column)
    c_all, e_all = enc.counts(crowd_pool), enc.counts(expert_pool)
    out: dict[str, Any] = {
        "question": question,
        "computed": (
            "P(two labels agree) within crowd, crowd-expert and within experts on shared units"
        ),
        "crowd_pool": crowd_pool,
        "expert_pool": expert_pool,
    }
    # One expert label is enough to compare the crowd with the experts; two are needed
    # only for the expert-expert rate (see _rates_block).
    shared = (c_all.sum(1) >= 2) & (e_all.sum(1) >= 1)
    n_shared = int(shared.sum())
    out["n_units"] = n_shared
    out["n_annotators"] = {
        crowd_pool: len(set(enc.annotator[enc.pool == crowd_pool])),
        expert_pool: len(set(enc.annotator[enc.pool == expert_pool])),
    }
    if n_shared < MIN_UNITS:
        out.update(
            {
                "defined": False,
                "reason": (
                    f"only {n_shared} units have at least 2 crowd labels and an expert label "
                    f"(need {MIN_UNITS})"
                ),
            }
        )
        return to_jsonable(out)
    out["defined"] = True
    out["reason"] = None
    w = _bootstrap_counts(rng, n_shared, n_bootstrap)
    c_sh, e_sh = c_all[shared], e_all[shared]
    out.update(_pairwise_rates(enc, spec, c_sh, e_sh, w, alpha))
    out["consensus"] = _consensus(
        c_all, e_all, enc.n_categories, min_expert_labels, rng, n_bootstrap, alpha
    )
    out["expert_ceiling"] = _expert_ceiling(enc, e_all, expert_pool, rng, n_bootstrap, alpha)
    if enc.level != "nominal" and enc.numeric is not None:
        out.update(_unit_means_agreement(enc, c_all, e_all, rng, n_bootstrap, alpha))
    return to_jsonable(out)


def _pairwise_rates(
    enc: PoolLabels,
    spec: Mapping[str, Any],
    c_sh: np.ndarray,
    e_sh: np.ndarray,
    w: np.ndarray,
    alpha: float,
) -> dict[str, Any]:
    """The pair-agreement rates, and for pairwise questions the same without ties (S2)."""
    out = {"pairwise_rates": _rates_block(c_sh, e_sh, "S1", w, alpha)}
    if spec.get("type") == "pairwise" and agreement.TIE_LABEL in enc.labels:
        t = enc.labels.index(agreement.TIE_LABEL)
        c2, e2 = c_sh.copy(), e_sh.copy()
        c2[:, t] = 0
        e2[:, t] = 0
        out["pairwise_rates"]["definition"] = "S1: ties count as a label"
        out["pairwise_rates_s2"] = _rates_block(c2, e2, "S2", w, alpha)
        out["pairwise_rates_s2"]["definition"] = "S2: tie labels removed"
    return out


def _rates_block(
    c: np.ndarray, e: np.ndarray, name: str, w: np.ndarray, alpha: float
) -> dict[str, Any]:
    """P_cc, P_ce, P_ee and P_ce / P_ee over the units with >= 2 labels from each pool.

    The three rates come from one set of units, so the ratio compares like with like.
    When fewer than :data:`MIN_UNITS` units have two expert labels, the expert-expert rate
    is unknown and P_cc and P_ce come from the units with >= 2 crowd labels and one expert
    label instead.
    """
    keep = (c.sum(1) >= 2) & (e.sum(1) >= 2)
    if keep.sum() >= MIN_UNITS:
        return _three_rates(c, e, keep, w, alpha)
    keep_ce = (c.sum(1) >= 2) & (e.sum(1) >= 1)
    if keep_ce.sum() < MIN_UNITS:
        return {"defined": False, "reason": f"only {int(keep_ce.sum())} units ({name})"}
    pcc, pce, _ = _pair_rates(c[keep_ce], e[keep_ce])
    ww = w[:, keep_ce]
    unknown = {
        "estimate": None,
        "ci_low": None,
        "ci_high": None,
        "reason": (
            "unknown: a single expert label per unit"
            if not (e.sum(1) >= 2).any()
            else f"only {int(keep.sum())} units have two expert labels (need {MIN_UNITS})"
        ),
    }
    return {
        "defined": True,
        "n_units": int(keep_ce.sum()),
        "p_crowd_crowd": _est(float(pcc.mean()), _wmean(pcc, ww), alpha),
        "p_crowd_expert": _est(float(pce.mean()), _wmean(pce, ww), alpha),
        "p_expert_expert": unknown,
        "ratio_ce_over_ee": unknown,
    }


def _wmean(v: np.ndarray, wt: np.ndarray) -> np.ndarray:
    return (wt * v).sum(-1) / wt.sum(-1)


def _three_rates(
    c: np.ndarray, e: np.ndarray, keep: np.ndarray, w: np.ndarray, alpha: float
) -> dict[str, Any]:
    pcc, pce, pee = _pair_rates(c[keep], e[keep])
    ww = w[:, keep]
    obs = [float(v.mean()) for v in (pcc, pce, pee)]
    reps = [_wmean(v, ww) for v in (pcc, pce, pee)]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio_reps = reps[1] / reps[2]
    return {
        "defined": True,
        "n_units": int(keep.sum()),
        "p_crowd_crowd": _est(obs[0], reps[0], alpha),
        "p_crowd_expert": _est(obs[1], reps[1], alpha),
        "p_expert_expert": _est(obs[2], reps[2], alpha),
        "ratio_ce_over_ee": _est(obs[1] / obs[2] if obs[2] > 0 else None, ratio_reps, alpha),
    }


def _consensus(
    c_all: np.ndarray,
    e_all: np.ndarray,
    q: int,
    min_expert_labels: int,
    rng: np.random.Generator,
    n_bootstrap: int,
    alpha: float,
) -> dict[str, Any]:
    """Crowd plurality vs expert consensus per unit: percent agreement and kappa."""
    cm = _plurality(c_all, 1)
    em = _plurality(e_all, min_expert_labels)
    both = (cm >= 0) & (em >= 0)
    cons: dict[str, Any] = {
        "computed": "crowd plurality label vs expert consensus per unit (ties excluded)",
        "n_units": int(both.sum()),
        "n_units_expert_tie_or_too_few": int(((e_all.sum(1) > 0) & (em < 0)).sum()),
    }
    if both.sum() >= MIN_UNITS:
        a, b = cm[both], em[both]
        wb = _bootstrap_counts(rng, int(both.sum()), n_bootstrap)
        agree = (a == b).astype(float)
        cons["percent_agreement"] = _est(agree.mean(), (wb @ agree) / wb.sum(1), alpha)
        kap_obs = _kappa_from_pairs(a, b, np.ones((1, len(a))), q)[0]
        cons["cohen_kappa"] = _est(kap_obs, _kappa_from_pairs(a, b, wb, q), alpha)
    else:
        cons["reason"] = "fewer than 10 units with both consensuses"
    return cons


def _expert_ceiling(
    enc: PoolLabels,
    e_all: np.ndarray,
    expert_pool: str,
    rng: np.random.Generator,
    n_bootstrap: int,
    alpha: float,
) -> dict[str, Any]:
    """Each expert label vs the plurality of the other experts (leave-one-out)."""
    em_mask = enc.pool == expert_pool
    loo = _loo_expert(e_all, enc.unit_index[em_mask], enc.codes[em_mask])
    ceiling: dict[str, Any] = {
        "computed": "each expert label vs the plurality of the other experts on the unit",
        "n_ratings": len(loo["own"]),
    }
    if len(loo["own"]) < MIN_UNITS:
        ceiling["reason"] = "needs units with >= 3 expert labels (leave-one-out consensus of >= 2)"
        return ceiling
    q = enc.n_categories
    units = loo["units"]
    u_codes, u_idx = np.unique(units, return_inverse=True)
    # Units are resampled: each unit's ratings are summed once and weighted by how often
    # the unit is drawn, rather than spreading the draws over every rating (a replicates x
    # ratings matrix, 1.6 GB at a million annotations). Every sum is a whole number, so
    # the replicates are the same to the last bit.
    counts = _bootstrap_counts(rng, len(u_codes), n_bootstrap)
    members = _group_sum_matrix(u_idx, np.ones(len(u_idx)), len(u_codes)).T.tocsr()
    acc = (loo["own"] == loo["consensus"]).astype(float)
    ratings = np.asarray(members @ np.ones(len(acc)))
    ceiling["single_expert_accuracy"] = _est(
        acc.mean(), (counts @ (members @ acc)) / (counts @ ratings), alpha
    )
    cells = _pair_cells(loo["own"], loo["consensus"], q)
    ceiling["cohen_kappa"] = _est(
        _kappa_from_pairs(loo["own"], loo["consensus"], np.ones((1, len(acc))), q)[0],
        _kappa_from_confusion((counts @ np.asarray(members @ cells)).reshape(-1, q, q)),
        alpha,
    )
    return ceiling


def _unit_means_agreement(
    enc: PoolLabels,
    c_all: np.ndarray,
    e_all: np.ndarray,
    rng: np.random.Generator,
    n_bootstrap: int,
    alpha: float,
) -> dict[str, Any]:
    """Numeric scales: Bland-Altman and Lin's CCC on unit means (nothing below 10 units)."""
    ok = (c_all.sum(1) >= 1) & (e_all.sum(1) >= 1)
    x = (c_all[ok] @ enc.numeric) / c_all[ok].sum(1)
    y = (e_all[ok] @ enc.numeric) / e_all[ok].sum(1)
    n = len(x)
    if n < MIN_UNITS:
        return {}
    wn = _bootstrap_counts(rng, n, n_bootstrap)

    def ccc(wt: np.ndarray) -> np.ndarray:
        s = wt.sum(1)
        mx, my = (wt @ x) / s, (wt @ y) / s
        vx = (wt @ x**2) / s - mx**2
        vy = (wt @ y**2) / s - my**2
        cxy = (wt @ (x * y)) / s - mx * my
        with np.errstate(divide="ignore", invalid="ignore"):
            return 2 * cxy / (vx + vy + (mx - my) ** 2)

    d = x - y
    sd = float(d.std(ddof=1))
    return {
        "bland_altman": {
            "computed": "unit mean (crowd) - unit mean (expert)",
            "n_units": n,
            "mean_difference": _est(d.mean(), (wn @ d) / wn.sum(1), alpha),
            "sd_difference": _f(sd),
            "limits_of_agreement": [_f(d.mean() - 1.96 * sd), _f(d.mean() + 1.96 * sd)],
        },
        "lin_ccc": _est(ccc(np.ones((1, n)))[0], ccc(wn), alpha),
    }
