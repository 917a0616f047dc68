"""Expert vs crowd: agreement, wisdom-of-crowds curve, annotator accuracy, Dawid-Skene check.

Implements methods.md spec B (B1-B6) on the platform's long annotation table (columns as in
:mod:`analysis.metrics.bias`; ``pool`` names the annotator pool). Pure numpy/pandas/scipy/
statsmodels plus ``crowd-kit`` for Dawid-Skene; no Django. Agreement coefficients come from
:mod:`analysis.metrics.agreement` (Krippendorff's alpha with its unit bootstrap, Gwet's AC1,
percent agreement, Cohen's kappa), so the numbers match the agreement report.

The *expert consensus* of a unit is the plurality label of its expert ratings when it is
unique and the unit has at least ``min_expert_labels`` of them (methods.md s2 asks for >= 2);
units where experts tie have no consensus and are left out (their number is reported).

References
----------
Dawid, A. P. & Skene, A. M. (1979). Maximum likelihood estimation of observer error-rates
    using the EM algorithm. Applied Statistics 28:20-28.
Snow, R., O'Connor, B., Jurafsky, D. & Ng, A. (2008). Cheap and fast -- but is it good?
    EMNLP.
Lin, L. I. (1989). A concordance correlation coefficient to evaluate reproducibility.
    Biometrics 45:255-268.
Bland, J. M. & Altman, D. G. (1986). Statistical methods for assessing agreement between two
    methods of clinical measurement. Lancet 327:307-310.
Wilson, E. B. (1927). Probable inference, the law of succession, and statistical inference.
    JASA 22:209-212.
Gwet, K. L. (2008). Computing inter-rater reliability and its variance in the presence of
    high agreement. Br. J. Math. Stat. Psychol. 61:29-48.
Krippendorff, K. (2011). Computing Krippendorff's Alpha-Reliability.
Chiang, W.-L. et al. (2024). Chatbot Arena. ICML (crowd-expert vs expert-expert agreement).
Ustalov, D. et al. (2024). Learning from crowds with Crowd-Kit. JOSS 9(96):6227.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats

from analysis.metrics import agreement
from analysis.metrics.bias import (
    DEFAULT_QUESTIONS,
    _cluster_ci,
    _Clusters,
    _coerce_binary,
    _f,
    _fmt_ci,
    _group_sum_matrix,
    _not_defined,
    _percentile_ci,
    _wsum,
    bias_report,
    stable_rng,
    to_jsonable,
)

DS_CAVEAT = (
    "Dawid-Skene assumes annotators' errors are conditionally independent given the true "
    "label. A bias the crowd shares, such as tone masking factual errors, makes Dawid-Skene "
    "confidently wrong, so its labels and reliability estimates can never stand in for the "
    "expert or injected reference (methods.md B6)."
)

DEFAULT_SPECS: dict[str, dict[str, Any]] = {
    "quality": {"level": "ordinal"},
    "error_flag": {"level": "nominal", "binary": True},
    "assertiveness": {"level": "ordinal"},
    "preference": {"level": "nominal", "type": "pairwise"},
}

N_MIN_ANNOTATOR = 10
MIN_UNITS = 10
MIN_SHRINK_ANNOTATORS = 5


# --------------------------------------------------------------------------------------
# Encoding
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PoolLabels:
    """One question's ratings encoded once for all pools.

    Attributes
    ----------
    labels : tuple
        Category labels (index = code).
    numeric : numpy.ndarray or None
        Numeric value of each label when all labels are numbers (for mean-based statistics).
    unit_ids : numpy.ndarray
        Unit id per unit index.
    unit_index, codes, annotator, pool, prompt : numpy.ndarray
        Per rating.
    """

    labels: tuple[Any, ...]
    numeric: np.ndarray | None
    level: str
    unit_ids: np.ndarray
    unit_index: np.ndarray
    codes: np.ndarray
    annotator: np.ndarray
    pool: np.ndarray
    prompt: np.ndarray

    @property
    def n_units(self) -> int:
        return len(self.unit_ids)

    @property
    def n_categories(self) -> int:
        return len(self.labels)

    def counts(self, pool: str) -> np.ndarray:
        """units x categories counts of one pool's ratings."""
        m = self.pool == pool
        return agreement.value_counts_table(
            self.unit_index[m], self.codes[m], self.n_units, self.n_categories
        )


def encode_pool_labels(
    table: pd.DataFrame,
    question: str,
    spec: Mapping[str, Any],
    *,
    pool_column: str = "pool",
) -> PoolLabels:
    """Encode one question for all pools with :func:`agreement.reliability_data`.

    Parameters
    ----------
    table : pandas.DataFrame
        Long annotation table.
    question : str
        Question key.
    spec : mapping
        ``level`` (nominal/ordinal/interval), optional ``order``, ``type="pairwise"`` for
        A/B/tie preferences (mapped to the winning output/system through ``shown_order``,
        because "A" means different things to raters who saw different orders), and
        ``binary=True`` to coerce yes/no, true/false, 1/0 answers to 0/1 first.

    Returns
    -------
    PoolLabels

    Raises
    ------
    ValueError
        On missing columns or invalid answers.
    """
    if pool_column not in table.columns:
        raise ValueError(f"table needs a {pool_column!r} column")
    t = table
    if spec.get("binary"):
        t = table.copy()
        rows = t["question"] == question
        vals = t.loc[rows, "value"]
        ok = vals.notna()
        t.loc[rows & ok.reindex(t.index, fill_value=False), "value"] = _coerce_binary(
            vals[ok], question
        ).to_numpy()
    rd_spec = {k: v for k, v in spec.items() if k in ("level", "order", "type")}
    if spec.get("type") == "pairwise":
        t = _canonical_pairwise(t, question)
        rd_spec = {"level": "nominal", "order": list(PAIRWISE_LABELS)}
    rd = agreement.reliability_data(t, question, rd_spec)
    src = t.iloc[rd.source_rows]
    try:
        numeric = np.array([float(v) for v in rd.labels])
    except (TypeError, ValueError):
        numeric = None
    prompt = (
        src["prompt_id"].where(src["prompt_id"].notna(), src["unit_id"])
        if "prompt_id" in src.columns
        else src["unit_id"]
    )
    return PoolLabels(
        labels=tuple(rd.labels),
        numeric=numeric,
        level=rd.level,
        unit_ids=np.asarray(rd.unit_ids),
        unit_index=rd.unit_index,
        codes=rd.codes,
        annotator=src["annotator_id"].astype(str).to_numpy(),
        pool=src[pool_column].astype(str).to_numpy(),
        prompt=prompt.astype(str).to_numpy(),
    )


PAIRWISE_LABELS: tuple[str, str, str] = ("lower_id_wins", "higher_id_wins", agreement.TIE_LABEL)


