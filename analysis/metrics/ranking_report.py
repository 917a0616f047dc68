"""The report's `rankings` and `rank_stability` sections (methods.md 5, C1–C3).

`ranking_sections` takes the report's long table, turns the pairwise-preference
answers into votes between systems (the shown order maps each A/B choice back to the
system behind it) and builds a leaderboard overall and per pool, each with its
stability report. `docs/rankings.md` documents every field and the defaults.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from analysis.metrics.rankings import (
    ELO_PER_LOGIT,
    FALLBACK_L2,
    Battles,
    PairTotals,
    RankingError,
    Resampler,
    _newton_batch,
    bootstrap_xi,
    fit_bradley_terry,
    fit_bradley_terry_covariates,
    kendall_tau,
    online_elo_by_k,
    pair_totals,
    ranks_of,
    to_elo,
    vote_cells,
    win_probability,
)

ELO_K_VALUES = (4.0, 16.0, 32.0)
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
TIE_VALUES = {"A": 1.0, "B": 0.0, "tie": 0.5}


def _round(value: float | None, digits: int = 4) -> float | None:
    if value is None or not np.isfinite(value):
        return None
    return round(float(value), digits)


def _elo(value: float) -> float | None:
    return _round(value, 2)


# -- votes from the report table -----------------------------------------------------------


def battles_from_table(
    table: pd.DataFrame, question: str, *, pool_column: str | None = None
) -> tuple[Battles, np.ndarray | None]:
    """The votes on one pairwise question, and each vote's pool.

    Rows need ``shown_order`` (the two systems by position); gold units are left out,
    because they are chosen for their known answer, not to sample the systems. Votes
    cluster by prompt when ``prompt_id`` is known, else by unit. Length, tone and
    known-error covariates come from ``shown_lengths``/``shown_tones``/``shown_errors``.
    """
    rows = table[table["question"].astype(str) == question]
    if "is_gold" in rows.columns:
        rows = rows[~rows["is_gold"].fillna(False).astype(bool)]
    if "shown_order" not in rows.columns:
        raise RankingError("The votes carry no display order, so they cannot be mapped to systems.")
    shown = rows["shown_order"]
    usable = shown.map(lambda s: isinstance(s, tuple | list) and len(s) == 2).to_numpy()
    values = rows["value"].astype(object).map(TIE_VALUES)
    usable &= values.notna().to_numpy()
    rows, shown, values = rows[usable], shown[usable], values[usable]
    if rows.empty:
        raise RankingError(f"No pairwise votes with a recorded display order for '{question}'.")
    cluster_column = "prompt_id" if "prompt_id" in rows.columns else "unit_id"
    clusters = rows[cluster_column].astype(object)
    clusters = clusters.where(clusters.notna(), rows["unit_id"].astype(object)).astype(str)
    battles = Battles.from_arrays(
        [s[0] for s in shown],
        [s[1] for s in shown],
        values.to_numpy(dtype=np.float64),
        clusters.to_numpy(),
        annotator=rows["annotator_id"].astype(str).to_numpy(),
        covariates=_covariates(rows),
    )
    pools = None
    if pool_column and pool_column in rows.columns:
        pools = rows[pool_column].astype(object).where(rows[pool_column].notna(), None)
        pools = pools.to_numpy()
    return battles, pools


def _pair_feature(rows: pd.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray] | None:
    if column not in rows.columns:
        return None
    cells = rows[column].to_numpy()
    first = np.array([c[0] if isinstance(c, tuple | list) and len(c) == 2 else None for c in cells])
    second = np.array(
        [c[1] if isinstance(c, tuple | list) and len(c) == 2 else None for c in cells]
    )
    if any(v is None for v in first) or any(v is None for v in second):
        return None
    return first, second


def _covariates(rows: pd.DataFrame) -> pd.DataFrame | None:
    """Per-vote differences between the A and B outputs (methods.md C1, style control).

    Length enters as the normalised difference (a - b)/(a + b), the tone as the
    difference of "assertive" indicators and known errors as the plain difference; each
    is divided by its SD so coefficients read "per SD of the difference". A covariate
    that never varies is left out.
    """
    features: dict[str, np.ndarray] = {}
    lengths = _pair_feature(rows, "shown_lengths")
    if lengths is not None:
        a, b = lengths[0].astype(float), lengths[1].astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            features["length"] = np.where(a + b > 0, (a - b) / (a + b), 0.0)
    tones = _pair_feature(rows, "shown_tones")
    if tones is not None:
        labels = sorted({str(t) for t in np.concatenate(tones) if t not in (None, "")})
        if len(labels) >= 2:
            marked = "assertive" if "assertive" in labels else labels[-1]
            features[f"tone ({marked})"] = (tones[0].astype(str) == marked).astype(float) - (
                tones[1].astype(str) == marked
            ).astype(float)
    errors = _pair_feature(rows, "shown_errors")
    if errors is not None:
        a = pd.to_numeric(pd.Series(errors[0]), errors="coerce").to_numpy()
        b = pd.to_numeric(pd.Series(errors[1]), errors="coerce").to_numpy()
        if np.isfinite(a).all() and np.isfinite(b).all():
            features["known errors"] = a - b
    kept = {}
    for name, values in features.items():
        sd = float(np.std(values))
        if np.isfinite(sd) and sd > 1e-9:
            kept[name] = values / sd
    return pd.DataFrame(kept) if kept else None


# -- one leaderboard ------------------------------------------------------------------------


class Board:
    """The full-data fit and the bootstrap replicates of one leaderboard."""

    def __init__(
        self,
        battles: Battles,
        resampler: Resampler,
        *,
        alpha: float,
    ) -> None:
        self.battles = battles
        self.alpha = alpha
        self.fit = fit_bradley_terry(battles)
        self.systems = battles.systems
        boot_totals = resampler.totals(battles)
        self.boot_xi, self.penalised_replicates = bootstrap_xi(boot_totals, l2=self.fit.l2)
        self.boot_ratings = to_elo(self.boot_xi)
        self.order = np.argsort(-self.fit.xi, kind="stable")
        self.ranks = ranks_of(self.fit.xi)
        self.boot_ranks = ranks_of(self.boot_xi)
        low, high = 100 * alpha / 2, 100 * (1 - alpha / 2)
        self.lower = np.percentile(self.boot_ratings, low, axis=0)
        self.upper = np.percentile(self.boot_ratings, high, axis=0)
        self._online_elo: dict[float, tuple[np.ndarray, np.ndarray]] | None = None

    def online_elo(
        self, *, seed: int, n_orderings: int
    ) -> dict[float, tuple[np.ndarray, np.ndarray]]:
        """Online Elo for every K of the report, over the same orderings, computed once."""
        if self._online_elo is None:
            self._online_elo = online_elo_by_k(
                self.battles, k_values=ELO_K_VALUES, n_orderings=n_orderings, seed=seed
            )
        return self._online_elo


def _ci_ranks(lower: np.ndarray, upper: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """rank_i = 1 + #{j: L_j > U_i} (best possible) and m - #{j: U_j < L_i} (worst)."""
    best = 1 + (lower[None, :] > upper[:, None]).sum(axis=1)
    worst = len(lower) - (upper[None, :] < lower[:, None]).sum(axis=1)
    return best, worst


