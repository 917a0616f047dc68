"""An agreement report as ONE self-contained HTML file, rendered from the Django template
exports/report_document.html: an inline stylesheet (the file is a download, outside the
site's CSP), the report's sections from the typed description
(analysis.metrics.report_schema) through the same partial as the report page, figures as
inline SVG without a namespace URL, no scripts and no external references, and print
CSS so it prints as a paper appendix. The template autoescapes every value."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from django.template.loader import render_to_string

from analysis.metrics.report_schema import describe
from analysis.report_charts import figure_svgs, section_nodes

CONTENT_TYPE = "text/html; charset=utf-8"
EXTENSION = "html"


def manifest_items(manifest: Mapping[str, Any]) -> list[tuple[str, str, bool]]:
    """(label, text, shown as code) of the manifest, in reading order; shared with the
    PDF export."""
    source = manifest.get("source") or {}
    task = manifest.get("task") or {}
    guideline = task.get("guideline") or {}
    parameters = manifest.get("parameters") or {}
    libraries = manifest.get("libraries") or {}
    items: list[tuple[str, str, bool]] = [
        ("Source", " ".join(f"{k}={v}" for k, v in sorted(source.items())), False)
    ]
    if task:
        pools = "; ".join(
            f"{p['name']} ({p['kind']}, k={p['redundancy']}, cap={p['per_annotator_cap']}, "
            f"gold share={p['gold_share']})"
            for p in task.get("pools", [])
        )
        items += [
            ("Task", f"{task.get('title')} ({task.get('slug')}), mode {task.get('mode')}", False),
            ("Guideline", f"{guideline.get('name')} v{guideline.get('version')}", False),
            ("Guideline sha256", str(guideline.get("sha256", "")), True),
            ("Pools", pools, False),
        ]
    items += [
        ("Data hash (sha256)", str(manifest.get("data_hash", "")), True),
        ("Result hash (sha256)", str(manifest.get("result_sha256", "")), True),
        ("Parameters", orjson.dumps(parameters, option=orjson.OPT_SORT_KEYS).decode(), False),
        ("Seed", str(parameters.get("seed")), False),
        ("Filters", orjson.dumps(manifest.get("filters") or {}).decode(), False),
        ("Platform version", str(manifest.get("platform_version", "")), False),
        ("Libraries", ", ".join(f"{k} {v}" for k, v in libraries.items()), False),
        ("Report schema", str(manifest.get("report_schema_version", "")), False),
    ]
    return items


def render(report: Mapping[str, Any], manifest: Mapping[str, Any], *, title: str) -> bytes:
    description = describe(report)
    svgs = figure_svgs(report, description)
    context = {
        "title": title,
        "description": description,
        "nodes": section_nodes(description, svgs, inline=True),
        "manifest_items": manifest_items(manifest),
        "manifest_json": orjson.dumps(
            manifest, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2
        ).decode(),
    }
    return render_to_string("exports/report_document.html", context).encode("utf-8")
