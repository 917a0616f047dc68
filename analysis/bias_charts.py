"""Figures of a report's `bias` and `expert_vs_crowd` sections as inline SVG strings.

Pure like analysis.charts: report dict in, escaped markup out, no scripts and no
style attributes, so the figures pass the CSP and embed in a standalone export.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from analysis.charts import _num, _svg
from analysis.ranking_charts_layout import (
    _label_width,
    _nice_ticks,
    _row_label,
    _span,
    _whisker,
    _x_axis,
)

POOL_COLOURS = {"crowd": "#c2410c", "expert": "#1d4ed8", "all": "#4b5563"}
TONE_COLOURS = {"assertive": "#b91c1c", "hedged": "#2563eb"}
# Further tone conditions (baseline, complex, simple…), in sorted order.
EXTRA_TONE_COLOURS = ("#15803d", "#a16207", "#7c3aed", "#0e7490", "#be185d", "#4b5563")


def _colour(name: str) -> str:
    return POOL_COLOURS.get(name, "#6b7280")


def _pools(report: Mapping[str, Any]) -> dict[str, Any]:
    bias = report.get("bias") or {}
    return dict(sorted((bias.get("pools") or {}).items()))


def _check(pool: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    return (pool.get("checks") or {}).get(name) or {}


def _y_axis(
    low: float, high: float, y: Any, left: float, right: float, ticks: Sequence[float], fmt: str
) -> list[str]:
    body = [
        f'<line class="axis" x1="{left}" y1="{_num(y(low))}" x2="{left}" y2="{_num(y(high))}"/>'
    ]
    for tick in ticks:
        body.append(
            f'<line class="grid" x1="{left}" y1="{_num(y(tick))}" x2="{right}" y2="{_num(y(tick))}"/>'
            f'<text class="tick" x="{left - 6}" y="{_num(y(tick) + 4)}" text-anchor="end">'
            f"{fmt.format(tick)}</text>"
        )
    return body


def _y_label(text: str, x: float, middle: float) -> str:
    """An axis title along a vertical axis, rotated to read bottom to top."""
    return (
        f'<text class="tick" x="{_num(x)}" y="{_num(middle)}" text-anchor="middle" '
        f'transform="rotate(-90 {_num(x)} {_num(middle)})">{escape(text)}</text>'
    )


def _interval(x: float, low: float | None, high: float | None, y: Any, colour: str) -> str:
    if low is None or high is None:
        return ""
    return (
        f'<line x1="{_num(x)}" y1="{_num(y(low))}" x2="{_num(x)}" y2="{_num(y(high))}" '
        f'stroke="{colour}" stroke-width="1.5"/>'
        f'<line x1="{_num(x - 4)}" y1="{_num(y(low))}" x2="{_num(x + 4)}" y2="{_num(y(low))}" stroke="{colour}"/>'
        f'<line x1="{_num(x - 4)}" y1="{_num(y(high))}" x2="{_num(x + 4)}" y2="{_num(y(high))}" stroke="{colour}"/>'
    )


def tone_error_interaction(report: Mapping[str, Any]) -> str | None:
    """Model-predicted quality by tone and error status, one panel per pool.

    The points come from each pool's mixed model (intercept + tone + errors +
    tone × errors), so they hold the other effects fixed as the model does.
    """
    panels = []
    for pool, section in _pools(report).items():
        model = _check(section, "tone_premium_mixed_model")
        coefficients = model.get("coefficients") or {}
        if not model.get("defined") or not {"intercept", "tone", "n_known_errors"} <= set(
            coefficients
        ):
            continue
        b = {name: coefficients[name]["estimate"] for name in coefficients}
        interaction = b.get("tone_x_errors", 0.0)
        cells = {
            (tone, errors): b["intercept"]
            + b["tone"] * tone
            + b["n_known_errors"] * errors
            + interaction * tone * errors
            for tone in (0, 1)
            for errors in (0, 1)
        }
        panels.append((pool, cells))
    if not panels:
        return None
    values = [v for _, cells in panels for v in cells.values()]
    low, high = min(1.0, min(values) - 0.3), max(5.0, max(values) + 0.3)
    panel_width, height, top, bottom, left = 230, 230, 30, 40, 50

    def y(value: float) -> float:
        return top + (high - value) / (high - low) * (height - top - bottom)

    body: list[str] = []
    for index, (pool, cells) in enumerate(panels):
        x0 = left + index * (panel_width + 30)
        xs = {0: x0 + 50, 1: x0 + panel_width - 40}
        body += _y_axis(low, high, y, x0, x0 + panel_width, [1, 2, 3, 4, 5], "{:.0f}")
        body.append(
            f'<text class="label question" x="{_num(x0 + panel_width / 2)}" y="16" '
            f'text-anchor="middle">{escape(pool)} raters</text>'
        )
        for errors, name in ((0, "no known error"), (1, "1 known error")):
            body.append(
                f'<text class="tick" x="{_num(xs[errors])}" y="{height - bottom + 16}" '
                f'text-anchor="middle">{name}</text>'
            )
        for tone, tone_name in ((1, "assertive"), (0, "hedged")):
            colour = TONE_COLOURS[tone_name]
            a, b_ = cells[(tone, 0)], cells[(tone, 1)]
            body.append(
                f'<line x1="{_num(xs[0])}" y1="{_num(y(a))}" x2="{_num(xs[1])}" y2="{_num(y(b_))}" '
                f'stroke="{colour}" stroke-width="2"/>'
            )
            for errors, value in ((0, a), (1, b_)):
                body.append(
                    f'<circle cx="{_num(xs[errors])}" cy="{_num(y(value))}" r="4" fill="{colour}">'
                    f"<title>{escape(pool)} · {tone_name} · {errors} error(s): {value:.2f}</title></circle>"
                )
    legend_y = height - 8
    for index, tone_name in enumerate(("assertive", "hedged")):
        x = left + index * 110
        body.append(
            f'<rect x="{x}" y="{legend_y - 9}" width="12" height="4" fill="{TONE_COLOURS[tone_name]}"/>'
            f'<text class="tick" x="{x + 16}" y="{legend_y - 4}">{tone_name}</text>'
        )
    body.append(_y_label("predicted quality rating", 12, (top + height - bottom) / 2))
    width = left + len(panels) * (panel_width + 30)
    return _svg(
        "tone-interaction",
        width,
        height,
        "Predicted quality rating by tone and known-error status, per pool",
        body,
    )


def tone_colour(tone: str, tones: Sequence[str]) -> str:
    """The tone's colour: the conventional two fixed, any other tone from a palette in
    the order of ``tones`` (so five conditions stay five colours)."""
    if tone in TONE_COLOURS:
        return TONE_COLOURS[tone]
    others = [t for t in tones if t not in TONE_COLOURS]
    return EXTRA_TONE_COLOURS[others.index(tone) % len(EXTRA_TONE_COLOURS)]


def _detection_cells(report: Mapping[str, Any]) -> list[tuple[str, dict[str, Mapping[str, Any]]]]:
    """(pool, {tone: cell}) of the detection check, pools with any hit rate only."""
    out = []
    for pool, section in _pools(report).items():
        by_tone = _check(section, "error_detection_by_tone").get("by_tone") or {}
        cells = {t: c for t, c in sorted(by_tone.items()) if (c or {}).get("hit_rate") is not None}
        if cells:
            out.append((pool, cells))
    return out


def detection_recall_bars(report: Mapping[str, Any]) -> str | None:
    """Per pool, one bar per tone: the share of known errors flagged (hit rate, left
    panel) and of clean outputs flagged (false alarms, right panel), with intervals;
    tones are told apart by colour (legend), pools by the label under each group."""
    groups = _detection_cells(report)
    if not groups:
        return None
    tones = sorted({t for _, cells in groups for t in cells})
    bar, gap, group_gap = 22, 4, 26
    group_w = len(tones) * (bar + gap) - gap
    panel_w = len(groups) * (group_w + group_gap) + 20
    height, top, bottom, left, panel_gap = 250, 30, 58, 56, 60

    def y(value: float) -> float:
        return top + (1 - value) * (height - top - bottom)

    body: list[str] = []
    for index, (rate, title) in enumerate(
        (("hit_rate", "known errors flagged (hits)"), ("false_alarm_rate", "clean outputs flagged"))
    ):
        x0 = left + index * (panel_w + panel_gap)
        body += _y_axis(0.0, 1.0, y, x0, x0 + panel_w, [0, 0.25, 0.5, 0.75, 1.0], "{:.0%}")
        body.append(
            f'<text class="label question" x="{_num(x0 + panel_w / 2)}" y="16" '
            f'text-anchor="middle">{escape(title)}</text>'
        )
        for g, (pool, cells) in enumerate(groups):
            gx = x0 + 12 + g * (group_w + group_gap)
            body.append(
                f'<text class="tick" x="{_num(gx + group_w / 2)}" y="{height - bottom + 16}" '
                f'text-anchor="middle">{escape(pool)}</text>'
            )
            for t, tone in enumerate(tones):
                cell = cells.get(tone) or {}
                value = cell.get(rate)
                if not isinstance(value, int | float):
                    continue
                x = gx + t * (bar + gap)
                low, high = (cell.get(f"{rate}_ci") or [None, None])[:2]
                body.append(
                    f'<rect x="{_num(x)}" y="{_num(y(value))}" width="{bar}" '
                    f'height="{_num(y(0) - y(value))}" fill="{tone_colour(tone, tones)}" '
                    f'opacity="0.85"><title>{escape(pool)} · {escape(tone)}: {value:.0%} '
                    f"{escape(title)}</title></rect>"
                )
                body.append(_interval(x + bar / 2, low, high, y, "#111827"))
    body.append(_y_label("share of outputs flagged as erroneous", 12, (top + height - bottom) / 2))
    for t, tone in enumerate(tones):
        lx = left + t * 110
        body.append(
            f'<rect x="{lx}" y="{height - 22}" width="12" height="10" '
            f'fill="{tone_colour(tone, tones)}"/>'
            f'<text class="tick" x="{lx + 16}" y="{height - 13}">{escape(tone)}</text>'
        )
    return _svg(
        "detection-recall",
        max(left + 2 * panel_w + panel_gap + 10, left + 110 * len(tones)),
        height,
        "Error detection by tone and raters: hit rate on known errors and false alarms",
        body,
    )


def position_bias_bars(report: Mapping[str, Any]) -> str | None:
    """Share of non-tie choices won by the first-shown answer, per pool, against 50%."""
    bars = []
    for pool, section in _pools(report).items():
        check = _check(section, "position_bias")
        if check.get("defined") and check.get("estimate") is not None:
            bars.append((pool, check["estimate"], check.get("ci_low"), check.get("ci_high")))
    if not bars:
        return None
    height, top, bottom, left, bar, gap = 220, 20, 30, 50, 46, 24
    width = left + len(bars) * (bar + gap) + 40

    def y(value: float) -> float:
        return top + (1 - value) * (height - top - bottom)

    body = _y_axis(0.0, 1.0, y, left, width - 20, [0, 0.25, 0.5, 0.75, 1.0], "{:.0%}")
    body.append(
        f'<line class="threshold" x1="{left}" y1="{_num(y(0.5))}" x2="{width - 20}" y2="{_num(y(0.5))}"/>'
    )
    for index, (pool, share, low, high) in enumerate(bars):
        x = left + 12 + index * (bar + gap)
        body.append(
            f'<rect x="{x}" y="{_num(y(share))}" width="{bar}" height="{_num(y(0) - y(share))}" '
            f'fill="{_colour(pool)}" opacity="0.8"><title>{escape(pool)}: first position won '
            f"{share:.0%}</title></rect>"
        )
        body.append(_interval(x + bar / 2, low, high, y, "#111827"))
        body.append(
            f'<text class="tick" x="{_num(x + bar / 2)}" y="{height - bottom + 16}" '
            f'text-anchor="middle">{escape(pool)}</text>'
        )
    body.append(_y_label("won by the first-shown answer", 12, (top + height - bottom) / 2))
    return _svg(
        "position-bias",
        width,
        height,
        "Share of pairwise choices won by the first-shown answer (dashed: no bias)",
        body,
    )


def _curves(report: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    questions = ((report.get("expert_vs_crowd") or {}).get("questions")) or {}
    curves = []
    for role, section in sorted(questions.items()):
        for key, label in (
            ("crowd_size_curve", "vs expert consensus"),
            ("crowd_size_curve_injected", "vs known errors"),
        ):
            curve = section.get(key) or {}
            if curve.get("defined") and curve.get("k"):
                curves.append((f"{section.get('question', role)} {label}", curve))
    return curves


def crowd_size_curve(report: Mapping[str, Any]) -> str | None:
    """Accuracy of the majority of k crowd votes against the reference, with bands,
    and the single-expert ceiling: how many crowd workers make one expert."""
    curves = _curves(report)
    if not curves:
        return None
    panel_width, height, top, bottom, left = 300, 240, 30, 40, 50
    body: list[str] = []
    for index, (title, curve) in enumerate(curves):
        x0 = left + index * (panel_width + 40)
        ks = curve["k"]
        k_max = max(ks)

        def x(k: float, x0: float = x0, k_max: int = k_max) -> float:
            return x0 + 10 + (k - 1) / max(k_max - 1, 1) * (panel_width - 20)

        def y(value: float) -> float:
            return top + (1 - value) * (height - top - bottom)

        body += _y_axis(0.0, 1.0, y, x0, x0 + panel_width, [0, 0.25, 0.5, 0.75, 1.0], "{:.0%}")
        body.append(
            f'<text class="label question" x="{_num(x0 + panel_width / 2)}" y="16" '
            f'text-anchor="middle">{escape(title)}</text>'
        )
        lows, highs = curve.get("ci_low") or [], curve.get("ci_high") or []
        if len(lows) == len(ks) == len(highs) and None not in lows + highs:
            band = [f"{_num(x(k))},{_num(y(min(h, 1.0)))}" for k, h in zip(ks, highs, strict=True)]
            band += [
                f"{_num(x(k))},{_num(y(max(lo, 0.0)))}"
                for k, lo in reversed(list(zip(ks, lows, strict=True)))
            ]
            body.append(f'<polygon points="{" ".join(band)}" fill="#c2410c" opacity="0.15"/>')
        points = " ".join(
            f"{_num(x(k))},{_num(y(a))}" for k, a in zip(ks, curve["accuracy"], strict=True)
        )
        body.append(f'<polyline points="{points}" fill="none" stroke="#c2410c" stroke-width="2"/>')
        for k, accuracy in zip(ks, curve["accuracy"], strict=True):
            body.append(
                f'<circle cx="{_num(x(k))}" cy="{_num(y(accuracy))}" r="3" fill="#c2410c">'
                f"<title>majority of {k}: {accuracy:.1%}</title></circle>"
                f'<text class="tick" x="{_num(x(k))}" y="{height - bottom + 14}" text-anchor="middle">{k}</text>'
            )
        ceiling = (curve.get("ceiling") or {}).get("single_expert_accuracy")
        if ceiling is not None:
            body.append(
                f'<line x1="{x0}" y1="{_num(y(ceiling))}" x2="{x0 + panel_width}" y2="{_num(y(ceiling))}" '
                f'stroke="#1d4ed8" stroke-dasharray="5 3"><title>one expert: {ceiling:.1%}</title></line>'
                f'<text class="tick" x="{x0 + panel_width - 4}" y="{_num(y(ceiling) - 4)}" '
                f'text-anchor="end">one expert</text>'
            )
        body.append(
            f'<text class="tick" x="{_num(x0 + panel_width / 2)}" y="{height - 6}" '
            f'text-anchor="middle">crowd votes k</text>'
        )
    body.append(_y_label("accuracy of the crowd majority", 12, (top + height - bottom) / 2))
    width = left + len(curves) * (panel_width + 40)
    return _svg(
        "crowd-size",
        width,
        height,
        "Accuracy of the crowd majority of k votes against the reference, with the one-expert ceiling",
        body,
    )


def annotator_accuracy_scatter(report: Mapping[str, Any]) -> str | None:
    """Each crowd annotator against the expert reference: sensitivity (share of the
    experts' positives they flag) by specificity, in ROC space; chance is the diagonal."""
    questions = ((report.get("expert_vs_crowd") or {}).get("questions")) or {}
    points: list[Mapping[str, Any]] = []
    title = ""
    for section in questions.values():
        rows = (section.get("annotator_accuracy") or {}).get("annotators") or []
        points = [
            r for r in rows if r.get("sensitivity") is not None and r.get("specificity") is not None
        ]
        if points:
            title = f"question {section.get('question')}"
            break
    if not points:
        return None
    size, top, left = 260, 20, 50

    def x(value: float) -> float:  # false-positive rate, 1 - specificity
        return left + value * size

    def y(value: float) -> float:
        return top + (1 - value) * size

    body = _y_axis(0.0, 1.0, y, left, left + size, [0, 0.25, 0.5, 0.75, 1.0], "{:.0%}")
    body.append(
        f'<line class="axis" x1="{left}" y1="{_num(y(0))}" x2="{left + size}" y2="{_num(y(0))}"/>'
        f'<line class="threshold" x1="{left}" y1="{_num(y(0))}" x2="{left + size}" y2="{_num(y(1))}"/>'
    )
    for tick in (0, 0.25, 0.5, 0.75, 1.0):
        body.append(
            f'<text class="tick" x="{_num(x(tick))}" y="{_num(y(0) + 14)}" text-anchor="middle">{tick:.0%}</text>'
        )
    body.append(
        f'<text class="tick" x="{_num(left + size / 2)}" y="{_num(y(0) + 30)}" text-anchor="middle">'
        f"false alarms (1 − specificity), {escape(title)}</text>"
        f'<text class="tick" x="12" y="{_num(top + size / 2)}" text-anchor="middle" '
        f'transform="rotate(-90 12 {_num(top + size / 2)})">hits (sensitivity)</text>'
    )
    for row in points:
        colour = "#b91c1c" if row.get("flags") else "#c2410c"
        body.append(
            f'<circle cx="{_num(x(1 - row["specificity"]))}" cy="{_num(y(row["sensitivity"]))}" r="4" '
            f'fill="{colour}" opacity="0.8"><title>{escape(str(row["annotator_id"]))}: sensitivity '
            f"{row['sensitivity']:.0%}, specificity {row['specificity']:.0%}, accuracy "
            f"{row.get('accuracy', 0):.0%} on {row.get('n_items')} items"
            f"{' — flagged' if row.get('flags') else ''}</title></circle>"
        )
    return _svg(
        "annotator-accuracy",
        left + size + 20,
        top + size + 40,
        "Each annotator against the expert reference: hits by false alarms",
        body,
    )


def bias_charts(report: Mapping[str, Any]) -> dict[str, str | None]:
    """Every bias figure the report's data supports (None where it supports none)."""
    return {
        "tone_interaction": tone_error_interaction(report),
        "detection_recall": detection_recall_bars(report),
        "position_bias": position_bias_bars(report),
        "crowd_size": crowd_size_curve(report),
        "annotator_accuracy": annotator_accuracy_scatter(report),
    }


# (check key, what its estimate measures: the figure's axis title)
CHECK_AXES = {
    "tone_premium_paired": "quality points, treated minus control tone (same content and errors)",
    "tone_premium_mixed_model": "quality points for the treated tone, errors held fixed",
    "perceived_assertiveness": "quality points per SD of perceived assertiveness",
    "error_detection_by_tone": "hit rate on known errors, control minus treated tone",
    "position_bias": "share of non-tie choices won by the first-shown answer",
    "length_bias": "quality points per SD of log output length",
}


def _forest(
    cls: str,
    title: str,
    rows: Sequence[tuple[str, float, float | None, float | None, str]],
    *,
    null: float,
    axis_label: str,
) -> str:
    """Estimates with intervals, one row each (label, estimate, low, high, colour),
    against a dashed line at ``null`` (no effect); the value and interval printed at
    the right so the figure reads without hovering."""
    label_w = _label_width([label for label, *_ in rows])
    plot_w, value_w, top, row = 380, 170, 12, 24
    bottom = top + row * len(rows)
    values = [null] + [v for _, e, lo, hi, _ in rows for v in (e, lo, hi) if v is not None]
    low, high = _span(values, minimum=0.1)
    ticks = [t for t in _nice_ticks(low, high, 5) if low - 1e-9 <= t <= high + 1e-9]

    def x(value: float) -> float:
        return label_w + (min(max(value, low), high) - low) / (high - low) * plot_w

    body = _x_axis(ticks, x, top, bottom, label_w, label_w + plot_w, lambda v: f"{v:g}")
    body.append(
        f'<line class="threshold" x1="{_num(x(null))}" y1="{top}" x2="{_num(x(null))}" '
        f'y2="{_num(bottom)}" stroke="#b25e09" stroke-dasharray="4 3"/>'
    )
    for index, (label, estimate, ci_low, ci_high, colour) in enumerate(rows):
        y = top + row * index + row / 2
        interval = (
            f" [{ci_low:+.2f}, {ci_high:+.2f}]"
            if ci_low is not None and ci_high is not None
            else ""
        )
        mark = f'<g class="estimate"><title>{escape(label)}: {estimate:+.3f}{interval}</title>'
        if ci_low is not None and ci_high is not None:
            mark += _whisker(x(ci_low), x(ci_high), y, colour)
        mark += (
            f'<circle cx="{_num(x(estimate))}" cy="{_num(y)}" r="4.5" fill="{colour}"/>'
            f'<text class="value" x="{_num(label_w + plot_w + 8)}" y="{_num(y + 4)}">'
            f"{estimate:+.2f}{interval}</text></g>"
        )
        body += [_row_label(label, label_w - 8, y), mark]
    body.append(
        f'<text class="tick" x="{_num(label_w + plot_w / 2)}" y="{_num(bottom + 32)}" '
        f'text-anchor="middle">{escape(axis_label)}</text>'
    )
    return _svg(cls, label_w + plot_w + value_w, bottom + 42, title, body)


def check_forest(report: Mapping[str, Any], check: str) -> str | None:
    """One bias check's estimate with its interval for all raters pooled and for each
    pool, against its no-effect value."""
    bias = report.get("bias") or {}
    sections = [("all raters", bias.get("overall") or {}), *_pools(report).items()]
    rows = []
    null = 0.0
    for pool, section in sections:
        cell = _check(section, check)
        estimate = cell.get("estimate")
        if not cell.get("defined") or not isinstance(estimate, int | float):
            continue
        null = float(cell.get("null_value") or 0.0)
        rows.append((pool, estimate, cell.get("ci_low"), cell.get("ci_high"), _colour(pool)))
    if not rows:
        return None
    axis = CHECK_AXES.get(check, "estimate")
    return _forest(
        f"check-forest {check.replace('_', '-')}",
        f"{check.replace('_', ' ')}: estimate and interval per raters (dashed: no effect)",
        rows,
        null=null,
        axis_label=axis,
    )


def under_reporting_forest(report: Mapping[str, Any]) -> str | None:
    """Per pool and tone: the share of outputs the pool's majority marks as erroneous
    minus the share the expert reference marks, with its interval; below 0 the pool
    reports fewer errors than the experts."""
    pools = (((report.get("expert_vs_crowd") or {}).get("bias_indices") or {}).get("pools")) or {}
    rows = []
    for pool, section in sorted(pools.items()):
        by_tone = ((section or {}).get("under_reporting") or {}).get("by_tone") or {}
        for tone, cell in sorted(by_tone.items()):
            estimate = (cell or {}).get("estimate")
            if isinstance(estimate, int | float):
                colour = tone_colour(tone, sorted(by_tone))
                rows.append(
                    (f"{pool} · {tone}", estimate, cell.get("ci_low"), cell.get("ci_high"), colour)
                )
    if not rows:
        return None
    return _forest(
        "under-reporting",
        "Errors reported by each pool against the expert reference, by tone",
        rows,
        null=0.0,
        axis_label="share of outputs with an error: pool minus expert reference",
    )
