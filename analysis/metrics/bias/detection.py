"""A1: error detection by tone -- hit and false-alarm rates, d' and criterion per tone.

References
----------
Hautus, M. J. (1995). Corrections for extreme proportions and their biasing effects on
    estimated values of d'. Behavior Research Methods 27:46-51.
Macmillan, N. A. & Creelman, C. D. (2005). Detection Theory: A User's Guide (2nd ed.).
Hosking, T., Blunsom, P. & Bartolo, M. (2024). Human Feedback is not Gold Standard. ICLR.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from analysis.metrics.bias import wording
from analysis.metrics.bias.bootstrap import _cluster_ci, _Clusters, _invalid_warning
from analysis.metrics.bias.checks import Check, CheckContext
from analysis.metrics.bias.common import (
    MIN_POSITIVE_OUTPUTS,
    MIN_POSITIVE_OUTPUTS_WARN,
    Undefined,
    _counts,
    _f,
    _not_defined,
    _question_rows,
    _result,
    _validate_common,
)

CHECK = "error_detection_by_tone"
# Columns of the derived statistic: per tone (treated, then control) HR, FA, d', c; then
# the gaps control - treated of HR, d', c and FA.
_GAP_HR, _GAP_D, _GAP_C, _GAP_FA = 8, 9, 10, 11
_UNIT, _SIGNED = (0.0, 1.0), (-1.0, 1.0)
_BOUNDS = [_UNIT, _UNIT, None, None, _UNIT, _UNIT, None, None, _SIGNED, None, None, _SIGNED]


@dataclass(frozen=True)
class DetectionRows:
    """The ratings the check uses and what it knows about them before estimating."""

    df: pd.DataFrame
    warn: list[str]
    out_col: str
    pos_out: dict[str, int]
    neg_out: dict[str, int]
    counts: dict[str, int]


@dataclass(frozen=True)
class Detection:
    """The numbers of the check (``obs`` columns as in ``_BOUNDS``), their intervals, the
    randomization test of the hit-rate gap, and the per-tone blocks."""

    obs: np.ndarray
    ci: dict[int, tuple[float | None, float | None]]
    level: float
    ci_method: str
    p_gap: float | None
    strata_cols: list[str]
    by_tone: dict[str, dict[str, Any]]
    pos_out: dict[str, int]


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
    """Per-rating hit rate on known-error outputs and false-alarm rate on clean ones, by tone.

    The reference is the design's ``n_known_errors`` (z = 1 if > 0). Per tone t:
    HR_t = sum_{r: z=1} y_r / N_{z=1}, FA_t = sum_{r: z=0} y_r / N_{z=0}, d' and c with the
    log-linear correction. The tone detection gap is Delta HR = HR_control - HR_treated
    (positive = the treated tone hides errors), with Delta d' and Delta c (methods.md A1).

    Parameters
    ----------
    table : pandas.DataFrame
        Long annotation table with tone and n_known_errors.
    rng : numpy.random.Generator
    error_flag_question : str
        Binary question key (1 = rater says the output has a factual error).
    treated, control : str
        Tone labels.
    n_bootstrap, n_permutations : int
    alpha : float
    two_way : {"cgm", "pigeonhole"}
        Two-way interval method (:func:`_cluster_ci`); "cgm" by default.
    label : str
        Who rated, e.g. "crowd raters", used in the verdict.

    Returns
    -------
    dict
        Common check keys (estimate = Delta HR) plus by_tone (HR, FA, miss rate, d', c
        with CIs, N1, N0, positive/negative outputs, item-level majority and any-flag recall,
        majority precision), d_prime_gap, criterion_gap, flags (methods.md A5).

    Notes
    -----
    CIs: two-way (prompt x annotator) clustered, see :func:`_cluster_ci`. Test of Delta HR:
    tone labels of known-error outputs are permuted within prompt and matched content
    (prompt x system x error count when those columns exist) -- the randomization of
    methods.md A1 -- and p = (1 + #{|D*| >= |D|}) / (B + 1).
    Per-rating rates are primary; aggregating flags by majority first hides the effect
    (methods.md s8), so item-level rates are descriptive only and name their rule.
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
    est = _estimate(rows, treated, control, rng, n_bootstrap, n_permutations, 1 - alpha, two_way)
    return _shaped(est, rows, computed, n_permutations, (label, treated, control))


def _shaped(
    est: Detection,
    rows: DetectionRows,
    computed: str,
    n_permutations: int,
    verdict: tuple[str, str, str],
) -> dict[str, Any]:
    """The check's result: numbers, flags and the verdict (who rated, treated, control)."""
    return _result(
        CHECK,
        computed,
        estimate=est.obs[_GAP_HR],
        ci=est.ci[_GAP_HR],
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
        flags=_flags(est),
        reference="design n_known_errors > 0 (injected/known errors)",
        by_tone=est.by_tone,
        d_prime_gap=_gap(est, _GAP_D),
        criterion_gap=_gap(est, _GAP_C),
        false_alarm_gap=_gap(est, _GAP_FA),
    )


def _gap(est: Detection, j: int) -> dict[str, float | None]:
    return {"estimate": _f(est.obs[j]), "ci_low": est.ci[j][0], "ci_high": est.ci[j][1]}


def _detection_rows(
    table: pd.DataFrame, question: str, treated: str, control: str
) -> DetectionRows:
    df, warn = _question_rows(table, question, "binary", ["tone", "n_known_errors"])
    df = df.loc[df["tone"].isin([treated, control]) & df["n_known_errors"].notna()].copy()
    if df.empty:
        raise Undefined(f"no {question!r} ratings with tone and known errors")
    df["_z"] = df["n_known_errors"].astype(float) > 0
    out_col = "output_id" if "output_id" in df.columns else "unit_id"
    pos_out = {
        t: df.loc[df["_z"] & (df["tone"] == t), out_col].nunique() for t in (treated, control)
    }
    neg_out = {
        t: df.loc[~df["_z"] & (df["tone"] == t), out_col].nunique() for t in (treated, control)
    }
    counts = _counts(df)
    if min(pos_out.values()) < MIN_POSITIVE_OUTPUTS:
        raise Undefined(
            f"too few known-error outputs per tone ({pos_out}; need >= {MIN_POSITIVE_OUTPUTS})",
            flags=["insufficient_data"],
            **counts,
        )
    if min(pos_out.values()) < MIN_POSITIVE_OUTPUTS_WARN:
        warn.append(
            f"fewer than {MIN_POSITIVE_OUTPUTS_WARN} known-error outputs per tone arm ({pos_out}); "
            "methods.md A5: detecting HR 0.25 vs 0.13 needs ~167 per arm"
        )
    ratings_per_output = df.groupby(out_col).size()
    if ratings_per_output.median() < 2:
        warn.append("fewer than 2 ratings per output: item-level rates are degenerate")
    return DetectionRows(df, warn, out_col, pos_out, neg_out, counts)


def _estimate(
    rows: DetectionRows,
    treated: str,
    control: str,
    rng: np.random.Generator,
    n_bootstrap: int,
    n_permutations: int,
    level: float,
    two_way: str,
) -> Detection:
    """Rates and gaps with clustered intervals, then the randomization test; appends to
    ``rows.warn``."""
    df, warn = rows.df, rows.warn
    clusters = _Clusters(df)
    warn += clusters.warnings
    y = df["y"].to_numpy()
    z = df["_z"].to_numpy()
    is_t = (df["tone"] == treated).to_numpy()
    cols = []
    for tone_mask in (is_t, ~is_t):
        cols += [
            y * (z & tone_mask),
            1.0 * (z & tone_mask),
            y * (~z & tone_mask),
            1.0 * (~z & tone_mask),
        ]
    x = np.column_stack(cols)
    with np.errstate(divide="ignore", invalid="ignore"):
        obs = _derive(x.sum(axis=0)[None, :])[0]
    ci_res = _cluster_ci(
        lambda w, mp: _derive(w @ x), obs, clusters, rng, n_bootstrap, level, two_way, _BOUNDS
    )
    ci = {j: ci_res.pair(j) for j in range(obs.size)}
    warn += _invalid_warning(ci_res.invalid, "detection rates")
    p_gap, strata_cols = _randomization_p(rows, treated, rng, n_permutations, obs[_GAP_HR])
    item = df.groupby(rows.out_col).agg(
        share=("y", "mean"), any=("y", "max"), z=("_z", "first"), tone=("tone", "first")
    )
    item["majority"] = item["share"] > 0.5
    by_tone = {
        t: _tone_block(rows, item, obs, ci, t, mask, j0)
        for t, mask, j0 in ((treated, is_t, 0), (control, ~is_t, 4))
    }
    return Detection(obs, ci, level, ci_res.method, p_gap, strata_cols, by_tone, rows.pos_out)


def _derive(s: np.ndarray) -> np.ndarray:
    """Counts (b x 8: hits, N1, false alarms, N0 per tone) -> b x 12: HR_t, FA_t, d'_t,
    c_t, HR_c, FA_c, d'_c, c_c, and the gaps control - treated of HR, d', c and FA."""
    hit_t, n1_t, fa_t, n0_t, hit_c, n1_c, fa_c, n0_c = s.T
    hr_t, far_t = hit_t / n1_t, fa_t / n0_t
    hr_c, far_c = hit_c / n1_c, fa_c / n0_c
    d_t, c_t = _loglinear_dprime(hit_t, n1_t, fa_t, n0_t)
    d_c, c_c = _loglinear_dprime(hit_c, n1_c, fa_c, n0_c)
    return np.column_stack(
        [
            hr_t,
            far_t,
            d_t,
            c_t,
            hr_c,
            far_c,
            d_c,
            c_c,
            hr_c - hr_t,
            d_c - d_t,
            c_c - c_t,
            far_c - far_t,
        ]
    )


def _randomization_p(
    rows: DetectionRows,
    treated: str,
    rng: np.random.Generator,
    n_permutations: int,
    gap_obs: float,
) -> tuple[float | None, list[str]]:
    """p of the hit-rate gap with tone labels of known-error outputs permuted within strata
    (prompt, system, error count where known), and the strata columns."""
    pos = rows.df.loc[rows.df["_z"]]
    strata_cols = [c for c in ("prompt_id", "system", "n_known_errors") if c in pos.columns]
    per_out = pos.groupby(rows.out_col).agg(
        hits=("y", "sum"),
        n=("y", "size"),
        treated=("tone", lambda s: s.iloc[0] == treated),
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
        rows.warn.append("no stratum holds both tones: no randomization test")
        return None, strata_cols
    exceed = np.sum(np.abs(gap_null) >= abs(gap_obs) - 1e-12)
    return float((1 + exceed) / (n_permutations + 1)), strata_cols


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
        "flags_uninformative": bool(
            ci[j0 + 2][0] is not None and ci[j0 + 2][0] <= 0 <= ci[j0 + 2][1]
        ),
        "item_level": _item_stats(item, t),
    }


def _flags(est: Detection) -> list[str]:
    """methods.md A5: too few known-error outputs; the treated tone hides errors (CI above
    0, or a gap of 0.10 or more as a warning); flags that do not beat chance (d' CI spans 0)."""
    flags: list[str] = []
    if min(est.pos_out.values()) < MIN_POSITIVE_OUTPUTS_WARN:
        flags.append("insufficient_data")
    lo, _ = est.ci[_GAP_HR]
    if lo is not None and lo > 0:
        flags.append("tone_masks_errors")
    elif est.obs[_GAP_HR] >= 0.10:
        flags.append("tone_masks_errors_warning")
    if any(b["flags_uninformative"] for b in est.by_tone.values()):
        flags.append("flags_uninformative")
    return flags


def _run(group: pd.DataFrame, ctx: CheckContext) -> dict[str, Any]:
    return error_detection_by_tone(
        group,
        rng=ctx.rng(CHECK),
        error_flag_question=ctx.questions["error_flag"],
        treated=ctx.treated,
        control=ctx.control,
        n_bootstrap=ctx.n_bootstrap,
        n_permutations=ctx.n_permutations,
        alpha=ctx.alpha,
        two_way=ctx.two_way,
        label=ctx.label,
    )


SPEC = Check(
    name=CHECK,
    roles=("error_flag",),
    columns=("tone", "n_known_errors"),
    run=_run,
    absent=("detection by tone", "no error-flag question or tone/error columns"),
)
