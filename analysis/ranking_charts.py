"""Figures of a report's `rankings` and `rank_stability` sections as inline SVG strings.

Pure like analysis.charts and analysis.bias_charts: report dict in, escaped markup
out. No scripts, no ``style`` attributes and no external references, so the figures
pass the site's CSP and paste into a standalone HTML or PDF export; colours are SVG
presentation attributes (they must survive without static/css/analysis.css), the
rest is classed for it. Every system name, pool name and reason comes from the data
and is escaped. Each figure is sized from the number of systems, so 2 and 20
systems both stay legible; a figure whose data is absent is None.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from html import escape
from typing import Any

from analysis.bias_charts import _y_axis
from analysis.charts import _kappa_colour, _num, _svg

ROW = 22
MAX_LABEL_CHARS = 28
RAW_COLOUR = "#2557a7"
CONTROLLED_COLOUR = "#6941c6"
GRID_COLOUR = "#8a96a3"
NEUTRAL = "#4b5563"
MISSING_FILL = "#d9dee4"
DIAGONAL_FILL = "#f0f2f5"
TIE_BAND_FILL = "#eef2f8"
UP_COLOUR, DOWN_COLOUR, SAME_COLOUR = "#1f7a3f", "#b42318", "#8a96a3"
# The stability thresholds of the verdict (methods.md C3): below 0.80 unstable, below
# 0.90 not stable; the figures draw them so a reader sees which side a value is on.
TAU_THRESHOLDS = (0.8, 0.9)


# -- data access ------------------------------------------------------------------------------


def _computed(section: Any) -> Mapping[str, Any]:
    if isinstance(section, Mapping) and section.get("status") == "computed":
        return section
    return {}


def _boards(report: Mapping[str, Any], board: str) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    """The leaderboard and stability report of `board`, each {} unless computed."""
    rankings = _computed(report.get("rankings"))
    stability = _computed(report.get("rank_stability"))
    return (
        _computed((rankings.get("leaderboards") or {}).get(board)),
        _computed((stability.get("leaderboards") or {}).get(board)),
    )


def _float(value: Any) -> float | None:
    """A finite number, or None (JSON null, NaN, text, booleans all count as absent)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _pair(value: Any) -> tuple[float | None, float | None]:
    if isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2:
        return _float(value[0]), _float(value[1])
    return None, None