def _canonical_pairwise(table: pd.DataFrame, question: str) -> pd.DataFrame:
    """Replace A/B/tie answers by labels relative to the unit's sorted pair of ids.

    "A" means different outputs to raters who saw different orders, so answers are first
    mapped to the winning id (:func:`agreement.canonical_preferences`) and then to
    "lower_id_wins" / "higher_id_wins" / "tie" with the two ids sorted as strings. Using the
    winning id itself as the label would give every unit its own label set (Dawid-Skene
    then fits a confusion matrix over hundreds of "classes").
    """
    if "shown_order" not in table.columns:
        raise ValueError(f"pairwise question {question!r} needs a shown_order column")
    t = table.copy()
    rows = np.flatnonzero((t["question"] == question).to_numpy())
    sub = t.iloc[rows]
    answered = sub["value"].notna().to_numpy()
    votes = agreement.canonical_preferences(sub["value"], sub["shown_order"])
    low = sub["shown_order"].map(
        lambda o: (
            min(str(o[0]), str(o[1])) if isinstance(o, (tuple, list)) and len(o) == 2 else None
        )
    )
    pair = sub["shown_order"].map(
        lambda o: tuple(sorted(map(str, o))) if isinstance(o, (tuple, list)) else None
    )
    n_pairs = pair.groupby(sub["unit_id"]).nunique()
    if (n_pairs > 1).any():
        raise ValueError(
            f"pairwise question {question!r}: units shown with different pairs: "
            f"{n_pairs[n_pairs > 1].index[:5].tolist()!r}"
        )
    winner = pd.Series(votes.winner, index=sub.index, dtype=object)
    label = np.where(
        winner.eq(agreement.TIE_LABEL),
        agreement.TIE_LABEL,
        np.where(winner.astype(str).eq(low.astype(str)), PAIRWISE_LABELS[0], PAIRWISE_LABELS[1]),
    ).astype(object)
    label[~answered] = None
    col = t.columns.get_loc("value")
    t.iloc[rows, col] = label
    return t


def _plurality(counts: np.ndarray, min_labels: int = 1) -> np.ndarray:
    """Unique plurality code per unit, -1 when tied or fewer than ``min_labels`` labels."""
    m = counts.sum(axis=1)
    top = counts.max(axis=1, initial=0)
    n_top = (counts == top[:, None]).sum(axis=1)
    code = counts.argmax(axis=1)
    return np.where((m >= max(min_labels, 1)) & (n_top == 1), code, -1)


def _label(labels: Sequence[Any], code: int) -> Any:
    return to_jsonable(labels[code])


def _unit_weights(rng: np.random.Generator, n: int, n_boot: int) -> np.ndarray:
    return rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot).astype(float)


def _ci(reps: np.ndarray, alpha: float) -> tuple[float | None, float | None]:
    lo, hi, _ = _percentile_ci(reps, 1 - alpha)
    return lo, hi


def _est(est: float | None, reps: np.ndarray | None, alpha: float, **extra: Any) -> dict[str, Any]:
    lo, hi = _ci(reps, alpha) if reps is not None and est is not None else (None, None)
    return {"estimate": _f(est), "ci_low": lo, "ci_high": hi, **extra}


# --------------------------------------------------------------------------------------
# B1: within-pool agreement
# --------------------------------------------------------------------------------------


def _band(alpha_value: float | None) -> str | None:
    if alpha_value is None:
        return None
    if alpha_value >= 0.8:
        return "reliable (alpha >= 0.8)"
    if alpha_value >= 0.667:
        return "tentative (0.667 <= alpha < 0.8)"
    return "unreliable (alpha < 0.667)"


def _ac1_with_ci(
    counts: np.ndarray, q: int, rng: np.random.Generator, n_boot: int, alpha: float
) -> dict[str, Any]:
    coef = agreement.gwet_ac1(counts, n_categories=q)
    out = coef.to_dict()
    if not coef.defined or n_boot < 1:
        return out
    n = len(counts)
    # Unit bootstrap, like agreement.krippendorff_alpha's, so the two intervals compare.
    idx = rng.integers(0, n, size=(n_boot, n))
    reps = np.full(n_boot, np.nan)
    for b in range(n_boot):
        c = agreement.gwet_ac1(counts[idx[b]], n_categories=q)
        if c.defined:
            reps[b] = c.value
    lo, hi = _ci(reps, alpha)
    out.update(
        {
            "ci_low": lo,
            "ci_high": hi,
            "confidence_level": 1 - alpha,
            "ci_method": "percentile bootstrap over units",
            "n_bootstrap": n_boot,
            "n_bootstrap_defined": int(np.isfinite(reps).sum()),
            "ci_reason": None if lo is not None else "too many undefined replicates",
        }
    )
    return out


def within_pool_agreement(
    table: pd.DataFrame,
    *,
    question: str,
    spec: Mapping[str, Any],
    rng: np.random.Generator,
    n_bootstrap: int = 1000,
    alpha: float = 0.05,
    pool_column: str = "pool",
) -> dict[str, Any]:
    """Krippendorff's alpha and Gwet's AC1 (with unit-bootstrap CIs) within each pool.

    Also prevalence of each label and raw percent agreement (methods.md B1): alpha collapses
    for rare labels (the prevalence paradox) while AC1 does not, so both are shown.

    Parameters
    ----------
    table : pandas.DataFrame
        Long annotation table.
    question : str
    spec : mapping
        Question spec (see :func:`encode_pool_labels`).
    rng : numpy.random.Generator
    n_bootstrap : int
    alpha : float
        1 - confidence level.
    pool_column : str

    Returns
    -------
    dict
        ``{pool: {krippendorff_alpha, gwet_ac1, percent_agreement, prevalence,
        interpretation, n_units, n_annotators, n_ratings}}``. AC1 is the unweighted (nominal)
        coefficient even for ordinal questions.
    """
    if not isinstance(rng, np.random.Generator):
        raise ValueError("rng must be a numpy.random.Generator")
    enc = encode_pool_labels(table, question, spec, pool_column=pool_column)
    out: dict[str, Any] = {}
    for pool in sorted(set(enc.pool)):
        counts = enc.counts(pool)
        counts = counts[counts.sum(axis=1) > 0]
        n_ann = len(set(enc.annotator[enc.pool == pool]))
        a = agreement.krippendorff_alpha(
            counts,
            np.arange(enc.n_categories)
            if enc.level == "nominal"
            else (enc.numeric if enc.level == "interval" and enc.numeric is not None else None),
            enc.level if enc.level != "ratio" else "interval",
            n_bootstrap=n_bootstrap,
            rng=rng,
            thresholds=(0.667, 0.8),
            confidence_level=1 - alpha,
            n_annotators=n_ann,
        )
        ac1 = _ac1_with_ci(counts, enc.n_categories, rng, n_bootstrap, alpha)
        pa = agreement.percent_agreement(counts, n_annotators=n_ann).to_dict()
        total = counts.sum()
        prevalence = {
            str(_label(enc.labels, k)): _f(counts[:, k].sum() / total)
            for k in range(enc.n_categories)
        }
        out[pool] = to_jsonable(
            {
                "question": question,
                "level": enc.level,
                "n_units": len(counts),
                "n_annotators": n_ann,
                "n_ratings": int(total),
                "krippendorff_alpha": a.to_dict(),
                "gwet_ac1": ac1,
                "percent_agreement": pa,
                "prevalence": prevalence,
                "interpretation": _band(a.value),
            }
        )
    return out


# --------------------------------------------------------------------------------------
# B2: cross-pool agreement
# --------------------------------------------------------------------------------------


