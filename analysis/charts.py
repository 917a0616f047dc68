"""Charts of an agreement report as inline SVG strings. Pure: report dict in, markup out.

No scripts and no ``style`` attributes, so the markup passes the site's CSP
(``style-src 'self'``) and can be pasted into a standalone HTML export: colours are
SVG presentation attributes, the rest is classed for static/css/analysis.css (a
standalone file should inline that stylesheet). Every label from the data is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

ROW = 22
LABEL_WIDTH = 230
PLOT_WIDTH = 440
MAX_HEATMAP_ANNOTATORS = 60
SVG_OPEN = '<svg xmlns="http://www.w3.org/2000/svg" class="chart {cls}" role="img" '


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _svg(cls: str, width: float, height: float, title: str, body: list[str]) -> str:
    return (
        SVG_OPEN.format(cls=cls)
        + f'viewBox="0 0 {_num(width)} {_num(height)}" width="{_num(width)}" '
        + f'height="{_num(height)}" aria-label="{escape(title)}"><title>{escape(title)}</title>'
        + "".join(body)
        + "</svg>"
    )


def _analysed(report: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    return [
        (name, section)
        for name, section in sorted(report.get("questions", {}).items())
        if section.get("status") == "analysed" and section.get("overall")
    ]


def _alpha(coefficients: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return (coefficients or {}).get("krippendorff_alpha") or {}


def _axis_range(values: Sequence[float | None]) -> tuple[float, float]:
    present = [v for v in values if v is not None and math.isfinite(v)]
    low = min([0.0, *present])
    return (math.floor(low * 5) / 5, 1.0)


def alpha_ci_chart(report: Mapping[str, Any]) -> str | None:
    """Krippendorff's alpha with its bootstrap CI per question, overall and per pool."""
    rows: list[tuple[str, str, Mapping[str, Any]]] = []
    for name, section in _analysed(report):
        rows.append((name, "all annotators", _alpha(section["overall"])))
        pools = section.get("breakdowns", {}).get("pool", {}).get("groups", {})
        for pool, coefficients in sorted(pools.items()):
            rows.append((name, f"pool {pool}", _alpha(coefficients)))
    if not rows:
        return None
    thresholds = report.get("parameters", {}).get("thresholds", [])
    low, high = _axis_range(
        [a.get("ci_low") for _, _, a in rows] + [a.get("value") for _, _, a in rows]
    )
    top, bottom = 24, 30
    height = top + ROW * len(rows) + bottom
    width = LABEL_WIDTH + PLOT_WIDTH + 70

    def x(value: float) -> float:
        clipped = min(max(value, low), high)
        return LABEL_WIDTH + (clipped - low) / (high - low) * PLOT_WIDTH

    body = _x_axis(low, high, x, top, top + ROW * len(rows))
    for threshold in thresholds:
        if low <= threshold <= high:
            body.append(
                f'<line class="threshold" x1="{_num(x(threshold))}" y1="{top - 6}" '
                f'x2="{_num(x(threshold))}" y2="{top + ROW * len(rows)}"/>'
                f'<text class="tick" x="{_num(x(threshold))}" y="{top - 10}" '
                f'text-anchor="middle">{threshold:g}</text>'
            )
    previous = None
    for index, (question, label, alpha) in enumerate(rows):
        y = top + ROW * index + ROW / 2
        if question != previous:
            body.append(
                f'<text class="label question" x="4" y="{_num(y + 4)}">{escape(question)}</text>'
            )
            previous = question
        body.append(
            f'<text class="label" x="{LABEL_WIDTH - 8}" y="{_num(y + 4)}" '
            f'text-anchor="end">{escape(label)}</text>'
        )
        value = alpha.get("value")
        tip = (
            f"{question} · {label}: alpha {_fmt(value)}, "
            f"CI [{_fmt(alpha.get('ci_low'))}, {_fmt(alpha.get('ci_high'))}]"
        )
        if value is None:
            reason = alpha.get("reason") or "not defined"
            body.append(
                f'<text class="na" x="{LABEL_WIDTH + 4}" y="{_num(y + 4)}">'
                f"<title>{escape(tip)}</title>not defined: {escape(str(reason))}</text>"
            )
            continue
        group = f'<g class="{"pool" if label.startswith("pool ") else "overall"}">'
        group += f"<title>{escape(tip)}</title>"
        if alpha.get("ci_low") is not None and alpha.get("ci_high") is not None:
            x1, x2 = x(alpha["ci_low"]), x(alpha["ci_high"])
            group += (
                f'<line class="ci" x1="{_num(x1)}" y1="{_num(y)}" x2="{_num(x2)}" y2="{_num(y)}"/>'
                f'<line class="ci" x1="{_num(x1)}" y1="{_num(y - 5)}" x2="{_num(x1)}" y2="{_num(y + 5)}"/>'
                f'<line class="ci" x1="{_num(x2)}" y1="{_num(y - 5)}" x2="{_num(x2)}" y2="{_num(y + 5)}"/>'
            )
        group += f'<circle class="point" cx="{_num(x(value))}" cy="{_num(y)}" r="4.5"/>'
        group += (
            f'<text class="value" x="{LABEL_WIDTH + PLOT_WIDTH + 8}" y="{_num(y + 4)}">'
            f"{value:.2f}</text></g>"
        )
        body.append(group)
    return _svg(
        "alpha-ci",
        width,
        height,
        "Krippendorff's alpha with bootstrap confidence intervals, per question and pool",
        body,
    )