def _tie_groups(board: Board) -> list[list[str]]:
    """Systems in rating order, grouped while each one's interval overlaps the group's
    leader (so members are statistically tied with the group's best)."""
    groups: list[list[int]] = []
    for i in board.order:
        if groups and board.upper[i] >= board.lower[groups[-1][0]]:
            groups[-1].append(int(i))
        else:
            groups.append([int(i)])
    return [[board.systems[i] for i in group] for group in groups]


def _square_totals(battles: Battles) -> tuple[np.ndarray, np.ndarray]:
    """(games, wins) as m x m matrices: votes between i and j, and i's wins over j."""
    totals = pair_totals(battles)
    m = len(battles.systems)
    games = np.zeros((m, m))
    wins = np.zeros((m, m))
    games[totals.first, totals.second] = games[totals.second, totals.first] = totals.games
    wins[totals.first, totals.second] = totals.wins
    wins[totals.second, totals.first] = totals.games - totals.wins
    return games, wins


def _pair_matrices(battles: Battles, order: np.ndarray) -> dict[str, Any]:
    games, wins = _square_totals(battles)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = wins / games
    names = [battles.systems[i] for i in order]
    return {
        "systems": names,
        "win_rate": [
            [None if i == j or games[i, j] == 0 else _round(rate[i, j]) for j in order]
            for i in order
        ],
        "battles": [[int(games[i, j]) for j in order] for i in order],
        "wins": [[_round(wins[i, j], 1) for j in order] for i in order],
    }


