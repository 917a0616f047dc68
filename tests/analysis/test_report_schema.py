"""The typed report schema (analysis.metrics.report_schema): every object and key it
declares is documented in docs/report-schema.md, a real report matches it, and a key
added or lost anywhere is reported. No database."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pandas as pd
import pytest

from analysis.metrics.report import agreement_report
from analysis.metrics.report_schema import describe, schema_problems
from analysis.metrics.report_schema.shapes import OPEN, TYPES, declared_keys

DOCS = Path(__file__).resolve().parents[2] / "docs" / "report-schema.md"


def _doc_sections() -> list[tuple[str, str]]:
    """(heading, text up to the next heading) of the schema document."""
    text = DOCS.read_text(encoding="utf-8")
    parts = re.split(r"^(#{1,4} .*)$", text, flags=re.M)
    return [(parts[i].lstrip("# ").strip(), parts[i + 1]) for i in range(1, len(parts), 2)]


def _documented(text: str) -> set[str]:
    """Names a section documents: `in backticks` (also inside code spans listing several
    keys) and "as JSON keys":, and bare words of braces lists like {mean, sd}."""
    names = set(re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)`", text))
    names |= set(re.findall(r'"([A-Za-z_][A-Za-z0-9_]*)"\s*:', text))
    return names


@pytest.mark.parametrize("kind", TYPES, ids=lambda t: t.__name__)
def test_every_declared_key_is_documented_under_its_heading(kind):
    sections = [
        text
        for heading, text in _doc_sections()
        if re.search(rf"(^|[ (]){kind.__name__}($|[ ),;])", heading)
    ]
    assert sections, f"docs/report-schema.md has no heading naming {kind.__name__}"
    missing = [declared_keys(kind) - _documented(text) for text in sections]
    assert min(missing, key=len) == set(), (kind.__name__, min(missing, key=len))


@pytest.fixture(scope="module")
def example_report():
    """A small two-pool study: an ordinal and a nominal question, 12 units."""
    rows = []
    for unit in range(12):
        for n, pool in enumerate(("expert", "expert", "crowd", "crowd", "crowd")):
            grade = ("bad", "ok", "good")[(unit + (n % 2)) % 3]
            rows.append((f"u{unit}", f"a{n}", "quality", grade, pool))
            rows.append((f"u{unit}", f"a{n}", "correct", "yes" if (unit + n) % 4 else "no", pool))
    table = pd.DataFrame(rows, columns=["unit_id", "annotator_id", "question", "value", "pool"])
    specs = {
        "quality": {"level": "ordinal", "order": ["bad", "ok", "good"]},
        "correct": {"level": "nominal"},
    }
    return agreement_report(table, specs, n_bootstrap=20, min_shared_units=2)


def test_a_report_matches_the_schema_and_a_changed_key_is_caught(example_report):
    assert schema_problems(example_report) == []
    report = copy.deepcopy(example_report)
    question = next(iter(report["questions"].values()))
    question["overall"]["krippendorff_alpha"]["surprise"] = 1
    del question["overall"]["fleiss_kappa"]["value"]
    report["bias"] = {"status": "not_applicable", "reason": "no design", "extra": True}
    report["rankings"] = {"status": "computed", "question": "q"}
    problems = schema_problems(report)
    assert any("undeclared key 'surprise' (Coefficient)" in p for p in problems)
    assert any("missing key 'value' (Coefficient)" in p for p in problems)
    assert any("bias: undeclared key 'extra' (NotComputed)" in p for p in problems)
    assert any("rankings: missing key 'leaderboards' (Rankings)" in p for p in problems)


def test_open_objects_are_the_two_documented_ones():
    assert {kind.__name__ for kind in OPEN} == {"BiasCheck", "VersusQuestion"}


def test_the_description_of_a_report_without_bias_or_rankings_leaves_them_out(example_report):
    description = describe(example_report)
    keys = [section.key for section in description.sections]
    assert keys[0] == "summary" and keys[-2:] == ["annotators", "methods"]
    assert not {"bias", "expert-vs-crowd", "rankings"} & set(keys)
    # Every table in the CSV zip has a unique file name and typed columns.
    assert "coefficients.csv" in description.csv_tables()


def _dict_paths(value, path=(), depth=4):
    """Paths to every dict entry down to `depth` levels (lists are not entered)."""
    if depth == 0 or not isinstance(value, dict):
        return
    for key, item in value.items():
        yield (*path, key)
        yield from _dict_paths(item, (*path, key), depth - 1)


@pytest.mark.slow
def test_the_description_shows_less_but_never_fails_on_a_part_missing_or_null():
    """A stored report from an older version can lack any part; the page, the HTML,
    the PDF and the CSV are built from the description, so it must stand."""
    from tests.exports.report_reading import simulated_report

    report = simulated_report()
    paths = [p for key in ("bias", "expert_vs_crowd") for p in _dict_paths(report[key], (key,))]
    assert len(paths) > 300
    for path in paths:
        for drop in (True, False):
            broken = {**report, path[0]: copy.deepcopy(report[path[0]])}
            holder = broken
            for key in path[:-1]:
                holder = holder[key]
            if drop:
                del holder[path[-1]]
            else:
                holder[path[-1]] = None
            description = describe(broken)
            for table in description.tables():
                assert len(table.cells) == len(table.rows)
                table.csv_rows()