def _x_axis(low: float, high: float, x: Any, y_top: float, y_bottom: float) -> list[str]:
    body = [
        f'<line class="axis" x1="{LABEL_WIDTH}" y1="{_num(y_bottom)}" '
        f'x2="{LABEL_WIDTH + PLOT_WIDTH}" y2="{_num(y_bottom)}"/>'
    ]
    steps = round((high - low) / 0.2)
    for step in range(steps + 1):
        tick = round(low + step * 0.2, 1)
        body.append(
            f'<line class="grid" x1="{_num(x(tick))}" y1="{_num(y_top)}" x2="{_num(x(tick))}" '
            f'y2="{_num(y_bottom)}"/><text class="tick" x="{_num(x(tick))}" '
            f'y="{_num(y_bottom + 16)}" text-anchor="middle">{tick:g}</text>'
        )
    return body


def _version_key(version: str) -> tuple[float, str]:
    digits = "".join(ch for ch in version if ch.isdigit() or ch == ".")
    try:
        return (float(digits), version)
    except ValueError:
        return (math.inf, version)


def version_trend_chart(report: Mapping[str, Any]) -> str | None:
    """Alpha with CI per guideline version, one line per question."""
    series: list[tuple[str, list[tuple[str, Mapping[str, Any]]]]] = []
    versions: set[str] = set()
    for name, section in _analysed(report):
        groups = section.get("breakdowns", {}).get("guideline_version", {}).get("groups", {})
        if groups:
            series.append((name, [(v, _alpha(c)) for v, c in groups.items()]))
            versions |= set(groups)
    if not series or len(versions) < 2:
        return None
    ordered = sorted(versions, key=_version_key)
    left, top, plot_w, plot_h = 60, 20, max(160, 110 * len(ordered)), 200
    width, height = left + plot_w + 190, top + plot_h + 40
    values = [a.get(k) for _, points in series for _, a in points for k in ("ci_low", "value")]
    low, high = _axis_range(values)

    def x(version: str) -> float:
        return left + (ordered.index(version) + 0.5) * plot_w / len(ordered)

    def y(value: float) -> float:
        clipped = min(max(value, low), high)
        return top + (high - clipped) / (high - low) * plot_h

    body = []
    steps = round((high - low) / 0.2)
    for step in range(steps + 1):
        tick = round(low + step * 0.2, 1)
        body.append(
            f'<line class="grid" x1="{left}" y1="{_num(y(tick))}" x2="{left + plot_w}" '
            f'y2="{_num(y(tick))}"/><text class="tick" x="{left - 6}" y="{_num(y(tick) + 4)}" '
            f'text-anchor="end">{tick:g}</text>'
        )
    for version in ordered:
        body.append(
            f'<text class="tick" x="{_num(x(version))}" y="{top + plot_h + 18}" '
            f'text-anchor="middle">{escape(version)}</text>'
        )
    for index, (question, points) in enumerate(series):
        colour = f"series-{index % 6}"
        defined = sorted(
            ((v, a) for v, a in points if a.get("value") is not None),
            key=lambda item: _version_key(item[0]),
        )
        offset = (index - (len(series) - 1) / 2) * 6
        if len(defined) > 1:
            coordinates = " ".join(
                f"{_num(x(v) + offset)},{_num(y(a['value']))}" for v, a in defined
            )
            body.append(f'<polyline class="trend {colour}" points="{coordinates}"/>')
        for version, alpha in defined:
            cx = x(version) + offset
            tip = (
                f"{question} · version {version}: alpha {_fmt(alpha['value'])}, "
                f"CI [{_fmt(alpha.get('ci_low'))}, {_fmt(alpha.get('ci_high'))}]"
            )
            mark = f'<g class="{colour}"><title>{escape(tip)}</title>'
            if alpha.get("ci_low") is not None and alpha.get("ci_high") is not None:
                mark += (
                    f'<line class="ci" x1="{_num(cx)}" y1="{_num(y(alpha["ci_low"]))}" '
                    f'x2="{_num(cx)}" y2="{_num(y(alpha["ci_high"]))}"/>'
                )
            mark += (
                f'<circle class="point" cx="{_num(cx)}" cy="{_num(y(alpha["value"]))}" r="4"/></g>'
            )
            body.append(mark)
        legend_y = top + 14 + 18 * index
        body.append(
            f'<g class="{colour}"><line class="trend" x1="{left + plot_w + 16}" y1="{legend_y - 4}" '
            f'x2="{left + plot_w + 36}" y2="{legend_y - 4}"/><text class="label" '
            f'x="{left + plot_w + 42}" y="{legend_y}">{escape(question)}</text></g>'
        )
    return _svg(
        "version-trend",
        width,
        height,
        "Krippendorff's alpha per guideline version, with bootstrap confidence intervals",
        body,
    )


