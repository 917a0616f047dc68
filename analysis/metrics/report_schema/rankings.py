"""The rankings part of the report description: per board (overall, then each pool)
the leaderboard, its stability verdict, adjacent pairs, the style/tone-controlled model
and the figures; then the agreement between pools' rankings. The ranking tables of the
CSV zip (docs/exports.md) are the leaderboards and adjacent pairs of every board.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from analysis.metrics.report_schema.view import (
    Column,
    Figure,
    Section,
    Table,
    as_dict,
    as_list,
    mappings,
    rows_of,
    spell,
)

# (figure key of analysis.ranking_charts.ranking_charts, caption), in reading order.
RANKING_FIGURES = (
    ("forest", "Ratings with bootstrap intervals"),
    ("rank_intervals", "Rank intervals"),
    ("rank_probability_heatmap", "Probability of each rank"),
    ("controlled_slope", "Raw and style/tone-controlled ranks"),
    ("win_rate_heatmap", "Pairwise win rates"),
    ("battles_heatmap", "Votes per pair"),
    ("tau_histogram", "Bootstrap Kendall τ to the full ranking"),
    ("leave_one_out_bars", "Leaving one system out"),
    ("weak_competitor_bars", "Injecting a weak competitor"),
    ("votes_needed_curve", "Votes needed"),
)

LEADERBOARD_COLUMNS = (
    Column("board"),
    Column("rank", "Rank", "int"),
    Column("rank_interval", "Rank interval", "interval", 0),
    Column("tie_group", "Tie group", "int"),
    Column("system", "System"),
    Column("rating", "Rating", "number", 1),
    Column("ci", "CI", "interval", 1),
    Column("p_rank_first", "P(first)", "number"),
    Column("votes", "Votes", "int"),
    Column("win_rate", "Win rate", "number"),
    Column("online_elo_mean", "Online Elo", "number", 1),
    Column("online_elo_sd", "± SD", "number", 1),
    Column("controlled_rating", "Controlled rating", "number", 1),
    Column("controlled_rank", "Controlled rank", "int"),
    Column("controlled_rank_change", "Change", "int"),
)
PAIR_COLUMNS = (
    Column("board"),
    Column("upper", "Upper"),
    Column("lower", "Lower"),
    Column("elo_gap", "Elo gap", "number", 1),
    Column("gap_ci", "Gap CI", "interval", 1),
    Column("p_swap", "P(swap)", "number"),
    Column("separated", "Separated", "bool"),
    Column("direct_votes", "Direct votes", "int"),
    Column("direct_win_rate", "Direct win rate", "number"),
    Column("more_votes_needed", "More votes needed", "int"),
    Column("head_to_head_votes_needed", "Head-to-head votes needed", "int"),
    Column("verdict", "Verdict"),
)


def computed(section: Any) -> bool:
    return isinstance(section, Mapping) and section.get("status") == "computed"


def ranking_boards(
    report: Mapping[str, Any],
) -> list[tuple[str, Mapping[str, Any], Mapping[str, Any]]]:
    """(board, leaderboard, stability) of a report that ranked systems: the overall board
    first, then the pools by name. Empty when the rankings were not computed; a board
    whose own status is not ``computed`` is still listed (it carries the reason)."""
    rankings = as_dict(report.get("rankings"))
    if not computed(rankings):
        return []
    leaderboards = dict(mappings(rankings.get("leaderboards")))
    stabilities = dict(mappings(as_dict(report.get("rank_stability")).get("leaderboards")))
    names = sorted(leaderboards, key=lambda name: (name != "overall", name))
    return [(name, leaderboards[name], stabilities.get(name) or {}) for name in names]


def board_title(board: str) -> str:
    return "Overall" if board == "overall" else f"Pool {board}"


def _leaderboard(board: str, leaderboard: Mapping[str, Any]) -> Table:
    controlled = as_dict(leaderboard.get("controlled"))
    adjusted = (
        {row.get("system"): row for row in rows_of(controlled.get("systems"))}
        if computed(controlled)
        else {}
    )
    rows: list[tuple[Any, ...]] = []
    for row in rows_of(leaderboard.get("systems")):
        elo = as_dict(row.get("online_elo"))
        control = adjusted.get(row.get("system")) or {}
        rows.append(
            (
                board,
                row.get("rank"),
                row.get("rank_interval"),
                row.get("tie_group"),
                row.get("system"),
                row.get("rating"),
                row.get("ci"),
                row.get("p_rank_first"),
                row.get("votes"),
                row.get("win_rate"),
                elo.get("mean"),
                elo.get("sd"),
                control.get("rating"),
                control.get("rank"),
                control.get("rank_change"),
            )
        )
    return Table("Leaderboard", LEADERBOARD_COLUMNS, tuple(rows))


def _pairs(board: str, leaderboard: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    matrices = as_dict(leaderboard.get("pairs"))
    names = as_list(matrices.get("systems"))
    if not all(isinstance(matrices.get(k), list) for k in ("battles", "wins", "win_rate")):
        return []
    return [
        (
            board,
            system,
            opponent,
            matrices["battles"][i][j],
            matrices["wins"][i][j],
            matrices["win_rate"][i][j],
        )
        for i, system in enumerate(names)
        for j, opponent in enumerate(names)
        if i != j
    ]


def _stability(board: str, stability: Mapping[str, Any]) -> tuple[list[str], Table | None]:
    if not computed(stability):
        return [f"Stability not computed: {stability.get('reason')}"], None
    tau = as_dict(stability.get("kendall_tau"))
    needed = as_dict(stability.get("votes_needed"))
    triads = as_dict(stability.get("intransitive_triads"))
    loo = [
        row["kendall_tau"]
        for row in rows_of(stability.get("leave_one_out"))
        if isinstance(row.get("kendall_tau"), int | float)
    ]
    text = [
        f"Stability: {stability.get('verdict')}",
        *(f"– {reason}" for reason in as_list(stability.get("verdict_reasons"))),
        f"Bootstrap Kendall τ to the full ranking: mean {spell(tau.get('mean'))}, 5th "
        f"percentile {spell(tau.get('p05'))}; leave one system out: lowest τ "
        f"{spell(min(loo) if loo else None)}; intransitive triads "
        f"{spell(triads.get('count'))} ({spell(triads.get('significant'))} significant); "
        f"votes for τ ≥ 0.9: {spell(needed.get('votes_for_tau_0_9'))}; smallest resolvable "
        f"gap {spell(needed.get('smallest_resolvable_gap'), 'number', 1)} Elo.",
    ]
    pairs = rows_of(stability.get("adjacent_pairs"))
    table = Table(
        "Adjacent pairs",
        PAIR_COLUMNS,
        tuple(
            (
                board,
                p.get("upper"),
                p.get("lower"),
                p.get("elo_gap"),
                p.get("gap_ci"),
                p.get("p_swap"),
                p.get("separated"),
                p.get("direct_votes"),
                p.get("direct_win_rate"),
                p.get("more_votes_needed"),
                p.get("head_to_head_votes_needed"),
                p.get("verdict"),
            )
            for p in pairs
        ),
        flagged=tuple(not p.get("separated") for p in pairs),
    )
    return text, table


def _controlled(board: str, controlled: Mapping[str, Any]) -> Section:
    title = "Style/tone-controlled ranking"
    if not computed(controlled):
        return Section(f"ranking-{board}-controlled", title, reason=str(controlled.get("reason")))
    return Section(
        f"ranking-{board}-controlled",
        title,
        text=(
            f"{controlled.get('model')}; largest rank change "
            f"{spell(controlled.get('max_rank_change'))}.",
        ),
        tables=(
            Table(
                "Covariates",
                (
                    Column("board"),
                    Column("name", "Covariate"),
                    Column("coefficient", "Coefficient", "number"),
                    Column("ci", "CI", "interval"),
                    Column("elo_per_sd", "Elo per SD", "number", 1),
                    Column("significant", "Significant", "bool"),
                ),
                tuple(
                    (
                        board,
                        c.get("name"),
                        c.get("coefficient"),
                        c.get("ci"),
                        c.get("elo_per_sd"),
                        c.get("significant"),
                    )
                    for c in rows_of(controlled.get("covariates"))
                ),
            ),
        ),
    )


def _board(board: str, leaderboard: Mapping[str, Any], stability: Mapping[str, Any]) -> Section:
    title = board_title(board)
    if not computed(leaderboard):
        return Section(f"ranking-{board}", title, reason=str(leaderboard.get("reason")))
    stability_text, pairs = _stability(board, stability) if stability else ([], None)
    return Section(
        f"ranking-{board}",
        title,
        text=(
            f"{leaderboard.get('n_votes')} votes ({leaderboard.get('n_ties')} ties) on "
            f"{leaderboard.get('n_systems')} systems, {leaderboard.get('n_prompts')} prompts, "
            f"{leaderboard.get('n_annotators')} annotators.",
            *stability_text,
        ),
        warning="Warnings" if leaderboard.get("warnings") else None,
        items=tuple(str(w) for w in as_list(leaderboard.get("warnings"))),
        tables=(_leaderboard(board, leaderboard), *([pairs] if pairs else [])),
        figures=tuple(
            Figure(f"ranking:{board}:{key}", caption) for key, caption in RANKING_FIGURES
        ),
        parts=(_controlled(board, as_dict(leaderboard.get("controlled"))),),
    )


def rankings_section(report: Mapping[str, Any]) -> Section | None:
    """None when the report has no rankings key at all (reports from before them)."""
    rankings = report.get("rankings")
    if not isinstance(rankings, Mapping):
        return None
    if not computed(rankings):
        return Section("rankings", "Rankings", reason=str(rankings.get("reason")))
    bootstrap = as_dict(rankings.get("bootstrap"))
    level = bootstrap.get("confidence_level")
    boards = [_board(*entry) for entry in ranking_boards(report)]
    agreement = [
        (
            " vs ".join(str(p) for p in as_list(row.get("pools"))),
            row.get("systems"),
            row.get("kendall_tau"),
            row.get("ci"),
        )
        for row in rows_of(rankings.get("pool_agreement"))
    ]
    tables: tuple[Table, ...] = ()
    if agreement:
        tables = (
            Table(
                "Agreement between pools' rankings",
                (
                    Column("pools", "Pools"),
                    Column("systems", "Shared systems", "int"),
                    Column("kendall_tau", "Kendall τ", "number"),
                    Column("ci", "CI", "interval"),
                ),
                tuple(agreement),
                csv="ranking_pool_agreement.csv",
            ),
        )
    return Section(
        "rankings",
        "Rankings",
        text=(
            f"Question {rankings.get('question')}: {rankings.get('model')}; Elo scale centred "
            f"at {spell((rankings.get('scale') or {}).get('centre'), 'number', 0)}; "
            f"{spell(round(level * 100) if isinstance(level, float) else None)}% intervals "
            f"from {bootstrap.get('n')} bootstrap resamples by {bootstrap.get('unit')} "
            f"(seed {bootstrap.get('seed')}).",
        ),
        parts=tuple(boards),
        tables=tables,
    )


def ranking_tables(report: Mapping[str, Any], section: Section | None) -> list[Table]:
    """The ranking tables of the CSV zip, present only for the sections that were
    computed, so a report without pairwise votes keeps the zip it always had."""
    boards = ranking_boards(report)
    if not boards or section is None:
        return []
    shown = [t for s in section.walk() for t in s.tables]
    leaderboard_rows = [r for t in shown if t.columns == LEADERBOARD_COLUMNS for r in t.rows]
    pair_rows = [r for t in shown if t.columns == PAIR_COLUMNS for r in t.rows]
    covariates = [r for t in shown if t.title == "Covariates" for r in t.rows]
    names = lambda *keys: tuple(Column(k) for k in keys)  # noqa: E731
    out = [
        Table("", LEADERBOARD_COLUMNS, tuple(leaderboard_rows), csv="rankings.csv", shown=False),
        Table(
            "",
            names("board", "system", "opponent", "battles", "wins", "win_rate"),
            tuple(
                r
                for board, leaderboard, _ in boards
                if computed(leaderboard)
                for r in _pairs(board, leaderboard)
            ),
            csv="ranking_pairs.csv",
            shown=False,
        ),
    ]
    if covariates:
        columns = next(t.columns for t in shown if t.title == "Covariates")
        out.append(Table("", columns, tuple(covariates), csv="ranking_covariates.csv", shown=False))
    if computed(report.get("rank_stability")):
        out.append(Table("", PAIR_COLUMNS, tuple(pair_rows), csv="rank_stability.csv", shown=False))
        out.append(_stability_summary(boards))
    return out


def _stability_summary(
    boards: list[tuple[str, Mapping[str, Any], Mapping[str, Any]]],
) -> Table:
    rows: list[tuple[Any, ...]] = []
    for board, _, stability in boards:
        if not stability:
            continue
        if not computed(stability):
            rows.append((board, stability.get("status"), stability.get("reason")) + (None,) * 6)
            continue
        tau = as_dict(stability.get("kendall_tau"))
        needed = as_dict(stability.get("votes_needed"))
        rows.append(
            (
                board,
                stability.get("status"),
                None,
                stability.get("verdict"),
                "; ".join(as_list(stability.get("verdict_reasons"))),
                tau.get("mean"),
                tau.get("p05"),
                needed.get("votes_for_tau_0_9"),
                needed.get("smallest_resolvable_gap"),
            )
        )
    return Table(
        "",
        tuple(
            Column(k)
            for k in (
                "board",
                "status",
                "reason",
                "verdict",
                "verdict_reasons",
                "kendall_tau_mean",
                "kendall_tau_p05",
                "votes_for_tau_0_9",
                "smallest_resolvable_gap",
            )
        ),
        tuple(rows),
        csv="rank_stability_summary.csv",
        shown=False,
    )
