"""Agreement per subset, per annotator and per unit, for one question at a time.

Every function takes a :class:`~analysis.metrics.agreement.ReliabilityData` (the encoded
ratings of one question) and returns plain JSON-ready dicts. Randomness for bootstrap
intervals arrives as :class:`numpy.random.Generator` objects (directly, or from an
``rng_for(key)`` factory so that each subset's resamples do not depend on which other
subsets exist).

References
----------
.. [K2011] Krippendorff, K. (2011). *Computing Krippendorff's Alpha-Reliability*.
   University of Pennsylvania.
.. [L2013] Leys, C., Ley, C., Klein, O., Bernard, P., & Licata, L. (2013). Detecting
   outliers: Do not use standard deviation around the mean, use absolute deviation around
   the median. *Journal of Experimental Social Psychology*, 49(4), 764-766.
.. [H2013] Hovy, D., Berg-Kirkpatrick, T., Vaswani, A., & Hovy, E. (2013). Learning whom
   to trust with MACE. *NAACL-HLT*, 1120-1130 (annotator competence against the others).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from analysis.metrics.agreement import (
    ReliabilityData,
    cohen_kappa_pairs,
    distance_matrix,
    fleiss_kappa,
    gwet_ac1,
    json_label,
    krippendorff_alpha,
    label_key,
    percent_agreement,
)
from analysis.metrics.agreement.alpha import TOO_LARGE

# Keep the per-chunk "other raters' counts" block near 160 MB of float64 at most.
_LOO_CHUNK_CELLS = 20_000_000

# Consistency constant that turns a MAD into a standard-deviation estimate under
# normality (Leys et al. 2013).
_MAD_TO_SD = 1.4826
FLAG_MAD_MULTIPLIER = 2.0
MIN_POOL_SIZE_FOR_FLAGS = 3

FLAG_RULE = (
    "Within each pool, among annotators with at least min_annotator_items ratings that "
    "could be compared with a leave-one-out consensus: flag an annotator whose score is "
    f"worse than the pool median by more than {FLAG_MAD_MULTIPLIER:g} x 1.4826 x MAD "
    "(median absolute deviation; Leys et al. 2013). The score is the share of ratings "
    "equal to the majority of the other annotators for nominal questions (higher is "
    "better) and the mean absolute deviation from the other annotators' median (ordinal, "
    "in scale steps) or mean (interval/ratio, in answer units) otherwise (lower is "
    f"better). Pools with fewer than {MIN_POOL_SIZE_FOR_FLAGS} such annotators are not "
    "evaluated. With MAD = 0 any score worse than the median is flagged."
)


def _float_or_none(value: float) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def counts_summary(data: ReliabilityData, value_counts: np.ndarray | None = None) -> dict[str, Any]:
    """Descriptive counts of one question (or subset).

    Parameters
    ----------
    data : ReliabilityData
        Ratings.
    value_counts : numpy.ndarray, optional
        ``data.value_counts()`` if already computed.

    Returns
    -------
    dict
        Units, pairable units, annotators, ratings, ratings-per-unit range and each
        category's count and prevalence (share of all ratings).
    """
    counts = data.value_counts() if value_counts is None else value_counts
    per_unit = counts.sum(axis=1)
    per_category = counts.sum(axis=0)
    total = float(per_category.sum())
    return {
        "n_units": int(data.n_units),
        "n_pairable_units": int((per_unit >= 2).sum()),
        "n_annotators": int(data.n_annotators),
        "n_ratings": int(total),
        "ratings_per_unit": {
            "min": int(per_unit.min()) if len(per_unit) else None,
            "median": float(np.median(per_unit)) if len(per_unit) else None,
            "max": int(per_unit.max()) if len(per_unit) else None,
        },
        "categories": [
            {
                "label": json_label(label),
                "count": int(count),
                "prevalence": float(count / total) if total else None,
            }
            for label, count in zip(data.labels, per_category, strict=True)
        ],
    }


def coefficient_set(
    data: ReliabilityData,
    *,
    rng: np.random.Generator | None,
    n_bootstrap: int = 1000,
    thresholds: Sequence[float] = (0.667, 0.8),
    confidence_level: float = 0.95,
    min_shared_units: int = 10,
) -> dict[str, Any]:
    """All agreement coefficients of one question or subset.

    Parameters
    ----------
    data : ReliabilityData
        Ratings.
    rng : numpy.random.Generator or None
        Bootstrap randomness (``None`` only with ``n_bootstrap == 0``).
    n_bootstrap, thresholds, confidence_level
        See :func:`analysis.metrics.agreement.krippendorff_alpha`.
    min_shared_units : int
        Minimum co-rated units for a pairwise Cohen's kappa.

    Returns
    -------
    dict
        ``counts``, ``krippendorff_alpha`` (at the question's level, with bootstrap CI
        and ``p_below``), ``fleiss_kappa``, ``gwet_ac1``, ``percent_agreement`` (these
        three treat categories as nominal: exact-match agreement) and
        ``cohen_kappa_pairs``.
    """
    counts = data.value_counts()
    annotators = data.n_annotators
    return {
        "counts": counts_summary(data, counts),
        "krippendorff_alpha": krippendorff_alpha(
            counts,
            data.positions,
            data.level,
            n_bootstrap=n_bootstrap,
            rng=rng,
            thresholds=thresholds,
            confidence_level=confidence_level,
            n_annotators=annotators,
        ).to_dict(),
        "fleiss_kappa": fleiss_kappa(counts, n_annotators=annotators).to_dict(),
        "gwet_ac1": gwet_ac1(
            counts, n_categories=data.n_categories, n_annotators=annotators
        ).to_dict(),
        "percent_agreement": percent_agreement(counts, n_annotators=annotators).to_dict(),
        "cohen_kappa_pairs": cohen_kappa_pairs(data, min_shared_units=min_shared_units),
    }


def group_key(value: Any) -> str:
    """JSON object key of a group value: guideline version 2, 2.0 and "2" are all "2"."""
    try:
        return str(json_label(value))
    except ValueError:
        return str(value)


def breakdown(
    data: ReliabilityData,
    group_of_rating: np.ndarray,
    *,
    rng_for: Callable[[str], np.random.Generator],
    n_bootstrap: int = 1000,
    thresholds: Sequence[float] = (0.667, 0.8),
    confidence_level: float = 0.95,
    min_shared_units: int = 10,
) -> dict[str, Any]:
    """The coefficient set computed separately on each group of ratings.

    Parameters
    ----------
    data : ReliabilityData
        Ratings of one question.
    group_of_rating : numpy.ndarray
        Group value per rating (e.g. its annotator's pool, its guideline version or the
        judged system); ``None``/NaN ratings belong to no group.
    rng_for : callable
        ``rng_for(group_key)`` returns the generator for that group's bootstrap.
    n_bootstrap, thresholds, confidence_level, min_shared_units
        As in :func:`coefficient_set`.

    Returns
    -------
    dict
        ``n_ratings_without_group`` and ``groups``: group key (``str``) ->
        :func:`coefficient_set` of the ratings in that group, keys sorted.

    Raises
    ------
    ValueError
        If ``group_of_rating`` does not have one entry per rating.
    """
    groups = np.asarray(group_of_rating, dtype=object)
    if groups.shape != data.codes.shape:
        raise ValueError("group_of_rating needs one entry per rating")
    group_code, group_values = pd.factorize(pd.Series(groups, dtype=object))
    # Different raw values with one string form (1 and "1") form one group, as in the JSON.
    code_of_key: dict[str, list[int]] = {}
    for code, value in enumerate(group_values):
        code_of_key.setdefault(group_key(value), []).append(code)
    result: dict[str, Any] = {
        "n_ratings_without_group": int((group_code < 0).sum()),
        "groups": {},
    }
    for key in sorted(code_of_key):
        result["groups"][key] = coefficient_set(
            data.subset(np.isin(group_code, code_of_key[key])),
            rng=rng_for(key) if n_bootstrap else None,
            n_bootstrap=n_bootstrap,
            thresholds=thresholds,
            confidence_level=confidence_level,
            min_shared_units=min_shared_units,
        )
    return result


# ---------------------------------------------------------------------------------------
# Per annotator
# ---------------------------------------------------------------------------------------


def _others_counts(counts: np.ndarray, unit_index: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Each rating's unit counts with that rating itself removed (leave-one-out)."""
    others = counts[unit_index]
    others[np.arange(len(codes)), codes] -= 1.0
    return others


