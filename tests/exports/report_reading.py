"""Reports for the format tests, and reading a rendered report back: the sections of
the page or the HTML export (by element id, with their text and table cells, as a
reader sees them) and the text of the PDF (poppler's pdftotext, Debian package
poppler-utils)."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from functools import cache
from html.parser import HTMLParser
from typing import Any

import numpy as np
import orjson
import pytest

from analysis.metrics.bias import bias_report
from analysis.metrics.expert_vs_crowd import expert_vs_crowd_report
from analysis.metrics.report import agreement_report
from analysis.services import canonical_json
from analysis.simulation import PoolBehaviour, SimulationConfig, simulate_study


@dataclass
class HtmlSection:
    id: str
    text: list[str] = field(default_factory=list)
    # Tables directly in this section (not in its subsections): rows of cell texts.
    tables: list[list[list[str]]] = field(default_factory=list)
    headings: list[str] = field(default_factory=list)
    svgs: int = 0
    captions: list[str] = field(default_factory=list)

    @property
    def joined(self) -> str:
        return " ".join(" ".join(self.text).split())


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sections: dict[str, HtmlSection] = {}
        self.stack: list[HtmlSection] = []
        self.cell: list[str] | None = None
        self.row: list[str] | None = None
        self.heading: list[str] | None = None
        self.caption: list[str] | None = None
        self.in_svg = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "section":
            section = HtmlSection(dict(attrs).get("id") or f"anonymous-{len(self.sections)}")
            self.sections[section.id] = section
            self.stack.append(section)
        elif tag == "svg":
            self.in_svg += 1
            for section in self.stack:
                section.svgs += 1
        elif self.in_svg:
            return
        elif tag == "table" and self.stack:
            self.stack[-1].tables.append([])
        elif tag == "tr" and self.stack:
            self.row = []
        elif tag in ("td", "th"):
            self.cell = []
        elif re.fullmatch(r"h[1-6]", tag):
            self.heading = []
        elif tag == "figcaption":
            self.caption = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "section" and self.stack:
            self.stack.pop()
        elif tag == "svg":
            self.in_svg -= 1
        elif self.in_svg:
            return
        elif tag in ("td", "th") and self.cell is not None and self.row is not None:
            self.row.append(" ".join("".join(self.cell).split()))
            self.cell = None
        elif tag == "tr" and self.row is not None and self.stack:
            if self.stack[-1].tables:
                self.stack[-1].tables[-1].append(self.row)
            self.row = None
        elif re.fullmatch(r"h[1-6]", tag) and self.heading is not None and self.stack:
            self.stack[-1].headings.append(" ".join("".join(self.heading).split()))
            self.heading = None
        elif tag == "figcaption" and self.caption is not None and self.stack:
            self.stack[-1].captions.append(" ".join("".join(self.caption).split()))
            self.caption = None

    def handle_data(self, data: str) -> None:
        if self.in_svg:
            return
        for part in (self.cell, self.heading, self.caption):
            if part is not None:
                part.append(data)
        for section in self.stack:
            section.text.append(data)


def html_sections(html: str) -> dict[str, HtmlSection]:
    """Every <section> of the document by id, text and tables as a reader sees them."""
    reader = _Reader()
    reader.feed(html)
    return reader.sections


def pdf_text(body: bytes, tmp_path) -> str:
    """The PDF's text in reading order (pdftotext -layout keeps each table row on one
    line), whitespace runs collapsed."""
    tool = shutil.which("pdftotext")
    if tool is None:
        pytest.fail(
            "pdftotext is not installed: `apt-get install poppler-utils` (.ci/run does it). "
            "The PDF check does not skip, because a skipped comparison proves nothing."
        )
    path = tmp_path / "report.pdf"
    path.write_bytes(body)
    out = subprocess.run(
        [tool, "-layout", "-enc", "UTF-8", str(path), "-"],
        check=True,
        capture_output=True,
        timeout=120,
    ).stdout.decode("utf-8")
    return " ".join(out.split())


@cache
def _simulated() -> bytes:
    config = SimulationConfig(
        n_prompts=16,
        n_systems=2,
        pools={
            "crowd": PoolBehaviour(
                n_annotators=8, ratings_per_unit=4, tone_bias=0.6, position_bias=0.15
            ),
            "expert": PoolBehaviour(n_annotators=4, ratings_per_unit=3, tone_bias=0.0),
        },
    )
    study = simulate_study(config, rng=np.random.default_rng(3))
    specs = {q: {"level": "ordinal"} for q in ("quality", "assertiveness")}
    specs["has_factual_error"] = {"level": "nominal"}
    report = agreement_report(
        study.rubric, specs, n_bootstrap=50, min_shared_units=2, min_annotator_items=2
    )
    bias = bias_report(study.annotations, n_bootstrap=60, n_permutations=100)
    report["bias"] = bias
    report["expert_vs_crowd"] = expert_vs_crowd_report(
        study.rubric, n_bootstrap=60, bias_section=bias
    )
    return canonical_json(report)


def simulated_report() -> dict[str, Any]:
    """A full report computed by the metrics on a simulated tone study (a crowd with a
    tone premium and position bias, experts without): agreement, every bias check and
    expert versus crowd computed. Computed once per test process."""
    return orjson.loads(_simulated())