def _systems(leaderboard: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [row for row in leaderboard.get("systems") or [] if isinstance(row, Mapping)]


def _name(row: Mapping[str, Any], key: str = "system") -> str:
    value = row.get(key)
    return "—" if value is None else str(value)


# -- layout helpers ---------------------------------------------------------------------------


def _short(name: str, limit: int = MAX_LABEL_CHARS) -> str:
    """A label cut to fit the label column, escaped; the full name goes in a <title>."""
    return escape(name if len(name) <= limit else name[: limit - 1] + "…")


def _label_width(names: Sequence[str]) -> int:
    longest = max((min(len(n), MAX_LABEL_CHARS) for n in names), default=4)
    return max(70, min(210, 7 * longest + 16))


def _nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2, 2.5 or 5 times a power of ten) covering [low, high]."""
    if not high > low:
        return [low]
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if raw <= m * magnitude)
    first = math.ceil(low / step - 1e-9)
    ticks = []
    for index in range(first, first + count * 3):
        tick = index * step
        if tick > high + step * 1e-9:
            break
        ticks.append(round(tick, 10))
    return ticks


def _tick_text(value: float) -> str:
    if abs(value - round(value)) < 1e-9:
        # Ratings (around 1000) read better without a separator; vote counts with one.
        return f"{round(value):,}" if abs(value) >= 10_000 else str(round(value))
    return f"{value:g}"


def _ink(fill: str) -> str:
    """Dark text on light cells, white on dark ones (relative luminance of the fill)."""
    r, g, b = (int(fill[k : k + 2], 16) / 255 for k in (1, 3, 5))
    return "#ffffff" if 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.5 else "#1d232a"


def _span(
    values: Sequence[float | None], *, pad: float = 0.06, minimum: float = 1.0
) -> tuple[float, float]:
    present = [v for v in values if v is not None]
    if not present:
        return 0.0, minimum
    low, high = min(present), max(present)
    if high - low < minimum:
        middle = (high + low) / 2
        low, high = middle - minimum / 2, middle + minimum / 2
    margin = (high - low) * pad
    return low - margin, high + margin


def _x_axis(
    ticks: Sequence[float],
    x: Callable[[float], float],
    y_top: float,
    y_bottom: float,
    left: float,
    right: float,
    fmt: Callable[[float], str] = _tick_text,
) -> list[str]:
    body = [
        f'<line class="axis" x1="{_num(left)}" y1="{_num(y_bottom)}" x2="{_num(right)}" '
        f'y2="{_num(y_bottom)}" stroke="{GRID_COLOUR}"/>'
    ]
    for tick in ticks:
        body.append(
            f'<line class="grid" x1="{_num(x(tick))}" y1="{_num(y_top)}" x2="{_num(x(tick))}" '
            f'y2="{_num(y_bottom)}" stroke="#e6e9ed"/><text class="tick" x="{_num(x(tick))}" '
            f'y="{_num(y_bottom + 15)}" text-anchor="middle">{escape(fmt(tick))}</text>'
        )
    return body


def _tie_bands(
    rows: Sequence[Mapping[str, Any]], left: float, width: float, top: float
) -> list[str]:
    """A light band behind every other tie group, so members of one group read together."""
    body = []
    for index, row in enumerate(rows):
        group = row.get("tie_group")
        if isinstance(group, int) and not isinstance(group, bool) and group % 2 == 1:
            body.append(
                f'<rect class="tie-band" x="{_num(left)}" y="{_num(top + ROW * index)}" '
                f'width="{_num(width)}" height="{ROW}" fill="{TIE_BAND_FILL}"/>'
            )
    return body


def _whisker(x1: float, x2: float, y: float, colour: str) -> str:
    return (
        f'<line x1="{_num(x1)}" y1="{_num(y)}" x2="{_num(x2)}" y2="{_num(y)}" stroke="{colour}" '
        f'stroke-width="2"/><line x1="{_num(x1)}" y1="{_num(y - 4)}" x2="{_num(x1)}" '
        f'y2="{_num(y + 4)}" stroke="{colour}"/><line x1="{_num(x2)}" y1="{_num(y - 4)}" '
        f'x2="{_num(x2)}" y2="{_num(y + 4)}" stroke="{colour}"/>'
    )


def _row_label(name: str, x: float, y: float) -> str:
    return (
        f'<text class="label" x="{_num(x)}" y="{_num(y + 4)}" text-anchor="end">'
        f"<title>{escape(name)}</title>{_short(name)}</text>"
    )


def _fmt(value: float | None, pattern: str = "{:.1f}") -> str:
    return "—" if value is None else pattern.format(value)


def _suffix(board: str) -> str:
    return "" if board == "overall" else f" ({board} pool)"


# -- ratings ----------------------------------------------------------------------------------


def forest_plot(report: Mapping[str, Any], board: str = "overall") -> str | None:
    """Bradley–Terry ratings with their bootstrap intervals, best first, tie groups
    banded; with the style/tone-controlled ratings in a second panel on the same scale
    when the controlled model was computed."""
    leaderboard, _ = _boards(report, board)
    rows = _systems(leaderboard)
    if not rows:
        return None
    controlled = _computed(leaderboard.get("controlled"))
    by_name = {_name(r): r for r in _systems(controlled)}
    panels: list[tuple[str, str, Callable[[Mapping[str, Any]], Mapping[str, Any] | None]]] = [
        ("Raw Bradley–Terry", RAW_COLOUR, lambda row: row)
    ]
    if by_name:
        panels.append(
            ("Style/tone-controlled", CONTROLLED_COLOUR, lambda row: by_name.get(_name(row)))
        )
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
            name = _name(row)
            if index == 0:
                body.append(_row_label(name, label_w - 8, y))
            picked = pick(row) or {}
            rating = _float(picked.get("rating"))
            ci_low, ci_high = _pair(picked.get("ci"))
            if rating is None:
                body.append(
                    f'<text class="na" x="{_num(left + 4)}" y="{_num(y + 4)}">not estimated</text>'
                )
                continue
            tip = f"{name} · {title}: {rating:.1f} [{_fmt(ci_low)}, {_fmt(ci_high)}]"
            rank = picked.get("rank")
            if rank is not None:
                tip += f", rank {rank}"
            mark = f'<g class="rating"><title>{escape(tip)}</title>'
            if ci_low is not None and ci_high is not None:
                mark += _whisker(x(ci_low), x(ci_high), y, colour)
            mark += f'<circle cx="{_num(x(rating))}" cy="{_num(y)}" r="4.5" fill="{colour}"/>'
            shift = picked.get("rank_change") if index > 0 else None
            marker = ""
            if isinstance(shift, int) and not isinstance(shift, bool) and shift:
                marker = f" {'▲' if shift > 0 else '▼'}{abs(shift)}"
            mark += (
                f'<text class="value" x="{_num(left + plot_w + 6)}" y="{_num(y + 4)}">'
                f"{rating:.0f}{marker}</text></g>"
            )
            body.append(mark)
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


# -- stability --------------------------------------------------------------------------------


def tau_histogram(report: Mapping[str, Any], board: str = "overall") -> str | None:
    """Kendall tau between the full-data ranking and each bootstrap replicate's, with
    the mean, the 5th percentile and the verdict's thresholds."""
    _, stability = _boards(report, board)
    tau = stability.get("kendall_tau") or {}
    histogram = tau.get("histogram") or {}
    raw_edges = [_float(e) for e in histogram.get("edges") or []]
    counts = [_float(c) or 0.0 for c in histogram.get("counts") or []]
    edges = [e for e in raw_edges if e is not None]
    if not counts or len(edges) != len(raw_edges) or len(edges) != len(counts) + 1:
        return None
    bins = list(zip(edges[:-1], edges[1:], counts, strict=True))
    if not any(count for _, _, count in bins):
        return None
    # Zoom to the populated part (bootstrap taus are usually far above 0), never
    # cutting off the thresholds.
    first = next(lo for lo, _, count in bins if count)
    low = min(first, 0.5)
    bins = [b for b in bins if b[1] > low + 1e-9]
    high = bins[-1][1]
    most = max(count for _, _, count in bins)
    left, top, plot_w, plot_h = 56, 24, 440, 180
    bottom = top + plot_h

    def x(value: float) -> float:
        return left + (min(max(value, low), high) - low) / (high - low) * plot_w

    # The axis runs to the first round tick at or above the tallest bar, so the bar
    # never rises past the top label.
    ticks = _nice_ticks(0, most, 4)
    if len(ticks) >= 2 and ticks[-1] < most:
        ticks.append(round(ticks[-1] + ticks[1] - ticks[0], 10))
    ceiling = max(ticks[-1], most)

    def y(value: float) -> float:
        return bottom - value / ceiling * plot_h

    y_ticks = [t for t in ticks if t <= ceiling]
    body = _y_axis(0, ceiling, y, left, left + plot_w, y_ticks, "{:g}")
    x_ticks = [t for t in _nice_ticks(low, high, 5) if low - 1e-9 <= t <= high + 1e-9]
    body += _x_axis(x_ticks, x, bottom, bottom, left, left + plot_w, lambda v: f"{v:g}")
    for lo, hi, count in bins:
        if not count:
            continue
        body.append(
            f'<rect x="{_num(x(lo) + 1)}" y="{_num(y(count))}" width="{_num(x(hi) - x(lo) - 2)}" '
            f'height="{_num(bottom - y(count))}" fill="{RAW_COLOUR}" opacity="0.75">'
            f"<title>tau {lo:g} to {hi:g}: {count:.0f} replicates</title></rect>"
        )
    for threshold in TAU_THRESHOLDS:
        if low <= threshold <= high:
            body.append(
                f'<line class="threshold" x1="{_num(x(threshold))}" y1="{top}" '
                f'x2="{_num(x(threshold))}" y2="{bottom}" stroke="#b25e09" stroke-dasharray="4 3">'
                f"<title>verdict threshold {threshold:g}</title></line>"
            )
    legend_x = left + plot_w + 20
    legend = [("#b25e09", ' stroke-dasharray="4 3"', "thresholds 0.8, 0.9")]
    for key, label, dash in (
        ("mean", "mean", ""),
        ("p05", "5th percentile", ' stroke-dasharray="2 2"'),
    ):
        value = _float(tau.get(key))
        if value is None:
            continue
        body.append(
            f'<line x1="{_num(x(value))}" y1="{top}" x2="{_num(x(value))}" y2="{bottom}" '
            f'stroke="#b42318" stroke-width="1.5"{dash}><title>{label} {value:.3f}</title></line>'
        )
        legend.append(("#b42318", dash, f"{label} {value:.2f}"))
    for index, (colour, dash, text) in enumerate(legend):
        y0 = top + 8 + 18 * index
        body.append(
            f'<line x1="{legend_x}" y1="{y0}" x2="{legend_x + 20}" y2="{y0}" stroke="{colour}" '
            f'stroke-width="1.5"{dash}/><text class="tick" x="{legend_x + 26}" y="{y0 + 4}">'
            f"{text}</text>"
        )
    body.append(
        f'<text class="tick" x="{_num(left + plot_w / 2)}" y="{bottom + 32}" text-anchor="middle">'
        "Kendall tau to the full-data ranking, over the bootstrap replicates</text>"
    )
    return _svg(
        "tau-histogram",
        legend_x + 150,
        bottom + 42,
        "Kendall tau between the ranking and its bootstrap replicates" + _suffix(board),
        body,
    )


