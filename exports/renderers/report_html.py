"""An agreement report as ONE self-contained HTML file: inline CSS (a ``<style>``
element; the file is a download, outside the site's CSP), figures as inline SVG from
analysis.charts, no scripts and no external references, and print CSS so it prints as
a paper appendix. Every value from the data is escaped."""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

import orjson

from analysis.charts import kappa_statistic, report_charts
from analysis.ranking_charts import ranking_charts
from exports.renderers.report_csv import computed, ranking_boards

CONTENT_TYPE = "text/html; charset=utf-8"
EXTENSION = "html"
COEFFICIENT_LABELS = (
    ("krippendorff_alpha", "Krippendorff's α"),
    ("fleiss_kappa", "Fleiss' κ"),
    ("gwet_ac1", "Gwet's AC1"),
    ("percent_agreement", "% agreement"),
)

CSS = """
:root { --fg:#1d232a; --muted:#5d6975; --line:#d9dee4; }
* { box-sizing:border-box; }
body { font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif; color:var(--fg);
  max-width:1100px; margin:2rem auto; padding:0 1rem; }
h1 { font-size:1.6rem; margin:0 0 .3rem; } h2 { font-size:1.2rem; margin:1.6rem 0 .5rem; }
h3 { font-size:1rem; margin:1rem 0 .4rem; }
.muted { color:var(--muted); }
table { border-collapse:collapse; width:100%; margin:.4rem 0 1rem; font-size:.9em; }
th,td { border-bottom:1px solid var(--line); padding:.25rem .45rem; text-align:left; vertical-align:top; }
th { background:#f4f6f8; }
td.n { text-align:right; font-variant-numeric:tabular-nums; }
dl.manifest { display:grid; grid-template-columns:max-content 1fr; gap:.15rem 1rem; }
dl.manifest dt { color:var(--muted); } dl.manifest dd { margin:0; overflow-wrap:anywhere; }
code { font-family:ui-monospace,Menlo,Consolas,monospace; font-size:.9em; }
pre { background:#f4f6f8; padding:.6rem; overflow-x:auto; font-size:.8em; white-space:pre-wrap; }
section { margin-bottom:1.5rem; }
tr.flagged td { background:#fdf0ef; }
.verdict-stable { color:#1f7a3f; } .verdict-fragile { color:#b25e09; } .verdict-unstable { color:#b42318; }
ul.reasons { margin:.2rem 0 .8rem; } p.warning { color:#b25e09; }
figcaption { color:var(--muted); font-size:.9em; margin:.2rem 0 .8rem; }
svg.chart { display:block; max-width:100%; height:auto; font:12px system-ui,sans-serif; }
svg.chart .label:not([fill]) { fill:#1d232a; } svg.chart .label.question { font-weight:600; }
svg.chart .label.small { font-size:10px; }
svg.chart .tick, svg.chart .value, svg.chart .na { fill:#5d6975; font-size:11px; }
svg.chart .axis { stroke:#8a96a3; stroke-width:1; } svg.chart .grid { stroke:#e6e9ed; stroke-width:1; }
svg.chart .threshold { stroke:#b25e09; stroke-width:1; stroke-dasharray:4 3; }
svg.chart .ci { stroke:#2557a7; stroke-width:2; } svg.chart .point { fill:#2557a7; }
svg.chart .pool .ci { stroke:#6d8fc7; } svg.chart .pool .point { fill:#fff; stroke:#2557a7; stroke-width:2; }
svg.chart .diagonal { fill:#f0f2f5; } svg.chart .trend { fill:none; stroke-width:2; }
svg.chart .series-0 .ci, svg.chart .series-0 .trend, svg.chart .trend.series-0 { stroke:#2557a7; } svg.chart .series-0 .point { fill:#2557a7; }
svg.chart .series-1 .ci, svg.chart .series-1 .trend, svg.chart .trend.series-1 { stroke:#b42318; } svg.chart .series-1 .point { fill:#b42318; }
svg.chart .series-2 .ci, svg.chart .series-2 .trend, svg.chart .trend.series-2 { stroke:#1f7a3f; } svg.chart .series-2 .point { fill:#1f7a3f; }
svg.chart .series-3 .ci, svg.chart .series-3 .trend, svg.chart .trend.series-3 { stroke:#b25e09; } svg.chart .series-3 .point { fill:#b25e09; }
svg.chart .series-4 .ci, svg.chart .series-4 .trend, svg.chart .trend.series-4 { stroke:#6941c6; } svg.chart .series-4 .point { fill:#6941c6; }
svg.chart .series-5 .ci, svg.chart .series-5 .trend, svg.chart .trend.series-5 { stroke:#475467; } svg.chart .series-5 .point { fill:#475467; }
@media print {
  @page { size:A4; margin:14mm 12mm; }
  body { margin:0; max-width:none; font-size:10pt; }
  section, table, svg, figure { break-inside:avoid; page-break-inside:avoid; }
  h2 { break-after:avoid; page-break-after:avoid; }
  pre { white-space:pre-wrap; }
  th { background:#eee !important; -webkit-print-color-adjust:exact; print-color-adjust:exact; }
}
"""


def fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return escape(str(value))


def _row(cells: list[str], numeric_from: int = 1, tag: str = "td", cls: str = "") -> str:
    attrs = f' class="{cls}"' if cls else ""
    inner = "".join(
        f'<{tag} class="n">{c}</{tag}>'
        if i >= numeric_from and tag == "td"
        else f"<{tag}>{c}</{tag}>"
        for i, c in enumerate(cells)
    )
    return f"<tr{attrs}>{inner}</tr>"


def _table(header: list[str], rows: list[str]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def manifest_block(manifest: Mapping[str, Any]) -> str:
    source = manifest.get("source") or {}
    task = manifest.get("task") or {}
    guideline = (task.get("guideline") or {}) if task else {}
    parameters = manifest.get("parameters") or {}
    items = [
        ("Source", escape(" ".join(f"{k}={v}" for k, v in sorted(source.items())))),
        ("Data hash (sha256)", f"<code>{escape(str(manifest.get('data_hash', '')))}</code>"),
        ("Result hash (sha256)", f"<code>{escape(str(manifest.get('result_sha256', '')))}</code>"),
        ("Parameters", escape(orjson.dumps(parameters, option=orjson.OPT_SORT_KEYS).decode())),
        ("Seed", escape(str(parameters.get("seed")))),
        ("Filters", escape(orjson.dumps(manifest.get("filters") or {}).decode())),
        ("Platform version", escape(str(manifest.get("platform_version", "")))),
        ("Report schema", escape(str(manifest.get("report_schema_version", "")))),
    ]
    if task:
        items[1:1] = [
            ("Task", escape(f"{task.get('title')} ({task.get('slug')}), mode {task.get('mode')}")),
            (
                "Guideline",
                escape(f"{guideline.get('name')} v{guideline.get('version')}")
                + f" <code>{escape(str(guideline.get('sha256', '')))}</code>",
            ),
            (
                "Pools",
                escape(
                    "; ".join(
                        f"{p['name']} ({p['kind']}, k={p['redundancy']}, cap={p['per_annotator_cap']}, "
                        f"gold share={p['gold_share']})"
                        for p in task.get("pools", [])
                    )
                ),
            ),
        ]
    body = "".join(f"<dt>{escape(k)}</dt><dd>{v}</dd>" for k, v in items)
    return f'<dl class="manifest">{body}</dl>'


def _coefficient_rows(section: Mapping[str, Any]) -> list[str]:
    rows = []
    groups = [("all", section.get("overall") or {})]
    for column, breakdown in sorted((section.get("breakdowns") or {}).items()):
        for group, coefficients in sorted((breakdown.get("groups") or {}).items()):
            groups.append((f"{column} = {group}", coefficients))
    for label, coefficients in groups:
        alpha = coefficients.get("krippendorff_alpha") or {}
        ci = (
            f"[{fmt(alpha.get('ci_low'))}, {fmt(alpha.get('ci_high'))}]"
            if alpha.get("ci_low") is not None
            else "—"
        )
        rows.append(
            _row(
                [
                    escape(label),
                    fmt((coefficients.get("counts") or {}).get("n_units")),
                    fmt(alpha.get("value")),
                    ci,
                    fmt((coefficients.get("fleiss_kappa") or {}).get("value")),
                    fmt((coefficients.get("gwet_ac1") or {}).get("value")),
                    fmt((coefficients.get("percent_agreement") or {}).get("value")),
                    fmt((coefficients.get("cohen_kappa_pairs") or {}).get("mean_kappa")),
                ]
            )
        )
    return rows


def _inline(svg: str | None) -> str | None:
    # Inline SVG in HTML needs no namespace; dropping it keeps the file free of URLs.
    return svg.replace(' xmlns="http://www.w3.org/2000/svg"', "") if svg else svg


# (key of analysis.ranking_charts.ranking_charts, caption), in reading order.
RANKING_FIGURES = (
    ("forest", "Ratings with bootstrap intervals"),
    ("rank_intervals", "Rank intervals"),
    ("rank_probability_heatmap", "Probability of each rank"),
    ("controlled_slope", "Raw and style/tone-controlled ranks"),
    ("win_rate_heatmap", "Pairwise win rates"),
    ("battles_heatmap", "Votes per pair"),
    ("tau_histogram", "Bootstrap Kendall τ to the full ranking"),
    ("leave_one_out_bars", "Leaving one system out"),
    ("weak_competitor_bars", "Injecting a weak competitor"),
    ("votes_needed_curve", "Votes needed"),
)


def board_title(board: str) -> str:
    return "Overall" if board == "overall" else f"Pool {board}"


def interval_text(pair: Any, digits: int = 1) -> str:
    if not isinstance(pair, list | tuple) or len(pair) != 2 or pair[0] is None:
        return "—"
    return f"[{fmt(pair[0], digits)}, {fmt(pair[1], digits)}]"


def rank_range_text(pair: Any) -> str:
    if not isinstance(pair, list | tuple) or len(pair) != 2:
        return "—"
    return fmt(pair[0]) if pair[0] == pair[1] else f"{fmt(pair[0])}–{fmt(pair[1])}"


def controlled_rank_text(row: Mapping[str, Any] | None) -> str:
    if not row or row.get("rank") is None:
        return "—"
    change = row.get("rank_change")
    return f"{fmt(row['rank'])} ({change:+d})" if isinstance(change, int) else fmt(row["rank"])


LEADERBOARD_HEADER = [
    "System",
    "Rank",
    "Rank interval",
    "Tie group",
    "Rating",
    "CI",
    "P(first)",
    "Votes",
    "Win rate",
    "Online Elo",
    "Controlled rank (change)",
]


def leaderboard_cells(leaderboard: Mapping[str, Any]) -> list[list[str]]:
    """One row of plain-text cells per system, under LEADERBOARD_HEADER; shared with
    the PDF report. The system name is raw: each format escapes or spells it."""
    controlled = leaderboard.get("controlled") or {}
    adjusted = (
        {row["system"]: row for row in controlled.get("systems") or []}
        if computed(controlled)
        else {}
    )
    rows = []
    for row in leaderboard.get("systems") or []:
        elo = row.get("online_elo") or {}
        rows.append(
            [
                str(row["system"]),
                fmt(row.get("rank")),
                rank_range_text(row.get("rank_interval")),
                fmt(row.get("tie_group")),
                fmt(row.get("rating"), 1),
                interval_text(row.get("ci")),
                fmt(row.get("p_rank_first")),
                fmt(row.get("votes")),
                fmt(row.get("win_rate")),
                f"{fmt(elo.get('mean'), 1)} ± {fmt(elo.get('sd'), 1)}",
                controlled_rank_text(adjusted.get(row["system"])),
            ]
        )
    return rows


def _leaderboard_table(leaderboard: Mapping[str, Any]) -> str:
    rows = [
        _row([f"<code>{escape(system)}</code>", *cells])
        for system, *cells in leaderboard_cells(leaderboard)
    ]
    return _table(LEADERBOARD_HEADER, rows)


def _stability_block(stability: Mapping[str, Any]) -> list[str]:
    if not computed(stability):
        return [f"<p class='muted'>Stability not computed: {fmt(stability.get('reason'))}</p>"]
    verdict = str(stability.get("verdict"))
    tau = stability.get("kendall_tau") or {}
    needed = stability.get("votes_needed") or {}
    triads = stability.get("intransitive_triads") or {}
    loo = [
        row["kendall_tau"]
        for row in stability.get("leave_one_out") or []
        if row.get("kendall_tau") is not None
    ]
    parts = [
        f"<p><strong>Stability: <span class='verdict-{escape(verdict)}'>{escape(verdict)}"
        "</span></strong></p><ul class='reasons'>"
        + "".join(f"<li>{escape(str(r))}</li>" for r in stability.get("verdict_reasons") or [])
        + "</ul>",
        f"<p>Bootstrap Kendall τ to the full ranking: mean {fmt(tau.get('mean'))}, "
        f"5th percentile {fmt(tau.get('p05'))}; leave one system out: lowest τ "
        f"{fmt(min(loo) if loo else None)}; intransitive triads {fmt(triads.get('count'))} "
        f"({fmt(triads.get('significant'))} significant); votes for τ ≥ 0.9: "
        f"{fmt(needed.get('votes_for_tau_0_9'))}; smallest resolvable gap "
        f"{fmt(needed.get('smallest_resolvable_gap'), 1)} Elo.</p>",
    ]
    pairs = [
        _row(
            [
                f"<code>{escape(str(pair.get('upper')))}</code> › "
                f"<code>{escape(str(pair.get('lower')))}</code>",
                fmt(pair.get("elo_gap"), 1),
                interval_text(pair.get("gap_ci")),
                fmt(pair.get("p_swap")),
                fmt(pair.get("direct_votes")),
                fmt(pair.get("direct_win_rate")),
                fmt(pair.get("head_to_head_votes_needed")),
                fmt(pair.get("verdict")),
            ],
            cls="flagged" if not pair.get("separated") else "",
        )
        for pair in stability.get("adjacent_pairs") or []
    ]
    parts += [
        "<h4>Adjacent pairs</h4>",
        _table(
            [
                "Pair",
                "Elo gap",
                "Gap CI",
                "P(swap)",
                "Direct votes",
                "Direct win rate",
                "Head-to-head votes needed",
                "Verdict",
            ],
            pairs,
        ),
    ]
    return parts


def _controlled_block(controlled: Mapping[str, Any]) -> list[str]:
    if not computed(controlled):
        return [
            "<h4>Style/tone-controlled ranking</h4>",
            f"<p class='muted'>Not computed: {fmt(controlled.get('reason'))}</p>",
        ]
    covariates = [
        _row(
            [
                escape(str(c.get("name"))),
                fmt(c.get("coefficient")),
                interval_text(c.get("ci"), 3),
                fmt(c.get("elo_per_sd"), 1),
                fmt(c.get("significant")),
            ]
        )
        for c in controlled.get("covariates") or []
    ]
    return [
        "<h4>Style/tone-controlled ranking</h4>",
        f"<p class='muted'>{fmt(controlled.get('model'))}; largest rank change "
        f"{fmt(controlled.get('max_rank_change'))}.</p>",
        _table(["Covariate", "Coefficient", "CI", "Elo per SD", "Significant"], covariates),
    ]


def rankings_block(report: Mapping[str, Any]) -> str:
    """The Rankings section: per board the leaderboard, its stability verdict, adjacent
    pairs, the controlled model and the figures; then the pools' agreement. One line of
    reason when the report ranked nothing."""
    rankings = report.get("rankings")
    if not isinstance(rankings, Mapping):
        return ""
    if not computed(rankings):
        return (
            "<section id='rankings'><h2>Rankings</h2><p class='muted'>Not computed: "
            f"{fmt(rankings.get('reason'))}</p></section>"
        )
    bootstrap = rankings.get("bootstrap") or {}
    level = bootstrap.get("confidence_level")
    parts = [
        "<section id='rankings'><h2>Rankings</h2>",
        f"<p class='muted'>Question <code>{escape(str(rankings.get('question')))}</code>: "
        f"{fmt(rankings.get('model'))}; Elo scale centred at "
        f"{fmt((rankings.get('scale') or {}).get('centre'), 0)}; "
        f"{fmt(round(level * 100) if isinstance(level, float) else None)}% intervals from "
        f"{fmt(bootstrap.get('n'))} bootstrap resamples by {fmt(bootstrap.get('unit'))} "
        f"(seed {fmt(bootstrap.get('seed'))}).</p>",
    ]
    for board, leaderboard, stability in ranking_boards(report):
        parts.append(f"<h3>{escape(board_title(board))}</h3>")
        if not computed(leaderboard):
            parts.append(f"<p class='muted'>Not computed: {fmt(leaderboard.get('reason'))}</p>")
            continue
        parts.append(
            f"<p>{fmt(leaderboard.get('n_votes'))} votes ({fmt(leaderboard.get('n_ties'))} "
            f"ties) on {fmt(leaderboard.get('n_systems'))} systems, "
            f"{fmt(leaderboard.get('n_prompts'))} prompts, "
            f"{fmt(leaderboard.get('n_annotators'))} annotators.</p>"
        )
        parts += [
            f"<p class='warning'>{escape(str(w))}</p>" for w in leaderboard.get("warnings") or []
        ]
        parts.append(_leaderboard_table(leaderboard))
        parts += _stability_block(stability)
        parts += _controlled_block(leaderboard.get("controlled") or {})
        parts += [
            f"<figure>{svg}<figcaption>{escape(caption)}</figcaption></figure>"
            for caption, svg in _ranking_figures(report, board)
        ]
    agreement = [
        _row(
            [
                escape(" vs ".join(str(p) for p in row.get("pools") or [])),
                fmt(row.get("systems")),
                fmt(row.get("kendall_tau")),
                interval_text(row.get("ci"), 3),
            ]
        )
        for row in rankings.get("pool_agreement") or []
    ]
    if agreement:
        parts += [
            "<h3>Agreement between pools' rankings</h3>",
            _table(["Pools", "Shared systems", "Kendall τ", "CI"], agreement),
        ]
    parts.append("</section>")
    return "".join(parts)


def _ranking_figures(report: Mapping[str, Any], board: str) -> list[tuple[str, str]]:
    charts = ranking_charts(report, board=board)
    return [(caption, _inline(charts[key])) for key, caption in RANKING_FIGURES if charts.get(key)]


def render(report: Mapping[str, Any], manifest: Mapping[str, Any], *, title: str) -> bytes:
    raw = report_charts(report)
    charts = {
        "alpha_ci": _inline(raw["alpha_ci"]),
        "version_trend": _inline(raw["version_trend"]),
        "heatmaps": {name: _inline(svg) for name, svg in raw["heatmaps"].items()},
    }
    inputs = report.get("input") or {}
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f"<p class='muted'>Report schema {fmt(report.get('schema_version'))}; "
        f"{fmt(inputs.get('n_rows'))} answers, {fmt(inputs.get('n_units'))} units, "
        f"{fmt(inputs.get('n_annotators'))} annotators.</p>",
        "<section><h2>Reproducibility manifest</h2>",
        manifest_block(manifest),
        "</section>",
    ]
    summary = []
    for name, section in sorted((report.get("questions") or {}).items()):
        overall = section.get("overall") or {}
        if section.get("status") != "analysed":
            summary.append(
                _row(
                    [
                        f"<code>{escape(name)}</code>",
                        fmt(section.get("level")),
                        fmt(section.get("status")),
                        fmt(section.get("reason")),
                    ],
                    numeric_from=9,
                )
            )
            continue
        alpha = overall.get("krippendorff_alpha") or {}
        summary.append(
            _row(
                [
                    f"<code>{escape(name)}</code>",
                    fmt(section.get("level")),
                    fmt((overall.get("counts") or {}).get("n_units")),
                    fmt(alpha.get("value")),
                    f"[{fmt(alpha.get('ci_low'))}, {fmt(alpha.get('ci_high'))}]",
                    fmt((overall.get("fleiss_kappa") or {}).get("value")),
                    fmt((overall.get("gwet_ac1") or {}).get("value")),
                    fmt((overall.get("percent_agreement") or {}).get("value")),
                ],
                numeric_from=2,
            )
        )
    parts += [
        "<section><h2>Summary</h2>",
        _table(
            [
                "Question",
                "Level",
                "Units",
                "Krippendorff's α",
                "CI",
                "Fleiss' κ",
                "Gwet's AC1",
                "% agreement",
            ],
            summary,
        ),
        "</section>",
    ]
    if charts["alpha_ci"]:
        parts.append(
            "<section><h2>Krippendorff's α with bootstrap intervals</h2><figure>"
            + charts["alpha_ci"]
            + "</figure></section>"
        )
    if charts["version_trend"]:
        parts.append(
            "<section><h2>Per guideline version</h2><figure>"
            + charts["version_trend"]
            + "</figure></section>"
        )
    for name, section in sorted((report.get("questions") or {}).items()):
        if section.get("status") != "analysed":
            continue
        parts.append(
            f"<section><h2>Question <code>{escape(name)}</code> "
            f"<span class='muted'>({fmt(section.get('level'))})</span></h2>"
        )
        parts.append(
            _table(
                [
                    "Ratings",
                    "Units",
                    "α",
                    "α CI",
                    "Fleiss' κ",
                    "AC1",
                    "% agreement",
                    "Mean pairwise κ",
                ],
                _coefficient_rows(section),
            )
        )
        preference = section.get("preference")
        if preference:
            votes = preference.get("votes") or {}
            parts.append(
                "<p>Votes: "
                + ", ".join(f"{escape(k)} {fmt(v)}" for k, v in sorted(votes.items()))
                + "</p>"
            )
        if heatmap := charts["heatmaps"].get(name):
            parts.append(
                f"<h3>Pairwise {escape(kappa_statistic(section.get('level'))[1])}</h3><figure>{heatmap}</figure>"
            )
        contested = [
            _row(
                [
                    f"<code>{escape(str(u.get('unit_id')))}</code>",
                    fmt(u.get("n_ratings")),
                    fmt(u.get("disagreement")),
                    fmt(u.get("disagreement_vs_chance"), 2),
                    escape(
                        ", ".join(f"{r['label']} ×{r['count']}" for r in u.get("ratings") or [])
                    ),
                ],
                numeric_from=1,
            )
            for u in (section.get("units") or {}).get("most_contested") or []
        ]
        parts += [
            "<h3>Most contested units</h3>",
            _table(["Unit", "Ratings", "Disagreement", "× chance", "Answers"], contested),
        ]
        annotators = [
            _row(
                [
                    f"<code>{escape(str(a.get('annotator_id')))}</code>",
                    fmt(a.get("pool")),
                    fmt(a.get("n_items")),
                    fmt(a.get("consensus_agreement")),
                    fmt(a.get("pairwise_agreement_with_others")),
                    fmt(a.get("mean_abs_deviation")),
                    "flagged"
                    if (a.get("flag") or {}).get("flagged")
                    else fmt((a.get("flag") or {}).get("reason") or "ok"),
                ],
                numeric_from=2,
                cls="flagged" if (a.get("flag") or {}).get("flagged") else "",
            )
            for a in (section.get("annotators") or {}).get("annotators") or []
        ]
        parts += [
            "<h3>Annotators</h3>",
            _table(
                [
                    "Annotator",
                    "Pool",
                    "Items",
                    "Agrees with consensus",
                    "Pairwise agreement",
                    "Mean |deviation|",
                    "Flag",
                ],
                annotators,
            ),
            "</section>",
        ]
    parts.append(rankings_block(report))
    summaries = [
        _row(
            [
                f"<code>{escape(str(a.get('annotator_id')))}</code>",
                fmt(a.get("pool")),
                fmt(a.get("n_units")),
                fmt(a.get("n_answers")),
                fmt(a.get("median_active_seconds"), 1),
                escape(", ".join(a.get("flagged_questions") or [])) or "—",
            ],
            numeric_from=2,
            cls="flagged" if a.get("flagged") else "",
        )
        for a in report.get("annotators") or []
    ]
    parts += [
        "<section><h2>Annotators across questions</h2>",
        _table(
            ["Annotator", "Pool", "Units", "Answers", "Median active s", "Flagged on"], summaries
        ),
        "</section>",
    ]
    methods = report.get("methods") or {}
    if methods:
        parts.append(
            "<section><h2>Methods</h2><dl class='manifest'>"
            + "".join(
                f"<dt>{escape(k)}</dt><dd>{escape(str(v))}</dd>" for k, v in sorted(methods.items())
            )
            + "</dl></section>"
        )
    parts += [
        "<section><h2>Manifest (JSON)</h2><pre>",
        escape(orjson.dumps(manifest, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2).decode()),
        "</pre></section></body></html>",
    ]
    return "".join(parts).encode("utf-8")