def _controlled(board: Board, *, alpha: float) -> dict[str, Any]:
    covariates = board.battles.covariates
    if covariates is None or covariates.empty:
        return {
            "status": "not_applicable",
            "reason": "The votes carry no length, tone or known-error differences to control for.",
        }
    try:
        fit = fit_bradley_terry_covariates(board.battles, covariates, l2=board.fit.l2)
    except (np.linalg.LinAlgError, ValueError) as exc:
        return {"status": "not_computed", "reason": f"The controlled model failed: {exc}"}
    z = stats.norm.ppf(1 - alpha / 2)
    ratings = to_elo(fit.xi)
    ranks = ranks_of(fit.xi)
    order = np.argsort(-fit.xi, kind="stable")
    shifts = board.ranks - ranks
    return {
        "status": "computed",
        "model": "logit P(A wins) = xi_A - xi_B + z'gamma, ties as y = 1/2; cluster-robust "
        "(by prompt) Wald intervals",
        "converged": bool(fit.converged),
        "covariates": [
            {
                "name": name,
                "coefficient": _round(gamma),
                "ci": [_round(gamma - z * se), _round(gamma + z * se)],
                "elo_per_sd": _elo(gamma * ELO_PER_LOGIT),
                "significant": bool(abs(gamma) > z * se),
            }
            for name, gamma, se in zip(fit.names, fit.gamma, fit.gamma_se, strict=True)
        ],
        "systems": [
            {
                "system": board.systems[i],
                "rating": _elo(ratings[i]),
                "ci": [
                    _elo(ratings[i] - z * fit.xi_se[i] * ELO_PER_LOGIT),
                    _elo(ratings[i] + z * fit.xi_se[i] * ELO_PER_LOGIT),
                ],
                "rank": int(ranks[i]),
                "raw_rank": int(board.ranks[i]),
                "rank_change": int(shifts[i]),
            }
            for i in order
        ],
        "max_rank_change": int(np.abs(shifts).max()),
    }


def _cross_check(board: Board) -> dict[str, Any]:
    """evalica's Bradley–Terry on the same votes, as an independent implementation."""
    try:
        import evalica
    except ImportError:  # pragma: no cover - a declared dependency
        return {"status": "not_computed", "reason": "evalica is not installed"}
    names = np.asarray(board.systems, dtype=object)
    winners = np.where(
        board.battles.score == 1.0,
        evalica.Winner.X,
        np.where(board.battles.score == 0.0, evalica.Winner.Y, evalica.Winner.Draw),
    )
    try:
        result = evalica.bradley_terry(
            names[board.battles.a].tolist(),
            names[board.battles.b].tolist(),
            winners.tolist(),
            tie_weight=0.5,
            tolerance=1e-10,
            limit=100_000,
        )
    except Exception as exc:  # the check must never sink the report
        return {"status": "not_computed", "reason": f"evalica failed: {exc}"}
    scores = result.scores.reindex(list(board.systems)).to_numpy(dtype=np.float64)
    if not np.all(scores > 0):
        return {"status": "not_computed", "reason": "evalica returned non-positive scores"}
    theirs = to_elo(np.log(scores))
    difference = float(np.abs(theirs - board.fit.ratings).max())
    return {
        "status": "computed",
        "library": f"evalica {getattr(evalica, '__version__', '?')}",
        "max_abs_difference_elo": _round(difference, 4),
        # The penalised fit (no MLE) differs from evalica's unpenalised iteration by design.
        "agrees": bool(difference < 0.01) if board.fit.connected else None,
    }


