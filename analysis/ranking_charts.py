"""Figures of a report's `rankings` and `rank_stability` sections as inline SVG strings.

Pure like analysis.charts and analysis.bias_charts: report dict in, escaped markup
out. No scripts, no ``style`` attributes and no external references, so the figures
pass the site's CSP and paste into a standalone HTML or PDF export; colours are SVG
presentation attributes (they must survive without static/css/analysis.css), the
rest is classed for it. Every system name, pool name and reason comes from the data
and is escaped. Each figure is sized from the number of systems, so 2 and 20
systems both stay legible; a figure whose data is absent is None.

The figures live in four modules by concern — ranking_charts_ratings (forest plot,
rank intervals, controlled slope), ranking_charts_matrices (rank probabilities, win
rates, votes per pair), ranking_charts_stability (tau histogram, leave-one-out, weak
competitor, votes needed) and ranking_charts_layout (what they share); this module
assembles them per leaderboard.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from analysis.ranking_charts_matrices import (
    battles_heatmap,
    rank_probability_heatmap,
    win_rate_heatmap,
)
from analysis.ranking_charts_ratings import controlled_slope_chart, forest_plot, rank_interval_chart
from analysis.ranking_charts_stability import (
    leave_one_out_bars,
    tau_histogram,
    votes_needed_curve,
    weak_competitor_bars,
)

__all__ = [
    "battles_heatmap",
    "controlled_slope_chart",
    "forest_plot",
    "leave_one_out_bars",
    "rank_interval_chart",
    "rank_probability_heatmap",
    "ranking_charts",
    "tau_histogram",
    "votes_needed_curve",
    "weak_competitor_bars",
    "win_rate_heatmap",
]


def ranking_charts(report: Mapping[str, Any], board: str = "overall") -> dict[str, str | None]:
    """Every figure of one leaderboard (`board`: "overall" or a pool) that the report's
    data supports; a figure it cannot support is None."""
    return {
        "forest": forest_plot(report, board),
        "rank_intervals": rank_interval_chart(report, board),
        "rank_probability_heatmap": rank_probability_heatmap(report, board),
        "tau_histogram": tau_histogram(report, board),
        "win_rate_heatmap": win_rate_heatmap(report, board),
        "battles_heatmap": battles_heatmap(report, board),
        "leave_one_out_bars": leave_one_out_bars(report, board),
        "weak_competitor_bars": weak_competitor_bars(report, board),
        "votes_needed_curve": votes_needed_curve(report, board),
        "controlled_slope": controlled_slope_chart(report, board),
    }