def _kappa_colour(kappa: float) -> str:
    """Diverging red (−1) → white (0) → blue (+1)."""
    k = max(-1.0, min(1.0, kappa))
    if k >= 0:
        r, g, b = (255 - k * (255 - 37), 255 - k * (255 - 87), 255 - k * (255 - 167))
    else:
        r, g, b = (255 + k * (255 - 180), 255 + k * (255 - 35), 255 + k * (255 - 24))
    return f"#{round(r):02x}{round(g):02x}{round(b):02x}"


def kappa_statistic(level: str | None) -> tuple[str, str]:
    """The pairwise kappa shown for a question: quadratic-weighted when ordered."""
    if level in ("ordinal", "interval", "ratio"):
        return "kappa_quadratic", "quadratic-weighted Cohen's kappa"
    return "kappa", "Cohen's kappa"


def kappa_heatmap(report: Mapping[str, Any], question: str) -> str | None:
    """Annotator × annotator pairwise kappa of one question (pairs with too few shared
    units are grey)."""
    section = report.get("questions", {}).get(question) or {}
    pairs_info = (section.get("overall") or {}).get("cohen_kappa_pairs") or {}
    pairs = pairs_info.get("pairs") or []
    annotators = sorted({p["a"] for p in pairs} | {p["b"] for p in pairs})
    if len(annotators) < 2 or len(annotators) > MAX_HEATMAP_ANNOTATORS:
        return None
    key, name = kappa_statistic(section.get("level"))
    cell = max(10, min(28, 560 // len(annotators)))
    left = top = 8 + min(150, 7 * max(len(a) for a in annotators))
    size = cell * len(annotators)
    index = {a: i for i, a in enumerate(annotators)}
    body = []
    for a in annotators:
        i = index[a]
        body.append(
            f'<text class="label small" x="{left - 4}" y="{_num(top + (i + 0.5) * cell + 4)}" '
            f'text-anchor="end">{escape(a)}</text>'
            f'<text class="label small" transform="translate({_num(left + (i + 0.5) * cell + 4)},'
            f'{top - 4}) rotate(-90)">{escape(a)}</text>'
            f'<rect class="diagonal" x="{left + i * cell}" y="{top + i * cell}" '
            f'width="{cell}" height="{cell}"/>'
        )
    for pair in pairs:
        value = pair.get(key) if pair.get(key) is not None else None
        tip = f"{pair['a']} × {pair['b']}: {name} {_fmt(value)} on {pair.get('n', 0)} shared units"
        if value is None and pair.get("reason"):
            tip += f" ({pair['reason']})"
        fill = _kappa_colour(value) if value is not None else "#d9dee4"
        i, j = index[pair["a"]], index[pair["b"]]
        for row, column in ((i, j), (j, i)):
            body.append(
                f'<rect x="{left + column * cell}" y="{top + row * cell}" width="{cell}" '
                f'height="{cell}" fill="{fill}"><title>{escape(tip)}</title></rect>'
            )
    legend_x = left + size + 24
    for step in range(11):
        k = 1 - step * 0.2
        body.append(
            f'<rect x="{legend_x}" y="{top + step * 14}" width="16" height="14" '
            f'fill="{_kappa_colour(k)}"/><text class="tick" x="{legend_x + 22}" '
            f'y="{top + step * 14 + 11}">{k:+.1f}</text>'
        )
    width = legend_x + 70
    height = top + max(size, 11 * 14) + 10
    return _svg(
        "kappa-heatmap",
        width,
        height,
        f"Pairwise {name} between annotators, question {question}",
        body,
    )


def report_charts(report: Mapping[str, Any]) -> dict[str, Any]:
    """Every chart of a report: ``alpha_ci``, ``version_trend`` and ``heatmaps``
    (question → SVG); a chart the data cannot support is None or missing."""
    heatmaps = {}
    for name, _section in _analysed(report):
        svg = kappa_heatmap(report, name)
        if svg is not None:
            heatmaps[name] = svg
    return {
        "alpha_ci": alpha_ci_chart(report),
        "version_trend": version_trend_chart(report),
        "heatmaps": heatmaps,
    }
