"""The five report formats agree: a tone study with a crowd and an expert pool (matched
assertive/hedged variants, known errors, a crowd that rewards assertive tone and misses
errors in it) is computed once, and the report page, the JSON, the CSV zip, the HTML
export and the PDF show the same numbers, section by section, including the bias
checks and expert versus crowd; and the JSON matches the typed schema."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Mapping
from typing import Any

import orjson
import pytest
from django.test import Client

from analysis.metrics.report_schema import Table, describe, schema_problems, spell
from analysis.metrics.report_schema.bias import ALL_RATERS
from analysis.services import agreement_report_compute, agreement_report_request
from annotation.models import AnnotatorPool, Output, PoolKind, Prompt, System, TaskMode
from annotation.services.assignment import assignment_claim
from annotation.services.pools import pool_member_add
from annotation.services.submission import annotation_submit
from annotation.services.tasks import task_create, task_launch, task_pool_add
from common.csv_writer import FORMULA_PREFIXES, cell
from common.models import ProjectRole
from exports.renderers.report_pdf import latin1
from exports.services import report_render
from tests.analysis.leaderboard_samples import make_task, stored_report
from tests.annotation.conftest import acknowledge
from tests.exports.report_reading import html_sections, pdf_text, simulated_report
from tests.factories import MembershipFactory, ProjectFactory, UserFactory

RUBRIC = [
    {"key": "quality", "label": "Quality", "type": "likert", "min": 1, "max": 5, "role": "quality"},
    {"key": "has_factual_error", "label": "Error?", "type": "binary", "role": "error_flag"},
    {
        "key": "assertiveness",
        "label": "Assertive?",
        "type": "likert",
        "min": 1,
        "max": 5,
        "role": "assertiveness",
    },
]
N_PROMPTS, SYSTEMS, TONES = 8, ("sys-a", "sys-b"), ("assertive", "hedged")


def _noise(*parts: int) -> int:
    """A fixed pseudo-random 0..9 per (annotator, output): the study is deterministic."""
    value = 17
    for part in parts:
        value = (value * 1_000_003 + part) % 2_147_483_647
    return value % 10


def _answers(annotator: int, expert: bool, output: Output) -> dict[str, Any]:
    errors = output.known_error_count or 0
    assertive = output.tone_condition == "assertive"
    noise = _noise(annotator, output.pk)
    quality = 4 - errors + (1 if assertive and not expert else 0) + (noise > 7) - (noise < 2)
    # Experts catch most errors; the crowd misses errors stated assertively.
    catches = noise < (9 if expert else (3 if assertive else 7))
    flagged = (errors > 0 and catches) or (errors == 0 and noise == 9)
    assertiveness = (4 if assertive else 2) + (noise > 6) - (noise < 3)
    return {
        "quality": {"A": max(1, min(5, quality))},
        "has_factual_error": {"A": flagged},
        "assertiveness": {"A": max(1, min(5, assertiveness))},
    }


@pytest.fixture
def tone_study(db, settings, tmp_path):
    from guidelines.services import guideline_create, guideline_version_publish

    settings.MEDIA_ROOT = str(tmp_path / "media")
    lead = UserFactory(username="tone-lead")
    project = ProjectFactory(slug="tone-study", created_by=lead)
    MembershipFactory(project=project, user=lead, role=ProjectRole.LEAD)
    systems = [System.objects.create(project=project, name=name) for name in SYSTEMS]
    for j in range(N_PROMPTS):
        prompt = Prompt.objects.create(project=project, external_id=f"p{j}", text=f"Question {j}?")
        for i, system in enumerate(systems):
            for tone in TONES:
                Output.objects.create(
                    prompt=prompt,
                    system=system,
                    variant=tone,
                    text=f"Answer {j}-{i} in a {tone} voice, {'x' * (20 + 7 * ((i + j) % 4))}.",
                    tone_condition=tone,
                    known_error_count=(i + j) % 2,
                )
    guideline = guideline_create(
        actor=lead, project=project, name="Tone", mode="single", prose="Judge.", rubric=RUBRIC
    )
    version = guideline_version_publish(actor=lead, version=guideline.versions.get())
    task = task_create(
        actor=lead, project=project, title="Tone study", guideline_version=version, mode="single"
    )
    annotators: list[tuple[Any, bool]] = []
    for kind, size, k in ((PoolKind.CROWD, 6, 3), (PoolKind.EXPERT, 3, 2)):
        pool = AnnotatorPool.objects.create(project=project, name=str(kind), kind=kind)
        for n in range(size):
            user = UserFactory(username=f"tone-{kind}-{n}")
            pool_member_add(actor=lead, pool=pool, user=user)
            acknowledge(user, version)
            annotators.append((user, kind == PoolKind.EXPERT))
        task_pool_add(actor=lead, task=task, pool=pool, redundancy=k)
    task = task_launch(actor=lead, task=task)
    outputs = {o.pk: o for o in Output.objects.filter(prompt__project=project)}
    busy = True
    while busy:  # round robin, so every annotator gets a share of the units
        busy = False
        for n, (user, expert) in enumerate(annotators):
            assignment = assignment_claim(actor=user, task=task)
            if assignment is not None:
                busy = True
                output = outputs[assignment.shown_order[0]]
                annotation_submit(
                    actor=user, handle=assignment.handle, answers=_answers(n, expert, output)
                )
    report = agreement_report_request(
        actor=lead,
        project=project,
        task=task,
        parameters={"n_bootstrap": 60, "seed": 5, "min_shared_units": 2, "min_annotator_items": 2},
        enqueue=False,
    )
    report = agreement_report_compute(report_id=report.pk)
    assert report.status == "done", report.error
    return report


def _csv(archive: zipfile.ZipFile, name: str) -> list[list[str]]:
    return list(csv.reader(io.TextIOWrapper(archive.open(name), encoding="utf-8")))


def _unquote(text: str) -> str:
    """A CSV cell without the quote the writer puts before formula-like text."""
    return text[1:] if text[:1] == "'" and text[1:2] in FORMULA_PREFIXES else text


def _value(cell: str) -> Any:
    """A CSV cell as the value it was written from (repr numbers, '' for None)."""
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


def _shown_tables(section: Any) -> list[Table]:
    return [t for t in section.tables if t.shown]


@pytest.fixture(scope="module")
def simulated_sections() -> dict[str, Any]:
    return simulated_report()


@pytest.fixture
def simulated_study(project_roles, simulated_sections):
    """The simulated report stored as a finished report of a task (the exports need a
    source for the manifest)."""
    task = make_task(project_roles, mode=TaskMode.SINGLE, slug="simulated")
    report = stored_report(project_roles.project, task=task, sections=simulated_sections)
    report.created_by = project_roles.lead
    return report


# Per report: the sections it must have computed, so the comparison covers them. (Expert
# versus crowd on the task is still "not computed" — boolean error flags against a 0/1
# reference, tracker issue 13 — so the simulated study covers that section.)
COMPUTED = {
    "tone_study": ("bias",),
    "simulated_study": ("bias", "expert_vs_crowd"),
    "ranked_report": ("rankings", "rank_stability"),
}
# The formats of a report stored before a section existed are compared too (a report
# of the simulated study has no rankings key, so the description leaves them out).


@pytest.mark.parametrize("source", sorted(COMPUTED))
def test_the_five_formats_show_the_same_numbers(db, source, request, tmp_path):
    report = request.getfixturevalue(source)
    result = orjson.loads(report.result_json)
    for key in COMPUTED[source]:
        assert "status" not in result[key] or result[key]["status"] == "computed", key
    description = describe(result)

    client = Client()
    client.force_login(report.project.created_by)
    page = client.get(f"/p/{report.project.slug}/analysis/reports/{report.pk}/")
    assert page.status_code == 200
    documents = {
        "page": html_sections(page.content.decode()),
        "html": html_sections(report_render(report=report, fmt="html")[2].decode()),
    }
    pdf = pdf_text(report_render(report=report, fmt="pdf")[2], tmp_path)
    document = orjson.loads(report_render(report=report, fmt="json")[2])
    assert document["report"] == result
    with zipfile.ZipFile(io.BytesIO(report_render(report=report, fmt="csv_zip")[2])) as zf:
        files = {name: _csv(zf, name) for name in zf.namelist() if name.endswith(".csv")}

    compared = 0
    for section in description.walk():
        for where, sections in documents.items():
            rendered = sections[section.key]
            assert rendered.headings[0] == section.title, (where, section.key)
            if section.reason:
                assert f"Not computed: {section.reason}" in rendered.joined, (where, section.key)
                continue
            tables = _shown_tables(section)
            assert len(rendered.tables) == len(tables), (where, section.key)
            for table, shown in zip(tables, rendered.tables, strict=True):
                expected = [table.header] + (table.cells or [[table.empty]])
                assert shown == [[" ".join(c.split()) for c in row] for row in expected], (
                    where,
                    section.key,
                    table.title,
                )
        # The PDF: every heading, every row label and every number of every table.
        assert latin1(section.title) in pdf, section.key
        for table in _shown_tables(section):
            for cells in table.cells:
                for text, numeric in zip(cells, table.numeric, strict=True):
                    if numeric or text is cells[0]:
                        assert latin1(text) in pdf, (section.key, table.title, text)
                        compared += 1
        # The CSV zip: each table that names a file holds exactly its raw values, and
        # what the page shows is those values, spelled.
        for table in section.tables:
            if not table.csv:
                continue
            rows = files[table.csv]
            assert rows[0] == table.csv_header(), table.csv
            assert len(rows) - 1 == len(table.rows), table.csv
            # Byte for byte what the one CSV writer makes of the raw values.
            assert rows[1:] == [[str(cell(v)) for v in raw] for raw in table.csv_rows()]
            if table.shown:
                keys = table.csv_header()
                for written, cells in zip(rows[1:], table.cells, strict=True):
                    values = dict(zip(keys, (_value(c) for c in written), strict=True))
                    shown = [c for c in table.columns if c.shown]
                    for column, text in zip(shown, cells, strict=True):
                        if column.kind == "interval":
                            value = (values[f"{column.key}_low"], values[f"{column.key}_high"])
                        else:
                            value = values[column.key]
                        assert spell(value, column.kind, column.digits) == text, (table.csv, text)
    assert compared > 100
    if "bias" in COMPUTED[source]:
        _assert_bias_numbers_reach_the_page(result, documents["page"], documents["html"], pdf)
    if "expert_vs_crowd" in COMPUTED[source]:
        _assert_versus_numbers_reach_the_page(result, documents["page"], pdf)
    alpha = result["questions"]["quality"]["overall"]["krippendorff_alpha"]
    summary = _row(documents["page"]["summary"], "quality")
    assert summary["Krippendorff's α"] == spell(alpha["value"], "number")
    assert spell(alpha["value"], "number") in pdf


def _row(section: Any, first_cell: str) -> dict[str, str]:
    table = section.tables[0]
    header, rows = table[0], table[1:]
    found = [dict(zip(header, r, strict=True)) for r in rows if r[0] == first_cell]
    assert len(found) == 1, (section.id, first_cell)
    return found[0]


def _assert_bias_numbers_reach_the_page(
    result: Mapping[str, Any], page: Any, html: Any, pdf: str
) -> None:
    """Numbers read straight from the JSON appear, spelled, in page, HTML and PDF."""
    bias = result["bias"]
    for key, check in bias["pools"]["crowd"]["checks"].items():
        for document in (page, html):
            row = _row(document[f"bias-{key}"], "crowd")
            if check["defined"]:
                assert row["Estimate"] == spell(check["estimate"], "signed")
                assert row["CI"] == spell([check["ci_low"], check["ci_high"]], "interval")
            else:
                assert row["Verdict, or why there is no number"] == " ".join(
                    f"not computed: {check['reason']}".split()
                )
        if check["defined"]:
            assert spell(check["estimate"], "signed") in pdf
    overall = bias["overall"]["checks"]["tone_premium_mixed_model"]
    assert _row(page["bias-tone_premium_mixed_model"], ALL_RATERS)["Estimate"] == spell(
        overall["estimate"], "signed"
    )


def _assert_versus_numbers_reach_the_page(result: Mapping[str, Any], page: Any, pdf: str) -> None:
    table = page["versus-agreement"].tables[0]
    rows = [dict(zip(table[0], r, strict=True)) for r in table[1:]]
    checked = 0
    for role, question in result["expert_vs_crowd"]["questions"].items():
        for pool, within in (question.get("within_pool") or {}).items():
            row = next(r for r in rows if r["Role"] == role and r["Pool"] == pool)
            alpha = spell(within["krippendorff_alpha"]["value"], "number")
            assert row["α"] == alpha and alpha in pdf
            checked += 1
    assert checked >= 4
    curve = result["expert_vs_crowd"]["questions"]["error_flag"]["crowd_size_curve"]
    table = page["versus-crowd-size"].tables[0]
    shown = [r[3] for r in table[1:] if r[1] == "expert reference"]
    assert shown == [spell(a, "number") for a in curve["accuracy"]]


@pytest.mark.parametrize("source", sorted(COMPUTED))
def test_the_json_matches_the_typed_schema(db, source, request):
    result = orjson.loads(request.getfixturevalue(source).result_json)
    assert schema_problems(result) == []