def _bars(
    *,
    cls: str,
    title: str,
    rows: Sequence[tuple[str, list[tuple[float | None, str, str]], str, str]],
    low: float,
    high: float,
    references: Sequence[tuple[float, str]],
    axis_label: str,
) -> str:
    """Horizontal bars from 0: per row a label, bars (value, colour, tooltip), a value
    text and an optional reason shown when no bar has a value."""
    names = [label for label, _, _, _ in rows]
    label_w = _label_width(names)
    plot_w, value_w, top = 380, 190, 14
    bottom = top + ROW * len(rows)

    def x(value: float) -> float:
        return label_w + (min(max(value, low), high) - low) / (high - low) * plot_w

    ticks = [t for t in _nice_ticks(low, high, 5) if low - 1e-9 <= t <= high + 1e-9]
    body = _x_axis(ticks, x, top, bottom, label_w, label_w + plot_w)
    zero = x(0.0) if low <= 0 <= high else x(low)
    body.append(
        f'<line class="axis" x1="{_num(zero)}" y1="{top}" x2="{_num(zero)}" y2="{_num(bottom)}" '
        f'stroke="{GRID_COLOUR}"/>'
    )
    for value, note in references:
        if low <= value <= high:
            body.append(
                f'<line class="threshold" x1="{_num(x(value))}" y1="{top}" x2="{_num(x(value))}" '
                f'y2="{_num(bottom)}" stroke="#b25e09" stroke-dasharray="4 3">'
                f"<title>{escape(note)}</title></line>"
            )
    for index, (label, bars, value_text, reason) in enumerate(rows):
        y0 = top + ROW * index
        body.append(_row_label(label, label_w - 8, y0 + ROW / 2))
        present = [b for b in bars if b[0] is not None]
        if not present:
            note = "not computed" + (f": {reason}" if reason else "")
            body.append(
                f'<text class="na" x="{_num(label_w + 4)}" y="{_num(y0 + ROW / 2 + 4)}">'
                f"{_short(note, 60)}<title>{escape(note)}</title></text>"
            )
            continue
        height = (ROW - 6) / len(bars)
        for slot, (value, colour, tip) in enumerate(bars):
            if value is None:
                continue
            x1, x2 = sorted((zero, x(value)))
            body.append(
                f'<rect x="{_num(x1)}" y="{_num(y0 + 3 + slot * height)}" '
                f'width="{_num(max(x2 - x1, 1))}" height="{_num(height)}" fill="{colour}">'
                f"<title>{escape(tip)}</title></rect>"
            )
        body.append(
            f'<text class="value" x="{_num(label_w + plot_w + 8)}" y="{_num(y0 + ROW / 2 + 4)}">'
            f"{escape(value_text)}</text>"
        )
    body.append(
        f'<text class="tick" x="{_num(label_w + plot_w / 2)}" y="{_num(bottom + 30)}" '
        f'text-anchor="middle">{escape(axis_label)}</text>'
    )
    return _svg(cls, label_w + plot_w + value_w, bottom + 40, title, body)


