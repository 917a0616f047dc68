"""B1: agreement within each pool -- Krippendorff's alpha and Gwet's AC1 with unit-bootstrap
intervals, percent agreement and label prevalence.

References
----------
Krippendorff, K. (2011). Computing Krippendorff's Alpha-Reliability.
Gwet, K. L. (2008). Computing inter-rater reliability and its variance in the presence of
    high agreement. Br. J. Math. Stat. Psychol. 61:29-48.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from analysis.metrics import agreement
from analysis.metrics.bias.common import _f, to_jsonable
from analysis.metrics.expert_vs_crowd.common import _ci, _label, encode_pool_labels


def _band(alpha_value: float | None) -> str | None:
    if alpha_value is None:
        return None
    if alpha_value >= 0.8:
        return "reliable (alpha >= 0.8)"
    if alpha_value >= 0.667:
        return "tentative (0.667 <= alpha < 0.8)"
    return "unreliable (alpha < 0.667)"


# Cells (replicates x units x categories) per block of the AC1 bootstrap.
_AC1_BLOCK_CELLS = 4_000_000


def _ac1_replicates(counts: np.ndarray, q: int, idx: np.ndarray) -> np.ndarray:
    """AC1 of every resample ``counts[idx[b]]`` at once, when every unit is pairable.

    The same arithmetic as :func:`agreement.gwet_ac1` in the same order -- each unit's
    agreement and category shares once, then per replicate the mean of its units'
    agreement along a contiguous row (numpy's pairwise sum, as for the 1-d mean) and the
    shares summed unit after unit -- so every replicate is the loop's to the last bit
    (tested), in a fraction of the time.
    """
    m = counts.sum(axis=1)
    per_unit = (counts * (counts - 1.0)).sum(axis=1) / (m * (m - 1.0))
    unit_shares = counts / m[:, None]
    n_boot, n = idx.shape
    out = np.empty(n_boot)
    block = max(1, _AC1_BLOCK_CELLS // max(n * counts.shape[1], 1))
    for s in range(0, n_boot, block):
        rows = idx[s : s + block]
        observed = per_unit[rows].mean(axis=1)
        shares = unit_shares[rows].sum(axis=1) / n
        chance = (shares * (1.0 - shares)).sum(axis=1) / (q - 1)
        out[s : s + block] = (observed - chance) / (1.0 - chance)
    return out


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
    if (counts.sum(axis=1) >= 2).all():
        reps = _ac1_replicates(counts, q, idx)
    else:
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