def leaderboard(
    board: Board,
    *,
    alpha: float,
    seed: int,
    n_elo_orderings: int,
) -> dict[str, Any]:
    """One leaderboard: BT ratings with bootstrap intervals and rank intervals, online
    Elo as a diagnostic, pair matrices, the controlled ranking and a cross-check."""
    m = len(board.systems)
    best, worst = _ci_ranks(board.lower, board.upper)
    rank_probability = np.stack(
        [(board.boot_ranks == r).mean(axis=0) for r in range(1, m + 1)], axis=1
    )
    elo_mean, elo_sd = board.online_elo(seed=seed, n_orderings=n_elo_orderings)[4.0]
    battles = board.battles
    played = np.bincount(battles.a, minlength=m) + np.bincount(battles.b, minlength=m)
    won = np.bincount(battles.a, weights=battles.score, minlength=m) + np.bincount(
        battles.b, weights=1 - battles.score, minlength=m
    )
    groups = _tie_groups(board)
    group_of = {name: g + 1 for g, members in enumerate(groups) for name in members}
    top_k = [k for k in (1, 3, 5) if k < m] or [1]
    systems = []
    for i in board.order:
        name = board.systems[i]
        systems.append(
            {
                "system": name,
                "rating": _elo(board.fit.ratings[i]),
                "ci": [_elo(board.lower[i]), _elo(board.upper[i])],
                "rank": int(board.ranks[i]),
                "rank_interval": [int(best[i]), int(worst[i])],
                "tie_group": group_of[name],
                "median_rank": _round(float(np.median(board.boot_ranks[:, i])), 1),
                "bootstrap_rank_ci": [
                    int(np.percentile(board.boot_ranks[:, i], 100 * alpha / 2, method="lower")),
                    int(
                        np.percentile(
                            board.boot_ranks[:, i], 100 * (1 - alpha / 2), method="higher"
                        )
                    ),
                ],
                "p_rank_first": _round(rank_probability[i, 0]),
                "p_top": {str(k): _round(rank_probability[i, :k].sum()) for k in top_k},
                "rank_probabilities": [_round(p) for p in rank_probability[i]],
                "votes": int(played[i]),
                "win_rate": _round(won[i] / played[i]) if played[i] else None,
                "online_elo": {"mean": _elo(elo_mean[i]), "sd": _elo(elo_sd[i])},
            }
        )
    n_clusters = len(np.unique(battles.cluster)) if battles.cluster is not None else None
    n_annotators = len(np.unique(battles.annotator)) if battles.annotator is not None else None
    return {
        "status": "computed",
        "n_votes": len(battles),
        "n_ties": int((battles.score == 0.5).sum()),
        "n_systems": m,
        "n_prompts": n_clusters,
        "n_annotators": n_annotators,
        "mle_exists": bool(board.fit.connected),
        "warnings": list(board.fit.warnings)
        + (
            [
                f"{board.penalised_replicates} bootstrap replicates had no MLE and were "
                f"fitted with the small L2 penalty ({FALLBACK_L2})."
            ]
            if board.penalised_replicates
            else []
        ),
        "systems": systems,
        "tie_groups": groups,
        "pairs": _pair_matrices(battles, board.order),
        "online_elo": {
            "k": 4.0,
            "initial": 1000.0,
            "n_orderings": n_elo_orderings,
            "note": "Order-dependent; mean and SD over random orderings, for comparison only.",
        },
        "controlled": _controlled(board, alpha=alpha),
        "cross_check": _cross_check(board),
    }


# -- stability --------------------------------------------------------------------------------


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


# -- the two report sections ----------------------------------------------------------------