def leave_one_out_bars(report: Mapping[str, Any], board: str = "overall") -> str | None:
    """Kendall tau between the ranking and the ranking refitted without each system."""
    _, stability = _boards(report, board)
    entries = [r for r in stability.get("leave_one_out") or [] if isinstance(r, Mapping)]
    if not entries:
        return None
    rows = []
    taus: list[float | None] = []
    for entry in entries:
        name = _name(entry, "removed")
        tau = _float(entry.get("kendall_tau"))
        taus.append(tau)
        shift = entry.get("max_rank_change")
        colour = DOWN_COLOUR if tau is not None and tau < TAU_THRESHOLDS[0] else RAW_COLOUR
        text = "" if tau is None else f"τ {tau:.2f}" + (f", max shift {shift}" if shift else "")
        tip = f"without {name}: Kendall tau {_fmt(tau, '{:.3f}')}, largest rank change {shift}"
        rows.append((name, [(tau, colour, tip)], text, str(entry.get("reason") or "")))
    low = min([0.0, *(t for t in taus if t is not None)])
    return _bars(
        cls="leave-one-out",
        title="Kendall tau of the ranking refitted without each system" + _suffix(board),
        rows=rows,
        low=math.floor(low * 10) / 10,
        high=1.0,
        references=[(t, f"verdict threshold {t:g}") for t in TAU_THRESHOLDS],
        axis_label="Kendall tau with that system removed (dashed: 0.8 and 0.9)",
    )


