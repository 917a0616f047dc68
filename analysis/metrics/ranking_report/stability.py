"""The `rank_stability` section of one leaderboard (methods.md C3): which adjacent pairs
are separated, how many more votes would separate them, and how the order reacts to
leaving systems out, to a weak competitor, to the method and to the number of votes."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import stats

from analysis.metrics.ranking_report.board import Board, _square_totals, _tie_groups
from analysis.metrics.ranking_report.common import _elo, _round
from analysis.metrics.rankings import (
    ELO_PER_LOGIT,
    Battles,
    PairTotals,
    RankingError,
    _newton_batch,
    fit_bradley_terry,
    kendall_tau,
    pair_totals,
    ranks_of,
    vote_cells,
    win_probability,
)

VOTES_NEEDED_FRACTIONS = tuple(round(0.1 * i, 1) for i in range(1, 11))
# Weak-competitor injection (the Hardt perturbation, methods.md C3.5): a weak system W
# that the upper system of an adjacent pair beats 90% of the time and the lower one 98%
# -- a pattern Bradley–Terry cannot express -- with as many votes against each as the
# lower system already has.
WEAK_WIN_VS_UPPER = 0.90
WEAK_WIN_VS_LOWER = 0.98
MAX_WEAK_PAIRS = 5
MAX_LISTED_TRIADS = 20
POWER_Z = 0.8416  # 80% power


def _more_votes(n_votes: int, gap: float, sd: float, z_alpha: float) -> int | None:
    """Votes to add (in the current mix of pairs) for the gap's interval to exclude zero
    with 80% power, if the gap stays as estimated: the SD shrinks as 1/sqrt(n)."""
    if not (np.isfinite(gap) and np.isfinite(sd)) or sd <= 0:
        return None
    if abs(gap) < 1e-9:
        return None
    needed = n_votes * ((z_alpha + POWER_Z) * sd / abs(gap)) ** 2
    return max(0, math.ceil(needed - n_votes))


def head_to_head_votes(p: float, *, z_alpha: float = 1.959964) -> int | None:
    """Direct votes for a win rate p to differ from 1/2 (two-sided alpha, 80% power):
    n = [(z_a * 0.5 + z_b * sqrt(p(1-p))) / (p - 0.5)]^2 (methods.md C3.7)."""
    if abs(p - 0.5) < 1e-12:
        return None
    return math.ceil(((z_alpha * 0.5 + POWER_Z * math.sqrt(p * (1 - p))) / (p - 0.5)) ** 2)


def _about(n: int) -> str:
    if n < 100:
        return f"{n:,}"
    digits = math.floor(math.log10(n)) - 1
    return f"{round(n, -digits):,}"


def _adjacent_pairs(board: Board, *, alpha: float) -> list[dict[str, Any]]:
    z_alpha = float(stats.norm.ppf(1 - alpha / 2))
    totals = pair_totals(board.battles)
    pairs = []
    for upper, lower in zip(board.order[:-1], board.order[1:], strict=True):
        gap = board.fit.ratings[upper] - board.fit.ratings[lower]
        boot_gap = board.boot_ratings[:, upper] - board.boot_ratings[:, lower]
        p_swap = float((boot_gap < 0).mean() + 0.5 * (boot_gap == 0).mean())
        separated = p_swap < alpha / 2
        sd = float(np.std(boot_gap, ddof=1)) if len(boot_gap) > 1 else float("nan")
        more = None if separated else _more_votes(len(board.battles), gap, sd, z_alpha)
        i, j = min(upper, lower), max(upper, lower)
        k = int(np.flatnonzero((totals.first == i) & (totals.second == j))[0])
        direct = int(totals.games[k])
        upper_wins = totals.wins[k] if upper == i else totals.games[k] - totals.wins[k]
        if separated:
            verdict = "separated"
        elif more is None:
            verdict = "not separated; no difference at the current estimate"
        else:
            verdict = f"not separated, about {_about(more)} more votes needed"
        pairs.append(
            {
                "upper": board.systems[upper],
                "lower": board.systems[lower],
                "elo_gap": _elo(gap),
                "gap_ci": [
                    _elo(np.percentile(boot_gap, 100 * alpha / 2)),
                    _elo(np.percentile(boot_gap, 100 * (1 - alpha / 2))),
                ],
                "p_swap": _round(p_swap),
                "separated": bool(separated),
                "direct_votes": direct,
                "direct_win_rate": _round(upper_wins / direct) if direct else None,
                "more_votes_needed": more,
                "head_to_head_votes_needed": head_to_head_votes(
                    win_probability(gap), z_alpha=z_alpha
                ),
                "verdict": verdict,
            }
        )
    return pairs


def _tau_summary(board: Board, *, seed: int) -> dict[str, Any]:
    taus = kendall_tau(board.fit.xi, board.boot_xi)
    taus = taus[np.isfinite(taus)]
    rng = np.random.default_rng(seed)
    n_rep = len(board.boot_xi)
    between = np.array([])
    if n_rep >= 2:
        left = rng.integers(0, n_rep, size=min(1000, n_rep * (n_rep - 1) // 2))
        right = (left + rng.integers(1, n_rep, size=len(left))) % n_rep
        i, j = np.triu_indices(board.boot_xi.shape[1], k=1)
        s_left = np.sign(board.boot_xi[left][:, i] - board.boot_xi[left][:, j])
        s_right = np.sign(board.boot_xi[right][:, i] - board.boot_xi[right][:, j])
        between = (s_left * s_right).mean(axis=1)
    counts, edges = np.histogram(taus, bins=20, range=(-1.0, 1.0))
    return {
        "mean": _round(taus.mean()) if len(taus) else None,
        "p05": _round(np.percentile(taus, 5)) if len(taus) else None,
        "mean_between_replicates": _round(between.mean()) if len(between) else None,
        "histogram": {"edges": [_round(e) for e in edges], "counts": counts.tolist()},
    }


def _unresolved_pairs(board: Board, *, alpha: float) -> list[dict[str, Any]]:
    unresolved = []
    m = len(board.systems)
    for a in range(m):
        for b in range(m):
            if board.ranks[a] >= board.ranks[b]:
                continue
            p_swap = float((board.boot_xi[:, b] > board.boot_xi[:, a]).mean())
            if alpha / 2 < p_swap < 1 - alpha / 2:
                unresolved.append(
                    {
                        "upper": board.systems[a],
                        "lower": board.systems[b],
                        "p_swap": _round(p_swap),
                    }
                )
    return sorted(unresolved, key=lambda row: -row["p_swap"])


def _method_sensitivity(board: Board, *, seed: int, n_orderings: int) -> dict[str, Any]:
    by_k = {}
    for k, (mean, sd) in board.online_elo(seed=seed, n_orderings=n_orderings).items():
        by_k[f"{k:g}"] = {
            "kendall_tau_vs_bt": _round(float(kendall_tau(board.fit.xi, mean[None, :])[0])),
            "mean_sd": _elo(float(sd.mean())),
            "max_abs_mean_difference_from_bt": _elo(
                float(np.abs((mean - mean.mean()) - (board.fit.ratings - 1000.0)).max())
            ),
        }
    tau_ties = None
    if (board.battles.score == 0.5).any() and (board.battles.score != 0.5).any():
        try:
            dropped = fit_bradley_terry(board.battles, drop_ties=True)
            tau_ties = _round(float(kendall_tau(board.fit.xi, dropped.xi[None, :])[0]))
        except RankingError:
            tau_ties = None
    return {
        "kendall_tau_bt_vs_online_elo": by_k["4"]["kendall_tau_vs_bt"],
        "online_elo_by_k": by_k,
        "kendall_tau_ties_dropped_vs_half": tau_ties,
    }


def _leave_one_out(board: Board) -> list[dict[str, Any]]:
    rows = []
    m = len(board.systems)
    if m < 3:
        return rows
    for removed in range(m):
        keep = (board.battles.a != removed) & (board.battles.b != removed)
        others = [i for i in range(m) if i != removed]
        row: dict[str, Any] = {"removed": board.systems[removed]}
        try:
            subset = board.battles.subset(keep, systems=[board.systems[i] for i in others])
            fit = fit_bradley_terry(subset)
        except RankingError as exc:
            row.update(kendall_tau=None, max_rank_change=None, reason=str(exc))
            rows.append(row)
            continue
        before = ranks_of(board.fit.xi[others])
        after = ranks_of(fit.xi)
        row.update(
            kendall_tau=_round(float(kendall_tau(board.fit.xi[others], fit.xi[None, :])[0])),
            max_rank_change=int(np.abs(before - after).max()),
            mle_exists=bool(fit.connected),
        )
        rows.append(row)
    return rows


def inject_weak_competitor(
    totals: PairTotals, *, opponents: Mapping[int, tuple[float, float]]
) -> PairTotals:
    """Pair totals with a new system W (index m) added.

    `opponents` maps a system index to (votes against W, that system's win probability
    against W); the votes enter as their expected counts, so the perturbation is
    deterministic.
    """
    m = totals.n_systems
    first = np.concatenate([totals.first, np.array(list(opponents), dtype=np.int64)])
    second = np.concatenate([totals.second, np.full(len(opponents), m, dtype=np.int64)])
    games = np.concatenate([totals.games, [v for v, _ in opponents.values()]])
    wins = np.concatenate([totals.wins, [v * p for v, p in opponents.values()]])
    return PairTotals(m + 1, first, second, games, wins)


def _weak_competitor(board: Board) -> dict[str, Any]:
    totals = pair_totals(board.battles)
    played = np.bincount(board.battles.a, minlength=len(board.systems)) + np.bincount(
        board.battles.b, minlength=len(board.systems)
    )
    results = []
    for upper, lower in list(zip(board.order[:-1], board.order[1:], strict=True))[:MAX_WEAK_PAIRS]:
        volume = float(played[lower])
        injected = inject_weak_competitor(
            totals,
            opponents={
                int(upper): (volume, WEAK_WIN_VS_UPPER),
                int(lower): (volume, WEAK_WIN_VS_LOWER),
            },
        )
        xi, _, _ = _newton_batch(injected, l2=board.fit.l2)
        after = xi[0][: len(board.systems)]
        new_ranks = ranks_of(after)
        shifts = board.ranks - new_ranks
        gap_before = board.fit.ratings[upper] - board.fit.ratings[lower]
        gap_after = (after[upper] - after[lower]) * ELO_PER_LOGIT
        results.append(
            {
                "upper": board.systems[upper],
                "lower": board.systems[lower],
                "votes_against_weak": int(volume),
                "gap_before": _elo(gap_before),
                "gap_after": _elo(gap_after),
                "swapped": bool(gap_after < 0),
                "kendall_tau": _round(float(kendall_tau(board.fit.xi, after[None, :])[0])),
                "rank_changes": {
                    board.systems[i]: int(shifts[i]) for i in np.flatnonzero(shifts != 0)
                },
                "max_rank_change_top5": int(
                    max((abs(shifts[i]) for i in board.order[:5]), default=0)
                ),
            }
        )
    return {
        "scenario": (
            f"A weak system W is added for each adjacent pair (upper, lower) in turn: the "
            f"upper system beats W {WEAK_WIN_VS_UPPER:.0%} and the lower {WEAK_WIN_VS_LOWER:.0%} "
            "of the time, with as many votes against each as the lower system has; expected "
            "counts, so no randomness."
        ),
        "results": results,
    }


def _intransitive_triads(battles: Battles, *, alpha: float) -> dict[str, Any]:
    games, wins = _square_totals(battles)
    m = len(battles.systems)
    count = significant = 0
    listed = []
    for i in range(m):
        for j in range(i + 1, m):
            for k in range(j + 1, m):
                edges = [(i, j), (j, k), (k, i)]
                if any(games[x, y] == 0 for x, y in edges):
                    continue
                rates = [wins[x, y] / games[x, y] for x, y in edges]
                if not (all(r > 0.5 for r in rates) or all(r < 0.5 for r in rates)):
                    continue
                count += 1
                p_values = [
                    stats.binomtest(round(wins[x, y]), round(games[x, y]), 0.5).pvalue
                    for x, y in edges
                ]
                is_significant = all(p < alpha for p in p_values)
                significant += is_significant
                if len(listed) < MAX_LISTED_TRIADS:
                    listed.append(
                        {
                            "systems": [battles.systems[x] for x in (i, j, k)],
                            "win_rates": [_round(r) for r in rates],
                            "p_values": [_round(p) for p in p_values],
                            "significant": bool(is_significant),
                        }
                    )
    return {"count": count, "significant": int(significant), "triads": listed}


def _votes_needed(board: Board, *, seed: int, n_replicates: int, alpha: float) -> dict[str, Any]:
    """Kendall tau to the full ranking and CI half-width against the number of votes,
    subsampling votes within each pair (methods.md C3.7)."""
    rng = np.random.default_rng(seed)
    pairs, wins_first = vote_cells(board.battles)
    template = pair_totals(board.battles)
    n_pairs = len(template.first)
    # Per pair: votes the first system won, tied, lost (columns 0, 1, 2).
    outcome = np.select([wins_first == 1.0, wins_first == 0.5], [0, 1], default=2)
    cells = np.zeros((n_pairs, 3), dtype=np.int64)
    np.add.at(cells, (pairs, outcome), 1)
    z = float(stats.norm.ppf(1 - alpha / 2))
    m = len(board.systems)
    rows = []
    for fraction in VOTES_NEEDED_FRACTIONS:
        games = np.zeros((n_replicates, n_pairs))
        wins = np.zeros((n_replicates, n_pairs))
        for p in np.flatnonzero(cells.sum(axis=1)):
            size = round(fraction * cells[p].sum())
            if size == 0:
                continue
            draw = rng.multivariate_hypergeometric(cells[p], size, size=n_replicates)
            games[:, p] = size
            wins[:, p] = draw[:, 0] + 0.5 * draw[:, 1]
        totals = PairTotals(m, template.first, template.second, games, wins)
        xi, information, _ = _newton_batch(totals, l2=max(board.fit.l2, 1e-6))
        taus = kendall_tau(board.fit.xi, xi)
        covariance = np.linalg.pinv(information + np.full((m, m), 1.0 / m))
        se = np.sqrt(np.clip(np.diagonal(covariance, axis1=1, axis2=2) - 1.0 / m, 0, None))
        rows.append(
            {
                "fraction": fraction,
                "votes": int(games[0].sum()),
                "mean_kendall_tau": _round(float(np.mean(taus[np.isfinite(taus)])))
                if np.isfinite(taus).any()
                else None,
                "median_ci_half_width": _elo(float(np.median(z * se * ELO_PER_LOGIT))),
            }
        )
    reaching = [row["votes"] for row in rows if (row["mean_kendall_tau"] or -1) >= 0.9]
    gaps = board.boot_ratings[:, board.order[:-1]] - board.boot_ratings[:, board.order[1:]]
    resolvable = (
        float(np.median(np.std(gaps, axis=0, ddof=1))) * z if gaps.shape[1] else float("nan")
    )
    return {
        "curve": rows,
        "votes_for_tau_0_9": reaching[0] if reaching else None,
        "smallest_resolvable_gap": _elo(resolvable),
        "note": (
            "Subsamples of the votes, stratified by pair; half-width from the model's "
            "Fisher information. smallest_resolvable_gap: the Elo gap an adjacent pair needs "
            "for its interval to exclude zero at the current number of votes."
        ),
    }


def _verdict(
    *,
    board: Board,
    tau_mean: float | None,
    leave_one_out: list[dict[str, Any]],
    weak: dict[str, Any],
    adjacent: list[dict[str, Any]],
    controlled: Mapping[str, Any],
) -> tuple[str, list[str]]:
    """stable / fragile / unstable by the defaults of methods.md C3."""
    unstable, not_stable = [], []
    tau = tau_mean if tau_mean is not None else float("nan")
    loo = [row["kendall_tau"] for row in leave_one_out if row.get("kendall_tau") is not None]
    p_first = float((board.boot_ranks[:, board.order[0]] == 1).mean())
    if tau < 0.80:
        unstable.append(f"mean bootstrap Kendall tau {tau:.2f} < 0.80")
    elif tau < 0.90:
        not_stable.append(f"mean bootstrap Kendall tau {tau:.2f} < 0.90")
    if loo and min(loo) < 0.80:
        unstable.append(f"leaving one system out gives tau {min(loo):.2f} < 0.80")
    elif loo and min(loo) < 0.90:
        not_stable.append(f"leaving one system out gives tau {min(loo):.2f} < 0.90")
    for pair in adjacent[:2]:
        if (pair["p_swap"] or 0) > 0.2:
            unstable.append(
                f"{pair['upper']} and {pair['lower']} (top 3) swap in "
                f"{pair['p_swap']:.0%} of bootstrap replicates"
            )
    if p_first < 0.90:
        not_stable.append(f"the leader is first in only {p_first:.0%} of replicates")
    moved = [row for row in weak["results"] if row["max_rank_change_top5"] >= 2]
    if moved:
        not_stable.append(
            f"a weak competitor moves a top-5 system by {moved[0]['max_rank_change_top5']} ranks"
        )
    if controlled.get("status") == "computed":
        top5 = [row for row in controlled["systems"] if row["raw_rank"] <= 5]
        shift = max((abs(row["rank_change"]) for row in top5), default=0)
        if shift >= 3:
            unstable.append(f"style/tone control moves a top-5 system by {shift} ranks")
    if unstable:
        return "unstable", unstable + not_stable
    if not_stable:
        return "fragile", not_stable
    return "stable", ["every stability criterion met"]


def stability(
    board: Board,
    *,
    alpha: float,
    seed: int,
    n_elo_orderings: int,
    n_curve_replicates: int,
    controlled: Mapping[str, Any],
) -> dict[str, Any]:
    """The rank-stability report of one leaderboard (methods.md C3)."""
    adjacent = _adjacent_pairs(board, alpha=alpha)
    tau = _tau_summary(board, seed=seed)
    loo = _leave_one_out(board)
    weak = _weak_competitor(board)
    verdict, reasons = _verdict(
        board=board,
        tau_mean=tau["mean"],
        leave_one_out=loo,
        weak=weak,
        adjacent=adjacent,
        controlled=controlled,
    )
    return {
        "status": "computed",
        "verdict": verdict,
        "verdict_reasons": reasons,
        "tie_groups": _tie_groups(board),
        "kendall_tau": tau,
        "adjacent_pairs": adjacent,
        "unresolved_pairs": _unresolved_pairs(board, alpha=alpha),
        "method_sensitivity": _method_sensitivity(board, seed=seed, n_orderings=n_elo_orderings),
        "leave_one_out": loo,
        "weak_competitor": weak,
        "intransitive_triads": _intransitive_triads(board.battles, alpha=alpha),
        "votes_needed": _votes_needed(
            board, seed=seed, n_replicates=n_curve_replicates, alpha=alpha
        ),
    }
