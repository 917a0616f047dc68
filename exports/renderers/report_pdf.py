"""An agreement report as PDF, drawn with fpdf2 (pure Python: no browser, no system
libraries) from the same typed description as the page and the HTML export
(analysis.metrics.report_schema): the manifest, then every section in order with its
text, tables (the same cell texts) and figures (the analysis.*charts SVGs, embedded as
vector graphics).

The PDF uses the standard Helvetica font, which covers Latin-1 only: Greek letters are
spelled out and other characters outside Latin-1 become "?" (the HTML and JSON
exports keep every character).
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

from fpdf import FPDF
from fpdf.fonts import FontFace

from analysis.metrics.report_schema import ReportDescription, Section, Table, describe
from analysis.report_charts import figure_svgs
from exports.renderers.report_html import manifest_items

logger = logging.getLogger(__name__)

CONTENT_TYPE = "application/pdf"
EXTENSION = "pdf"

_SPELLED = {
    "α": "alpha",
    "κ": "kappa",
    "τ": "tau",
    "γ": "gamma",
    "ξ": "xi",
    "›": ">",
    "—": "-",
    "–": "-",
    "×": "x",
    "≥": ">=",
    "≤": "<=",
    "·": "-",
    "’": "'",
    "‘": "'",
    "“": '"',
    "”": '"',
    "…": "...",
    "−": "-",
    "ρ": "rho",
    "σ": "sigma",
    "′": "'",
    "▲": "+",
    "▼": "-",
}

# fpdf2 applies simple `.class {}` rules inside an SVG, not descendant selectors, so the
# charts' group-scoped classes are flattened first (_flatten_classes).
_SVG_CSS = """
.label { fill:#1d232a; font-size:11px; } .tick, .value, .na { fill:#5d6975; font-size:10px; }
.label-own { font-size:11px; }
.axis { stroke:#8a96a3; stroke-width:1; } .grid { stroke:#e6e9ed; stroke-width:1; }
.threshold { stroke:#b25e09; stroke-width:1; stroke-dasharray:4 3; }
.ci { stroke:#2557a7; stroke-width:2; } .point { fill:#2557a7; }
.ci-pool { stroke:#6d8fc7; stroke-width:2; } .point-pool { fill:#ffffff; stroke:#2557a7; stroke-width:2; }
.diagonal { fill:#f0f2f5; } .trend { fill:none; stroke:#2557a7; stroke-width:2; }
"""
_SERIES = ("#2557a7", "#b42318", "#1f7a3f", "#b25e09", "#6941c6", "#475467")
_SVG_CSS += "".join(
    f".ci-s{i} {{ stroke:{c}; stroke-width:2; }} .point-s{i} {{ fill:{c}; }} "
    f".trend-s{i} {{ fill:none; stroke:{c}; stroke-width:2; }}\n"
    for i, c in enumerate(_SERIES)
)


def latin1(text: Any) -> str:
    value = "-" if text is None else str(text)
    for old, new in _SPELLED.items():
        value = value.replace(old, new)
    return value.encode("latin-1", "replace").decode("latin-1")


def fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return latin1(value)


def _flatten_classes(svg: str) -> str:
    def group(match: re.Match[str]) -> str:
        cls, body = match.group(1), match.group(2)
        suffix = "pool" if cls == "pool" else cls.replace("series-", "s")
        body = re.sub(r'class="(ci|point|trend)"', rf'class="\1-{suffix}"', body)
        return f'<g class="{cls}">{body}</g>'

    svg = re.sub(r'<g class="(series-\d+|pool)">(.*?)</g>', group, svg, flags=re.S)
    svg = re.sub(r'class="trend series-(\d+)"', r'class="trend-s\1"', svg)
    svg = re.sub(r"<title>.*?</title>", "", svg, flags=re.S)
    return svg


def svg_for_pdf(svg: str) -> bytes:
    # A label with its own colour (the ranking charts' colour-coded panel titles) keeps
    # it: fpdf2 lets the stylesheet's .label fill win over the attribute.
    svg = re.sub(r'<text class="label[^"]*"(?=[^>]*\sfill=")', '<text class="label-own"', svg)
    flat = _flatten_classes(latin1(svg))
    return re.sub(r"(<svg[^>]*>)", r"\1<style>" + _SVG_CSS + "</style>", flat, count=1).encode(
        "utf-8"
    )


class _Document(FPDF):
    def __init__(self, title: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.report_title = latin1(title)
        self.set_auto_page_break(auto=True, margin=15)
        self.set_margins(14, 14, 14)
        self.set_title(self.report_title)
        self.set_creator("JudgeBench")

    def footer(self) -> None:
        self.set_y(-10)
        self.set_font("Helvetica", size=7)
        self.set_text_color(110)
        self.cell(0, 5, f"{self.report_title} - page {self.page_no()}/{{nb}}", align="C")

    def heading(self, text: str, size: int = 13) -> None:
        self.ln(2)
        self.set_font("Helvetica", "B", size)
        self.set_text_color(20)
        self.multi_cell(0, size * 0.5, latin1(text), new_x="LMARGIN", new_y="NEXT")
        self.ln(1)

    def paragraph(self, text: str, size: int = 8) -> None:
        self.set_font("Helvetica", size=size)
        self.set_text_color(40)
        self.multi_cell(0, size * 0.45, latin1(text), new_x="LMARGIN", new_y="NEXT")

    def grid(
        self,
        header: Sequence[str],
        rows: Sequence[Sequence[Any]],
        widths: Sequence[float] | None = None,
        empty: str = "(none)",
        align: Sequence[bool] | None = None,
    ) -> None:
        if not rows:
            self.paragraph(empty)
            return
        size = 7
        if widths is None:
            size, widths = self.column_widths(header, rows, align or [False] * len(header))
        self.set_font("Helvetica", size=size)
        self.set_text_color(20)
        with self.table(
            col_widths=widths,
            headings_style=FontFace(emphasis="BOLD", fill_color=(238, 241, 244)),
            line_height=3.6,
            text_align=tuple("RIGHT" if n else "LEFT" for n in align) if align else "LEFT",
            first_row_as_headings=True,
        ) as table:
            table.row([latin1(h) for h in header])
            for row in rows:
                table.row([fmt(v) for v in row])
        self.ln(2)

    def column_widths(
        self, header: Sequence[str], rows: Sequence[Sequence[Any]], numeric: Sequence[bool]
    ) -> tuple[int, list[float]]:
        """(font size, column widths in mm): every number and interval on one line at
        its natural width, text columns wrapped into what is left (at least 18 mm
        each); a table too wide even so drops to 6 pt, then is scaled to the page."""
        padding = 2.2
        for size in (7, 6):
            natural = []
            for index, label in enumerate(header):
                self.set_font("Helvetica", "B", size)
                words = max(
                    (self.get_string_width(latin1(w)) for w in str(label).split()), default=0
                )
                self.set_font("Helvetica", size=size)
                cells = max((self.get_string_width(fmt(row[index])) for row in rows), default=0)
                natural.append(max(words, cells) + padding)
            fixed = sum(w for w, n in zip(natural, numeric, strict=True) if n)
            text = sorted((i for i, n in enumerate(numeric) if not n), key=lambda i: natural[i])
            room, widths = self.epw - fixed, list(natural)
            # Water-filling: narrow text columns keep their width, the widest share the
            # rest equally (wrapping), never narrower than 18 mm.
            for count, i in enumerate(text):
                share = room / (len(text) - count)
                widths[i] = min(natural[i], share)
                room -= widths[i]
            if all(widths[i] >= min(natural[i], 18) for i in text) and room >= -0.01:
                return size, widths
        scale = self.epw / sum(natural)
        return 6, [w * scale for w in natural]

    def figure(self, svg: str | None) -> None:
        if not svg:
            return
        # At its natural size (96 px per inch), but never wider than the page.
        width = re.search(r'<svg[^>]*\swidth="([\d.]+)"', svg)
        natural = float(width.group(1)) * 25.4 / 96 if width else self.epw
        self.image(io.BytesIO(svg_for_pdf(svg)), w=min(self.epw, natural))
        self.ln(2)

    def keep_room(self, svg: str, *, above: float = 8) -> None:
        """Start a new page unless `svg` (at the size figure() draws it) and `above` mm
        of heading fit on this one, so a caption is never left alone at a page foot."""
        size = re.search(r'<svg[^>]*\swidth="([\d.]+)"[^>]*\sheight="([\d.]+)"', svg)
        if not size:
            return
        width, height = (float(v) * 25.4 / 96 for v in size.groups())
        drawn = height * min(1.0, self.epw / width) if width else height
        if self.get_y() + above + drawn > self.page_break_trigger:
            self.add_page()


def _figure(pdf: _Document, caption: str, svg: str, figure_id: str) -> None:
    pdf.keep_room(svg)
    pdf.heading(caption, 9)
    try:
        pdf.figure(svg)
    except Exception:  # fpdf2's SVG support is partial; one figure must not sink the PDF
        logger.warning("figure %s could not be drawn in the PDF", figure_id, exc_info=True)
        pdf.paragraph("(This figure could not be drawn in the PDF; see the HTML export.)")


def _table(pdf: _Document, table: Table) -> None:
    if table.title:
        pdf.heading(table.title, 9)
    pdf.grid(table.header, table.cells, empty=table.empty, align=table.numeric)


# Top-level sections that start on a new page (the rest follow on).
NEW_PAGE = ("question-", "bias", "expert-vs-crowd", "rankings", "annotators")
HEADING_SIZES = {1: 13, 2: 11, 3: 10}


def _section(pdf: _Document, section: Section, svgs: dict[str, str], depth: int) -> None:
    if depth == 1 and section.key.startswith(NEW_PAGE):
        pdf.add_page()
    pdf.heading(section.title, HEADING_SIZES.get(depth, 10))
    if section.reason:
        pdf.paragraph(f"Not computed: {section.reason}")
        return
    for text in section.text:
        pdf.paragraph(text)
    if section.items:
        pdf.paragraph(f"{section.warning}:", 9)
        for item in section.items:
            pdf.paragraph(f"- {item}")
    elif section.warning:
        pdf.paragraph(section.warning)
    pdf.ln(1)
    for table in section.tables:
        if table.shown:
            _table(pdf, table)
    for figure in section.figures:
        if svg := svgs.get(figure.id):
            _figure(pdf, figure.caption, svg, figure.id)
    for term, text in section.definitions:
        pdf.paragraph(f"{term}: {text}")
    for part in section.parts:
        _section(pdf, part, svgs, depth + 1)
    for note in section.notes:
        pdf.paragraph(note, 7)


def document(
    description: ReportDescription,
    svgs: dict[str, str],
    manifest: Mapping[str, Any],
    *,
    title: str,
) -> bytes:
    pdf = _Document(title)
    pdf.add_page()
    pdf.heading(title, 16)
    pdf.paragraph(description.summary)
    pdf.heading("Reproducibility manifest", 12)
    pdf.grid(
        ["Field", "Value"],
        [(label, value) for label, value, _ in manifest_items(manifest)],
        widths=(30, 152),
    )
    for section in description.sections:
        _section(pdf, section, svgs, 1)
    return bytes(pdf.output())


def render(report: Mapping[str, Any], manifest: Mapping[str, Any], *, title: str) -> bytes:
    description = describe(report)
    return document(description, figure_svgs(report, description), manifest, title=title)
