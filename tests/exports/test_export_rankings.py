"""Report exports carry the `rankings` and `rank_stability` sections: the CSV zip's four
ranking tables, the HTML and PDF Rankings section with its figures, the JSON verbatim;
the manifest round trip still reproduces the report byte for byte; and a report
without pairwise votes exports with the one-line reason."""

from __future__ import annotations

import csv
import hashlib
import io
import re
import zipfile
import zlib
from collections.abc import Mapping
from typing import Any

import orjson
import pytest

from analysis.ranking_charts import ranking_charts
from analysis.services import agreement_report_compute, agreement_report_request, canonical_json
from annotation.services.assignment import assignment_claim
from annotation.services.submission import annotation_submit
from exports.models import ExportKind, ExportStatus
from exports.services import (
    export_job_request,
    export_job_run,
    report_recompute_from_manifest,
    report_render,
)
from tests.annotation.conftest import build_scenario
from tests.exports.conftest import ODD_NAME, PARAMETERS
from tests.exports.report_reading import html_sections


@pytest.fixture
def unranked_report(db, settings, tmp_path):
    """A single-output task: nothing to rank."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    scenario = build_scenario(mode="single", n_prompts=3, n_systems=2, k=2, n_annotators=2)
    for n, annotator in enumerate(scenario.annotators):
        while (assignment := assignment_claim(actor=annotator, task=scenario.task)) is not None:
            annotation_submit(
                actor=annotator,
                handle=assignment.handle,
                answers={
                    "quality": {"A": 1 + (assignment.unit_id + n) % 5},
                    "has_error": {"A": n == 0},
                },
            )
    report = agreement_report_request(
        actor=scenario.lead,
        project=scenario.project,
        task=scenario.task,
        parameters=PARAMETERS,
        enqueue=False,
    )
    report = agreement_report_compute(report_id=report.pk)
    assert report.status == "done", report.error
    assert orjson.loads(report.result_json)["rankings"]["status"] == "not_applicable"
    return report


RANKING_TABLES = (
    "rankings.csv",
    "ranking_pairs.csv",
    "rank_stability.csv",
    "rank_stability_summary.csv",
)


def _boards(result: Mapping[str, Any]) -> list[str]:
    return ["overall", *sorted(b for b in result["rankings"]["leaderboards"] if b != "overall")]


def _read(archive: zipfile.ZipFile, name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.TextIOWrapper(archive.open(name), encoding="utf-8")))


def _value(cell: str) -> Any:
    """A cell as the JSON value it was written from (tables write repr, '' for None)."""
    if cell == "":
        return None
    if cell in ("true", "false"):
        return cell == "true"
    for kind in (int, float):
        try:
            return kind(cell)
        except ValueError:
            pass
    return cell


def _pdf_text(body: bytes) -> bytes:
    """The page content streams, inflated (fpdf2 compresses them)."""
    text = b""
    for match in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", body, re.S):
        try:
            text += zlib.decompress(match.group(1))
        except zlib.error:
            text += match.group(1)
    return text


@pytest.mark.slow
def test_csv_zip_holds_the_ranking_tables_with_the_reports_numbers(ranked_report):
    result = orjson.loads(ranked_report.result_json)
    _, _, body = report_render(report=ranked_report, fmt="csv_zip")
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        assert set(RANKING_TABLES) <= set(archive.namelist())
        rankings = _read(archive, "rankings.csv")
        pairs = _read(archive, "ranking_pairs.csv")
        adjacent = _read(archive, "rank_stability.csv")
        summary = _read(archive, "rank_stability_summary.csv")

    boards = _boards(result)
    leaderboards = result["rankings"]["leaderboards"]
    stabilities = result["rank_stability"]["leaderboards"]

    expected = []
    for board in boards:
        controlled = {r["system"]: r for r in leaderboards[board]["controlled"]["systems"]}
        for row in leaderboards[board]["systems"]:
            expected.append(
                {
                    "board": board,
                    "rank": row["rank"],
                    "rank_interval_low": row["rank_interval"][0],
                    "rank_interval_high": row["rank_interval"][1],
                    "tie_group": row["tie_group"],
                    "system": row["system"],
                    "rating": row["rating"],
                    "ci_low": row["ci"][0],
                    "ci_high": row["ci"][1],
                    "p_rank_first": row["p_rank_first"],
                    "votes": row["votes"],
                    "win_rate": row["win_rate"],
                    "online_elo_mean": row["online_elo"]["mean"],
                    "online_elo_sd": row["online_elo"]["sd"],
                    "controlled_rating": controlled[row["system"]]["rating"],
                    "controlled_rank": controlled[row["system"]]["rank"],
                    "controlled_rank_change": controlled[row["system"]]["rank_change"],
                }
            )
    assert [{k: _value(v) for k, v in row.items()} for row in rankings] == expected
    assert ODD_NAME in {row["system"] for row in rankings}

    expected_pairs = []
    for board in boards:
        matrices = leaderboards[board]["pairs"]
        for i, system in enumerate(matrices["systems"]):
            for j, opponent in enumerate(matrices["systems"]):
                if i != j:
                    expected_pairs.append(
                        {
                            "board": board,
                            "system": system,
                            "opponent": opponent,
                            "battles": matrices["battles"][i][j],
                            "wins": matrices["wins"][i][j],
                            "win_rate": matrices["win_rate"][i][j],
                        }
                    )
    assert [{k: _value(v) for k, v in row.items()} for row in pairs] == expected_pairs
    assert len(pairs) == 3 * 4 * 3

    expected_adjacent = [
        {
            "board": board,
            "upper": pair["upper"],
            "lower": pair["lower"],
            "elo_gap": pair["elo_gap"],
            "gap_ci_low": pair["gap_ci"][0],
            "gap_ci_high": pair["gap_ci"][1],
            "p_swap": pair["p_swap"],
            "separated": pair["separated"],
            "direct_votes": pair["direct_votes"],
            "direct_win_rate": pair["direct_win_rate"],
            "more_votes_needed": pair["more_votes_needed"],
            "head_to_head_votes_needed": pair["head_to_head_votes_needed"],
            "verdict": pair["verdict"],
        }
        for board in boards
        for pair in stabilities[board]["adjacent_pairs"]
    ]
    assert [{k: _value(v) for k, v in row.items()} for row in adjacent] == expected_adjacent
    assert len(adjacent) == 3 * 3

    assert [row["board"] for row in summary] == boards
    for row in summary:
        stability = stabilities[row["board"]]
        assert row["status"] == "computed" and row["reason"] == ""
        assert row["verdict"] == stability["verdict"]
        assert row["verdict_reasons"] == "; ".join(stability["verdict_reasons"])
        assert _value(row["kendall_tau_mean"]) == stability["kendall_tau"]["mean"]
        assert _value(row["kendall_tau_p05"]) == stability["kendall_tau"]["p05"]
        needed = stability["votes_needed"]
        assert _value(row["votes_for_tau_0_9"]) == needed["votes_for_tau_0_9"]
        assert _value(row["smallest_resolvable_gap"]) == needed["smallest_resolvable_gap"]


@pytest.mark.slow
def test_html_has_the_rankings_section_with_figures_and_no_scripts(ranked_report):
    result = orjson.loads(ranked_report.result_json)
    _, _, body = report_render(report=ranked_report, fmt="html")
    html = body.decode()
    assert not re.search(r"<(script|link|img|iframe)\b", html, re.I)
    assert not re.search(r"https?://", html)
    sections = html_sections(html)
    rankings = sections["rankings"]
    assert rankings.headings[0] == "Rankings"
    # The odd name is escaped everywhere, never raw markup.
    assert "<b>" not in html
    assert "Ωmega &lt;b&gt;&amp;&quot;" in html
    boards = {"overall": "Overall", "crowd": "Pool crowd", "expert": "Pool expert"}
    for board, title in boards.items():
        assert sections[f"ranking-{board}"].headings[0] == title
    overall = result["rankings"]["leaderboards"]["overall"]
    leaderboard = sections["ranking-overall"].tables[0]
    header = leaderboard[0]
    rows = [dict(zip(header, row, strict=True)) for row in leaderboard[1:]]
    assert [(r["System"], r["Rank"]) for r in rows] == [
        (s["system"], str(s["rank"])) for s in overall["systems"]
    ]
    assert rows[0]["Rating"] == f"{overall['systems'][0]['rating']:.1f}"
    verdict = result["rank_stability"]["leaderboards"]["overall"]["verdict"]
    assert f"Stability: {verdict}" in sections["ranking-overall"].joined
    assert "Adjacent pairs" in sections["ranking-overall"].headings
    assert sections["ranking-overall-controlled"].headings[0] == "Style/tone-controlled ranking"
    assert "Agreement between pools' rankings" in rankings.headings
    # Every figure the charts module draws for each board is inline, without a namespace URL.
    figures = sum(
        svg is not None
        for board in _boards(result)
        for svg in ranking_charts(result, board=board).values()
    )
    assert figures >= 3 * 8
    section_html = html[html.index('id="rankings"') : html.index('id="annotators"')]
    assert rankings.svgs == section_html.count("<figcaption>") == figures
    assert "xmlns=" not in section_html


@pytest.mark.slow
def test_pdf_is_produced_and_names_the_systems(ranked_report):
    result = orjson.loads(ranked_report.result_json)
    _, content_type, body = report_render(report=ranked_report, fmt="pdf")
    assert content_type == "application/pdf" and body.startswith(b"%PDF-")
    text = _pdf_text(body)
    assert b"(Rankings)" in text
    for row in result["rankings"]["leaderboards"]["overall"]["systems"]:
        # Helvetica is Latin-1: the Omega becomes "?" (see report_pdf's docstring).
        name = row["system"].replace("Ω", "?").encode("latin-1")
        assert name in text, name
    verdict = result["rank_stability"]["leaderboards"]["overall"]["verdict"]
    assert f"Stability: {verdict}".encode() in text
    # The figures are drawn (vector text from inside the SVGs), none skipped.
    assert text.count(b"(Ratings with bootstrap intervals)") == 3
    assert b"(Raw Bradley-Terry)" in text
    assert b"could not be drawn" not in text


def test_json_export_carries_the_sections_verbatim(ranked_report):
    result = orjson.loads(ranked_report.result_json)
    _, _, body = report_render(report=ranked_report, fmt="json")
    document = orjson.loads(body)
    for section in ("rankings", "rank_stability"):
        assert document["report"][section] == result[section]
    assert body.endswith(b',"report":' + ranked_report.result_json.encode() + b"}")


@pytest.mark.slow
def test_recomputing_a_ranked_report_from_its_manifest_gives_identical_bytes(ranked_report):
    manifest = orjson.loads(report_render(report=ranked_report, fmt="json")[2])["manifest"]
    recomputed = report_recompute_from_manifest(manifest=manifest)
    assert recomputed["rankings"]["status"] == "computed"
    assert canonical_json(recomputed) == ranked_report.result_json.encode()
    assert hashlib.sha256(canonical_json(recomputed)).hexdigest() == manifest["result_sha256"]


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["json", "csv_zip", "html", "pdf"])
def test_export_jobs_write_every_format_of_a_ranked_report(ranked_report, fmt):
    job = export_job_request(
        actor=None,
        project=ranked_report.project,
        kind=ExportKind.REPORT,
        fmt=fmt,
        report=ranked_report,
        enqueue=False,
    )
    job = export_job_run(job_id=job.pk)
    assert job.status == ExportStatus.DONE, job.error
    assert job.size_bytes > 0 and len(job.sha256) == 64


def test_a_report_without_pairwise_votes_exports_with_the_reason(unranked_report):
    result = orjson.loads(unranked_report.result_json)
    reason = result["rankings"]["reason"]

    _, _, body = report_render(report=unranked_report, fmt="csv_zip")
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        names = set(archive.namelist())
    assert not names & set(RANKING_TABLES)
    assert {"questions.csv", "coefficients.csv", "manifest.json"} <= names

    html = report_render(report=unranked_report, fmt="html")[2].decode()
    rankings = html_sections(html)["rankings"]
    assert rankings.headings == ["Rankings"]
    assert rankings.joined == f"Rankings Not computed: {reason}"
    assert "<script" not in html

    text = _pdf_text(report_render(report=unranked_report, fmt="pdf")[2])
    assert b"(Rankings)" in text
    assert b"Not computed: " + reason[:40].encode("latin-1") in text

    document = orjson.loads(report_render(report=unranked_report, fmt="json")[2])
    assert document["report"]["rankings"] == {"status": "not_applicable", "reason": reason}
    assert document["report"]["rank_stability"] == result["rank_stability"]
