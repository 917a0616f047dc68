"""The figures of a typed report description, drawn, and the description as nodes a
template renders (the report page and the HTML export share one partial,
analysis/templates/analysis/_report_section.html).

A figure id names its chart: ``agreement:alpha_ci``, ``agreement:version_trend``,
``agreement:heatmap:<question>`` (analysis.charts), ``bias:<figure>`` and
``bias:forest:<check>`` (analysis.bias_charts), ``ranking:<board>:<figure>``
(analysis.ranking_charts). A figure the data cannot support is left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.utils.safestring import SafeString, mark_safe

from analysis.bias_charts import bias_charts, check_forest, under_reporting_forest
from analysis.charts import report_charts
from analysis.metrics.report_schema import ReportDescription, Section
from analysis.ranking_charts import ranking_charts


def figure_svgs(report: Mapping[str, Any], description: ReportDescription) -> dict[str, str]:
    """{figure id: SVG} of every figure of ``description`` the report can draw."""
    agreement = report_charts(report)
    bias = {**bias_charts(report), "under_reporting": under_reporting_forest(report)}
    boards: dict[str, dict[str, str | None]] = {}
    out: dict[str, str] = {}
    for figure in description.figures():
        family, _, rest = figure.id.partition(":")
        svg: str | None = None
        if family == "agreement":
            name, _, question = rest.partition(":")
            svg = agreement["heatmaps"].get(question) if name == "heatmap" else agreement.get(name)
        elif family == "bias":
            kind, _, check = rest.partition(":")
            svg = check_forest(report, check) if kind == "forest" else bias.get(kind)
        elif family == "ranking":
            board, _, key = rest.rpartition(":")
            if board not in boards:
                boards[board] = ranking_charts(report, board=board)
            svg = boards[board].get(key)
        if svg:
            out[figure.id] = svg
    return out


@dataclass(frozen=True)
class Node:
    """A section with its heading level and drawn figures, for the shared partial."""

    section: Section
    depth: int
    figures: tuple[tuple[str, SafeString], ...]
    parts: tuple[Node, ...]

    @property
    def table_depth(self) -> int:
        return min(self.depth + 1, 6)


def section_nodes(
    description: ReportDescription,
    svgs: Mapping[str, str],
    *,
    inline: bool = False,
) -> list[Node]:
    """The description's sections as template nodes, top level at <h2>. ``inline``
    drops the SVG namespace (a standalone HTML file then holds no URL at all)."""

    def node(section: Section, depth: int) -> Node:
        figures = []
        for figure in section.figures:
            svg = svgs.get(figure.id)
            if svg:
                if inline:
                    svg = svg.replace(' xmlns="http://www.w3.org/2000/svg"', "")
                # Built by analysis.*charts from escaped labels only.
                figures.append((figure.caption, mark_safe(svg)))
        return Node(
            section,
            depth,
            tuple(figures),
            tuple(node(part, min(depth + 1, 5)) for part in section.parts),
        )

    return [node(section, 2) for section in description.sections]
