"""Ranking figures of the stability report: the bootstrap Kendall tau histogram,
leave-one-system-out and weak-competitor bars, and the votes-needed curve."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from html import escape
from typing import Any

from analysis.bias_charts import _y_axis
from analysis.charts import _num, _svg
from analysis.ranking_charts_layout import (
    DOWN_COLOUR,
    GRID_COLOUR,
    RAW_COLOUR,
    ROW,
    TAU_THRESHOLDS,
    _boards,
    _float,
    _fmt,
    _label_width,
    _name,
    _nice_ticks,
    _row_label,
    _short,
    _span,
    _suffix,
    _x_axis,
)


def _tau_bins(tau: Mapping[str, Any]) -> list[tuple[float, float, float]] | None:
    """(low edge, high edge, count) of the tau histogram, or None when it is absent,
    malformed or empty."""
    histogram = tau.get("histogram") or {}
    raw_edges = [_float(e) for e in histogram.get("edges") or []]
    counts = [_float(c) or 0.0 for c in histogram.get("counts") or []]
    edges = [e for e in raw_edges if e is not None]
    if not counts or len(edges) != len(raw_edges) or len(edges) != len(counts) + 1:
        return None
    bins = list(zip(edges[:-1], edges[1:], counts, strict=True))
    return bins if any(count for _, _, count in bins) else None


def _tau_markers(
    tau: Mapping[str, Any], x: Callable[[float], float], top: float, bottom: float, legend_x: float
) -> list[str]:
    """The mean and 5th-percentile lines of the tau histogram, and its legend."""
    body: list[str] = []
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
    return body


def tau_histogram(report: Mapping[str, Any], board: str = "overall") -> str | None:
    """Kendall tau between the full-data ranking and each bootstrap replicate's, with
    the mean, the 5th percentile and the verdict's thresholds."""
    _, stability = _boards(report, board)
    tau = stability.get("kendall_tau") or {}
    bins = _tau_bins(tau)
    if bins is None:
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
    body += _tau_markers(tau, x, top, bottom, legend_x)
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
        for slot, (bar_value, colour, tip) in enumerate(bars):
            if bar_value is None:
                continue
            x1, x2 = sorted((zero, x(bar_value)))
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


def _votes_curve(
    needed: Mapping[str, Any],
) -> list[tuple[float, float | None, float | None]] | None:
    """(votes, mean tau, median CI half-width) per subsample size, or None when the
    curve has no value to draw."""
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
    return curve


def _votes_marks(
    title: str,
    points: Sequence[tuple[float, float]],
    x: Callable[[float], float],
    y: Callable[[float], float],
) -> list[str]:
    """One panel's curve of the votes-needed figure: the line and its points."""
    body = []
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
    return body


def votes_needed_curve(report: Mapping[str, Any], board: str = "overall") -> str | None:
    """Mean Kendall tau to the full ranking, and the median CI half-width, on subsamples
    of the votes: how the ranking firms up as votes accumulate."""
    _, stability = _boards(report, board)
    needed = stability.get("votes_needed") or {}
    curve = _votes_curve(needed)
    if curve is None:
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
        body += [
            f'<line class="threshold" x1="{_num(x0)}" y1="{_num(y(value))}" '
            f'x2="{_num(x0 + panel_w)}" y2="{_num(y(value))}" stroke="#b25e09" '
            f'stroke-dasharray="4 3"><title>{escape(note)}</title></line>'
            for value, note in references
        ]
        if target is not None and column == 1:
            body.append(
                f'<line x1="{_num(x(target))}" y1="{top}" x2="{_num(x(target))}" y2="{bottom}" '
                f'stroke="#1f7a3f" stroke-dasharray="2 2"><title>tau reaches 0.9 at '
                f"{target:,.0f} votes</title></line>"
            )
        points: list[tuple[float, float]] = []
        for row in curve:
            point = row[column]
            if point is not None:
                points.append((row[0], point))
        body += _votes_marks(title, points, x, y)
    return _svg(
        "votes-needed",
        left + 2 * panel_w + gap + 24,
        bottom + 42,
        "Ranking agreement and interval width against the number of votes" + _suffix(board),
        body,
    )
