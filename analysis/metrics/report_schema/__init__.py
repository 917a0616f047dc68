"""One typed description of an agreement report, consumed by every format.

* :mod:`.shapes` types the report JSON (a TypedDict per object of
  docs/report-schema.md) and checks a report against it (:func:`schema_problems`).
* :func:`describe` turns a report into a :class:`ReportDescription`: sections
  (summary, one per analysed question, bias checks, expert versus crowd, rankings,
  annotators, methods), each with its text, typed tables and figure ids. The report
  page and the HTML export render it from templates, the PDF draws it, the CSV zip
  writes every table that names a file. So the five formats show the same numbers
  (tests/exports/test_report_formats_agree.py).

Pure: no Django, no figures (analysis.report_charts draws a description's figures).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from analysis.metrics.report_schema.agreement import agreement_sections, agreement_tables
from analysis.metrics.report_schema.bias import bias_section
from analysis.metrics.report_schema.rankings import ranking_tables, rankings_section
from analysis.metrics.report_schema.shapes import schema_problems
from analysis.metrics.report_schema.versus import versus_section
from analysis.metrics.report_schema.view import (
    MISSING,
    Column,
    Figure,
    ReportDescription,
    Section,
    Table,
    spell,
)

__all__ = [
    "MISSING",
    "Column",
    "Figure",
    "ReportDescription",
    "Section",
    "Table",
    "describe",
    "schema_problems",
    "spell",
]


def describe(report: Mapping[str, Any]) -> ReportDescription:
    """The report as every format shows it. Sections the report does not carry
    (a report stored before bias or rankings existed) are left out; sections it carries
    as not computed keep their reason."""
    head, tail = agreement_sections(report)
    sections = list(head)
    if "bias" in report:
        sections.append(bias_section(report))
    if "expert_vs_crowd" in report:
        sections.append(versus_section(report))
    rankings = rankings_section(report)
    if rankings is not None:
        sections.append(rankings)
    sections += tail
    inputs = report.get("input") or {}
    questions = [s for s in head if s.key.startswith("question-")]
    return ReportDescription(
        schema_version=str(report.get("schema_version")),
        summary=(
            f"Report schema {spell(report.get('schema_version'))}; "
            f"{spell(inputs.get('n_rows'))} answers, {spell(inputs.get('n_units'))} units, "
            f"{spell(inputs.get('n_annotators'))} annotators."
        ),
        sections=tuple(sections),
        extra_tables=tuple(agreement_tables(report, questions) + ranking_tables(report, rankings)),
    )
