"""Figures of a report's `bias` and `expert_vs_crowd` sections as inline SVG strings.

Pure like analysis.charts: report dict in, escaped markup out, no scripts and no
style attributes, so the figures pass the CSP and embed in a standalone export.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from analysis.charts import _num, _svg

POOL_COLOURS = {"crowd": "#c2410c", "expert": "#1d4ed8", "all": "#4b5563"}
TONE_COLOURS = {"assertive": "#b91c1c", "hedged": "#2563eb"}


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
    width = left + len(panels) * (panel_width + 30)
    return _svg(
        "tone-interaction",
        width,
        height,
        "Predicted quality rating by tone and known-error status, per pool",
        body,
    )


def detection_recall_bars(report: Mapping[str, Any]) -> str | None:
    """Share of known errors flagged (hit rate) by tone condition and pool, with CIs."""
    bars = []
    for pool, section in _pools(report).items():
        check = _check(section, "error_detection_by_tone")
        for tone, cell in sorted((check.get("by_tone") or {}).items()):
            if cell.get("hit_rate") is not None:
                bars.append(
                    (pool, tone, cell["hit_rate"], *(cell.get("hit_rate_ci") or [None, None]))
                )
    if not bars:
        return None
    height, top, bottom, left, bar, gap = 230, 20, 46, 50, 34, 10
    width = left + len(bars) * (bar + gap) + 40

    def y(value: float) -> float:
        return top + (1 - value) * (height - top - bottom)

    body = _y_axis(0.0, 1.0, y, left, width - 20, [0, 0.25, 0.5, 0.75, 1.0], "{:.0%}")
    for index, (pool, tone, rate, low, high) in enumerate(bars):
        x = left + 10 + index * (bar + gap)
        colour = TONE_COLOURS.get(tone, "#6b7280")
        body.append(
            f'<rect x="{x}" y="{_num(y(rate))}" width="{bar}" height="{_num(y(0) - y(rate))}" '
            f'fill="{colour}" opacity="0.8"><title>{escape(pool)} · {escape(tone)}: '
            f"{rate:.0%} of known errors flagged</title></rect>"
        )
        body.append(_interval(x + bar / 2, low, high, y, "#111827"))
        body.append(
            f'<text class="tick" x="{_num(x + bar / 2)}" y="{height - bottom + 14}" '
            f'text-anchor="middle">{escape(tone[:9])}</text>'
            f'<text class="tick" x="{_num(x + bar / 2)}" y="{height - bottom + 28}" '
            f'text-anchor="middle">{escape(pool)}</text>'
        )
    return _svg(
        "detection-recall",
        width,
        height,
        "Error-detection recall (hit rate on known errors) by tone and pool",
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
