"""One leaderboard: the Bradley-Terry fit, its bootstrap, and the rows the report shows."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from analysis.metrics.ranking_report.common import _elo, _round
from analysis.metrics.rankings import (
    ELO_PER_LOGIT,
    FALLBACK_L2,
    Battles,
    Resampler,
    bootstrap_xi,
    fit_bradley_terry,
    fit_bradley_terry_covariates,
    online_elo_by_k,
    pair_totals,
    ranks_of,
    to_elo,
)

ELO_K_VALUES = (4.0, 16.0, 32.0)


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


def _system_rows(
    board: Board, groups: list[list[str]], *, alpha: float, seed: int, n_elo_orderings: int
) -> list[dict[str, Any]]:
    """One row per system in rating order: rating and interval, rank interval, tie group,
    bootstrap rank distribution, votes, win rate and online Elo."""
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
    return systems


def leaderboard(
    board: Board,
    *,
    alpha: float,
    seed: int,
    n_elo_orderings: int,
) -> dict[str, Any]:
    """One leaderboard: BT ratings with bootstrap intervals and rank intervals, online
    Elo as a diagnostic, pair matrices, the controlled ranking and a cross-check."""
    battles = board.battles
    groups = _tie_groups(board)
    systems = _system_rows(board, groups, alpha=alpha, seed=seed, n_elo_orderings=n_elo_orderings)
    n_clusters = len(np.unique(battles.cluster)) if battles.cluster is not None else None
    n_annotators = len(np.unique(battles.annotator)) if battles.annotator is not None else None
    return {
        "status": "computed",
        "n_votes": len(battles),
        "n_ties": int((battles.score == 0.5).sum()),
        "n_systems": len(board.systems),
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
