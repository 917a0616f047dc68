"""An agreement report as a zip of tidy CSV tables, one per section, plus the manifest.

The tables are those of the report's typed description (analysis.metrics.report_schema)
that name a file: the agreement tables (``questions.csv``, ``coefficients.csv``,
``categories.csv``, ``kappa_pairs.csv``, ``preference.csv``,
``annotators_by_question.csv``, ``annotators.csv``, ``contested_units.csv``), the bias
tables (``bias_*.csv``) and expert-vs-crowd tables (``versus_*.csv``) when those
sections were computed, the ranking tables when the report ranked systems; and
``manifest.json``. Columns are documented in docs/exports.md. Every cell goes through
the platform's one CSV writer (common.csv_writer): floats in Python's shortest
round-trip repr, missing values as empty cells, formula-like text quoted.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from typing import Any

import orjson

from analysis.metrics.report_schema import describe
from common.csv_writer import rows_csv

CONTENT_TYPE = "application/zip"
EXTENSION = "zip"


def tables(report: Mapping[str, Any]) -> dict[str, bytes]:
    """{file name: CSV bytes} of every table of the report's description."""
    return {
        name: rows_csv(table.csv_header(), table.csv_rows())
        for name, table in describe(report).csv_tables().items()
    }


def render(report: Mapping[str, Any], manifest: Mapping[str, Any]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in tables(report).items():
            archive.writestr(name, data)
        archive.writestr(
            "manifest.json",
            orjson.dumps(manifest, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2),
        )
    return buffer.getvalue()