def weak_competitor_bars(report: Mapping[str, Any], board: str = "overall") -> str | None:
    """The Elo gap of each adjacent pair before and after a weak competitor is added;
    a gap that turns negative means the pair swapped."""
    _, stability = _boards(report, board)
    results = [
        r
        for r in (stability.get("weak_competitor") or {}).get("results") or []
        if isinstance(r, Mapping)
    ]
    if not results:
        return None
    rows = []
    values: list[float | None] = [0.0]
    for entry in results:
        label = f"{_name(entry, 'upper')} › {_name(entry, 'lower')}"
        before, after = _float(entry.get("gap_before")), _float(entry.get("gap_after"))
        values += [before, after]
        swapped = bool(entry.get("swapped"))
        text = f"{_fmt(before)} → {_fmt(after)}" + (" swapped" if swapped else "")
        rows.append(
            (
                label,
                [
                    (before, "#98a2b3", f"{label}: gap {_fmt(before)} Elo before"),
                    (
                        after,
                        DOWN_COLOUR if swapped else RAW_COLOUR,
                        f"{label}: gap {_fmt(after)} Elo with the weak competitor"
                        + (" (swapped)" if swapped else ""),
                    ),
                ],
                text,
                "",
            )
        )
    low, high = _span(values, minimum=10.0)
    return _bars(
        cls="weak-competitor",
        title="Rating gap of adjacent pairs before (grey) and after adding a weak competitor"
        + _suffix(board),
        rows=rows,
        low=min(low, 0.0),
        high=max(high, 0.0),
        references=[],
        axis_label="Elo gap upper − lower (grey: before; red: after, swapped; blue: after)",
    )


