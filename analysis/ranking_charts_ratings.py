"""Ranking figures of ratings and ranks: the forest plot of ratings with their
intervals, rank intervals, and raw against style/tone-controlled ranks."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from html import escape
from typing import Any

from analysis.charts import _num, _svg
from analysis.ranking_charts_layout import (
    CONTROLLED_COLOUR,
    DOWN_COLOUR,
    NEUTRAL,
    RAW_COLOUR,
    ROW,
    SAME_COLOUR,
    UP_COLOUR,
    _boards,
    _computed,
    _float,
    _fmt,
    _label_width,
    _name,
    _nice_ticks,
    _pair,
    _row_label,
    _short,
    _span,
    _suffix,
    _systems,
    _tie_bands,
    _whisker,
    _x_axis,
)


def _forest_mark(
    name: str,
    picked: Mapping[str, Any],
    title: str,
    colour: str,
    *,
    x: Callable[[float], float],
    y: float,
    value_x: float,
    controlled: bool,
    na_x: float,
) -> str:
    """One system's rating in one panel of the forest plot: the interval, the dot and
    the value (with its rank change in the controlled panel), or "not estimated"."""
    rating = _float(picked.get("rating"))
    ci_low, ci_high = _pair(picked.get("ci"))
    if rating is None:
        return f'<text class="na" x="{_num(na_x)}" y="{_num(y + 4)}">not estimated</text>'
    tip = f"{name} · {title}: {rating:.1f} [{_fmt(ci_low)}, {_fmt(ci_high)}]"
    rank = picked.get("rank")
    if rank is not None:
        tip += f", rank {rank}"
    mark = f'<g class="rating"><title>{escape(tip)}</title>'
    if ci_low is not None and ci_high is not None:
        mark += _whisker(x(ci_low), x(ci_high), y, colour)
    mark += f'<circle cx="{_num(x(rating))}" cy="{_num(y)}" r="4.5" fill="{colour}"/>'
    shift = picked.get("rank_change") if controlled else None
    marker = ""
    if isinstance(shift, int) and not isinstance(shift, bool) and shift:
        marker = f" {'▲' if shift > 0 else '▼'}{abs(shift)}"
    return mark + (
        f'<text class="value" x="{_num(value_x)}" y="{_num(y + 4)}">{rating:.0f}{marker}</text></g>'
    )


_Pick = Callable[[Mapping[str, Any]], Mapping[str, Any] | None]


def _forest_panels(leaderboard: Mapping[str, Any]) -> list[tuple[str, str, _Pick]]:
    """(title, colour, row → the panel's row) of the forest plot: raw ratings, and the
    style/tone-controlled ones when that model was computed."""
    controlled = _computed(leaderboard.get("controlled"))
    by_name = {_name(r): r for r in _systems(controlled)}
    panels: list[tuple[str, str, _Pick]] = [("Raw Bradley–Terry", RAW_COLOUR, lambda row: row)]
    if by_name:
        panels.append(
            ("Style/tone-controlled", CONTROLLED_COLOUR, lambda row: by_name.get(_name(row)))
        )
    return panels


def forest_plot(report: Mapping[str, Any], board: str = "overall") -> str | None:
    """Bradley–Terry ratings with their bootstrap intervals, best first, tie groups
    banded; with the style/tone-controlled ratings in a second panel on the same scale
    when the controlled model was computed."""
    leaderboard, _ = _boards(report, board)
    rows = _systems(leaderboard)
    if not rows:
        return None
    panels = _forest_panels(leaderboard)
    values: list[float | None] = []
    for _, _, pick in panels:
        for row in rows:
            picked = pick(row) or {}
            values += [_float(picked.get("rating")), *_pair(picked.get("ci"))]
    low, high = _span(values, minimum=20.0)
    ticks = [t for t in _nice_ticks(low, high) if low <= t <= high]
    names = [_name(r) for r in rows]
    label_w = _label_width(names)
    plot_w = 440 if len(panels) == 1 else 300
    value_w, gap, top = 60, 24, 30
    bottom = top + ROW * len(rows)
    centre = _float(((report.get("rankings") or {}).get("scale") or {}).get("centre"))
    body: list[str] = []
    for index, (title, colour, pick) in enumerate(panels):
        left = label_w + index * (plot_w + value_w + gap)

        def x(value: float, left: float = left) -> float:
            clipped = min(max(value, low), high)
            return left + (clipped - low) / (high - low) * plot_w

        body += _tie_bands(rows, left, plot_w, top)
        body += _x_axis(ticks, x, top, bottom, left, left + plot_w)
        body.append(
            f'<text class="label question" x="{_num(left + plot_w / 2)}" y="16" '
            f'text-anchor="middle" fill="{colour}">{escape(title)}</text>'
        )
        if centre is not None and low <= centre <= high:
            body.append(
                f'<line class="threshold" x1="{_num(x(centre))}" y1="{top}" x2="{_num(x(centre))}" '
                f'y2="{_num(bottom)}" stroke="#b25e09" stroke-dasharray="4 3"/>'
            )
        for row_index, row in enumerate(rows):
            y = top + ROW * row_index + ROW / 2
            if index == 0:
                body.append(_row_label(_name(row), label_w - 8, y))
            body.append(
                _forest_mark(
                    _name(row),
                    pick(row) or {},
                    title,
                    colour,
                    x=x,
                    y=y,
                    value_x=left + plot_w + 6,
                    controlled=index > 0,
                    na_x=left + 4,
                )
            )
    width = label_w + len(panels) * (plot_w + value_w) + (len(panels) - 1) * gap
    body.append(
        f'<text class="tick" x="{_num(label_w + plot_w / 2)}" y="{_num(bottom + 30)}" '
        f'text-anchor="middle">rating (Elo scale; dashed: the mean)</text>'
    )
    return _svg(
        "forest",
        width,
        bottom + 40,
        "Ratings with bootstrap confidence intervals"
        + (", raw and style/tone-controlled" if len(panels) > 1 else "")
        + _suffix(board),
        body,
    )


def _rank_x(m: int, left: float, plot_w: float) -> Callable[[float], float]:
    return lambda rank: left + (rank - 0.5) / m * plot_w


def rank_interval_chart(report: Mapping[str, Any], board: str = "overall") -> str | None:
    """Each system's rank interval (thick: from its rating interval; thin: bootstrap
    percentile of its rank) with its rank as a dot."""
    leaderboard, _ = _boards(report, board)
    rows = _systems(leaderboard)
    if not rows:
        return None
    ranks = [_float(r.get("rank")) for r in rows]
    m = max(len(rows), *(int(r) for r in ranks if r is not None))
    names = [_name(r) for r in rows]
    label_w = _label_width(names)
    plot_w, top = max(300, min(520, 34 * m)), 12
    bottom = top + ROW * len(rows)
    x = _rank_x(m, label_w, plot_w)
    step = 1 if m <= 20 else math.ceil(m / 20)
    ticks = [float(r) for r in range(1, m + 1, step)]
    body = _tie_bands(rows, label_w, plot_w, top)
    body += _x_axis(ticks, x, top, bottom, label_w, label_w + plot_w)
    for index, row in enumerate(rows):
        y = top + ROW * index + ROW / 2
        name = _name(row)
        body.append(_row_label(name, label_w - 8, y))
        best, worst = _pair(row.get("rank_interval"))
        boot_low, boot_high = _pair(row.get("bootstrap_rank_ci"))
        rank = _float(row.get("rank"))
        tip = (
            f"{name}: rank {_fmt(rank, '{:.0f}')}, rank interval {_fmt(best, '{:.0f}')}–"
            f"{_fmt(worst, '{:.0f}')}, bootstrap {_fmt(boot_low, '{:.0f}')}–"
            f"{_fmt(boot_high, '{:.0f}')}"
        )
        mark = f'<g class="rank-interval"><title>{escape(tip)}</title>'
        if best is not None and worst is not None:
            x1, x2 = x(best) - 5, x(worst) + 5
            mark += (
                f'<rect x="{_num(x1)}" y="{_num(y - 6)}" width="{_num(x2 - x1)}" height="8" '
                f'rx="4" fill="{RAW_COLOUR}" opacity="0.3"/>'
            )
        if boot_low is not None and boot_high is not None:
            mark += (
                f'<line x1="{_num(x(boot_low))}" y1="{_num(y + 5)}" x2="{_num(x(boot_high))}" '
                f'y2="{_num(y + 5)}" stroke="{NEUTRAL}" stroke-width="1.5"/>'
            )
        if rank is not None:
            mark += f'<circle cx="{_num(x(rank))}" cy="{_num(y - 2)}" r="4" fill="{RAW_COLOUR}"/>'
        body.append(mark + "</g>")
    body.append(
        f'<text class="tick" x="{_num(label_w + plot_w / 2)}" y="{_num(bottom + 30)}" '
        f'text-anchor="middle">rank (band: rank interval; line: bootstrap rank interval)</text>'
    )
    return _svg(
        "rank-intervals",
        label_w + plot_w + 20,
        bottom + 40,
        "Rank of each system with its rank interval" + _suffix(board),
        body,
    )


def controlled_slope_chart(report: Mapping[str, Any], board: str = "overall") -> str | None:
    """Raw rank → rank after controlling for length/tone/known errors, one line per
    system; green moved up, red moved down."""
    leaderboard, _ = _boards(report, board)
    controlled = _computed(leaderboard.get("controlled"))
    rows = [
        r
        for r in _systems(controlled)
        if _float(r.get("raw_rank")) is not None and _float(r.get("rank")) is not None
    ]
    if not rows:
        return None
    m = max(max(int(r["raw_rank"]), int(r["rank"])) for r in rows)
    names = [_name(r) for r in rows]
    label_w = _label_width(names)
    slope_w, top = 200, 30
    left, right = label_w + 24, label_w + 24 + slope_w

    def y(rank: float) -> float:
        return top + (rank - 0.5) * ROW

    body = [
        f'<text class="label question" x="{left}" y="16" text-anchor="middle">raw</text>'
        f'<text class="label question" x="{right}" y="16" text-anchor="middle">controlled</text>'
    ]
    # Unchanged systems first, so the lines of the ones that moved are drawn on top.
    ordered = sorted(
        (
            (int(row["raw_rank"]), int(row["rank"]), name)
            for row, name in zip(rows, names, strict=True)
        ),
        key=lambda item: item[0] != item[1],
    )
    for raw, now, name in ordered:
        colour = UP_COLOUR if now < raw else DOWN_COLOUR if now > raw else SAME_COLOUR
        tip = f"{name}: rank {raw} raw, {now} controlled"
        body.append(
            f'<g class="slope"><title>{escape(tip)}</title>'
            f'<line x1="{left}" y1="{_num(y(raw))}" x2="{right}" y2="{_num(y(now))}" '
            f'stroke="{colour}" stroke-width="{2 if now != raw else 1.5}"/>'
            f'<circle cx="{left}" cy="{_num(y(raw))}" r="3.5" fill="{colour}"/>'
            f'<circle cx="{right}" cy="{_num(y(now))}" r="3.5" fill="{colour}"/>'
            f'<text class="label" x="{left - 10}" y="{_num(y(raw) + 4)}" text-anchor="end">'
            f"{raw}. {_short(name)}</text>"
            f'<text class="label" x="{right + 10}" y="{_num(y(now) + 4)}">{now}. {_short(name)}</text>'
            "</g>"
        )
    return _svg(
        "controlled-slope",
        right + 10 + label_w + 30,
        top + ROW * m + 10,
        "Rank before and after controlling for style and tone" + _suffix(board),
        body,
    )
