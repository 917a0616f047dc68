"""The report's `rankings` and `rank_stability` sections (methods.md 5, C1–C3).

`ranking_sections` takes the report's long table, turns the pairwise-preference
answers into votes between systems (the shown order maps each A/B choice back to the
system behind it) and builds a leaderboard overall and per pool, each with its
stability report. `docs/rankings.md` documents every field and the defaults.

The package, by concern: :mod:`~analysis.metrics.ranking_report.votes` (votes from the
table), :mod:`~analysis.metrics.ranking_report.board` (one leaderboard),
:mod:`~analysis.metrics.ranking_report.stability` (its stability report) and
:mod:`~analysis.metrics.ranking_report.sections` (both sections, overall and per pool).
"""

from __future__ import annotations

from analysis.metrics.ranking_report.board import ELO_K_VALUES, Board, leaderboard
from analysis.metrics.ranking_report.sections import preference_question, ranking_sections
from analysis.metrics.ranking_report.stability import (
    VOTES_NEEDED_FRACTIONS,
    _adjacent_pairs,
    _leave_one_out,
    _votes_needed,
    _weak_competitor,
    head_to_head_votes,
    inject_weak_competitor,
    stability,
)
from analysis.metrics.ranking_report.votes import TIE_VALUES, battles_from_table

# The underscored names were importable from the single module this package replaced;
# the tests still reach them here.
__all__ = [
    "ELO_K_VALUES",
    "TIE_VALUES",
    "VOTES_NEEDED_FRACTIONS",
    "Board",
    "_adjacent_pairs",
    "_leave_one_out",
    "_votes_needed",
    "_weak_competitor",
    "battles_from_table",
    "head_to_head_votes",
    "inject_weak_competitor",
    "leaderboard",
    "preference_question",
    "ranking_sections",
    "stability",
]