def _pool_agreement(boards: Mapping[str, Board], *, alpha: float) -> list[dict[str, Any]]:
    """Kendall tau between pools' rankings over the systems both ranked, with a
    bootstrap CI from the shared replicates."""
    names = sorted(boards)
    rows = []
    for x, first in enumerate(names):
        for second in names[x + 1 :]:
            a, b = boards[first], boards[second]
            shared = sorted(set(a.systems) & set(b.systems))
            if len(shared) < 2:
                continue
            ia = [a.systems.index(s) for s in shared]
            ib = [b.systems.index(s) for s in shared]
            tau = float(kendall_tau(a.fit.xi[ia], b.fit.xi[ib][None, :])[0])
            i, j = np.triu_indices(len(shared), k=1)
            sa = np.sign(a.boot_xi[:, ia][:, i] - a.boot_xi[:, ia][:, j])
            sb = np.sign(b.boot_xi[:, ib][:, i] - b.boot_xi[:, ib][:, j])
            taus = (sa * sb).mean(axis=1)
            rows.append(
                {
                    "pools": [first, second],
                    "systems": len(shared),
                    "kendall_tau": _round(tau),
                    "ci": [
                        _round(np.percentile(taus, 100 * alpha / 2)),
                        _round(np.percentile(taus, 100 * (1 - alpha / 2))),
                    ],
                }
            )
    return rows


def ranking_sections(
    table: pd.DataFrame,
    question: str | None,
    *,
    pool_column: str | None,
    n_bootstrap: int,
    seed: int,
    alpha: float,
    n_elo_orderings: int = 100,
    n_curve_replicates: int = 200,
    resample: str = "prompt",
) -> dict[str, Any]:
    """The `rankings` and `rank_stability` sections of a report.

    `resample` "prompt" (the default) resamples prompts as clusters when the votes
    carry them; "vote" resamples single votes, as arena leaderboards usually do.

    Raises
    ------
    RankingError
        When the votes cannot be ranked at all (the caller reports the reason).
    """
    if question is None:
        raise RankingError("The report has no pairwise-preference question.")
    battles, pools = battles_from_table(table, question, pool_column=pool_column)
    if len(battles.systems) < 2:
        raise RankingError("The votes compare fewer than two systems.")
    n_boot = max(n_bootstrap, 2)
    resampler = Resampler.draw(battles, n_bootstrap=n_boot, seed=seed, unit=resample)
    boards: dict[str, Board] = {"overall": Board(battles, resampler, alpha=alpha)}
    pool_errors: dict[str, str] = {}
    if pools is not None:
        for pool in sorted({p for p in pools if p is not None}):
            mask = pools == pool
            subset = battles.subset(mask)
            try:
                if len(subset.systems) < 2:
                    raise RankingError("fewer than two systems were compared in this pool")
                boards[str(pool)] = Board(subset, resampler, alpha=alpha)
            except RankingError as exc:
                pool_errors[str(pool)] = str(exc)
    leaderboards: dict[str, Any] = {}
    stabilities: dict[str, Any] = {}
    for name, board in boards.items():
        leaderboards[name] = leaderboard(
            board, alpha=alpha, seed=seed, n_elo_orderings=n_elo_orderings
        )
        stabilities[name] = stability(
            board,
            alpha=alpha,
            seed=seed,
            n_elo_orderings=n_elo_orderings,
            n_curve_replicates=n_curve_replicates,
            controlled=leaderboards[name]["controlled"],
        )
    for name, reason in pool_errors.items():
        leaderboards[name] = stabilities[name] = {"status": "not_computed", "reason": reason}
    pool_boards = {name: board for name, board in boards.items() if name != "overall"}
    return {
        "rankings": {
            "status": "computed",
            "question": question,
            "model": "Bradley–Terry maximum likelihood, ties as half a win",
            "scale": {"kind": "elo", "centre": 1000.0, "elo_per_logit": _round(ELO_PER_LOGIT)},
            "bootstrap": {
                "n": n_boot,
                "unit": "prompt" if resampler.by_cluster else "vote",
                "confidence_level": _round(1 - alpha),
                "seed": seed,
            },
            "pool_column": pool_column if pools is not None else None,
            "leaderboards": leaderboards,
            "pool_agreement": _pool_agreement(pool_boards, alpha=alpha),
        },
        "rank_stability": {"status": "computed", "leaderboards": stabilities},
    }


def preference_question(
    questions: Mapping[str, Mapping[str, Any]], preferred: str | None
) -> str | None:
    """The pairwise question to rank on: the one given the preference role, else the
    first pairwise question."""
    pairwise = [name for name, spec in questions.items() if spec.get("type") == "pairwise"]
    if preferred in pairwise:
        return preferred
    return pairwise[0] if pairwise else None