def _pair_rates(c: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    nc, ne = c.sum(1), e.sum(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        pcc = (c * (c - 1)).sum(1) / (nc * (nc - 1))
        pee = (e * (e - 1)).sum(1) / (ne * (ne - 1))
        pce = (c * e).sum(1) / (nc * ne)
    return pcc, pce, pee


def _kappa_from_pairs(a: np.ndarray, b: np.ndarray, w: np.ndarray, q: int) -> np.ndarray:
    """Cohen's kappa for weighted label pairs; w is (B x pairs). Vectorised over rows."""
    idx = a * q + b
    onehot = np.zeros((len(a), q * q))
    onehot[np.arange(len(a)), idx] = 1.0
    conf = (w @ onehot).reshape(-1, q, q)
    n = conf.sum(axis=(1, 2))
    po = np.trace(conf, axis1=1, axis2=2) / n
    pe = (conf.sum(2) * conf.sum(1)).sum(1) / n**2
    with np.errstate(divide="ignore", invalid="ignore"):
        return (po - pe) / (1 - pe)


def _loo_expert(
    e_counts: np.ndarray, rating_units: np.ndarray, rating_codes: np.ndarray
) -> dict[str, Any]:
    """Each expert rating vs the plurality of the *other* experts on that unit."""
    rest = e_counts[rating_units].copy()
    rest[np.arange(len(rating_codes)), rating_codes] -= 1
    cons = _plurality(rest, min_labels=2)
    ok = cons >= 0
    return {"own": rating_codes[ok], "consensus": cons[ok], "units": rating_units[ok]}


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
    min_expert_labels: int = 2,
) -> dict[str, Any]:
    """Crowd-expert agreement against the expert-expert ceiling (methods.md B2).

    * P_cc, P_ce, P_ee: probability that two distinct random labels (crowd-crowd,
      crowd-expert, expert-expert) on the same unit agree, averaged over units with >= 2
      labels from each pool; headline ratio P_ce / P_ee. For pairwise questions both S1 (ties
      count) and S2 (tie labels removed) are given (Zheng et al. 2023).
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
        :data:`MIN_UNITS` units carry both pools.
    """
    if not isinstance(rng, np.random.Generator):
        raise ValueError("rng must be a numpy.random.Generator")
    enc = encode_pool_labels(table, question, spec, pool_column=pool_column)
    c_all, e_all = enc.counts(crowd_pool), enc.counts(expert_pool)
    q = enc.n_categories
    out: dict[str, Any] = {
        "question": question,
        "computed": "P(two labels agree) within crowd, crowd-expert and within experts on shared units",
        "crowd_pool": crowd_pool,
        "expert_pool": expert_pool,
    }
    shared = (c_all.sum(1) >= 2) & (e_all.sum(1) >= 2)
    n_shared = int(shared.sum())
    out["n_units"] = n_shared
    out["n_annotators"] = {
        crowd_pool: len(set(enc.annotator[enc.pool == crowd_pool])),
        expert_pool: len(set(enc.annotator[enc.pool == expert_pool])),
    }
    if n_shared < MIN_UNITS:
        out.update(
            {"defined": False, "reason": f"only {n_shared} units with >= 2 labels from both pools"}
        )
        return to_jsonable(out)
    out["defined"] = True
    out["reason"] = None
    w = _unit_weights(rng, n_shared, n_bootstrap)

    def rates_block(c: np.ndarray, e: np.ndarray, name: str) -> dict[str, Any]:
        keep = (c.sum(1) >= 2) & (e.sum(1) >= 2)
        c, e = c[keep], e[keep]
        if keep.sum() < MIN_UNITS:
            return {"defined": False, "reason": f"only {int(keep.sum())} units ({name})"}
        pcc, pce, pee = _pair_rates(c, e)
        ww = w[:, keep] if w.shape[1] == len(keep) else w
        mean = lambda v, wt: (wt * v).sum(-1) / wt.sum(-1)  # noqa: E731
        obs = [float(v.mean()) for v in (pcc, pce, pee)]
        reps = [mean(v, ww) for v in (pcc, pce, pee)]
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

    c_sh, e_sh = c_all[shared], e_all[shared]
    out["pairwise_rates"] = rates_block(c_sh, e_sh, "S1")
    if spec.get("type") == "pairwise" and agreement.TIE_LABEL in enc.labels:
        t = enc.labels.index(agreement.TIE_LABEL)
        c2, e2 = c_sh.copy(), e_sh.copy()
        c2[:, t] = 0
        e2[:, t] = 0
        out["pairwise_rates"]["definition"] = "S1: ties count as a label"
        out["pairwise_rates_s2"] = rates_block(c2, e2, "S2")
        out["pairwise_rates_s2"]["definition"] = "S2: tie labels removed"

    # Consensus agreement.
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
        wb = _unit_weights(rng, int(both.sum()), n_bootstrap)
        agree = (a == b).astype(float)
        cons["percent_agreement"] = _est(agree.mean(), (wb @ agree) / wb.sum(1), alpha)
        kap_obs = _kappa_from_pairs(a, b, np.ones((1, len(a))), q)[0]
        cons["cohen_kappa"] = _est(kap_obs, _kappa_from_pairs(a, b, wb, q), alpha)
    else:
        cons["reason"] = "fewer than 10 units with both consensuses"
    out["consensus"] = cons

    # Ceiling: leave-one-expert-out.
    em_mask = enc.pool == expert_pool
    loo = _loo_expert(e_all, enc.unit_index[em_mask], enc.codes[em_mask])
    ceiling: dict[str, Any] = {
        "computed": "each expert label vs the plurality of the other experts on the unit",
        "n_ratings": len(loo["own"]),
    }
    if len(loo["own"]) >= MIN_UNITS:
        units = loo["units"]
        u_codes, u_idx = np.unique(units, return_inverse=True)
        wl = _unit_weights(rng, len(u_codes), n_bootstrap)[:, u_idx]
        acc = (loo["own"] == loo["consensus"]).astype(float)
        ceiling["single_expert_accuracy"] = _est(acc.mean(), (wl @ acc) / wl.sum(1), alpha)
        ceiling["cohen_kappa"] = _est(
            _kappa_from_pairs(loo["own"], loo["consensus"], np.ones((1, len(acc))), q)[0],
            _kappa_from_pairs(loo["own"], loo["consensus"], wl, q),
            alpha,
        )
    else:
        ceiling["reason"] = "needs units with >= 3 expert labels (leave-one-out consensus of >= 2)"
    out["expert_ceiling"] = ceiling

    # Numeric scales: Bland-Altman and Lin's CCC on unit means.
    if enc.level != "nominal" and enc.numeric is not None:
        ok = (c_all.sum(1) >= 1) & (e_all.sum(1) >= 1)
        x = (c_all[ok] @ enc.numeric) / c_all[ok].sum(1)
        y = (e_all[ok] @ enc.numeric) / e_all[ok].sum(1)
        n = len(x)
        if n >= MIN_UNITS:
            wn = _unit_weights(rng, n, n_bootstrap)

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
            out["bland_altman"] = {
                "computed": "unit mean (crowd) - unit mean (expert)",
                "n_units": n,
                "mean_difference": _est(d.mean(), (wn @ d) / wn.sum(1), alpha),
                "sd_difference": _f(sd),
                "limits_of_agreement": [_f(d.mean() - 1.96 * sd), _f(d.mean() + 1.96 * sd)],
            }
            out["lin_ccc"] = _est(ccc(np.ones((1, n)))[0], ccc(wn), alpha)
    return to_jsonable(out)


# --------------------------------------------------------------------------------------
# B3: wisdom-of-crowds curve
# --------------------------------------------------------------------------------------


def _majority_accuracy(n: np.ndarray, c: np.ndarray, k: int) -> np.ndarray:
    """Vectorised exact majority-of-k accuracy for integer arrays n >= k, 0 <= c <= n."""
    m = np.arange(k + 1).reshape((k + 1,) + (1,) * np.ndim(n))
    pmf = stats.hypergeom.pmf(m, n, c, k)
    acc = pmf[2 * np.arange(k + 1) > k].sum(axis=0)
    if k % 2 == 0:
        acc = acc + 0.5 * pmf[k // 2]
    return acc


def majority_of_k_exact(
    n_labels: np.ndarray | Sequence[int], n_correct: np.ndarray | Sequence[int], k: int
) -> np.ndarray:
    """Exact P(majority of k labels drawn without replacement is correct), per item.

    acc_i(k) = sum_{m > k/2} H(m; n_i, c_i, k) + 1/2 H(k/2; n_i, c_i, k) [k even], with H
    the hypergeometric pmf (methods.md B3). An even split counts as a coin flip. With more
    than two classes this is P(a strict majority is correct) (+ half the even splits),
    a lower bound of plurality accuracy.

    Parameters
    ----------
    n_labels : array_like of int
        n_i, labels available per item.
    n_correct : array_like of int
        c_i, how many of them equal the reference.
    k : int
        Crowd size, 1 <= k <= n_i for every item.

    Returns
    -------
    numpy.ndarray
        Accuracy per item.

    Raises
    ------
    ValueError
        If k < 1, k > n_i, or c_i is outside [0, n_i].
    """
    n = np.asarray(n_labels, dtype=int)
    c = np.asarray(n_correct, dtype=int)
    if k < 1:
        raise ValueError("k must be >= 1")
    if n.shape != c.shape:
        raise ValueError("n_labels and n_correct must have the same shape")
    if np.any(n < k):
        raise ValueError("k exceeds the labels available for some item")
    if np.any((c < 0) | (c > n)):
        raise ValueError("n_correct must be within [0, n_labels]")
    return _majority_accuracy(n, c, k)


def majority_of_k_monte_carlo(
    n_labels: np.ndarray | Sequence[int],
    n_correct: np.ndarray | Sequence[int],
    k: int,
    *,
    rng: np.random.Generator,
    n_draws: int = 2000,
) -> np.ndarray:
    """Monte Carlo counterpart of :func:`majority_of_k_exact` (for validation).

    Draws k of the n_i labels without replacement ``n_draws`` times per item and scores the
    majority (even splits 1/2).
    """
    n = np.asarray(n_labels, dtype=int)
    c = np.asarray(n_correct, dtype=int)
    if k < 1 or np.any(n < k):
        raise ValueError("need 1 <= k <= n_labels")
    correct_drawn = rng.hypergeometric(
        np.broadcast_to(c, (n_draws, len(c))),
        np.broadcast_to(n - c, (n_draws, len(c))),
        k,
    )
    score = np.where(2 * correct_drawn > k, 1.0, np.where(2 * correct_drawn == k, 0.5, 0.0))
    return score.mean(axis=0)


def _reference_codes(
    enc: PoolLabels,
    expert_pool: str,
    min_expert_labels: int,
    reference: Mapping[Any, Any] | pd.Series | None,
) -> tuple[np.ndarray, str]:
    if reference is None:
        return _plurality(enc.counts(expert_pool), min_expert_labels), (
            f"expert consensus (unique plurality of >= {min_expert_labels} expert labels)"
        )
    ref = pd.Series(reference)
    ref.index = ref.index.astype(str)
    keys = [agreement.label_key(lab) for lab in enc.labels]
    code_of = {k: i for i, k in enumerate(keys)}
    codes = np.full(enc.n_units, -1)
    for i, u in enumerate(enc.unit_ids):
        if u in ref.index and pd.notna(ref[u]):
            key = agreement.label_key(ref[u])
            if key not in code_of:
                raise ValueError(f"reference label {ref[u]!r} is not a label of the question")
            codes[i] = code_of[key]
    return codes, "supplied reference labels"


def majority_of_k_curve(
    table: pd.DataFrame,
    *,
    question: str,
    spec: Mapping[str, Any],
    rng: np.random.Generator,
    crowd_pool: str = "crowd",
    expert_pool: str = "expert",
    pool_column: str = "pool",
    reference: Mapping[Any, Any] | pd.Series | None = None,
    max_k: int | None = None,
    min_expert_labels: int = 2,
    n_bootstrap: int = 1000,
    alpha: float = 0.05,
    two_way: str = "cgm",
) -> dict[str, Any]:
    """Accuracy of the majority of k crowd labels against the reference, k = 1..K.

    For each unit with a reference label, n_i crowd labels and c_i correct ones,
    acc_i(k) is computed exactly (:func:`majority_of_k_exact`); acc(k) is the mean over
    units with n_i >= k (methods.md B3). The curve is
    also stratified by the reference class, because a class whose per-label accuracy is below
    1/2 gets *worse* with k (Condorcet in reverse) and averaging hides it. k* is the smallest
    k whose accuracy reaches single-expert accuracy (leave-one-expert-out), or "not reached".

    Parameters
    ----------
    table : pandas.DataFrame
    question : str
    spec : mapping
    rng : numpy.random.Generator
    crowd_pool, expert_pool, pool_column : str
    reference : mapping or Series, optional
        unit_id -> reference label; default the expert consensus. Use the injected-error
        manifest here when there is one (methods.md s8: DS or crowd "truth" is no reference).
    max_k : int, optional
        Largest k (default: the largest n_i).
    min_expert_labels : int
        Expert labels needed for a consensus.
    n_bootstrap : int
    alpha : float

    Returns
    -------
    dict
        k, accuracy, ci_low, ci_high, n_units per k; by_reference_class; ceiling; k_star.

    Notes
    -----
    methods.md B3 asks for an item bootstrap. Resampling units alone ignores which
    annotators happened to form the crowd: in our simulations (30 annotators, logit-SD 0.5
    in skill) the unit-only band covered the planted per-label accuracy in only ~78% of
    seeds. The band here is the two-way (prompt x annotator) bootstrap used by the bias
    checks (``two_way`` as in :func:`analysis.metrics.bias._cluster_ci`): a resampled
    annotator's labels are counted with their integer multiplicity, so every replicate is
    still an exact hypergeometric computation.
    """
    if not isinstance(rng, np.random.Generator):
        raise ValueError("rng must be a numpy.random.Generator")
    enc = encode_pool_labels(table, question, spec, pool_column=pool_column)
    ref, ref_name = _reference_codes(enc, expert_pool, min_expert_labels, reference)
    c_counts = enc.counts(crowd_pool)
    n_i = c_counts.sum(1).astype(int)
    keep = (ref >= 0) & (n_i >= 1)
    base: dict[str, Any] = {
        "question": question,
        "computed": "exact hypergeometric P(majority of k crowd labels = reference), mean over units",
        "reference": ref_name,
        "tie_rule": "an even split counts 1/2",
        "n_units": int(keep.sum()),
        "n_annotators": len(set(enc.annotator[enc.pool == crowd_pool])),
    }
    if keep.sum() < MIN_UNITS:
        base.update(
            {
                "defined": False,
                "reason": f"only {int(keep.sum())} units have both crowd labels and a reference",
            }
        )
        return to_jsonable(base)
    if max_k is not None and max_k < 1:
        raise ValueError("max_k must be >= 1")
    n_k = n_i[keep]
    k_max = int(n_k.max()) if max_k is None else min(int(max_k), int(n_k.max()))
    ks = list(range(1, k_max + 1))
    kept_units = np.flatnonzero(keep)
    local = np.full(enc.n_units, -1)
    local[kept_units] = np.arange(len(kept_units))
    rows = (enc.pool == crowd_pool) & keep[enc.unit_index]
    r_unit = local[enc.unit_index[rows]]
    r_correct = (enc.codes[rows] == ref[enc.unit_index[rows]]).astype(float)
    frame = pd.DataFrame(
        {
            "unit_id": enc.unit_ids[enc.unit_index[rows]],
            "annotator_id": enc.annotator[rows],
            "prompt_id": enc.prompt[rows],
        }
    )
    clusters = _Clusters(frame)
    unit_prompt = pd.Series(clusters.prompt_codes).groupby(r_unit).first().to_numpy()
    ref_k = ref[kept_units]
    classes = np.unique(ref_k)
    masks = [np.ones(len(kept_units), bool)] + [ref_k == c for c in classes]
    g_n = _group_sum_matrix(r_unit, np.ones(len(r_unit)), len(kept_units))
    g_c = _group_sum_matrix(r_unit, r_correct, len(kept_units))
    pc = clusters.prompt_codes

    def stat(w: np.ndarray, mp: np.ndarray) -> np.ndarray:
        # Row weights are prompt x annotator multiplicities; a unit's labels are
        # re-counted with the annotator part (integer, so the hypergeometric stays exact)
        # and the unit enters the average with its prompt's multiplicity.
        mpr = mp[:, pc]
        aw = np.where(mpr > 0, w / np.where(mpr > 0, mpr, 1.0), 0.0)
        n = np.rint(_wsum(aw, g_n)).astype(int)
        c = np.rint(_wsum(aw, g_c)).astype(int)
        uw = mp[:, unit_prompt]
        cols = []
        for k in ks:
            ok = n >= k
            acc = _majority_accuracy(np.where(ok, n, k), np.where(ok, np.minimum(c, n), 0), k)
            for mask in masks:
                wk = uw * ok * mask
                cols.append((wk * acc).sum(1) / wk.sum(1))
        return np.column_stack(cols)

    ones_r = np.ones((1, len(r_unit)))
    with np.errstate(divide="ignore", invalid="ignore"):
        obs = stat(ones_r, np.ones((1, clusters.n_prompts)))[0]
    ci = _cluster_ci(stat, obs, clusters, rng, n_bootstrap, 1 - alpha, two_way)
    n_cols = len(masks)
    n_by_k = [[int(((n_k >= k) & m).sum()) for k in ks] for m in masks]

    def curve(j: int) -> dict[str, Any]:
        idx = [t * n_cols + j for t in range(len(ks))]
        return {
            "k": ks,
            "accuracy": [_f(obs[i]) for i in idx],
            "ci_low": [ci.low[i] for i in idx],
            "ci_high": [ci.high[i] for i in idx],
            "n_units": n_by_k[j],
        }

    res = {**base, "defined": True, "reason": None, "ci_method": ci.method, **curve(0)}
    res["n_annotators"] = clusters.n_annotators
    by_class = {}
    warn = list(clusters.warnings)
    for j, code in enumerate(classes, start=1):
        cl = curve(j)
        lab = str(_label(enc.labels, int(code)))
        by_class[lab] = cl
        a1 = cl["accuracy"][0]
        if a1 is not None and a1 < 0.5 and len(ks) > 1:
            warn.append(
                f"reference class {lab!r}: per-label accuracy {a1:.2f} < 0.5, so majority "
                "voting gets worse as k grows (Condorcet in reverse)"
            )
    res["by_reference_class"] = by_class
    # Ceiling from the experts (only meaningful against the expert consensus).
    e_counts = enc.counts(expert_pool)
    em = enc.pool == expert_pool
    loo = _loo_expert(e_counts, enc.unit_index[em], enc.codes[em])
    if len(loo["own"]) >= MIN_UNITS:
        ceiling = float((loo["own"] == loo["consensus"]).mean())
        res["ceiling"] = {
            "single_expert_accuracy": ceiling,
            "computed": "each expert label vs the plurality of the other experts",
            "n_ratings": len(loo["own"]),
        }
        reached = [
            k for k, a in zip(ks, res["accuracy"], strict=True) if a is not None and a >= ceiling
        ]
        res["k_star"] = reached[0] if reached else None
        res["k_star_reason"] = None if reached else f"not reached for k <= {k_max}"
    else:
        res["ceiling"] = {
            "single_expert_accuracy": None,
            "reason": "needs units with >= 3 expert labels",
        }
        res["k_star"] = None
        res["k_star_reason"] = "no expert ceiling"
    if len(enc.labels) > 2:
        warn.append(
            "more than two labels: the curve is P(strict majority correct), a lower bound of plurality accuracy"
        )
    res["warnings"] = warn
    return to_jsonable(res)


# --------------------------------------------------------------------------------------
# B4: per-annotator accuracy
# --------------------------------------------------------------------------------------


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
    min_expert_labels: int = 2,
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
    q = enc.n_categories
    chance = 1.0 / q
    binary = q == 2 and set(enc.labels) <= {0, 1}
    pos = enc.labels.index(1) if binary else None
    shrink = (
        beta_binomial_shrinkage(eligible["correct"].to_numpy(), eligible["n"].to_numpy())
        if len(eligible)
        else {"defined": False, "reason": "no annotator has enough reference items", "shrunk": []}
    )
    pool_mean = float(eligible["correct"].sum() / eligible["n"].sum()) if len(eligible) else None
    shrunk_vals = [v for v in shrink.get("shrunk", []) if v is not None]
    p10 = float(np.percentile(shrunk_vals, 10)) if shrink.get("defined") and shrunk_vals else None
    rows = []
    for i, (ann, r) in enumerate(eligible.iterrows()):
        sub = g.get_group(ann)
        lo, hi = _wilson(int(r["correct"]), int(r["n"]), alpha)
        acc = r["correct"] / r["n"]
        entry: dict[str, Any] = {
            "annotator_id": ann,
            "n_items": int(r["n"]),
            "accuracy": float(acc),
            "wilson_ci": [lo, hi],
            "shrunk_accuracy": shrink["shrunk"][i] if shrink.get("shrunk") else None,
        }
        kap = agreement.cohen_kappa(sub["code"].to_numpy(), sub["ref"].to_numpy(), n_categories=q)
        entry["kappa_vs_reference"] = kap.value
        if binary:
            is_pos = sub["ref"] == pos
            entry["sensitivity"] = _f(sub.loc[is_pos, "correct"].mean()) if is_pos.any() else None
            entry["specificity"] = (
                _f(sub.loc[~is_pos, "correct"].mean()) if (~is_pos).any() else None
            )
        if pool_mean is not None:
            half = 1.96 * math.sqrt(pool_mean * (1 - pool_mean) / r["n"])
            entry["funnel_limits"] = [pool_mean - half, pool_mean + half]
            entry["outside_funnel"] = bool(abs(acc - pool_mean) > half)
        flags = []
        if hi < chance:
            flags.append("worse_than_chance")
        if (
            p10 is not None
            and entry["shrunk_accuracy"] is not None
            and entry["shrunk_accuracy"] < p10
        ):
            flags.append("below_pool_p10")
        entry["flags"] = flags
        rows.append(entry)
    prior = {k: v for k, v in shrink.items() if k != "shrunk"}
    return to_jsonable(
        {
            **base,
            "defined": len(rows) > 0,
            "reason": None if rows else f"no annotator has >= {n_min} reference items",
            "n_annotators": len(rows),
            "n_units": int(pd.Series(enc.unit_index[m]).nunique()),
            "n_annotators_below_n_min": int((summary["n"] < n_min).sum()),
            "chance_accuracy": chance,
            "pool_mean_accuracy": pool_mean,
            "prior": prior,
            "pool_p10_shrunk_accuracy": p10,
            "n_flagged": sum(1 for r in rows if r["flags"]),
            "annotators": rows,
        }
    )


# --------------------------------------------------------------------------------------
# B6: Dawid-Skene reliability vs the expert reference
# --------------------------------------------------------------------------------------


def dawid_skene_validation(
    table: pd.DataFrame,
    *,
    question: str,
    spec: Mapping[str, Any],
    crowd_pool: str = "crowd",
    expert_pool: str = "expert",
    pool_column: str = "pool",
    reference: Mapping[Any, Any] | pd.Series | None = None,
    min_expert_labels: int = 2,
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
        "computed": "Dawid-Skene worker accuracy vs expert-referenced accuracy; DS vs MV label accuracy",
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
        return to_jsonable({**base, "defined": False, "reason": f"Dawid-Skene failed: {exc}"})
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
    one_coin = oc.skills_.to_dict()

    # Expert-referenced accuracy on overlap items.
    has_ref = ref[data["task"].to_numpy()] >= 0
    d_ref = data.loc[has_ref].assign(ref=ref[data.loc[has_ref, "task"].to_numpy()])
    d_ref["correct"] = (d_ref["label"] == d_ref["ref"]).astype(float)
    per = d_ref.groupby("worker")["correct"].agg(["mean", "size"])
    per = per.loc[per["size"] >= n_min]
    res: dict[str, Any] = {**base, "defined": True, "reason": None, "n_workers_validated": len(per)}

    def spearman(est: Mapping[str, float]) -> dict[str, Any]:
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

    res["spearman_ds"] = spearman(ds_acc)
    res["spearman_one_coin"] = spearman(one_coin)

    units = np.unique(data["task"].to_numpy())
    units_ref = units[ref[units] >= 0]
    c_counts = enc.counts(crowd_pool)
    mv = _plurality(c_counts, 1)
    ds_labels = ds.labels_
    if len(units_ref):
        ds_l = np.array([ds_labels.get(u, -1) for u in units_ref])
        mv_l = mv[units_ref]
        r_l = ref[units_ref]
        res["label_accuracy"] = {
            "n_units": len(units_ref),
            "dawid_skene": _f((ds_l == r_l).mean()),
            "majority_vote": _f(np.where(mv_l >= 0, mv_l == r_l, 0.5).mean()),
            "majority_vote_rule": "plurality; a tied unit counts 1/2",
        }
    res["worker_estimates"] = [
        {
            "annotator_id": w,
            "ds_accuracy": _f(ds_acc.get(w)),
            "one_coin_skill": _f(one_coin.get(w)),
            "reference_accuracy": _f(per["mean"].get(w)) if w in per.index else None,
            "n_reference_items": int(per["size"].get(w)) if w in per.index else None,
        }
        for w in sorted(ds_acc)
    ]
    res["class_priors"] = {str(_label(enc.labels, int(k))): _f(v) for k, v in priors.items()}
    return to_jsonable(res)


# --------------------------------------------------------------------------------------
# B5: bias indices side by side
# --------------------------------------------------------------------------------------


def leniency_msd(
    table: pd.DataFrame,
    *,
    quality_question: str = "quality",
    pool: str = "crowd",
    expert_pool: str = "expert",
    pool_column: str = "pool",
    rng: np.random.Generator,
    n_bootstrap: int = 1000,
    alpha: float = 0.05,
    two_way: str = "cgm",
) -> dict[str, Any]:
    """Leniency: MSD = mean over shared units of (pool unit mean - expert unit mean).

    CI: two-way (prompt x annotator) cluster bootstrap over both pools' ratings
    (methods.md B5; ``two_way`` as in :func:`analysis.metrics.bias._cluster_ci`).
    """
    from analysis.metrics.bias import _question_rows

    check = "leniency_msd"
    computed = f"mean over shared units of mean quality ({pool}) - mean quality ({expert_pool})"
    df, warn = _question_rows(table, quality_question, "numeric", [pool_column])
    df = df.loc[df[pool_column].isin([pool, expert_pool])]
    per = df.groupby("unit_id")[pool_column].nunique()
    df = df.loc[df["unit_id"].map(per) == 2].copy()
    n_units = df["unit_id"].nunique()
    if n_units < MIN_UNITS:
        return _not_defined(check, computed, f"only {n_units} units rated by both pools")
    u_codes, _ = pd.factorize(df["unit_id"], sort=True)
    arm = (df[pool_column] == pool).to_numpy().astype(int)
    grp = 2 * u_codes + arm
    g_y = _group_sum_matrix(grp, df["y"].to_numpy(), 2 * n_units)
    g_n = _group_sum_matrix(grp, np.ones(len(df)), 2 * n_units)
    clusters = _Clusters(df)
    unit_prompt = pd.Series(clusters.prompt_codes).groupby(u_codes).first().to_numpy()

    def stat(w: np.ndarray, mp: np.ndarray) -> np.ndarray:
        mean = _wsum(w, g_y) / _wsum(w, g_n)
        d = mean[:, 1::2] - mean[:, 0::2]
        wp = mp[:, unit_prompt]
        ok = np.isfinite(d)
        return ((np.where(ok, d, 0) * wp * ok).sum(1) / (wp * ok).sum(1))[:, None]

    obs = float(stat(np.ones((1, len(df))), np.ones((1, clusters.n_prompts)))[0, 0])
    ci = _cluster_ci(stat, np.array([obs]), clusters, rng, n_bootstrap, 1 - alpha, two_way)
    lo, hi = ci.pair(0)
    flagged = lo is not None and (lo > 0 or hi < 0)
    return to_jsonable(
        {
            "check": check,
            "computed": computed,
            "defined": True,
            "reason": None,
            "estimate": obs,
            "ci_low": lo,
            "ci_high": hi,
            "ci_level": 1 - alpha,
            "ci_method": ci.method,
            "p_value": None,
            "test": None,
            "null_value": 0.0,
            "n_units": n_units,
            "n_annotators": int(df["annotator_id"].nunique()),
            "n_ratings": len(df),
            "flagged": flagged,
            "flags": ["leniency"] if flagged else [],
            "verdict": f"{pool} raters rate {obs:+.2f} {_fmt_ci(lo, hi)} points relative to {expert_pool} raters on the same units",
            "warnings": warn + clusters.warnings,
        }
    )


def annotator_leniency_blups(
    table: pd.DataFrame,
    *,
    quality_question: str = "quality",
    pool: str = "crowd",
    pool_column: str = "pool",
) -> dict[str, Any]:
    """Empirical-Bayes annotator intercepts (leniency) within a pool; flags |u_a| > 2 sigma_a.

    For each rating, e_r = Q_r - mean of the *other* ratings of the same unit in the pool;
    d_a = mean_r e_r over annotator a's n_a ratings. With d_a ~ N(u_a, s^2 / n_a) and
    u_a ~ N(0, sigma_a^2), sigma_a^2 = max(0, var(d_a) - mean(s^2 / n_a)) (method of moments)
    and the posterior mean u_a = d_a sigma_a^2 / (sigma_a^2 + s^2 / n_a) -- the closed-form
    analogue of the MixedLM BLUPs in methods.md B5 (MixedLM with crossed unit effects took
    ~5 s per pool at 1,200 ratings; this is instant and gives the same ranking).
    """
    from analysis.metrics.bias import _question_rows

    df, warn = _question_rows(table, quality_question, "numeric", [pool_column])
    df = df.loc[df[pool_column] == pool].copy()
    size = df.groupby("unit_id")["y"].transform("size")
    df = df.loc[size >= 2]
    if len(df) < MIN_UNITS or df["annotator_id"].nunique() < 3:
        return {
            "defined": False,
            "reason": "too few multiply-rated units or annotators",
            "annotators": [],
        }
    tot = df.groupby("unit_id")["y"].transform("sum")
    n_u = df.groupby("unit_id")["y"].transform("size")
    df["e"] = df["y"] - (tot - df["y"]) / (n_u - 1)
    g = df.groupby("annotator_id")["e"]
    d = g.mean()
    n = g.size().astype(float)
    resid = df["e"] - df["annotator_id"].map(d)
    dof = len(df) - len(d)
    s2 = float((resid**2).sum() / dof) if dof > 0 else float("nan")
    sigma2 = max(0.0, float(d.var(ddof=1) - np.mean(s2 / n))) if len(d) > 1 else 0.0
    shrink = sigma2 / (sigma2 + s2 / n) if sigma2 > 0 else n * 0.0
    u = d * shrink
    sigma = math.sqrt(sigma2)
    rows = [
        {
            "annotator_id": str(a),
            "n_ratings": int(n[a]),
            "raw_deviation": _f(d[a]),
            "blup": _f(u[a]),
            "flag_outlier": bool(sigma > 0 and abs(float(u[a])) > 2 * sigma),
        }
        for a in sorted(d.index, key=str)
    ]
    return to_jsonable(
        {
            "defined": True,
            "reason": None,
            "pool": pool,
            "computed": "empirical-Bayes annotator intercepts vs pool-mates on the same units; flag |u_a| > 2 sigma_a",
            "sigma_annotator": sigma,
            "residual_sd": math.sqrt(s2) if s2 == s2 else None,
            "n_flagged": sum(r["flag_outlier"] for r in rows),
            "warnings": warn,
            "annotators": rows,
        }
    )


def under_reporting(
    table: pd.DataFrame,
    *,
    error_flag_question: str = "has_factual_error",
    pool: str = "crowd",
    expert_pool: str = "expert",
    pool_column: str = "pool",
    treated: str = "assertive",
    control: str = "hedged",
    rng: np.random.Generator,
    n_bootstrap: int = 1000,
    alpha: float = 0.05,
) -> dict[str, Any]:
    """Hosking's delta: item error rate (majority rule) of the pool minus the expert's, by tone.

    ER = share of units whose labels are > 1/2 "error" (the same rule on both sides,
    methods.md A1); delta = ER_pool - ER_expert on units rated by both pools, with a
    prompt-cluster bootstrap CI; flag ``under_reporting`` when delta <= -0.10 and the CI
    excludes 0 (methods.md A5).
    """
    from analysis.metrics.bias import _question_rows

    df, warn = _question_rows(table, error_flag_question, "binary", [pool_column])
    df = df.loc[df[pool_column].isin([pool, expert_pool])].copy()
    if "tone" not in df.columns:
        df["tone"] = None
    item = df.groupby(["unit_id", pool_column]).agg(
        share=("y", "mean"), prompt=("prompt_id", "first"), tone=("tone", "first")
    )
    wide = item["share"].unstack(pool_column)
    if pool not in wide.columns or expert_pool not in wide.columns:
        return {"defined": False, "reason": "both pools needed"}
    wide = wide.dropna()
    meta = item.reset_index().drop_duplicates("unit_id").set_index("unit_id").loc[wide.index]
    out: dict[str, Any] = {
        "defined": True,
        "reason": None,
        "n_units": len(wide),
        "n_annotators": int(df["annotator_id"].nunique()),
        "computed": f"item error rate (majority rule) {pool} - {expert_pool}, by tone",
        "rule": "unit flagged if share of flags > 1/2",
        "by_tone": {},
    }
    tones = [t for t in (treated, control) if "tone" in meta.columns and (meta["tone"] == t).any()]
    groups = {t: meta["tone"] == t for t in tones} or {"all": pd.Series(True, index=meta.index)}
    if tones:
        groups["all"] = pd.Series(True, index=meta.index)
    for name, mask in groups.items():
        w_sub = wide.loc[mask.to_numpy()]
        if len(w_sub) < MIN_UNITS:
            out["by_tone"][name] = {"estimate": None, "reason": f"only {len(w_sub)} shared units"}
            continue
        d = (w_sub[pool] > 0.5).astype(float).to_numpy() - (w_sub[expert_pool] > 0.5).astype(
            float
        ).to_numpy()
        prompts = pd.factorize(meta.loc[mask.to_numpy(), "prompt"].astype(str))[0]
        n_p = prompts.max() + 1
        mp = rng.multinomial(n_p, np.full(n_p, 1 / n_p), size=n_bootstrap).astype(float)[:, prompts]
        reps = (mp @ d) / mp.sum(1)
        lo, hi = _ci(reps, alpha)
        est = float(d.mean())
        out["by_tone"][name] = {
            "estimate": est,
            "ci_low": lo,
            "ci_high": hi,
            "pool_rate": _f((w_sub[pool] > 0.5).mean()),
            "expert_rate": _f((w_sub[expert_pool] > 0.5).mean()),
            "n_units": len(w_sub),
            "flag_under_reporting": bool(est <= -0.10 and hi is not None and hi < 0),
        }
    out["warnings"] = warn
    return to_jsonable(out)


def _pick(check: Mapping[str, Any] | None, *keys: str) -> dict[str, Any]:
    if not check:
        return {"estimate": None, "reason": "not computed"}
    return {
        k: check.get(k)
        for k in ("estimate", "ci_low", "ci_high", "p_value", "flagged", "reason", *keys)
    }


def bias_indices(
    table: pd.DataFrame,
    questions: Mapping[str, str],
    *,
    rng_seed: int = 0,
    crowd_pool: str = "crowd",
    expert_pool: str = "expert",
    pool_column: str = "pool",
    bias_section: Mapping[str, Any] | None = None,
    n_bootstrap: int = 1000,
    alpha: float = 0.05,
    treated: str = "assertive",
    control: str = "hedged",
    include_blups: bool = True,
    two_way: str = "cgm",
) -> dict[str, Any]:
    """B5 bias indices per pool, side by side: leniency, under-reporting, tone premium,
    detection gap, length and position bias.

    Tone premium, detection gap, length and position indices are read from ``bias_section``
    (the output of :func:`analysis.metrics.bias.bias_report`) when given, else computed.
    """
    if bias_section is None:
        bias_section = bias_report(
            table,
            questions,
            pool_column=pool_column,
            seed=rng_seed,
            n_bootstrap=n_bootstrap,
            alpha=alpha,
            treated=treated,
            control=control,
            include_mixed_model=False,
            include_overall=False,
            two_way=two_way,
        )
    pools = sorted(bias_section.get("pools", {}))
    idx: dict[str, Any] = {}
    for p in pools:
        checks = bias_section["pools"][p]["checks"]
        entry: dict[str, Any] = {
            "tone_premium": _pick(checks.get("tone_premium_paired")),
            "detection_gap": _pick(checks.get("error_detection_by_tone")),
            "length_bias": _pick(checks.get("length_bias")),
            "position_bias": _pick(checks.get("position_bias"), "tie_rate"),
        }
        if "quality" in questions and p != expert_pool:
            entry["leniency_msd"] = _pick(
                leniency_msd(
                    table,
                    quality_question=questions["quality"],
                    pool=p,
                    expert_pool=expert_pool,
                    pool_column=pool_column,
                    rng=stable_rng(rng_seed, p, "leniency"),
                    n_bootstrap=n_bootstrap,
                    alpha=alpha,
                    two_way=two_way,
                )
            )
        elif p == expert_pool:
            entry["leniency_msd"] = {"estimate": None, "reason": "reference pool"}
        if "error_flag" in questions and p != expert_pool:
            entry["under_reporting"] = under_reporting(
                table,
                error_flag_question=questions["error_flag"],
                pool=p,
                expert_pool=expert_pool,
                pool_column=pool_column,
                treated=treated,
                control=control,
                rng=stable_rng(rng_seed, p, "under_reporting"),
                n_bootstrap=n_bootstrap,
                alpha=alpha,
            )
        if include_blups and "quality" in questions:
            entry["annotator_leniency_blups"] = annotator_leniency_blups(
                table, quality_question=questions["quality"], pool=p, pool_column=pool_column
            )
        idx[p] = entry
    return to_jsonable(
        {
            "computed": "methods.md B5 indices per pool (each with its CI)",
            "pools": idx,
        }
    )


# --------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------


def expert_vs_crowd_report(
    table: pd.DataFrame,
    questions: Mapping[str, str] | None = None,
    *,
    pool_column: str = "pool",
    crowd_pool: str = "crowd",
    expert_pool: str = "expert",
    seed: int = 0,
    n_bootstrap: int = 1000,
    alpha: float = 0.05,
    specs: Mapping[str, Mapping[str, Any]] | None = None,
    bias_section: Mapping[str, Any] | None = None,
    min_expert_labels: int = 2,
    n_min_annotator: int = N_MIN_ANNOTATOR,
    max_k: int | None = None,
    include_injected_reference: bool = True,
    include_blups: bool = True,
    two_way: str = "cgm",
) -> dict[str, Any]:
    """The report's ``"expert_vs_crowd"`` section (methods.md spec B).

    Parameters
    ----------
    table : pandas.DataFrame
        Long annotation table with a pool column.
    questions : mapping, optional
        Role -> question key (roles as in :func:`analysis.metrics.bias.bias_report`).
    pool_column, crowd_pool, expert_pool : str
    seed : int
        Each block draws from its own :func:`stable_rng` stream.
    n_bootstrap : int
    alpha : float
    specs : mapping, optional
        Role -> question spec (level/order/type/binary); defaults :data:`DEFAULT_SPECS`.
    bias_section : mapping, optional
        A finished "bias" section to read tone/length/position indices from (saves time).
    min_expert_labels : int
        Expert labels needed for an expert consensus.
    n_min_annotator : int
        Reference items needed for per-annotator accuracy.
    max_k : int, optional
        Largest crowd size in the curve.
    include_injected_reference : bool
        For the error flag, also give the crowd-size curve against the design's known
        errors (n_known_errors > 0) when the column exists.
    include_blups : bool
        Per-annotator empirical-Bayes leniency intercepts.
    two_way : {"cgm", "pigeonhole"}
        Two-way cluster interval method (:func:`analysis.metrics.bias._cluster_ci`).

    Returns
    -------
    dict
        JSON-serialisable; structure in docs/bias-methods.md ("expert_vs_crowd" schema).
    """
    questions = dict(DEFAULT_QUESTIONS if questions is None else questions)
    unknown = set(questions) - set(DEFAULT_QUESTIONS)
    if unknown:
        raise ValueError(f"unknown question roles {sorted(unknown)}")
    if pool_column not in table.columns:
        raise ValueError(f"table needs a {pool_column!r} column")
    if not 0 < alpha < 1:
        raise ValueError("alpha must be in (0, 1)")
    specs = {**DEFAULT_SPECS, **(specs or {})}
    present_pools = set(table[pool_column].dropna().astype(str))
    present_q = set(table["question"].unique())
    report: dict[str, Any] = {
        "section": "expert_vs_crowd",
        "schema_version": 1,
        "parameters": {
            "questions": questions,
            "pool_column": pool_column,
            "crowd_pool": crowd_pool,
            "expert_pool": expert_pool,
            "seed": seed,
            "n_bootstrap": n_bootstrap,
            "alpha": alpha,
            "min_expert_labels": min_expert_labels,
            "n_min_annotator": n_min_annotator,
            "two_way": two_way,
        },
        "caveat_dawid_skene": DS_CAVEAT,
        "questions": {},
    }
    if crowd_pool not in present_pools or expert_pool not in present_pools:
        report["defined"] = False
        report["reason"] = (
            f"needs both pools {crowd_pool!r} and {expert_pool!r}; found {sorted(present_pools)}"
        )
        return to_jsonable(report)
    report["defined"] = True
    report["reason"] = None
    for role, qkey in questions.items():
        if qkey not in present_q:
            report["questions"][role] = {"question": qkey, "defined": False, "reason": "no ratings"}
            continue
        spec = specs[role]
        block: dict[str, Any] = {"question": qkey, "spec": dict(spec), "defined": True}
        block["within_pool"] = within_pool_agreement(
            table,
            question=qkey,
            spec=spec,
            rng=stable_rng(seed, role, "within"),
            n_bootstrap=n_bootstrap,
            alpha=alpha,
            pool_column=pool_column,
        )
        block["cross_pool"] = cross_pool_agreement(
            table,
            question=qkey,
            spec=spec,
            rng=stable_rng(seed, role, "cross"),
            crowd_pool=crowd_pool,
            expert_pool=expert_pool,
            pool_column=pool_column,
            n_bootstrap=n_bootstrap,
            alpha=alpha,
            min_expert_labels=min_expert_labels,
        )
        if spec.get("level") == "nominal":
            common = {
                "question": qkey,
                "spec": spec,
                "pool_column": pool_column,
                "expert_pool": expert_pool,
                "min_expert_labels": min_expert_labels,
            }
            block["crowd_size_curve"] = majority_of_k_curve(
                table,
                rng=stable_rng(seed, role, "curve"),
                crowd_pool=crowd_pool,
                max_k=max_k,
                n_bootstrap=n_bootstrap,
                alpha=alpha,
                two_way=two_way,
                **common,
            )
            block["annotator_accuracy"] = annotator_accuracy(
                table, pool=crowd_pool, n_min=n_min_annotator, alpha=alpha, **common
            )
            block["dawid_skene"] = dawid_skene_validation(
                table, crowd_pool=crowd_pool, n_min=n_min_annotator, **common
            )
            if (
                role == "error_flag"
                and include_injected_reference
                and "n_known_errors" in table.columns
            ):
                rows = table.loc[(table["question"] == qkey) & table["n_known_errors"].notna()]
                injected = (
                    rows.groupby("unit_id")["n_known_errors"]
                    .first()
                    .astype(float)
                    .gt(0)
                    .astype(int)
                )
                block["crowd_size_curve_injected"] = majority_of_k_curve(
                    table,
                    rng=stable_rng(seed, role, "curve_injected"),
                    crowd_pool=crowd_pool,
                    reference=injected,
                    max_k=max_k,
                    n_bootstrap=n_bootstrap,
                    alpha=alpha,
                    two_way=two_way,
                    **common,
                )
                block["crowd_size_curve_injected"]["reference"] = "design n_known_errors > 0"
        report["questions"][role] = block
    report["bias_indices"] = bias_indices(
        table,
        {r: q for r, q in questions.items() if q in present_q},
        rng_seed=seed,
        crowd_pool=crowd_pool,
        expert_pool=expert_pool,
        pool_column=pool_column,
        bias_section=bias_section,
        n_bootstrap=n_bootstrap,
        alpha=alpha,
        include_blups=include_blups,
        two_way=two_way,
    )
    return to_jsonable(report)