def votes_needed_curve(report: Mapping[str, Any], board: str = "overall") -> str | None:
    """Mean Kendall tau to the full ranking, and the median CI half-width, on subsamples
    of the votes: how the ranking firms up as votes accumulate."""
    _, stability = _boards(report, board)
    needed = stability.get("votes_needed") or {}
    curve: list[tuple[float, float | None, float | None]] = []
    for row in needed.get("curve") or []:
        votes = _float(row.get("votes")) if isinstance(row, Mapping) else None
        if votes is not None:
            curve.append(
                (
                    votes,
                    _float(row.get("mean_kendall_tau")),
                    _float(row.get("median_ci_half_width")),
                )
            )
    if not curve or all(t is None and w is None for _, t, w in curve):
        return None
    most_votes = max(v for v, _, _ in curve) or 1.0
    target = _float(needed.get("votes_for_tau_0_9"))
    panel_w, plot_h, top, left, gap = 280, 170, 30, 56, 70
    bottom = top + plot_h
    x_ticks = [t for t in _nice_ticks(0, most_votes, 4) if t <= most_votes]
    taus = [t for _, t, _ in curve if t is not None]
    widths = [w for _, _, w in curve if w is not None]
    panels = [
        (
            "mean Kendall tau",
            1,
            min([0.5, *taus]),
            1.0,
            "{:.1f}",
            [(TAU_THRESHOLDS[1], "tau 0.9")],
        ),
        ("CI half-width (Elo)", 2, 0.0, max(widths, default=1.0) * 1.1 or 1.0, "{:g}", []),
    ]
    body: list[str] = []
    for index, (title, column, low, high, fmt, references) in enumerate(panels):
        x0 = left + index * (panel_w + gap)

        def x(votes: float, x0: float = x0) -> float:
            return x0 + votes / most_votes * panel_w

        def y(value: float, low: float = low, high: float = high) -> float:
            return bottom - (min(max(value, low), high) - low) / (high - low) * plot_h

        y_ticks = [t for t in _nice_ticks(low, high, 4) if low - 1e-9 <= t <= high + 1e-9]
        body += _y_axis(low, high, y, x0, x0 + panel_w, y_ticks, fmt)
        body += _x_axis(x_ticks, x, bottom, bottom, x0, x0 + panel_w)
        body.append(
            f'<text class="label question" x="{_num(x0 + panel_w / 2)}" y="16" '
            f'text-anchor="middle">{escape(title)}</text>'
            f'<text class="tick" x="{_num(x0 + panel_w / 2)}" y="{bottom + 32}" '
            f'text-anchor="middle">votes</text>'
        )
        for value, note in references:
            body.append(
                f'<line class="threshold" x1="{_num(x0)}" y1="{_num(y(value))}" '
                f'x2="{_num(x0 + panel_w)}" y2="{_num(y(value))}" stroke="#b25e09" '
                f'stroke-dasharray="4 3"><title>{escape(note)}</title></line>'
            )
        if target is not None and column == 1:
            body.append(
                f'<line x1="{_num(x(target))}" y1="{top}" x2="{_num(x(target))}" y2="{bottom}" '
                f'stroke="#1f7a3f" stroke-dasharray="2 2"><title>tau reaches 0.9 at '
                f"{target:,.0f} votes</title></line>"
            )
        points = [(row[0], row[column]) for row in curve if row[column] is not None]
        if len(points) > 1:
            line = " ".join(f"{_num(x(v))},{_num(y(value))}" for v, value in points)
            body.append(
                f'<polyline points="{line}" fill="none" stroke="{RAW_COLOUR}" stroke-width="2"/>'
            )
        for votes, value in points:
            body.append(
                f'<circle cx="{_num(x(votes))}" cy="{_num(y(value))}" r="3" fill="{RAW_COLOUR}">'
                f"<title>{votes:,.0f} votes: {title} {value:.3g}</title></circle>"
            )
    return _svg(
        "votes-needed",
        left + 2 * panel_w + gap + 24,
        bottom + 42,
        "Ranking agreement and interval width against the number of votes" + _suffix(board),
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
