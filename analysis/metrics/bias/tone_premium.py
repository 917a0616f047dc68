"""A2: the quality premium of the treated tone over matched control-tone variants.

References
----------
Hosking, T., Blunsom, P. & Bartolo, M. (2024). Human Feedback is not Gold Standard. ICLR.
Wu, M. & Aji, A. F. (2025). Style Over Substance. COLING.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse, stats

from analysis.metrics.bias import wording
from analysis.metrics.bias.bootstrap import (
    LinearStat,
    _cluster_ci,
    _Clusters,
    _group_sum_matrix,
    _invalid_warning,
    _wsum,
)
from analysis.metrics.bias.checks import RANDOMIZED, Check, CheckContext
from analysis.metrics.bias.common import (
    MIN_PAIRS,
    MIN_PAIRS_WARN,
    Undefined,
    _counts,
    _f,
    _not_defined,
    _question_rows,
    _result,
    _validate_common,
)

CHECK = "tone_premium_paired"
MASKING_COMPUTED = (
    "Delta(with errors) - Delta(error free); > 0 means the assertive tone helps wrong answers more"
)


@dataclass(frozen=True)
class PairedPremium:
    """The numbers of the check: Delta overall, with errors, error free and the masking
    index (in that order in ``obs`` and ``cis``); sign-flip p-values of the first three."""

    obs: np.ndarray
    cis: list[tuple[float | None, float | None]]
    p_values: list[float | None]
    pair_err: np.ndarray
    n_pairs: int
    level: float
    ci_method: str
    wilcoxon_p: float | None
    t_test_p: float | None
    effect_size_dz: float | None


def paired_tone_premium(
    table: pd.DataFrame,
    *,
    rng: np.random.Generator,
    quality_question: str = "quality",
    treated: str = "assertive",
    control: str = "hedged",
    match_on: Sequence[str] = ("prompt_id", "system"),
    n_bootstrap: int = 1000,
    n_permutations: int = 5000,
    alpha: float = 0.05,
    two_way: str = "cgm",
    label: str = "raters",
) -> dict[str, Any]:
    """Quality premium of the treated tone over matched control-tone variants.

    A pair is the set of outputs sharing ``match_on`` and the same ``n_known_errors``
    (so factual errors are held fixed); its difference is
    Delta_p = mean Q(treated outputs) - mean Q(control outputs), and the estimate is the mean
    of Delta_p over pairs (methods.md A2, matched design). Also reported: Delta by error
    status (with errors / error free) and the masking index M = Delta_{z=1} - Delta_{z=0}.

    Parameters
    ----------
    table : pandas.DataFrame
        Long annotation table (columns in the package docstring; needs tone, n_known_errors
        and the ``match_on`` columns).
    rng : numpy.random.Generator
        Randomness for the bootstrap and the randomization test.
    quality_question : str
        Question key of the Likert quality rating.
    treated, control : str
        Tone labels compared (treated minus control).
    match_on : sequence of str
        Columns that identify a content (variant group); ``n_known_errors`` is always added.
    n_bootstrap : int
        Two-way cluster bootstrap replicates (methods.md A1 uses 2000; 1000 is the report
        default).
    n_permutations : int
        Sign-flip randomization replicates.
    alpha : float
        1 - confidence level; also the test level.
    two_way : {"cgm", "pigeonhole"}
        Two-way interval method (:func:`_cluster_ci`); "cgm" by default.
    label : str
        Who rated, for the verdict ("crowd raters").

    Returns
    -------
    dict
        Common check keys plus n_pairs, by_error_status, masking_index, wilcoxon_p,
        t_test_p, effect_size_dz.

    Notes
    -----
    The CI is two-way clustered (:func:`_cluster_ci`): in each replicate ratings are
    reweighted by their cluster multiplicities and Delta-bar is recomputed, with pairs
    weighted by their prompt's multiplicity. The test flips the sign of each pair's Delta
    (the within-prompt randomization of tone labels in a matched design);
    p = (1 + #{|D*| >= |D|}) / (B + 1). The Wilcoxon signed-rank and paired t tests of
    methods.md A2 are reported alongside.
    """
    computed = (
        f"mean over matched pairs (same {', '.join(match_on)}, n_known_errors) of "
        f"mean quality({treated}) - mean quality({control}), in Likert points"
    )
    _validate_common(n_bootstrap, alpha, rng, two_way)
    try:
        df, warn, n_pairs = _matched_pairs(table, quality_question, treated, control, match_on)
    except Undefined as undefined:
        return _not_defined(CHECK, computed, undefined.reason, **undefined.extra)
    est = _estimate(
        df, warn, n_pairs, treated, rng, n_bootstrap, n_permutations, 1.0 - alpha, two_way
    )
    verdict = (label, treated, control)
    return _shaped(est, computed, _counts(df), warn, n_permutations, verdict)


def _shaped(
    est: PairedPremium,
    computed: str,
    counts: dict[str, int],
    warn: list[str],
    n_permutations: int,
    verdict: tuple[str, str, str],
) -> dict[str, Any]:
    """The check's result: numbers, flags and the verdict (who rated, treated, control)."""
    by_status = _by_error_status(est)
    masking = _masking_index(est)
    return _result(
        CHECK,
        computed,
        estimate=est.obs[0],
        ci=est.cis[0],
        level=est.level,
        ci_method=est.ci_method,
        p_value=est.p_values[0],
        test=(
            "sign-flip randomization of matched-pair differences (within prompt), "
            f"B={n_permutations}"
        ),
        null_value=0.0,
        counts=counts,
        verdict=wording.paired_premium_verdict(est, by_status, *verdict),
        warnings_=warn,
        flags=_flags(est, masking),
        n_pairs=est.n_pairs,
        by_error_status=by_status,
        masking_index=masking,
        wilcoxon_p=est.wilcoxon_p,
        t_test_p=est.t_test_p,
        effect_size_dz=est.effect_size_dz,
    )


def _matched_pairs(
    table: pd.DataFrame,
    quality_question: str,
    treated: str,
    control: str,
    match_on: Sequence[str],
) -> tuple[pd.DataFrame, list[str], int]:
    """The ratings of matched pairs (``_pair`` numbers them), warnings, and the pair count."""
    df, warn = _question_rows(
        table, quality_question, "numeric", ["tone", "n_known_errors", *match_on]
    )
    df = df.loc[df["tone"].isin([treated, control]) & df["n_known_errors"].notna()]
    if df.empty:
        raise Undefined(f"no answers to “{quality_question}” on {treated} or {control} outputs")
    df = df.copy()
    df["_err"] = df["n_known_errors"].astype(float)
    keys = [*match_on, "_err"]
    df["_pair"] = df[keys].astype(str).groupby(keys, sort=True).ngroup().to_numpy()
    has_both = df.groupby("_pair")["tone"].nunique() == 2
    df = df.loc[df["_pair"].map(has_both)]
    if df.empty:
        raise Undefined(f"no matched {treated}/{control} pairs", **_counts(df))
    df["_pair"], _ = pd.factorize(df["_pair"], sort=True)
    n_pairs = int(df["_pair"].max()) + 1
    if n_pairs < MIN_PAIRS:
        raise Undefined(
            f"only {n_pairs} matched pairs (need >= {MIN_PAIRS})", n_pairs=n_pairs, **_counts(df)
        )
    return df, warn, n_pairs


def _estimate(
    df: pd.DataFrame,
    warn: list[str],
    n_pairs: int,
    treated: str,
    rng: np.random.Generator,
    n_bootstrap: int,
    n_permutations: int,
    level: float,
    two_way: str,
) -> PairedPremium:
    """Point estimates, clustered intervals and the tests; appends to ``warn``."""
    clusters = _Clusters(df)
    warn += clusters.warnings
    if n_pairs < MIN_PAIRS_WARN:
        warn.append(f"only {n_pairs} matched pairs: the interval is rough")
    stat, obs_delta, obs, pair_err = _premium_statistic(df, clusters, n_pairs, treated)
    ci_res = _cluster_ci(stat, obs, clusters, rng, n_bootstrap, level, two_way)
    p_values = _sign_flip_p_values(obs_delta, pair_err, rng, n_permutations)
    warn += _invalid_warning(ci_res.invalid, "the tone premium")
    try:
        wilcoxon_p = float(stats.wilcoxon(obs_delta).pvalue)
    except ValueError:
        wilcoxon_p = None
    sd = float(np.std(obs_delta, ddof=1)) if n_pairs > 1 else float("nan")
    return PairedPremium(
        obs=obs,
        cis=[ci_res.pair(j) for j in range(4)],
        p_values=p_values,
        pair_err=pair_err,
        n_pairs=n_pairs,
        level=level,
        ci_method=ci_res.method,
        wilcoxon_p=wilcoxon_p,
        t_test_p=float(stats.ttest_1samp(obs_delta, 0.0).pvalue) if sd > 0 else None,
        effect_size_dz=obs[0] / sd if sd > 0 else None,
    )


def _premium_statistic(
    df: pd.DataFrame, clusters: _Clusters, n_pairs: int, treated: str
) -> tuple[Callable[[np.ndarray, np.ndarray], np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
    """The bootstrap statistic (Delta overall, with errors, error free, masking), the
    observed per-pair differences, the observed statistic and each pair's error status."""
    arm = (df["tone"] == treated).to_numpy().astype(int)
    pair = df["_pair"].to_numpy()
    grp = 2 * pair + arm
    y = df["y"].to_numpy()
    g_y = _group_sum_matrix(grp, y, 2 * n_pairs)
    g_n = _group_sum_matrix(grp, np.ones(len(df)), 2 * n_pairs)
    g_yn = sparse.hstack([g_y, g_n]).tocsr()
    pair_prompt = pd.Series(clusters.prompt_codes).groupby(pair).first().to_numpy()
    pair_err = pd.Series(df["_err"].to_numpy() > 0).groupby(pair).first().to_numpy()

    def pair_deltas(sums: np.ndarray) -> np.ndarray:
        mean = sums[:, : 2 * n_pairs] / sums[:, 2 * n_pairs :]
        return mean[:, 1::2] - mean[:, 0::2]

    def summarise(delta: np.ndarray, wp: np.ndarray) -> np.ndarray:
        ok = np.isfinite(delta) & (wp > 0)
        d = np.where(ok, delta, 0.0)
        ww = np.where(ok, wp, 0.0)
        out = []
        for mask in (np.ones(n_pairs, bool), pair_err, ~pair_err):
            num = (d[:, mask] * ww[:, mask]).sum(axis=1)
            den = ww[:, mask].sum(axis=1)
            out.append(num / den)
        out.append(out[1] - out[2])
        return np.column_stack(out)

    stat = LinearStat(g_yn, lambda sums, mp: summarise(pair_deltas(sums), mp[:, pair_prompt]))
    obs_delta = pair_deltas(_wsum(np.ones((1, len(df))), g_yn))[0]
    obs = summarise(obs_delta[None, :], np.ones((1, n_pairs)))[0]
    return stat, obs_delta, obs, pair_err


def _sign_flip_p_values(
    obs_delta: np.ndarray, pair_err: np.ndarray, rng: np.random.Generator, n_permutations: int
) -> list[float | None]:
    """Sign-flip randomization p-values (all pairs, with errors, error free): under "tone
    has no effect" each pair's labels are exchangeable."""
    n_pairs = len(obs_delta)
    subsets = (np.ones(n_pairs, bool), pair_err, ~pair_err)
    exceed = np.zeros(3)
    # Chunked so that memory stays bounded (permutations x pairs) on large studies.
    step = max(1, 2_000_000 // n_pairs)
    for s0 in range(0, n_permutations, step):
        flips = rng.choice(np.array([-1.0, 1.0]), size=(min(step, n_permutations - s0), n_pairs))
        for i, mask in enumerate(subsets):
            if mask.any():
                dm = obs_delta[mask]
                null = (flips[:, mask] * dm).mean(axis=1)
                exceed[i] += np.sum(np.abs(null) >= abs(dm.mean()) - 1e-12)
    return [
        float((1 + exceed[i]) / (n_permutations + 1)) if mask.any() else None
        for i, mask in enumerate(subsets)
    ]


def _by_error_status(est: PairedPremium) -> dict[str, dict[str, Any]]:
    def sub(j: int, name: str, mask: np.ndarray) -> dict[str, Any]:
        n = int(mask.sum())
        if n < MIN_PAIRS:
            return {
                "estimate": None,
                "ci_low": None,
                "ci_high": None,
                "p_value": None,
                "n_pairs": n,
                "reason": f"only {n} {name} pairs (need >= {MIN_PAIRS})",
            }
        return {
            "estimate": _f(est.obs[j]),
            "ci_low": est.cis[j][0],
            "ci_high": est.cis[j][1],
            "p_value": est.p_values[j],
            "n_pairs": n,
            "reason": None,
        }

    return {
        "with_errors": sub(1, "with-error", est.pair_err),
        "error_free": sub(2, "error-free", ~est.pair_err),
    }


def _masking_index(est: PairedPremium) -> dict[str, Any]:
    defined = est.pair_err.sum() >= MIN_PAIRS and (~est.pair_err).sum() >= MIN_PAIRS
    return {
        "computed": MASKING_COMPUTED,
        "estimate": _f(est.obs[3]) if defined else None,
        "ci_low": est.cis[3][0] if defined else None,
        "ci_high": est.cis[3][1] if defined else None,
        "reason": None if defined else "needs >= 5 pairs in each error status",
    }


def _flags(est: PairedPremium, masking: dict[str, Any]) -> list[str]:
    """``tone_premium`` when the CI excludes 0; ``tone_masks_errors`` when the masking
    index's CI lies above 0."""
    lo, hi = est.cis[0]
    flags = []
    if lo is not None and (lo > 0 or hi < 0):
        flags.append("tone_premium")
    if masking["estimate"] is not None and masking["ci_low"] is not None and masking["ci_low"] > 0:
        flags.append("tone_masks_errors")
    return flags


def _matched_on(group: pd.DataFrame, ctx: CheckContext) -> dict[str, Any]:
    return {"match_on": [c for c in ("prompt_id", "system") if c in group.columns]}


SPEC = Check(
    name=CHECK,
    estimate=paired_tone_premium,
    questions={"quality_question": "quality"},
    columns=("tone", "n_known_errors"),
    settings=RANDOMIZED,
    derived=_matched_on,
    absent=("tone premium", "no quality question or tone/error columns"),
)
