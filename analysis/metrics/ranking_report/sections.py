"""The report's `rankings` and `rank_stability` sections, overall and per pool."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from analysis.metrics.ranking_report.board import Board, leaderboard
from analysis.metrics.ranking_report.common import _round
from analysis.metrics.ranking_report.stability import stability
from analysis.metrics.ranking_report.votes import battles_from_table
from analysis.metrics.rankings import (
    ELO_PER_LOGIT,
    RankingError,
    Resampler,
    kendall_tau,
)


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
