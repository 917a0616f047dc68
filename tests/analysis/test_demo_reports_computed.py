"""Every section of every demo report is computed (issue 13): the demo's reports are what a
new user reads first, so a section that comes back "not computed" there is a bug.

The demo is seeded in this process (its reports computed here, not in a worker), then
each report is read section by section: every section is computed, except where the
study's data cannot support it (a file of answers with no design has no tone checks, a
study without pairwise votes has no rankings), and then it says why in words. No reason
anywhere shows a Python repr or a numpy type, and computing the reports prints no
RuntimeWarning from the project's code.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from analysis.models import AgreementReport, ReportStatus
from demo.seed import seed_demo

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
REPR_SIGNS = re.compile(r"np\.|numpy|int64|float64|array\(|\{'|\['|\bnan\b")
# Sections the data of a demo source cannot support, and why.
NOT_APPLICABLE = {
    ("dataset", "bias"),  # answers from a file, with no tone or known errors
    ("dataset", "rankings"),  # no pairwise votes
    ("dataset", "rank_stability"),
    ("demo-tone-study", "rankings"),  # one output per item: nothing to rank
    ("demo-tone-study", "rank_stability"),
}
TOP_LEVEL = (
    "questions",
    "annotators",
    "bias",
    "expert_vs_crowd",
    "rankings",
    "rank_stability",
)


def _reasons(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every (path, reason) in a report: reasons of undefined numbers, not computed
    blocks, and warnings."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("reason", "ci_reason", "k_star_reason", "not_a_finding") and item:
                yield f"{path}/{key}", str(item)
            elif key == "warnings" and isinstance(item, list):
                yield from ((f"{path}/warnings", str(w)) for w in item)
            else:
                yield from _reasons(item, f"{path}/{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _reasons(item, f"{path}[{index}]")


def _seed_and_read() -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Seed the demo, computing its reports here; their results and the RuntimeWarnings
    raised from the project's own code meanwhile."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        seed_demo(report_workers=0)
    reports = {(r.source_ref or "dataset"): r for r in AgreementReport.objects.all()}
    assert {r.status for r in reports.values()} == {ReportStatus.DONE}, [
        (name, r.error) for name, r in reports.items() if r.error
    ]
    ours = [
        f"{Path(w.filename).relative_to(ROOT)}:{w.lineno}: {w.message}"
        for w in caught
        if issubclass(w.category, RuntimeWarning) and Path(w.filename).is_relative_to(ROOT)
    ]
    return {name: json.loads(r.result_json) for name, r in reports.items()}, ours


def _every_section_is_computed(name: str, report: dict[str, Any]) -> None:
    for section in TOP_LEVEL:
        body = report[section]
        applicable = (name, section) not in NOT_APPLICABLE
        if isinstance(body, dict) and body.get("status") in ("not_applicable", "not_computed"):
            assert not applicable, (name, section, body)
            assert body["status"] == "not_applicable", (name, section, body)
            assert body["reason"], (name, section)
        else:
            assert applicable, (name, section, "computed where it should not apply")
    for question, block in report["questions"].items():
        assert block["status"] == "analysed", (name, question, block["reason"])


def _expert_vs_crowd_is_computed(name: str, section: dict[str, Any]) -> None:
    assert section["defined"] is True, (name, section.get("reason"))
    for role, block in section["questions"].items():
        if block.get("reason") == "no ratings":
            continue  # the study does not ask a question of this role
        assert block["defined"] is True, (name, role, block.get("reason"))
        for key in ("cross_pool", "crowd_size_curve", "crowd_size_curve_injected"):
            if key in block:
                assert block[key]["defined"] is True, (name, role, key, block[key])


def test_every_section_of_every_demo_report_is_computed(db):
    reports, runtime_warnings = _seed_and_read()
    assert set(reports) == {"dataset", "demo-tone-study", "demo-tone-study-pairwise", "demo-arena"}
    for name, report in reports.items():
        _every_section_is_computed(name, report)
        _expert_vs_crowd_is_computed(name, report["expert_vs_crowd"])
        for path, reason in _reasons(report):
            assert not REPR_SIGNS.search(reason), (name, path, reason)
    # The tone study's error flags (true/false answers) meet the design's 0/1 known
    # errors: the demo's "reference label np.int64(0)" failure.
    flag = reports["demo-tone-study"]["expert_vs_crowd"]["questions"]["error_flag"]
    assert flag["crowd_size_curve_injected"]["reference"] == "design n_known_errors > 0"
    assert flag["detection_against_experts"]["defined"] is True
    assert flag["reference"]["reliability"].startswith("within-expert agreement")
    # Computing them printed no RuntimeWarning from the project's code.
    assert runtime_warnings == []
