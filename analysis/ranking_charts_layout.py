"""Shared parts of the ranking figures (analysis.ranking_charts): colours, access to
the report's `rankings` / `rank_stability` sections, and axis, label and band helpers.

Pure: report dict in, escaped SVG markup out (see analysis.ranking_charts).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from html import escape
from typing import Any

from analysis.charts import _num

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
