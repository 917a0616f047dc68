"""An agreement report as PDF, rendered with fpdf2 (pure Python: no browser, no system
libraries). The same content as the HTML export: manifest, summary, figures (the
analysis.charts SVGs, embedded as vector graphics), per-question tables and annotators.

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

import orjson
from fpdf import FPDF
from fpdf.fonts import FontFace

from analysis.charts import report_charts
from analysis.ranking_charts import ranking_charts
from exports.renderers.report_csv import computed, ranking_boards

# The cell texts are the HTML report's; fmt() spells their dashes in Latin-1.
from exports.renderers.report_html import (
    LEADERBOARD_HEADER,
    RANKING_FIGURES,
    board_title,
    interval_text,
    leaderboard_cells,
)

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
        widths: Sequence[int] | None = None,
    ) -> None:
        if not rows:
            self.paragraph("(none)")
            return
        self.set_font("Helvetica", size=7)
        self.set_text_color(20)
        with self.table(
            col_widths=widths,
            headings_style=FontFace(emphasis="BOLD", fill_color=(238, 241, 244)),
            line_height=3.6,
            text_align="LEFT",
            first_row_as_headings=True,
        ) as table:
            table.row([latin1(h) for h in header])
            for row in rows:
                table.row([fmt(v) for v in row])
        self.ln(2)

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


def _ranking_figures(pdf: _Document, report: Mapping[str, Any], board: str) -> None:
    charts = ranking_charts(report, board=board)
    for key, caption in RANKING_FIGURES:
        svg = charts.get(key)
        if not svg:
            continue
        pdf.keep_room(svg)
        pdf.heading(caption, 10)
        try:
            pdf.figure(svg)
        except Exception:  # fpdf2's SVG support is partial; one figure must not sink the PDF
            logger.warning("ranking figure %s could not be drawn in the PDF", key, exc_info=True)
            pdf.paragraph("(This figure could not be drawn in the PDF; see the HTML export.)")


def _rankings(pdf: _Document, report: Mapping[str, Any]) -> None:
    """The Rankings section, as in the HTML export."""
    rankings = report.get("rankings")
    if not isinstance(rankings, Mapping):
        return
    if not computed(rankings):
        pdf.heading("Rankings", 12)
        pdf.paragraph(f"Not computed: {rankings.get('reason')}")
        return
    pdf.add_page()
    pdf.heading("Rankings", 12)
    bootstrap = rankings.get("bootstrap") or {}
    level = bootstrap.get("confidence_level")
    pdf.paragraph(
        f"Question {rankings.get('question')}: {rankings.get('model')}; Elo scale centred at "
        f"{fmt((rankings.get('scale') or {}).get('centre'), 0)}; "
        f"{fmt(round(level * 100) if isinstance(level, float) else None)}% intervals from "
        f"{bootstrap.get('n')} bootstrap resamples by {bootstrap.get('unit')} "
        f"(seed {bootstrap.get('seed')})."
    )
    for board, leaderboard, stability in ranking_boards(report):
        pdf.heading(board_title(board), 11)
        if not computed(leaderboard):
            pdf.paragraph(f"Not computed: {leaderboard.get('reason')}")
            continue
        pdf.paragraph(
            f"{leaderboard.get('n_votes')} votes ({leaderboard.get('n_ties')} ties) on "
            f"{leaderboard.get('n_systems')} systems, {leaderboard.get('n_prompts')} prompts, "
            f"{leaderboard.get('n_annotators')} annotators."
        )
        for warning in leaderboard.get("warnings") or []:
            pdf.paragraph(f"Warning: {warning}")
        pdf.grid(
            LEADERBOARD_HEADER,
            leaderboard_cells(leaderboard),
            widths=(30, 10, 14, 11, 15, 25, 13, 12, 13, 23, 16),
        )
        if computed(stability):
            tau = stability.get("kendall_tau") or {}
            needed = stability.get("votes_needed") or {}
            triads = stability.get("intransitive_triads") or {}
            loo = [
                row["kendall_tau"]
                for row in stability.get("leave_one_out") or []
                if row.get("kendall_tau") is not None
            ]
            pdf.heading(f"Stability: {stability.get('verdict')}", 10)
            for reason in stability.get("verdict_reasons") or []:
                pdf.paragraph(f"- {reason}")
            pdf.paragraph(
                f"Bootstrap Kendall tau to the full ranking: mean {fmt(tau.get('mean'))}, "
                f"5th percentile {fmt(tau.get('p05'))}; leave one system out: lowest tau "
                f"{fmt(min(loo) if loo else None)}; intransitive triads "
                f"{fmt(triads.get('count'))} ({fmt(triads.get('significant'))} significant); "
                f"votes for tau >= 0.9: {fmt(needed.get('votes_for_tau_0_9'))}; smallest "
                f"resolvable gap {fmt(needed.get('smallest_resolvable_gap'), 1)} Elo."
            )
            pdf.ln(1)
            pdf.grid(
                [
                    "Upper",
                    "Lower",
                    "Elo gap",
                    "Gap CI",
                    "P(swap)",
                    "Direct votes",
                    "H2H votes needed",
                    "Verdict",
                ],
                [
                    [
                        pair.get("upper"),
                        pair.get("lower"),
                        fmt(pair.get("elo_gap"), 1),
                        interval_text(pair.get("gap_ci")),
                        pair.get("p_swap"),
                        pair.get("direct_votes"),
                        pair.get("head_to_head_votes_needed"),
                        pair.get("verdict"),
                    ]
                    for pair in stability.get("adjacent_pairs") or []
                ],
                widths=(25, 25, 14, 24, 13, 14, 17, 50),
            )
        elif stability:
            pdf.paragraph(f"Stability not computed: {stability.get('reason')}")
        pdf.heading("Style/tone-controlled ranking", 10)
        controlled = leaderboard.get("controlled") or {}
        if computed(controlled):
            pdf.paragraph(
                f"{controlled.get('model')}; largest rank change "
                f"{fmt(controlled.get('max_rank_change'))}."
            )
            pdf.grid(
                ["Covariate", "Coefficient", "CI", "Elo per SD", "Significant"],
                [
                    [
                        c.get("name"),
                        c.get("coefficient"),
                        interval_text(c.get("ci"), 3),
                        fmt(c.get("elo_per_sd"), 1),
                        c.get("significant"),
                    ]
                    for c in controlled.get("covariates") or []
                ],
            )
        else:
            pdf.paragraph(f"Not computed: {controlled.get('reason')}")
        _ranking_figures(pdf, report, board)
    agreement = rankings.get("pool_agreement") or []
    if agreement:
        pdf.heading("Agreement between pools' rankings", 11)
        pdf.grid(
            ["Pools", "Shared systems", "Kendall tau", "CI"],
            [
                [
                    " vs ".join(str(p) for p in row.get("pools") or []),
                    row.get("systems"),
                    row.get("kendall_tau"),
                    interval_text(row.get("ci"), 3),
                ]
                for row in agreement
            ],
        )


def render(report: Mapping[str, Any], manifest: Mapping[str, Any], *, title: str) -> bytes:
    charts = report_charts(report)
    pdf = _Document(title)
    pdf.add_page()
    pdf.heading(title, 16)
    inputs = report.get("input") or {}
    pdf.paragraph(
        f"Report schema {report.get('schema_version')}; {inputs.get('n_rows')} answers, "
        f"{inputs.get('n_units')} units, {inputs.get('n_annotators')} annotators."
    )
    pdf.heading("Reproducibility manifest", 12)
    task = manifest.get("task") or {}
    guideline = task.get("guideline") or {}
    lines = [
        ("Source", " ".join(f"{k}={v}" for k, v in sorted((manifest.get("source") or {}).items()))),
        ("Data hash", manifest.get("data_hash")),
        ("Result hash", manifest.get("result_sha256")),
        (
            "Parameters",
            orjson.dumps(manifest.get("parameters") or {}, option=orjson.OPT_SORT_KEYS).decode(),
        ),
        ("Filters", orjson.dumps(manifest.get("filters") or {}).decode()),
        ("Platform version", manifest.get("platform_version")),
    ]
    if task:
        lines[1:1] = [
            ("Task", f"{task.get('title')} ({task.get('slug')}), mode {task.get('mode')}"),
            (
                "Guideline",
                f"{guideline.get('name')} v{guideline.get('version')} sha256 {guideline.get('sha256')}",
            ),
            (
                "Pools",
                "; ".join(
                    f"{p['name']} ({p['kind']}, k={p['redundancy']}, cap={p['per_annotator_cap']}, gold share={p['gold_share']})"
                    for p in task.get("pools", [])
                ),
            ),
        ]
    pdf.grid(["Field", "Value"], lines, widths=(30, 152))

    questions = sorted((report.get("questions") or {}).items())
    summary = []
    for name, section in questions:
        overall = section.get("overall") or {}
        alpha = overall.get("krippendorff_alpha") or {}
        summary.append(
            [
                name,
                section.get("level"),
                section.get("status"),
                (overall.get("counts") or {}).get("n_units"),
                alpha.get("value"),
                f"[{fmt(alpha.get('ci_low'))}, {fmt(alpha.get('ci_high'))}]",
                (overall.get("fleiss_kappa") or {}).get("value"),
                (overall.get("gwet_ac1") or {}).get("value"),
                (overall.get("percent_agreement") or {}).get("value"),
            ]
        )
    pdf.heading("Summary", 12)
    pdf.grid(
        [
            "Question",
            "Level",
            "Status",
            "Units",
            "alpha",
            "alpha CI",
            "Fleiss kappa",
            "AC1",
            "% agr.",
        ],
        summary,
    )
    if charts["alpha_ci"]:
        pdf.heading("Krippendorff's alpha with bootstrap intervals", 12)
        pdf.figure(charts["alpha_ci"])
    if charts["version_trend"]:
        pdf.heading("Per guideline version", 12)
        pdf.figure(charts["version_trend"])
    for name, section in questions:
        if section.get("status") != "analysed":
            continue
        pdf.add_page()
        pdf.heading(f"Question {name} ({section.get('level')})", 12)
        rows = []
        groups = [("all", section.get("overall") or {})]
        for column, breakdown in sorted((section.get("breakdowns") or {}).items()):
            for group, coefficients in sorted((breakdown.get("groups") or {}).items()):
                groups.append((f"{column} = {group}", coefficients))
        for label, c in groups:
            alpha = c.get("krippendorff_alpha") or {}
            rows.append(
                [
                    label,
                    (c.get("counts") or {}).get("n_units"),
                    alpha.get("value"),
                    f"[{fmt(alpha.get('ci_low'))}, {fmt(alpha.get('ci_high'))}]",
                    (c.get("fleiss_kappa") or {}).get("value"),
                    (c.get("gwet_ac1") or {}).get("value"),
                    (c.get("percent_agreement") or {}).get("value"),
                    (c.get("cohen_kappa_pairs") or {}).get("mean_kappa"),
                ]
            )
        pdf.grid(
            ["Ratings", "Units", "alpha", "alpha CI", "Fleiss", "AC1", "% agr.", "Mean kappa"], rows
        )
        if heatmap := charts["heatmaps"].get(name):
            pdf.heading("Pairwise kappa between annotators", 10)
            pdf.figure(heatmap)
        contested = [
            [
                u.get("unit_id"),
                u.get("n_ratings"),
                u.get("disagreement"),
                u.get("disagreement_vs_chance"),
                ", ".join(f"{r['label']} x{r['count']}" for r in u.get("ratings") or []),
            ]
            for u in (section.get("units") or {}).get("most_contested") or []
        ]
        pdf.heading("Most contested units", 10)
        pdf.grid(["Unit", "Ratings", "Disagreement", "x chance", "Answers"], contested)
        annotators = [
            [
                a.get("annotator_id"),
                a.get("pool"),
                a.get("n_items"),
                a.get("consensus_agreement"),
                a.get("pairwise_agreement_with_others"),
                a.get("mean_abs_deviation"),
                "flagged"
                if (a.get("flag") or {}).get("flagged")
                else ((a.get("flag") or {}).get("reason") or "ok"),
            ]
            for a in (section.get("annotators") or {}).get("annotators") or []
        ]
        pdf.heading("Annotators", 10)
        pdf.grid(
            [
                "Annotator",
                "Pool",
                "Items",
                "Consensus agr.",
                "Pairwise agr.",
                "Mean |dev.|",
                "Flag",
            ],
            annotators,
        )
    _rankings(pdf, report)
    pdf.add_page()
    pdf.heading("Annotators across questions", 12)
    pdf.grid(
        ["Annotator", "Pool", "Units", "Answers", "Median active s", "Flagged on"],
        [
            [
                a.get("annotator_id"),
                a.get("pool"),
                a.get("n_units"),
                a.get("n_answers"),
                a.get("median_active_seconds"),
                ", ".join(a.get("flagged_questions") or []) or "-",
            ]
            for a in report.get("annotators") or []
        ],
    )
    methods = report.get("methods") or {}
    if methods:
        pdf.heading("Methods", 12)
        for key, text in sorted(methods.items()):
            pdf.paragraph(f"{key}: {text}")
    return bytes(pdf.output())