def _chunks(n_rows: int, n_columns: int) -> list[slice]:
    size = max(1, _LOO_CHUNK_CELLS // max(n_columns, 1))
    return [slice(start, start + size) for start in range(0, n_rows, size)]


def _consensus_per_rating(data: ReliabilityData, counts: np.ndarray) -> dict[str, np.ndarray]:
    """Compare every rating with the leave-one-out consensus of the unit's other ratings.

    Nominal: the other annotators' majority label; ties for the majority leave the rating
    uncompared (no consensus exists), which keeps the result order-independent.
    Ordinal: the other annotators' median rank (mean of the two middle ranks when their
    number is even). Interval/ratio: the other annotators' mean value.
    """
    unit, codes = data.unit_index, data.codes
    n_others = counts.sum(axis=1)[unit] - 1.0
    n_ratings, n_values = len(codes), data.n_categories
    compared = np.zeros(n_ratings, dtype=bool)
    agrees = np.zeros(n_ratings, dtype=bool)
    deviation = np.full(n_ratings, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        pairwise = np.where(n_others > 0, (counts[unit, codes] - 1.0) / n_others, np.nan)
    if data.level == "nominal":
        for window in _chunks(n_ratings, n_values):
            others = _others_counts(counts, unit[window], codes[window])
            top = others.max(axis=1)
            unique_top = (others == top[:, None]).sum(axis=1) == 1
            compared[window] = (n_others[window] > 0) & unique_top
            agrees[window] = others.argmax(axis=1) == codes[window]
        agrees &= compared
        return {"compared": compared, "agrees": agrees, "pairwise": pairwise}
    if data.level == "ordinal":
        for window in _chunks(n_ratings, n_values):
            others = _others_counts(counts, unit[window], codes[window])
            cumulative = np.cumsum(others, axis=1)
            size = n_others[window]
            lower_rank = np.argmax(cumulative >= np.floor((size + 1) / 2)[:, None], axis=1)
            upper_rank = np.argmax(cumulative >= (np.floor(size / 2) + 1)[:, None], axis=1)
            median = (lower_rank + upper_rank) / 2.0
            deviation[window] = codes[window] - median
        compared = n_others > 0
    else:
        # Answers near the largest float overflow the sums: such a rating has no
        # deviation from its consensus and is not compared (a finite check, no warning).
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            sum_values = counts @ data.positions
            own = data.positions[codes]
            others_mean = (sum_values[unit] - own) / n_others
            deviation = own - others_mean
        compared = (n_others > 0) & np.isfinite(deviation)
    deviation = np.where(compared, deviation, np.nan)
    agrees = compared & (deviation == 0)
    return {"compared": compared, "agrees": agrees, "pairwise": pairwise, "deviation": deviation}


def _per_annotator_mean(
    annotator: np.ndarray, values: np.ndarray, include: np.ndarray, n_annotators: int
) -> np.ndarray:
    totals = np.bincount(annotator[include], weights=values[include], minlength=n_annotators)
    sizes = np.bincount(annotator[include], minlength=n_annotators)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sizes > 0, totals / sizes, np.nan)


def _flags(
    scores: np.ndarray,
    eligible: np.ndarray,
    pools: np.ndarray,
    higher_is_better: bool,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    flags: list[dict[str, Any]] = [
        {"flagged": None, "reason": "too few ratings compared with a consensus"} for _ in scores
    ]
    pool_stats: dict[str, Any] = {}
    for pool in sorted(set(pools.tolist())):
        members = np.flatnonzero((pools == pool) & eligible)
        if len(members) < MIN_POOL_SIZE_FOR_FLAGS:
            pool_stats[pool] = {
                "n_evaluated": len(members),
                "median": None,
                "mad": None,
                "cutoff": None,
                "reason": f"fewer than {MIN_POOL_SIZE_FOR_FLAGS} annotators could be evaluated",
            }
            for member in members:
                flags[member] = {"flagged": None, "reason": "pool too small to compare against"}
            continue
        median = float(np.median(scores[members]))
        mad = float(np.median(np.abs(scores[members] - median)))
        margin = FLAG_MAD_MULTIPLIER * _MAD_TO_SD * mad
        cutoff = median - margin if higher_is_better else median + margin
        pool_stats[pool] = {
            "n_evaluated": len(members),
            "median": median,
            "mad": mad,
            "cutoff": cutoff,
            "reason": None,
        }
        for member in members:
            worse = scores[member] < cutoff if higher_is_better else scores[member] > cutoff
            flags[member] = {"flagged": bool(worse), "reason": None}
    return flags, pool_stats


def annotator_agreement(
    data: ReliabilityData,
    *,
    pool_of_annotator: Mapping[str, str] | None = None,
    gold: Mapping[str, np.ndarray] | None = None,
    min_annotator_items: int = 10,
) -> dict[str, Any]:
    """Each annotator's agreement with the leave-one-out consensus of the others.

    Parameters
    ----------
    data : ReliabilityData
        Ratings of one question.
    pool_of_annotator : mapping, optional
        Annotator id -> pool; annotators without one are pooled as ``"all"``.
    gold : mapping, optional
        Output of :func:`gold_comparison` for the same ratings.
    min_annotator_items : int, default 10
        Compared ratings needed before an annotator is scored against the pool.

    Returns
    -------
    dict
        ``score`` (name of the flagging score), ``higher_is_better``, ``rule`` (text),
        ``pools`` (median, MAD and cutoff per pool) and ``annotators``: one dict per
        annotator (sorted by id) with ``n_items``, ``n_compared``, the consensus
        metrics, ``gold`` and ``flag``.

    Notes
    -----
    Agreement with the other annotators' consensus is the usual per-annotator quality
    signal when no gold answers exist (e.g. the competence baseline of [H2013]_); the
    robust outlier rule follows [L2013]_.
    """
    if min_annotator_items < 1:
        raise ValueError("min_annotator_items must be at least 1")
    per_rating = _consensus_per_rating(data, data.value_counts())
    annotator, n_annotators = data.annotator_index, data.n_annotators
    compared = per_rating["compared"]
    n_items = np.bincount(annotator, minlength=n_annotators)
    n_compared = np.bincount(annotator[compared], minlength=n_annotators)
    shares, score_name, higher_is_better = _annotator_scores(data, per_rating)
    scores = shares[score_name]
    pool_lookup = pool_of_annotator or {}
    pools = np.array(
        [str(pool_lookup.get(str(a)) or "all") for a in data.annotator_ids], dtype=object
    )
    eligible = (n_compared >= min_annotator_items) & np.isfinite(scores)
    flags, pool_stats = _flags(scores, eligible, pools, higher_is_better)

    gold_by_annotator = _gold_per_annotator(data, gold) if gold is not None else None
    annotators = []
    for index, annotator_id in enumerate(data.annotator_ids):
        entry: dict[str, Any] = {
            "annotator_id": str(annotator_id),
            "pool": pools[index],
            "n_items": int(n_items[index]),
            "n_compared": int(n_compared[index]),
        }
        for name, values in shares.items():
            entry[name] = _float_or_none(values[index])
        entry["gold"] = gold_by_annotator[index] if gold_by_annotator is not None else None
        entry["flag"] = flags[index]
        annotators.append(entry)
    consensus = {
        "nominal": "majority label of the other annotators (ratings with a tied majority "
        "are not compared)",
        "ordinal": "median rank of the other annotators; deviations in scale steps",
        "interval": "mean of the other annotators; deviations in answer units",
        "ratio": "mean of the other annotators; deviations in answer units",
    }[data.level]
    return {
        "consensus": consensus,
        "score": score_name,
        "higher_is_better": higher_is_better,
        "min_annotator_items": int(min_annotator_items),
        "rule": FLAG_RULE,
        "pools": pool_stats,
        "annotators": annotators,
    }


def _annotator_scores(
    data: ReliabilityData, per_rating: dict[str, np.ndarray]
) -> tuple[dict[str, np.ndarray], str, bool]:
    """Per annotator: share agreeing with the consensus, with each other annotator, and
    (ordered scales) mean absolute and signed deviation; the flagging score's name and
    whether higher is better."""
    annotator, n_annotators = data.annotator_index, data.n_annotators
    compared = per_rating["compared"]
    agree_share = _per_annotator_mean(
        annotator, per_rating["agrees"].astype(float), compared, n_annotators
    )
    pairwise = per_rating["pairwise"]
    pairwise_share = _per_annotator_mean(
        annotator, np.nan_to_num(pairwise), ~np.isnan(pairwise), n_annotators
    )
    shares = {
        "consensus_agreement": agree_share,
        "pairwise_agreement_with_others": pairwise_share,
    }
    if data.level == "nominal":
        return shares, "consensus_agreement", True
    deviation = np.nan_to_num(per_rating["deviation"])
    shares["mean_abs_deviation"] = _per_annotator_mean(
        annotator, np.abs(deviation), compared, n_annotators
    )
    shares["mean_signed_deviation"] = _per_annotator_mean(
        annotator, deviation, compared, n_annotators
    )
    return shares, "mean_abs_deviation", False


def gold_comparison(
    data: ReliabilityData, gold_value_of_rating: Sequence[Any]
) -> dict[str, np.ndarray]:
    """Compare ratings on gold units with the known answer.

    Parameters
    ----------
    data : ReliabilityData
        Ratings of one question.
    gold_value_of_rating : sequence
        Per rating, the known answer, or ``None``/NaN when the unit is not gold. For
        pairwise questions the known answer is the better system's name or ``"tie"``.

    Returns
    -------
    dict
        ``is_gold`` (bool per rating), ``correct`` (bool, exact label match) and
        ``abs_error`` (per rating, interval/ratio only, NaN elsewhere).

    Raises
    ------
    ValueError
        If the length does not match the ratings.
    """
    gold_values = pd.Series(gold_value_of_rating, dtype=object).reset_index(drop=True)
    if len(gold_values) != len(data.codes):
        raise ValueError("gold_value_of_rating needs one entry per rating")
    code_of_key = {label_key(label): code for code, label in enumerate(data.labels)}
    value_index, distinct_values = pd.factorize(gold_values)
    distinct_keys = [label_key(value) for value in distinct_values]
    # Gold answers outside the answer domain can never be matched: code -1.
    distinct_code = np.array([code_of_key.get(key, -1) for key in distinct_keys] + [-1])
    distinct_number = np.array(
        [float(key[1]) if key[0] in ("number", "bool") else np.nan for key in distinct_keys]
        + [np.nan]
    )
    is_gold = value_index >= 0
    gold_code = distinct_code[value_index]
    gold_number = distinct_number[value_index]
    correct = is_gold & (gold_code == data.codes)
    abs_error = np.full(len(gold_values), np.nan)
    if data.level in ("interval", "ratio"):
        abs_error = np.abs(data.positions[data.codes] - gold_number)
    return {"is_gold": is_gold, "correct": correct, "abs_error": abs_error}


def _gold_per_annotator(
    data: ReliabilityData, gold: Mapping[str, np.ndarray]
) -> list[dict[str, Any] | None]:
    is_gold = gold["is_gold"]
    annotator = data.annotator_index
    n_gold = np.bincount(annotator[is_gold], minlength=data.n_annotators)
    n_correct = np.bincount(annotator[gold["correct"]], minlength=data.n_annotators)
    has_error = is_gold & np.isfinite(gold["abs_error"])
    mean_error = _per_annotator_mean(
        annotator, np.nan_to_num(gold["abs_error"]), has_error, data.n_annotators
    )
    return [
        None
        if n_gold[index] == 0
        else {
            "n": int(n_gold[index]),
            "n_correct": int(n_correct[index]),
            "accuracy": float(n_correct[index] / n_gold[index]),
            "mean_abs_error": _float_or_none(mean_error[index]),
        }
        for index in range(data.n_annotators)
    ]


# ---------------------------------------------------------------------------------------
# Per unit
# ---------------------------------------------------------------------------------------


def unit_disagreement(data: ReliabilityData, *, top_n: int = 20) -> dict[str, Any]:
    """Disagreement score of every unit and the most contested units.

    Parameters
    ----------
    data : ReliabilityData
        Ratings of one question.
    top_n : int, default 20
        How many of the most contested units to list.

    Returns
    -------
    dict
        ``metric`` (description), ``expected_disagreement`` (``D_e`` of the whole
        question, or ``None`` without variation), ``n_units_scored``, ``summary`` (mean,
        median and max of the scores) and ``most_contested``: units sorted by
        decreasing disagreement (ties by unit id), each with its score, the score divided
        by ``D_e`` and the distribution of its ratings.

    Notes
    -----
    A unit's disagreement is the mean of Krippendorff's ``delta^2`` over ordered pairs of
    its ratings, ``sum_ck n_uc n_uk delta_ck / (m_u (m_u - 1))`` with the question's own
    metric ([K2011]_): for nominal data it is one minus the unit's pairwise agreement;
    for interval data twice the unit's sample variance. Divided by ``D_e`` it reads as
    "times the disagreement expected by chance" (1 = no better than chance).
    """
    if top_n < 0:
        raise ValueError("top_n must be non-negative")
    counts = data.value_counts()
    m = counts.sum(axis=1)
    pairable = np.flatnonzero(m >= 2)
    marginals = counts[pairable].sum(axis=0)
    n_pairable_values = marginals.sum()
    with np.errstate(over="ignore", invalid="ignore"):
        scores, expected_sum = _unit_scores(data, counts[pairable], m[pairable], marginals)
    if not (np.isfinite(scores).all() and np.isfinite(expected_sum)):
        # Squared differences of huge answers overflow: no unit can be scored.
        return _unscored(data.level)
    expected = (
        expected_sum / (n_pairable_values * (n_pairable_values - 1.0))
        if n_pairable_values >= 2 and expected_sum > 1e-12 * n_pairable_values**2
        else None
    )
    if expected is not None:
        expected_reason = None
    elif len(pairable) == 0:
        expected_reason = "no unit has two or more ratings"
    else:
        expected_reason = "no variation among ratings"
    order = np.lexsort((data.unit_ids[pairable].astype(str), -scores))[:top_n]
    contested = [
        _contested_unit(data, counts, pairable[position], float(scores[position]), expected)
        for position in order
    ]
    return {
        "metric": UNIT_METRICS[data.level],
        "expected_disagreement": _float_or_none(expected) if expected else None,
        "expected_disagreement_reason": expected_reason,
        "n_units_scored": len(pairable),
        "summary": {
            "mean": float(scores.mean()) if len(scores) else None,
            "median": float(np.median(scores)) if len(scores) else None,
            "max": float(scores.max()) if len(scores) else None,
        },
        "most_contested": contested,
    }


UNIT_METRICS = {
    "nominal": "1 - share of agreeing rating pairs within the unit",
    "ordinal": "mean squared ordinal distance between the unit's rating pairs",
    "interval": "mean squared difference between the unit's rating pairs (2 x variance)",
    "ratio": "mean squared ratio distance between the unit's rating pairs",
}


def _unscored(level: str) -> dict[str, Any]:
    """The units section when the answers are too large to square: nothing scored, and
    why (the rest of the question's report stands)."""
    return {
        "metric": UNIT_METRICS[level],
        "expected_disagreement": None,
        "expected_disagreement_reason": TOO_LARGE,
        "n_units_scored": 0,
        "summary": {"mean": None, "median": None, "max": None},
        "most_contested": [],
    }


def _unit_scores(
    data: ReliabilityData, sub: np.ndarray, mp: np.ndarray, marginals: np.ndarray
) -> tuple[np.ndarray, float]:
    """Each pairable unit's mean pair distance, and the sum behind the expected
    disagreement (see :func:`unit_disagreement`)."""
    n_pairable_values = marginals.sum()
    if data.level == "interval":
        centred = data.positions - (
            (marginals @ data.positions) / n_pairable_values if n_pairable_values else 0.0
        )
        sum_x = sub @ centred
        sum_x2 = sub @ centred**2
        scores = np.clip(2.0 * (mp * sum_x2 - sum_x**2), 0.0, None) / (mp * (mp - 1.0))
        total_x, total_x2 = marginals @ centred, marginals @ centred**2
        return scores, 2.0 * (n_pairable_values * total_x2 - total_x**2)
    distance = distance_matrix(data.positions, data.level, marginals)
    scores = ((sub @ distance) * sub).sum(axis=1) / (mp * (mp - 1.0))
    return scores, float(marginals @ distance @ marginals)


def _contested_unit(
    data: ReliabilityData, counts: np.ndarray, unit: int, score: float, expected: float | None
) -> dict[str, Any]:
    present = np.flatnonzero(counts[unit])
    return {
        "unit_id": str(data.unit_ids[unit]),
        "n_ratings": int(counts[unit].sum()),
        "disagreement": score,
        "disagreement_vs_chance": float(score / expected) if expected else None,
        "ratings": [
            {"label": json_label(data.labels[c]), "count": int(counts[unit, c])} for c in present
        ],
    }
