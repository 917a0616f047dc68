"""Ranking figures drawn as matrices: probability of each rank, pairwise win rates
and the number of direct votes per pair."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from html import escape
from typing import Any

from analysis.charts import _kappa_colour, _num, _svg
from analysis.ranking_charts_layout import (
    DIAGONAL_FILL,
    MAX_LABEL_CHARS,
    MISSING_FILL,
    _boards,
    _float,
    _ink,
    _label_width,
    _name,
    _row_label,
    _short,
    _suffix,
    _systems,
)


def _blue(share: float) -> str:
    """White (0) to the accent blue (1)."""
    s = max(0.0, min(1.0, share))
    r, g, b = (255 - s * (255 - 37), 255 - s * (255 - 87), 255 - s * (255 - 167))
    return f"#{round(r):02x}{round(g):02x}{round(b):02x}"


def _green(share: float) -> str:
    s = max(0.0, min(1.0, share))
    r, g, b = (255 - s * (255 - 31), 255 - s * (255 - 122), 255 - s * (255 - 63))
    return f"#{round(r):02x}{round(g):02x}{round(b):02x}"


def _matrix(
    *,
    cls: str,
    title: str,
    rows: Sequence[str],
    columns: Sequence[str],
    cell: Callable[[int, int], tuple[str, str, str] | None],
    legend: Sequence[tuple[str, str]],
    rotate_columns: bool = True,
) -> str:
    """A heatmap: `cell(i, j)` gives (fill, text in the cell, tooltip), or None for the
    diagonal; text is drawn only when the cells are big enough to hold it."""
    size = max(14, min(44, 520 // max(len(rows), len(columns), 1)))
    left = 8 + _label_width(rows) - 16
    longest = max((min(len(c), MAX_LABEL_CHARS) for c in columns), default=2)
    top = 8 + (min(150, 7 * longest) if rotate_columns else 18)
    body: list[str] = []
    for i, name in enumerate(rows):
        body.append(_row_label(name, left - 4, top + (i + 0.5) * size))
    for j, name in enumerate(columns):
        cx = left + (j + 0.5) * size
        if rotate_columns:
            body.append(
                f'<text class="label small" transform="translate({_num(cx + 4)},{top - 4}) '
                f'rotate(-90)"><title>{escape(name)}</title>{_short(name)}</text>'
            )
        else:
            body.append(
                f'<text class="tick" x="{_num(cx)}" y="{top - 6}" text-anchor="middle">'
                f"{escape(name)}</text>"
            )
    show_text = size >= 26
    for i in range(len(rows)):
        for j in range(len(columns)):
            x, y = left + j * size, top + i * size
            drawn = cell(i, j)
            if drawn is None:
                body.append(
                    f'<rect class="diagonal" x="{x}" y="{y}" width="{size}" height="{size}" '
                    f'fill="{DIAGONAL_FILL}"/>'
                )
                continue
            fill, text, tip = drawn
            body.append(
                f'<rect x="{x}" y="{y}" width="{size}" height="{size}" fill="{fill}" '
                f'stroke="#ffffff"><title>{escape(tip)}</title></rect>'
            )
            if show_text and text:
                body.append(
                    f'<text class="cell" x="{_num(x + size / 2)}" y="{_num(y + size / 2 + 4)}" '
                    f'text-anchor="middle" font-size="10" fill="{_ink(fill)}">{escape(text)}</text>'
                )
    legend_x = left + size * len(columns) + 20
    for step, (fill, text) in enumerate(legend):
        body.append(
            f'<rect x="{legend_x}" y="{top + step * 14}" width="16" height="14" fill="{fill}" '
            f'stroke="{MISSING_FILL}"/>'
            f'<text class="tick" x="{legend_x + 22}" y="{top + step * 14 + 11}">'
            f"{escape(text)}</text>"
        )
    width = legend_x + 90
    height = top + max(size * len(rows), 14 * len(legend)) + 10
    return _svg(cls, width, height, title, body)


def rank_probability_heatmap(report: Mapping[str, Any], board: str = "overall") -> str | None:
    """P(system has rank r) over the bootstrap replicates: a row per system, a column
    per rank; a sharp diagonal means a settled ranking."""
    leaderboard, _ = _boards(report, board)
    rows = [r for r in _systems(leaderboard) if r.get("rank_probabilities")]
    if not rows:
        return None
    m = max(len(r["rank_probabilities"]) for r in rows)
    names = [_name(r) for r in rows]

    def cell(i: int, j: int) -> tuple[str, str, str]:
        probabilities = rows[i]["rank_probabilities"]
        p = _float(probabilities[j]) if j < len(probabilities) else None
        if p is None:
            return MISSING_FILL, "", f"{names[i]}, rank {j + 1}: not available"
        text = f"{p * 100:.0f}" if p >= 0.005 else ""
        return _blue(p), text, f"{names[i]} has rank {j + 1} in {p:.1%} of replicates"

    legend = [(_blue(p), f"{p:.0%}") for p in (1.0, 0.75, 0.5, 0.25, 0.0)]
    return _matrix(
        cls="rank-probability",
        title="Probability of each rank over the bootstrap replicates (numbers in %)"
        + _suffix(board),
        rows=names,
        columns=[str(r) for r in range(1, m + 1)],
        cell=cell,
        legend=legend,
        rotate_columns=False,
    )


def _pairs(leaderboard: Mapping[str, Any], key: str) -> tuple[list[str], list[list[Any]]] | None:
    pairs = leaderboard.get("pairs") or {}
    names = [str(n) for n in pairs.get("systems") or []]
    matrix = pairs.get(key) or []
    if len(names) < 2 or len(matrix) != len(names):
        return None
    if any(not isinstance(r, Sequence) or len(r) != len(names) for r in matrix):
        return None
    return names, matrix


def win_rate_heatmap(report: Mapping[str, Any], board: str = "overall") -> str | None:
    """Share of direct votes the row system won against the column system (ties half)."""
    leaderboard, _ = _boards(report, board)
    found = _pairs(leaderboard, "win_rate")
    if found is None:
        return None
    names, rates = found
    battles = (_pairs(leaderboard, "battles") or (names, None))[1]

    def cell(i: int, j: int) -> tuple[str, str, str] | None:
        if i == j:
            return None
        rate = _float(rates[i][j])
        games = _float(battles[i][j]) if battles else None
        if rate is None:
            return MISSING_FILL, "", f"{names[i]} and {names[j]} never met directly"
        n = f" of {games:.0f} votes" if games is not None else ""
        tip = f"{names[i]} beat {names[j]} in {rate:.1%}{n}"
        return _kappa_colour(2 * rate - 1), f"{rate * 100:.0f}", tip

    legend = [(_kappa_colour(2 * p - 1), f"{p:.0%}") for p in (1.0, 0.75, 0.5, 0.25, 0.0)]
    legend.append((MISSING_FILL, "no votes"))
    return _matrix(
        cls="win-rate",
        title="Direct win rate of the row system against the column system, in %" + _suffix(board),
        rows=names,
        columns=names,
        cell=cell,
        legend=legend,
    )


def battles_heatmap(report: Mapping[str, Any], board: str = "overall") -> str | None:
    """How many votes compared each pair of systems directly."""
    leaderboard, _ = _boards(report, board)
    found = _pairs(leaderboard, "battles")
    if found is None:
        return None
    names, counts = found
    values = [_float(v) for row in counts for v in row]
    most = max((v for v in values if v is not None), default=0.0) or 1.0

    def cell(i: int, j: int) -> tuple[str, str, str] | None:
        if i == j:
            return None
        count = _float(counts[i][j])
        if count is None:
            return MISSING_FILL, "", f"{names[i]} × {names[j]}: not available"
        tip = f"{names[i]} × {names[j]}: {count:.0f} votes"
        return _green(count / most), f"{count:.0f}", tip

    legend = [(_green(share), f"{share * most:,.0f}") for share in (1.0, 0.5, 0.0)]
    return _matrix(
        cls="battles",
        title="Number of direct votes between each pair of systems" + _suffix(board),
        rows=names,
        columns=names,
        cell=cell,
        legend=legend,
    )
