"""B5: position bias in pairwise judgements -- how often the first-shown answer wins.

References
----------
Zheng, L. et al. (2023). Judging LLM-as-a-Judge with MT-Bench and Chatbot Arena. NeurIPS.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from analysis.metrics.bias import wording
from analysis.metrics.bias.bootstrap import LinearStat, _cluster_ci, _Clusters, _invalid_warning
from analysis.metrics.bias.checks import CLUSTERED, Check
from analysis.metrics.bias.common import (
    MIN_RATINGS,
    Undefined,
    _counts,
    _f,
    _not_defined,
    _question_rows,
    _result,
    _validate_common,
    say,
)

CHECK = "position_bias"


@dataclass(frozen=True)
class Position:
    """Share of non-tie judgements won by the first position and the tie rate (``obs``),
    their clustered intervals, and the binomial test that assumes independence."""

    obs: np.ndarray
    ci: tuple[float | None, float | None]
    tie_ci: tuple[float | None, float | None]
    level: float
    ci_method: str
    n_first: int
    n_nontie: int
    binomial_p: float
    wilson: tuple[float, float]
    order_balance: dict[str, Any]


def position_bias(
    table: pd.DataFrame,
    *,
    rng: np.random.Generator,
    preference_question: str = "preference",
    first_label: str = "A",
    second_label: str = "B",
    tie_labels: Sequence[str] = ("tie", "both_bad"),
    n_bootstrap: int = 1000,
    alpha: float = 0.05,
    two_way: str = "cgm",
    label: str = "raters",
) -> dict[str, Any]:
    """Share of non-tie pairwise judgements won by the first-shown output; tie rate.

    PB = P(first position wins | no tie) - 1/2 (methods.md B5). With counterbalanced or
    randomized order, merit differences cancel and the share is 1/2 without position bias.

    Parameters
    ----------
    table : pandas.DataFrame
        Long table with the preference question ("A" = shown first).
    preference_question : str
    first_label, second_label : str
        Labels meaning "the output in position 1 / 2 won".
    tie_labels : sequence of str
        Labels counted as ties (excluded from the share, reported as tie rate).
    rng, n_bootstrap, alpha, two_way, label
        As in :func:`~analysis.metrics.bias.tone_premium.paired_tone_premium`.

    Returns
    -------
    dict
        Common check keys (estimate = share of first-position wins, null 0.5) plus
        position_bias (share - 1/2), tie_rate with CI, binomial test, Wilson interval,
        order_balance.

    Notes
    -----
    The CI is a two-way (prompt x annotator) cluster bootstrap, because one annotator's
    judgements are not independent (Hosking's busiest rater did 173 pairs); the exact
    binomial test (``scipy.stats.binomtest``) and Wilson interval assume independent
    judgements and are reported for reference. ``flagged`` uses the clustered CI.
    """
    computed = "share of non-tie judgements won by the first-shown output (0.5 = no bias)"
    _validate_common(n_bootstrap, alpha, rng, two_way)
    try:
        df, warn, x, counts = _judgements(
            table, preference_question, first_label, second_label, tie_labels
        )
    except Undefined as undefined:
        return _not_defined(CHECK, computed, undefined.reason, **undefined.extra)
    est = _estimate(df, warn, x, rng, n_bootstrap, 1 - alpha, two_way)
    if _separated(est) != (est.binomial_p < alpha):
        warn.append(
            "the clustered CI and the (independence-assuming) binomial test disagree; "
            "trust the clustered CI"
        )
    return _shaped(est, computed, counts, warn, label)


def _shaped(
    est: Position, computed: str, counts: dict[str, int], warn: list[str], label: str
) -> dict[str, Any]:
    """The check's result: numbers, flags and the verdict."""
    tlo, thi = est.tie_ci
    return _result(
        CHECK,
        computed,
        estimate=est.obs[0],
        ci=est.ci,
        level=est.level,
        ci_method=est.ci_method,
        p_value=est.binomial_p,
        test="exact binomial test vs 0.5 (scipy.stats.binomtest; assumes independent judgements)",
        null_value=0.5,
        counts=counts,
        verdict=wording.position_verdict(est, label),
        warnings_=warn,
        flags=["position_bias"] if _separated(est) else [],
        position_bias=_f(est.obs[0] - 0.5),
        n_first_wins=est.n_first,
        n_non_tie=est.n_nontie,
        tie_rate={"estimate": _f(est.obs[1]), "ci_low": tlo, "ci_high": thi},
        wilson_ci=[_f(est.wilson[0]), _f(est.wilson[1])],
        order_balance=est.order_balance,
        tie_policy="ties excluded from the share; reported as tie rate",
    )


def _judgements(
    table: pd.DataFrame,
    question: str,
    first_label: str,
    second_label: str,
    tie_labels: Sequence[str],
) -> tuple[pd.DataFrame, list[str], np.ndarray, dict[str, int]]:
    """The judgements, warnings, per judgement (first won, not a tie, tie), and counts."""
    df, warn = _question_rows(table, question, "categorical")
    if df.empty:
        raise Undefined(f"no answers to “{question}”")
    known = {first_label, second_label, *tie_labels}
    bad = set(df["y"]) - known
    if bad:
        raise ValueError(f"question “{question}”: unexpected answers {say(sorted(bad, key=str))}")
    first = (df["y"] == first_label).to_numpy().astype(float)
    second = (df["y"] == second_label).to_numpy().astype(float)
    tie = 1.0 - first - second
    counts = _counts(df)
    n_nontie = int(first.sum() + second.sum())
    if n_nontie < MIN_RATINGS:
        raise Undefined(f"only {n_nontie} non-tie judgements", **counts)
    return df, warn, np.column_stack([first, first + second, tie]), counts


def _derive(s: np.ndarray) -> np.ndarray:
    """Sums (first wins, non-ties, ties) -> first-position share, tie rate."""
    return np.column_stack([s[:, 0] / s[:, 1], s[:, 2] / (s[:, 1] + s[:, 2])])


def _estimate(
    df: pd.DataFrame,
    warn: list[str],
    x: np.ndarray,
    rng: np.random.Generator,
    n_bootstrap: int,
    level: float,
    two_way: str,
) -> Position:
    """Shares with clustered intervals, the binomial test, and the order balance; appends
    to ``warn``."""
    clusters = _Clusters(df)
    warn += clusters.warnings
    obs = _derive(x.sum(0)[None, :])[0]
    ci_res = _cluster_ci(
        LinearStat(x, lambda sums, mp: _derive(sums)),
        obs,
        clusters,
        rng,
        n_bootstrap,
        level,
        two_way,
        bounds=[(0.0, 1.0), (0.0, 1.0)],
    )
    warn += _invalid_warning(ci_res.invalid, "the first-position share")
    n_first, n_nontie = int(x[:, 0].sum()), int(x[:, 1].sum())
    bt = stats.binomtest(n_first, n_nontie, 0.5)
    wilson = bt.proportion_ci(confidence_level=level, method="wilson")
    return Position(
        obs=obs,
        ci=ci_res.pair(0),
        tie_ci=ci_res.pair(1),
        level=level,
        ci_method=ci_res.method,
        n_first=n_first,
        n_nontie=n_nontie,
        binomial_p=float(bt.pvalue),
        wilson=(wilson.low, wilson.high),
        order_balance=_order_balance(df, warn),
    )


def _order_balance(df: pd.DataFrame, warn: list[str]) -> dict[str, Any]:
    """Whether the shown order was counterbalanced (share in canonical order vs 1/2)."""
    if not ("shown_order" in df.columns and df["shown_order"].notna().all()):
        warn.append("shown_order missing: counterbalancing could not be checked")
        return {"checked": False}
    try:
        orders = df["shown_order"].map(lambda s: tuple(map(str, s)))
        canonical = orders.map(lambda s: s == tuple(sorted(s)))
        n_can = int(canonical.sum())
        bal_p = float(stats.binomtest(n_can, len(df), 0.5).pvalue)
    except TypeError:
        warn.append("shown_order is not a sequence: order balance not checked")
        return {"checked": False}
    if bal_p < 0.01:
        warn.append(
            "shown order is not balanced across judgements: merit differences may "
            "masquerade as position bias"
        )
    return {"checked": True, "share_canonical_order": _f(n_can / len(df)), "p_value": bal_p}


def _separated(est: Position) -> bool:
    """The flag rule: the clustered CI of the first-position share excludes 1/2."""
    lo, hi = est.ci
    return lo is not None and (lo > 0.5 or hi < 0.5)


SPEC = Check(
    name=CHECK,
    estimate=position_bias,
    questions={"preference_question": "preference"},
    columns=(),
    settings=CLUSTERED,
    absent=("position bias", "no preference question"),
)
