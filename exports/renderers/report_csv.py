"""An agreement report as a zip of tidy CSV tables, one per section, plus the manifest.

Tables (docs/exports.md): ``coefficients.csv`` (every coefficient, overall and per
breakdown group), ``categories.csv``, ``kappa_pairs.csv``, ``preference.csv``,
``annotators_by_question.csv``, ``annotators.csv``, ``contested_units.csv``,
``questions.csv``; when the report ranked systems, ``rankings.csv``,
``ranking_pairs.csv``, ``rank_stability.csv`` and ``rank_stability_summary.csv``; and
``manifest.json``. Floats are written with Python's shortest round-trip repr, missing
values as empty cells.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator, Mapping
from typing import Any

import orjson

from common.csv_writer import rows_csv

CONTENT_TYPE = "application/zip"
EXTENSION = "zip"

COEFFICIENTS = ("krippendorff_alpha", "fleiss_kappa", "gwet_ac1", "percent_agreement")
COEFFICIENT_FIELDS = (
    "value",
    "defined",
    "reason",
    "method",
    "ci_low",
    "ci_high",
    "confidence_level",
    "ci_method",
    "n_units",
    "n_pairable_units",
    "n_ratings",
    "n_annotators",
    "n_bootstrap",
    "n_bootstrap_defined",
    "bootstrap_se",
)


def _table(header: list[str], rows: list[list[Any]]) -> bytes:
    return rows_csv(header, rows)


def _sets(section: Mapping[str, Any]) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    """(breakdown column, group, coefficient set): overall first, then each breakdown."""
    if section.get("overall"):
        yield "", "", section["overall"]
    for column, breakdown in sorted((section.get("breakdowns") or {}).items()):
        for group, coefficients in sorted((breakdown.get("groups") or {}).items()):
            yield column, group, coefficients


def computed(section: Any) -> bool:
    return isinstance(section, Mapping) and section.get("status") == "computed"


def ranking_boards(
    report: Mapping[str, Any],
) -> list[tuple[str, Mapping[str, Any], Mapping[str, Any]]]:
    """(board, leaderboard, stability) of a report that ranked systems: the overall board
    first, then the pools by name. Empty when the rankings were not computed; a board
    whose own status is not ``computed`` is still listed (it carries the reason)."""
    rankings = report.get("rankings")
    if not computed(rankings):
        return []
    leaderboards = rankings.get("leaderboards") or {}
    stabilities = (report.get("rank_stability") or {}).get("leaderboards") or {}
    names = sorted(leaderboards, key=lambda name: (name != "overall", name))
    return [(name, leaderboards[name], stabilities.get(name) or {}) for name in names]


def _span(pair: Any) -> tuple[Any, Any]:
    return (pair[0], pair[1]) if isinstance(pair, list | tuple) and len(pair) == 2 else (None, None)


def ranking_tables(report: Mapping[str, Any]) -> dict[str, bytes]:
    """The four ranking tables, present only for the sections that were computed, so a
    report without pairwise votes keeps the zip it always had."""
    boards = ranking_boards(report)
    if not boards:
        return {}
    rankings: list[list[Any]] = []
    pairs: list[list[Any]] = []
    adjacent: list[list[Any]] = []
    summary: list[list[Any]] = []
    for board, leaderboard, stability in boards:
        if computed(leaderboard):
            controlled = leaderboard.get("controlled") or {}
            adjusted = (
                {row["system"]: row for row in controlled.get("systems") or []}
                if computed(controlled)
                else {}
            )
            for row in leaderboard.get("systems") or []:
                low, high = _span(row.get("ci"))
                best, worst = _span(row.get("rank_interval"))
                elo = row.get("online_elo") or {}
                control = adjusted.get(row["system"]) or {}
                rankings.append(
                    [
                        board,
                        row.get("rank"),
                        best,
                        worst,
                        row.get("tie_group"),
                        row["system"],
                        row.get("rating"),
                        low,
                        high,
                        row.get("p_rank_first"),
                        row.get("votes"),
                        row.get("win_rate"),
                        elo.get("mean"),
                        elo.get("sd"),
                        control.get("rating"),
                        control.get("rank"),
                        control.get("rank_change"),
                    ]
                )
            matrices = leaderboard.get("pairs") or {}
            names = matrices.get("systems") or []
            for i, system in enumerate(names):
                for j, opponent in enumerate(names):
                    if i != j:
                        pairs.append(
                            [
                                board,
                                system,
                                opponent,
                                matrices["battles"][i][j],
                                matrices["wins"][i][j],
                                matrices["win_rate"][i][j],
                            ]
                        )
        if not stability:
            continue
        if not computed(stability):
            summary.append([board, stability.get("status"), stability.get("reason")] + [None] * 6)
            continue
        for pair in stability.get("adjacent_pairs") or []:
            low, high = _span(pair.get("gap_ci"))
            adjacent.append(
                [
                    board,
                    pair.get("upper"),
                    pair.get("lower"),
                    pair.get("elo_gap"),
                    low,
                    high,
                    pair.get("p_swap"),
                    pair.get("separated"),
                    pair.get("direct_votes"),
                    pair.get("direct_win_rate"),
                    pair.get("more_votes_needed"),
                    pair.get("head_to_head_votes_needed"),
                    pair.get("verdict"),
                ]
            )
        tau = stability.get("kendall_tau") or {}
        needed = stability.get("votes_needed") or {}
        summary.append(
            [
                board,
                stability.get("status"),
                None,
                stability.get("verdict"),
                "; ".join(stability.get("verdict_reasons") or []),
                tau.get("mean"),
                tau.get("p05"),
                needed.get("votes_for_tau_0_9"),
                needed.get("smallest_resolvable_gap"),
            ]
        )
    out = {
        "rankings.csv": _table(
            [
                "board",
                "rank",
                "rank_interval_low",
                "rank_interval_high",
                "tie_group",
                "system",
                "rating",
                "ci_low",
                "ci_high",
                "p_rank_first",
                "votes",
                "win_rate",
                "online_elo_mean",
                "online_elo_sd",
                "controlled_rating",
                "controlled_rank",
                "controlled_rank_change",
            ],
            rankings,
        ),
        "ranking_pairs.csv": _table(
            ["board", "system", "opponent", "battles", "wins", "win_rate"], pairs
        ),
    }
    if computed(report.get("rank_stability")):
        out["rank_stability.csv"] = _table(
            [
                "board",
                "upper",
                "lower",
                "elo_gap",
                "gap_ci_low",
                "gap_ci_high",
                "p_swap",
                "separated",
                "direct_votes",
                "direct_win_rate",
                "more_votes_needed",
                "head_to_head_votes_needed",
                "verdict",
            ],
            adjacent,
        )
        out["rank_stability_summary.csv"] = _table(
            [
                "board",
                "status",
                "reason",
                "verdict",
                "verdict_reasons",
                "kendall_tau_mean",
                "kendall_tau_p05",
                "votes_for_tau_0_9",
                "smallest_resolvable_gap",
            ],
            summary,
        )
    return out


def tables(report: Mapping[str, Any]) -> dict[str, bytes]:
    thresholds = list(report.get("parameters", {}).get("thresholds", []))
    questions = sorted(report.get("questions", {}).items())
    rows: dict[str, list[list[Any]]] = {
        name: []
        for name in (
            "questions",
            "coefficients",
            "categories",
            "kappa_pairs",
            "preference",
            "annotators_by_question",
            "contested_units",
        )
    }
    for name, section in questions:
        overall = section.get("overall") or {}
        counts = overall.get("counts") or {}
        rows["questions"].append(
            [
                name,
                section.get("type"),
                section.get("level"),
                section.get("status"),
                section.get("reason"),
                section.get("n_rows"),
                section.get("n_missing_answers"),
                counts.get("n_units"),
                counts.get("n_annotators"),
                counts.get("n_ratings"),
                (overall.get("krippendorff_alpha") or {}).get("value"),
                (overall.get("cohen_kappa_pairs") or {}).get("mean_kappa"),
            ]
        )
        for column, group, coefficients in _sets(section):
            for coefficient in COEFFICIENTS:
                c = coefficients.get(coefficient) or {}
                p_below = {p["threshold"]: p["probability"] for p in c.get("p_below") or []}
                rows["coefficients"].append(
                    [name, column, group, coefficient]
                    + [c.get(field) for field in COEFFICIENT_FIELDS]
                    + [p_below.get(t) for t in thresholds]
                )
            for category in (coefficients.get("counts") or {}).get("categories") or []:
                rows["categories"].append(
                    [
                        name,
                        column,
                        group,
                        category["label"],
                        category["count"],
                        category["prevalence"],
                    ]
                )
            pairs = coefficients.get("cohen_kappa_pairs") or {}
            for pair in pairs.get("pairs") or []:
                rows["kappa_pairs"].append(
                    [
                        name,
                        column,
                        group,
                        pair["a"],
                        pair["b"],
                        pair.get("n"),
                        pair.get("kappa"),
                        pair.get("kappa_linear"),
                        pair.get("kappa_quadratic"),
                        pair.get("reason"),
                    ]
                )
        preference = section.get("preference")
        if preference:
            votes = preference.get("votes") or {}
            for ties in ("with_ties", "without_ties"):
                for coefficient, c in sorted((preference.get(ties) or {}).items()):
                    rows["preference"].append(
                        [
                            name,
                            ties,
                            coefficient,
                            c.get("value"),
                            c.get("ci_low"),
                            c.get("ci_high"),
                            c.get("reason"),
                            votes.get("n"),
                            votes.get("first_position"),
                            votes.get("second_position"),
                            votes.get("tie"),
                            votes.get("first_position_share_of_decisive"),
                        ]
                    )
        for a in (section.get("annotators") or {}).get("annotators") or []:
            gold = a.get("gold") or {}
            flag = a.get("flag") or {}
            rows["annotators_by_question"].append(
                [
                    name,
                    a.get("annotator_id"),
                    a.get("pool"),
                    a.get("n_items"),
                    a.get("n_compared"),
                    a.get("consensus_agreement"),
                    a.get("pairwise_agreement_with_others"),
                    a.get("mean_abs_deviation"),
                    a.get("mean_signed_deviation"),
                    gold.get("n"),
                    gold.get("n_correct"),
                    gold.get("accuracy"),
                    gold.get("mean_abs_error"),
                    flag.get("flagged"),
                    flag.get("reason"),
                ]
            )
        for rank, unit in enumerate((section.get("units") or {}).get("most_contested") or [], 1):
            rows["contested_units"].append(
                [
                    name,
                    rank,
                    unit.get("unit_id"),
                    unit.get("n_ratings"),
                    unit.get("disagreement"),
                    unit.get("disagreement_vs_chance"),
                    "; ".join(f"{r['label']}×{r['count']}" for r in unit.get("ratings") or []),
                ]
            )
    annotators = [
        [
            a.get("annotator_id"),
            a.get("pool"),
            a.get("n_units"),
            a.get("n_answers"),
            a.get("median_active_seconds"),
            (a.get("gold") or {}).get("n"),
            (a.get("gold") or {}).get("n_correct"),
            (a.get("gold") or {}).get("accuracy"),
            a.get("flagged"),
            ",".join(a.get("flagged_questions") or []),
        ]
        for a in report.get("annotators") or []
    ]
    by = ["question", "breakdown", "group"]
    return {
        "questions.csv": _table(
            [
                "question",
                "type",
                "level",
                "status",
                "reason",
                "n_rows",
                "n_missing_answers",
                "n_units",
                "n_annotators",
                "n_ratings",
                "krippendorff_alpha",
                "mean_pairwise_kappa",
            ],
            rows["questions"],
        ),
        "coefficients.csv": _table(
            [*by, "coefficient", *COEFFICIENT_FIELDS] + [f"p_below_{t}" for t in thresholds],
            rows["coefficients"],
        ),
        "categories.csv": _table([*by, "label", "count", "prevalence"], rows["categories"]),
        "kappa_pairs.csv": _table(
            [*by, "a", "b", "n", "kappa", "kappa_linear", "kappa_quadratic", "reason"],
            rows["kappa_pairs"],
        ),
        "preference.csv": _table(
            [
                "question",
                "ties",
                "coefficient",
                "value",
                "ci_low",
                "ci_high",
                "reason",
                "votes",
                "first_position_votes",
                "second_position_votes",
                "tie_votes",
                "first_position_share_of_decisive",
            ],
            rows["preference"],
        ),
        "annotators_by_question.csv": _table(
            [
                "question",
                "annotator_id",
                "pool",
                "n_items",
                "n_compared",
                "consensus_agreement",
                "pairwise_agreement_with_others",
                "mean_abs_deviation",
                "mean_signed_deviation",
                "gold_n",
                "gold_n_correct",
                "gold_accuracy",
                "gold_mean_abs_error",
                "flagged",
                "flag_reason",
            ],
            rows["annotators_by_question"],
        ),
        "annotators.csv": _table(
            [
                "annotator_id",
                "pool",
                "n_units",
                "n_answers",
                "median_active_seconds",
                "gold_n",
                "gold_n_correct",
                "gold_accuracy",
                "flagged",
                "flagged_questions",
            ],
            annotators,
        ),
        "contested_units.csv": _table(
            [
                "question",
                "rank",
                "unit_id",
                "n_ratings",
                "disagreement",
                "disagreement_vs_chance",
                "ratings",
            ],
            rows["contested_units"],
        ),
    } | ranking_tables(report)


def render(report: Mapping[str, Any], manifest: Mapping[str, Any]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in tables(report).items():
            archive.writestr(name, data)
        archive.writestr(
            "manifest.json",
            orjson.dumps(manifest, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2),
        )
    return buffer.getvalue()
