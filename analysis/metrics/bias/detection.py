"""A1: error detection by tone -- hit and false-alarm rates, d' and criterion for every
tone condition, the treated/control gap, and every pairwise contrast (Holm-adjusted).

References
----------
Hautus, M. J. (1995). Corrections for extreme proportions and their biasing effects on
    estimated values of d'. Behavior Research Methods 27:46-51.
Macmillan, N. A. & Creelman, C. D. (2005). Detection Theory: A User's Guide (2nd ed.).
Hosking, T., Blunsom, P. & Bartolo, M. (2024). Human Feedback is not Gold Standard. ICLR.
Holm, S. (1979). A simple sequentially rejective multiple test procedure. Scand. J. Stat. 6.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from analysis.metrics.bias import wording
from analysis.metrics.bias.bootstrap import (
    _CI,
    LinearStat,
    _cluster_ci,
    _Clusters,
    _invalid_warning,
)
from analysis.metrics.bias.checks import RANDOMIZED, Check
from analysis.metrics.bias.common import (
    MIN_POSITIVE_OUTPUTS,
    MIN_POSITIVE_OUTPUTS_WARN,
    Undefined,
    _counts,
    _f,
    _holm,
    _not_defined,
    _question_rows,
    _result,
    _validate_common,
)

CHECK = "error_detection_by_tone"
# Statistics of the bootstrap, in this order: per tone (in DetectionRows.tones order) HR,
# FA, d', c; then per pair (i < j) the gaps tone_j - tone_i of HR, d', c and FA. With the
# treated and control tones first, the first pair is the headline gap control - treated.
_PER_TONE, _PER_PAIR = 4, 4
_HR, _FA, _D, _C = 0, 1, 2, 3
_GAP_HR, _GAP_D, _GAP_C, _GAP_FA = 0, 1, 2, 3
_UNIT, _SIGNED = (0.0, 1.0), (-1.0, 1.0)


@dataclass(frozen=True)
class DetectionRows:
    """The ratings the check uses and what it knows about them before estimating.

    ``df`` holds the ratings of the tones with enough known-error outputs (``tones``, the
    treated and control tones first); ``skipped`` names every other tone with the reason.
    """

    df: pd.DataFrame
    warn: list[str]
    out_col: str
    tones: list[str]
    pos_out: dict[str, int]
    neg_out: dict[str, int]
    counts: dict[str, int]
    skipped: dict[str, str]
    headline: str | None
    headline_insufficient: bool = False


@dataclass(frozen=True)
class Detection:
    """The numbers of the check (``obs`` columns as described above), their intervals,
    the randomization tests of the hit-rate gaps, and the per-tone and pairwise blocks."""

    obs: np.ndarray
    ci: dict[int, tuple[float | None, float | None]]
    level: float
    ci_method: str
    p_gap: float | None
    strata_cols: list[str]
    by_tone: dict[str, dict[str, Any]]
    pos_out: dict[str, int]
    tones: list[str]
    contrasts: list[dict[str, Any]] = field(default_factory=list)
    circular: str | None = None

    def tone_col(self, i: int, measure: int) -> int:
        return _PER_TONE * i + measure

    def pair_col(self, i: int, j: int, gap: int) -> int:
        return _PER_TONE * len(self.tones) + _PER_PAIR * _pair_index(len(self.tones), i, j) + gap


def _pair_index(k: int, i: int, j: int) -> int:
    """Position of the pair (i, j), i < j, in ``combinations(range(k), 2)``."""
    return i * k - i * (i + 1) // 2 + (j - i - 1)


def _loglinear_dprime(
    hits: np.ndarray, n1: np.ndarray, fas: np.ndarray, n0: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """d' and criterion c with the Hautus (1995) log-linear correction.

    HR = (hits + 0.5)/(N1 + 1), FA = (fa + 0.5)/(N0 + 1); d' = z(HR) - z(FA),
    c = -(z(HR) + z(FA))/2 (Macmillan & Creelman 2005).
    """
    zh = stats.norm.ppf((hits + 0.5) / (n1 + 1.0))
    zf = stats.norm.ppf((fas + 0.5) / (n0 + 1.0))
    return zh - zf, -0.5 * (zh + zf)


def error_detection_by_tone(
    table: pd.DataFrame,
    *,
    rng: np.random.Generator,
    error_flag_question: str = "has_factual_error",
    treated: str = "assertive",
    control: str = "hedged",
    n_bootstrap: int = 1000,
    n_permutations: int = 5000,
    alpha: float = 0.05,
    two_way: str = "cgm",
    label: str = "raters",
) -> dict[str, Any]:
    """Per-rating hit rate on known-error outputs and false-alarm rate on clean ones, for
    every tone condition, with the treated/control gap as the headline.

    The reference is the design's ``n_known_errors`` (z = 1 if > 0). Per tone t:
    HR_t = sum_{r: z=1} y_r / N_{z=1}, FA_t = sum_{r: z=0} y_r / N_{z=0}, d' and c with the
    log-linear correction. The tone detection gap is Delta HR = HR_control - HR_treated
    (positive = the treated tone hides errors), with Delta d' and Delta c (methods.md A1).
    Every pair of tones is contrasted the same way, with Holm-adjusted p-values.

    Parameters
    ----------
    table : pandas.DataFrame
        Long annotation table with tone and n_known_errors.
    rng : numpy.random.Generator
    error_flag_question : str
        Binary question key (1 = rater says the output has a factual error).
    treated, control : str
        The tones of the headline gap.
    n_bootstrap, n_permutations : int
    alpha : float
    two_way : {"cgm", "pigeonhole"}
        Two-way interval method (:func:`_cluster_ci`); "cgm" by default.
    label : str
        Who rated, e.g. "crowd raters", used in the verdict.

    Returns
    -------
    dict
        Common check keys (estimate = Delta HR) plus tones, by_tone (for every tone: HR,
        FA, miss rate, d', c with CIs, N1, N0, positive/negative outputs, item-level
        majority and any-flag recall, majority precision; or why it has none), contrasts
        (every pair: gaps of HR, FA, d' and c with CIs, p-values and Holm-adjusted
        p-values), d_prime_gap, criterion_gap, false_alarm_gap, flags (methods.md A5).
        When the treated or control tone is missing or has too few known-error outputs,
        the headline is not defined but by_tone and contrasts are still given.

    Notes
    -----
    CIs: two-way (prompt x annotator) clustered, see :func:`_cluster_ci`, one bootstrap
    for all tones so that contrasts keep their covariance. Test of a hit-rate gap: tone
    labels of the two tones' known-error outputs are permuted within prompt and matched
    content (prompt x system x error count when those columns exist) -- the randomization
    of methods.md A1 -- and p = (1 + #{|D*| >= |D|}) / (B + 1); where no stratum holds
    both tones, the bootstrap's Wald p is used instead. False-alarm and d' gaps use the
    bootstrap's Wald p. Holm's step-down adjustment runs over the pairs, per measure.
    A tone with fewer than 5 known-error outputs is "insufficient data": it gets no rates
    and enters no contrast, so no effect is ever claimed on it. Between 5 and 29 the
    numbers come with the ``insufficient_data`` warning flag (methods.md A5); the
    clustered intervals carry the uncertainty of so few outputs.
    Per-rating rates are primary; aggregating flags by majority first hides the effect
    (methods.md s8), so item-level rates are descriptive only and name their rule.

    Longer than the house limit of 80 lines only by this documentation.
    """
    computed = (
        f"per-rating hit rate on known-error outputs, {control} minus {treated} "
        "(positive = errors in the treated tone are missed more)"
    )
    _validate_common(n_bootstrap, alpha, rng, two_way)
    try:
        rows = _detection_rows(table, error_flag_question, treated, control)
    except Undefined as undefined:
        return _not_defined(CHECK, computed, undefined.reason, **undefined.extra)
    est = _estimate(rows, rng, n_bootstrap, n_permutations, 1 - alpha, two_way)
    if rows.headline is not None:
        flags = ["insufficient_data"] if rows.headline_insufficient else []
        return _not_defined(
            CHECK,
            computed,
            rows.headline,
            flags=flags,
            **rows.counts,
            warnings=rows.warn,
            reference=REFERENCE,
            tones=est.tones,
            by_tone=est.by_tone,
            contrasts=est.contrasts,
        )
    return _shaped(est, rows, computed, n_permutations, alpha, (label, treated, control))


REFERENCE = "design n_known_errors > 0 (injected/known errors)"


def _insufficient(est: Detection, tones: Sequence[str]) -> bool:
    return min(est.pos_out[t] for t in tones) < MIN_POSITIVE_OUTPUTS_WARN


def _shaped(
    est: Detection,
    rows: DetectionRows,
    computed: str,
    n_permutations: int,
    alpha: float,
    verdict: tuple[str, str, str],
) -> dict[str, Any]:
    """The check's result: numbers, flags and the verdict (who rated, treated, control)."""
    head = est.pair_col(0, 1, _GAP_HR)
    extra: dict[str, Any] = {"flagged": False} if est.circular else {}
    if est.circular:
        extra["not_a_finding"] = est.circular
    return _result(
        CHECK,
        computed,
        estimate=est.obs[head],
        ci=est.ci[head],
        level=est.level,
        ci_method=est.ci_method,
        p_value=est.p_gap,
        test=(
            "randomization test: tone labels of known-error outputs permuted within "
            f"{' x '.join(est.strata_cols) or 'all outputs'}, B={n_permutations}"
        ),
        null_value=0.0,
        counts=rows.counts,
        verdict=wording.detection_verdict(est, *verdict),
        warnings_=rows.warn,
        flags=[] if est.circular else _flags(est, alpha),
        reference=REFERENCE,
        tones=est.tones,
        by_tone=est.by_tone,
        contrasts=est.contrasts,
        d_prime_gap=_gap(est, est.pair_col(0, 1, _GAP_D)),
        criterion_gap=_gap(est, est.pair_col(0, 1, _GAP_C)),
        false_alarm_gap=_gap(est, est.pair_col(0, 1, _GAP_FA)),
        **extra,
    )


def _gap(est: Detection, j: int) -> dict[str, float | None]:
    return {"estimate": _f(est.obs[j]), "ci_low": est.ci[j][0], "ci_high": est.ci[j][1]}


def _tone_order(present: Sequence[Any], treated: str, control: str) -> list[str]:
    """The treated and control tones first (when present), then the others by name."""
    names = {str(t) for t in present}
    head = [t for t in (treated, control) if t in names]
    return head + sorted(names - set(head))


def _named_counts(counts: dict[str, int], tones: Sequence[str]) -> str:
    return ", ".join(f"{t} {counts[t]}" for t in tones)


def _detection_rows(
    table: pd.DataFrame, question: str, treated: str, control: str
) -> DetectionRows:
    df, warn = _question_rows(table, question, "binary", ["tone", "n_known_errors"])
    df = df.loc[df["tone"].notna() & df["n_known_errors"].notna()].copy()
    if df.empty:
        raise Undefined(f"no answers to “{question}” on outputs with a tone and known errors")
    df["tone"] = df["tone"].astype(str)
    df["_z"] = df["n_known_errors"].astype(float) > 0
    out_col = "output_id" if "output_id" in df.columns else "unit_id"
    order = _tone_order(df["tone"].unique(), treated, control)
    pos_out = {t: df.loc[df["_z"] & (df["tone"] == t), out_col].nunique() for t in order}
    neg_out = {t: df.loc[~df["_z"] & (df["tone"] == t), out_col].nunique() for t in order}
    tones = [t for t in order if pos_out[t] >= MIN_POSITIVE_OUTPUTS]
    skipped = {
        t: (
            f"only {pos_out[t]} outputs with known errors in this tone "
            f"(need at least {MIN_POSITIVE_OUTPUTS})"
        )
        for t in order
        if t not in tones
    }
    counts = _counts(df)
    if not tones:
        raise Undefined(
            "too few outputs with known errors in every tone "
            f"({_named_counts(pos_out, order)}; need at least {MIN_POSITIVE_OUTPUTS} per tone)",
            flags=["insufficient_data"],
            **counts,
        )
    headline, headline_insufficient = _headline_reason(order, tones, pos_out, treated, control)
    df = df.loc[df["tone"].isin(tones)]
    pair = [t for t in (treated, control) if t in tones]
    if headline is None and min(pos_out[t] for t in pair) < MIN_POSITIVE_OUTPUTS_WARN:
        warn.append(
            f"fewer than {MIN_POSITIVE_OUTPUTS_WARN} known-error outputs per tone arm "
            f"({_named_counts(pos_out, pair)}); "
            "methods.md A5: detecting HR 0.25 vs 0.13 needs ~167 per arm"
        )
    ratings_per_output = df.groupby(out_col).size()
    if ratings_per_output.median() < 2:
        warn.append("fewer than 2 ratings per output: item-level rates are degenerate")
    return DetectionRows(
        df, warn, out_col, tones, pos_out, neg_out, counts, skipped, headline, headline_insufficient
    )


def _headline_reason(
    order: Sequence[str],
    tones: Sequence[str],
    pos_out: dict[str, int],
    treated: str,
    control: str,
) -> tuple[str | None, bool]:
    """Why the treated/control gap cannot be estimated (None when it can), and whether
    the reason is too few known-error outputs."""
    missing = [t for t in (treated, control) if t not in order]
    if missing:
        return (
            f"the tone {' and '.join(f'“{t}”' for t in missing)} is not in the data "
            f"(tones: {', '.join(sorted(order))}); choose the treated and control tones among them "
            "-- rates per tone and every pairwise contrast are still given"
        ), False
    few = [t for t in (treated, control) if t not in tones]
    if few:
        return (
            f"too few outputs with known errors in {_named_counts(pos_out, few)} "
            f"(need at least {MIN_POSITIVE_OUTPUTS} per tone)"
        ), True
    return None, False


def _estimate(
    rows: DetectionRows,
    rng: np.random.Generator,
    n_bootstrap: int,
    n_permutations: int,
    level: float,
    two_way: str,
) -> Detection:
    """Rates and gaps with clustered intervals, then the randomization tests; appends to
    ``rows.warn``."""
    df, warn, tones = rows.df, rows.warn, rows.tones
    k = len(tones)
    clusters = _Clusters(df)
    warn += clusters.warnings
    y = df["y"].to_numpy()
    z = df["_z"].to_numpy()
    tone = df["tone"].to_numpy()
    masks = [tone == t for t in tones]
    cols = []
    for tone_mask in masks:
        cols += [
            y * (z & tone_mask),
            1.0 * (z & tone_mask),
            y * (~z & tone_mask),
            1.0 * (~z & tone_mask),
        ]
    x = np.column_stack(cols)
    with np.errstate(divide="ignore", invalid="ignore"):
        obs = _derive(x.sum(axis=0)[None, :], k)[0]
    bounds = [_UNIT, _UNIT, None, None] * k + [_SIGNED, None, None, _SIGNED] * (k * (k - 1) // 2)
    stat = LinearStat(x, lambda sums, mp: _derive(sums, k))
    ci_res = _cluster_ci(stat, obs, clusters, rng, n_bootstrap, level, two_way, bounds)
    ci = {j: ci_res.pair(j) for j in range(obs.size)}
    warn += _invalid_warning(ci_res.invalid, "detection rates")
    item = df.groupby(rows.out_col).agg(
        share=("y", "mean"), any=("y", "max"), z=("_z", "first"), tone=("tone", "first")
    )
    item["majority"] = item["share"] > 0.5
    by_tone: dict[str, dict[str, Any]] = {
        t: _tone_block(rows, item, obs, ci, t, masks[i], _PER_TONE * i) for i, t in enumerate(tones)
    }
    by_tone.update({t: _skipped_block(rows, t, reason) for t, reason in rows.skipped.items()})
    est = Detection(obs, ci, level, ci_res.method, None, [], by_tone, rows.pos_out, list(tones))
    # The headline's randomization test draws first, so its p does not depend on how
    # many other tones there are.
    tests: dict[tuple[int, int], tuple[float | None, list[str]]] = {}
    pairs = list(combinations(range(k), 2))
    for i, j in pairs:
        tests[(i, j)] = _randomization_p(
            rows, tones[i], tones[j], rng, n_permutations, obs[est.pair_col(i, j, _GAP_HR)]
        )
    p_gap, strata = tests[(0, 1)] if rows.headline is None and pairs else (None, [])
    contrasts = _contrasts(est, ci_res, tests, 1 - level)
    return Detection(
        obs,
        ci,
        level,
        ci_res.method,
        p_gap,
        strata,
        by_tone,
        rows.pos_out,
        list(tones),
        contrasts,
        _circular(item),
    )


# Outputs a pool must have rated before its agreeing with the reference on every one of
# them is taken as the reference being made from its labels rather than as skill.
MIN_CIRCULAR_OUTPUTS = 20


def _circular(item: pd.DataFrame) -> str | None:
    """Why the reference looks made from these raters' own labels, or None.

    A reference built from a pool's labels (an expert's judgement used as the known
    errors, or a pool's majority) agrees with that pool's majority on every output; an
    independent reference does not, over many outputs. Checking a pool against its own
    labels is circular: its rates say nothing about how well it detects errors.
    """
    if len(item) < MIN_CIRCULAR_OUTPUTS or (item["share"] == 0.5).any():
        return None
    if not (item["majority"] == item["z"]).all():
        return None
    return (
        f"the known-error reference agrees with these raters' own majority label on every "
        f"one of their {len(item)} outputs: it appears to be made from their labels, and "
        "a check against one's own labels is not a finding"
    )


def _derive(s: np.ndarray, k: int) -> np.ndarray:
    """Counts (b x 4k: hits, N1, false alarms, N0 per tone) -> per tone HR, FA, d', c, then
    per pair (i < j) the gaps tone_j - tone_i of HR, d', c and FA.

    A tone without known-error (or clean) ratings has no d' or c: the log-linear
    correction would otherwise turn an empty arm into a rate of 1/2.
    """
    per_tone = []
    for i in range(k):
        hit, n1, fa, n0 = s[:, 4 * i : 4 * i + 4].T
        d, c = _loglinear_dprime(hit, n1, fa, n0)
        empty = (n1 == 0) | (n0 == 0)
        d = np.where(empty, np.nan, d)
        c = np.where(empty, np.nan, c)
        per_tone.append((hit / n1, fa / n0, d, c))
    cols = [v for block in per_tone for v in block]
    for i, j in combinations(range(k), 2):
        (hr_i, fa_i, d_i, c_i), (hr_j, fa_j, d_j, c_j) = per_tone[i], per_tone[j]
        cols += [hr_j - hr_i, d_j - d_i, c_j - c_i, fa_j - fa_i]
    return np.column_stack(cols)


def _randomization_p(
    rows: DetectionRows,
    first: str,
    second: str,
    rng: np.random.Generator,
    n_permutations: int,
    gap_obs: float,
) -> tuple[float | None, list[str]]:
    """p of the hit-rate gap (second - first) with the two tones' labels of known-error
    outputs permuted within strata (prompt, system, error count where known), and the
    strata columns; None when no stratum holds both tones."""
    df = rows.df
    pos = df.loc[df["_z"] & df["tone"].isin([first, second])]
    strata_cols = [c for c in ("prompt_id", "system", "n_known_errors") if c in pos.columns]
    per_out = pos.groupby(rows.out_col).agg(
        hits=("y", "sum"),
        n=("y", "size"),
        treated=("tone", lambda s: s.iloc[0] == first),
        **{f"_s{i}": (c, "first") for i, c in enumerate(strata_cols)},
    )
    s_cols = [f"_s{i}" for i in range(len(strata_cols))]
    strata = (
        per_out[s_cols].astype(str).groupby(s_cols, sort=True).ngroup().to_numpy()
        if s_cols
        else np.zeros(len(per_out), dtype=int)
    )
    order = np.argsort(strata, kind="stable")
    hits_o = per_out["hits"].to_numpy()[order]
    n_o = per_out["n"].to_numpy()[order].astype(float)
    lab_o = per_out["treated"].to_numpy()[order].astype(bool)
    strata_o = strata[order]
    gap_parts = []
    step = max(1, 2_000_000 // max(len(strata_o), 1))
    for s0 in range(0, n_permutations, step):
        b = min(step, n_permutations - s0)
        keys = strata_o[None, :] * 2.0 + rng.random((b, len(strata_o)))
        perm = np.argsort(keys, axis=1)
        # perm[b, j] is the output receiving the j-th label of the stratum-sorted labels.
        new_lab = np.empty_like(perm, dtype=bool)
        np.put_along_axis(new_lab, perm, np.broadcast_to(lab_o, perm.shape), axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            hr_t_null = (new_lab * hits_o).sum(1) / (new_lab * n_o).sum(1)
            hr_c_null = (~new_lab * hits_o).sum(1) / (~new_lab * n_o).sum(1)
        gap_parts.append(hr_c_null - hr_t_null)
    gap_null = np.concatenate(gap_parts) if gap_parts else np.empty(0)
    n_strata_mixed = pd.Series(lab_o).groupby(strata_o).nunique().gt(1).sum()
    if n_strata_mixed == 0:
        rows.warn.append(
            f"no stratum holds both “{first}” and “{second}” outputs with known errors: "
            "no randomization test of their hit-rate gap"
        )
        return None, strata_cols
    exceed = np.sum(np.abs(gap_null) >= abs(gap_obs) - 1e-12)
    return float((1 + exceed) / (n_permutations + 1)), strata_cols


def _contrasts(
    est: Detection,
    ci_res: _CI,
    tests: dict[tuple[int, int], tuple[float | None, list[str]]],
    alpha: float,
) -> list[dict[str, Any]]:
    """Every pair of tones: gaps (second - first) of HR, FA, d' and c with intervals,
    p-values and, per measure, Holm-adjusted p-values across the pairs."""
    tones = est.tones
    pairs = list(combinations(range(len(tones)), 2))
    measures = {
        "hit_rate_gap": _GAP_HR,
        "false_alarm_gap": _GAP_FA,
        "d_prime_gap": _GAP_D,
        "criterion_gap": _GAP_C,
    }
    blocks: list[dict[str, Any]] = []
    for i, j in pairs:
        block: dict[str, Any] = {
            "first": tones[i],
            "second": tones[j],
            "computed": f"{tones[j]} minus {tones[i]}",
            "insufficient_data": _insufficient(est, (tones[i], tones[j])),
        }
        for name, gap in measures.items():
            col = est.pair_col(i, j, gap)
            value = _f(est.obs[col])
            entry = {"estimate": value, "ci_low": est.ci[col][0], "ci_high": est.ci[col][1]}
            if name == "hit_rate_gap" and tests[(i, j)][0] is not None:
                entry["p_value"], entry["test"] = tests[(i, j)][0], "randomization"
            elif name != "criterion_gap":
                entry["p_value"], entry["test"] = ci_res.wald_p(col, value), "bootstrap wald"
            block[name] = entry
        blocks.append(block)
    for name in ("hit_rate_gap", "false_alarm_gap", "d_prime_gap"):
        adjusted = _holm([b[name].get("p_value") for b in blocks])
        for block, p in zip(blocks, adjusted, strict=True):
            block[name]["p_value_holm"] = p
    for block in blocks:
        p = block["hit_rate_gap"].get("p_value_holm")
        block["hit_rate_differs"] = bool(p is not None and p < alpha)
    return blocks


def _item_stats(item: pd.DataFrame, t: str) -> dict[str, Any]:
    """Item-level (aggregated) rates of one tone: descriptive, with their rule named."""
    it = item.loc[item["tone"] == t]
    posi = it.loc[it["z"]]
    flagged = it.loc[it["majority"]]
    return {
        "majority_recall": _f(posi["majority"].mean()) if len(posi) else None,
        "any_flag_recall": _f(posi["any"].mean()) if len(posi) else None,
        "majority_precision": _f(flagged["z"].mean()) if len(flagged) else None,
        "majority_flag_rate": _f(it["majority"].mean()) if len(it) else None,
        "reference_error_rate": _f(it["z"].mean()) if len(it) else None,
        "rule": "item flagged if share of flags > 1/2",
    }


def _tone_block(
    rows: DetectionRows,
    item: pd.DataFrame,
    obs: np.ndarray,
    ci: dict[int, tuple[float | None, float | None]],
    t: str,
    mask: np.ndarray,
    j0: int,
) -> dict[str, Any]:
    z = rows.df["_z"].to_numpy()
    hr, fa, dp, c = obs[j0 : j0 + 4]
    return {
        "defined": True,
        "hit_rate": _f(hr),
        "hit_rate_ci": [ci[j0][0], ci[j0][1]],
        "miss_rate": _f(1 - hr),
        "miss_rate_ci": [
            None if ci[j0][1] is None else 1 - ci[j0][1],
            None if ci[j0][0] is None else 1 - ci[j0][0],
        ],
        "false_alarm_rate": _f(fa),
        "false_alarm_rate_ci": [ci[j0 + 1][0], ci[j0 + 1][1]],
        "d_prime": _f(dp),
        "d_prime_ci": [ci[j0 + 2][0], ci[j0 + 2][1]],
        "criterion_c": _f(c),
        "criterion_c_ci": [ci[j0 + 3][0], ci[j0 + 3][1]],
        "n_ratings_known_error": int((mask & z).sum()),
        "n_ratings_clean": int((mask & ~z).sum()),
        "n_known_error_outputs": int(rows.pos_out[t]),
        "n_clean_outputs": int(rows.neg_out[t]),
        "insufficient_data": rows.pos_out[t] < MIN_POSITIVE_OUTPUTS_WARN,
        "flags_uninformative": bool(
            ci[j0 + 2][0] is not None and ci[j0 + 2][0] <= 0 <= ci[j0 + 2][1]
        ),
        "item_level": _item_stats(item, t),
    }


def _skipped_block(rows: DetectionRows, t: str, reason: str) -> dict[str, Any]:
    return {
        "defined": False,
        "reason": reason,
        "n_known_error_outputs": int(rows.pos_out[t]),
        "n_clean_outputs": int(rows.neg_out[t]),
        "insufficient_data": True,
    }


def _flags(est: Detection, alpha: float) -> list[str]:
    """methods.md A5: too few known-error outputs (a warning); the treated tone hides
    errors (CI above 0, or a gap of 0.10 or more as a warning); flags that do not beat
    chance (d' CI spans 0); some other pair of tones differs in hit rate after Holm's
    correction."""
    flags: list[str] = []
    if _insufficient(est, est.tones[:2]):
        flags.append("insufficient_data")
    head = est.pair_col(0, 1, _GAP_HR)
    lo, _ = est.ci[head]
    if lo is not None and lo > 0:
        flags.append("tone_masks_errors")
    elif est.obs[head] >= 0.10:
        flags.append("tone_masks_errors_warning")
    if any(est.by_tone[t]["flags_uninformative"] for t in est.tones[:2]):
        flags.append("flags_uninformative")
    if any(c["hit_rate_differs"] for c in est.contrasts[1:]):
        flags.append("detection_differs_between_tones")
    return flags


SPEC = Check(
    name=CHECK,
    estimate=error_detection_by_tone,
    questions={"error_flag_question": "error_flag"},
    columns=("tone", "n_known_errors"),
    settings=RANDOMIZED,
    absent=("detection by tone", "no error-flag question or tone/error columns"),
)
