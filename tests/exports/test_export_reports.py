"""Agreement report exports: JSON with manifest, CSV tables, self-contained HTML, PDF;
and the manifest round trip: recomputing from it gives the same bytes."""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import re
import zipfile

import orjson
import pandas as pd
import pytest

from analysis.services import canonical_json
from annotation.models import Annotation
from exports.services import DataChanged, report_recompute_from_manifest, report_render


def test_json_carries_the_manifest_and_the_stored_report_byte_for_byte(task_report, annotated):
    _, content_type, body = report_render(report=task_report, fmt="json")
    assert content_type == "application/json"
    document = orjson.loads(body)
    assert document["format"] == "judgebench.agreement-report"
    assert body.endswith(b',"report":' + task_report.result_json.encode() + b"}")
    manifest = document["manifest"]
    assert manifest["manifest_version"] == "1.0"
    assert manifest["data_hash"] == task_report.data_hash
    assert manifest["seed"] == 7 and manifest["parameters"]["n_bootstrap"] == 50
    assert manifest["platform_version"] == importlib.metadata.version("judgebench")
    # Every library that computes a number of the report, with its installed version.
    libraries = manifest["libraries"]
    for name in ("numpy", "scipy", "pandas", "statsmodels", "krippendorff", "crowd-kit"):
        assert libraries[name] == importlib.metadata.version(name), name
    assert {"evalica", "pyarrow", "orjson", "python"} <= set(libraries)
    assert manifest["report_schema_version"] == "1.0"
    assert manifest["result_sha256"] == hashlib.sha256(task_report.result_json.encode()).hexdigest()
    task = manifest["task"]
    assert task["slug"] == annotated.task.slug and task["mode"] == "pairwise"
    assert task["pools"][0]["redundancy"] == 3 and task["pools"][0]["gold_share"] == 0.2
    assert task["guideline"]["version"] == 1 and len(task["guideline"]["sha256"]) == 64


@pytest.mark.slow
def test_recomputing_from_the_manifest_gives_identical_numbers(task_report, annotated):
    manifest = orjson.loads(report_render(report=task_report, fmt="json")[2])["manifest"]
    recomputed = report_recompute_from_manifest(manifest=manifest)
    assert canonical_json(recomputed) == task_report.result_json.encode()
    assert hashlib.sha256(canonical_json(recomputed)).hexdigest() == manifest["result_sha256"]

    # Change one answer: the manifest no longer describes the data, and says so loudly.
    annotation = Annotation.objects.filter(unit__task=annotated.task).order_by("pk").first()
    annotation.answers = {**annotation.answers, "quality": {"A": 1, "B": 1}}
    annotation.save(update_fields=["answers"])
    with pytest.raises(DataChanged, match="data changed"):
        report_recompute_from_manifest(manifest=manifest)


def test_recomputing_a_dataset_report_from_its_manifest(project_roles):
    from pathlib import Path

    from analysis.services import agreement_report_compute, agreement_report_request, dataset_import

    example = Path(__file__).resolve().parents[2] / "docs" / "examples" / "annotations-example.csv"
    dataset = dataset_import(
        actor=project_roles.lead,
        project=project_roles.project,
        name="ex",
        stream=io.BytesIO(example.read_bytes()),
        fmt="csv",
    )
    report = agreement_report_request(
        actor=project_roles.lead,
        project=project_roles.project,
        dataset=dataset,
        parameters={"n_bootstrap": 100, "seed": 3},
        filters={"pools": ["crowd"]},
        enqueue=False,
    )
    report = agreement_report_compute(report_id=report.pk)
    manifest = orjson.loads(report_render(report=report, fmt="json")[2])["manifest"]
    assert manifest["source"]["dataset"] == "ex" and manifest["filters"] == {"pools": ["crowd"]}
    assert (
        canonical_json(report_recompute_from_manifest(manifest=manifest))
        == report.result_json.encode()
    )


def test_csv_tables_open_in_pandas(task_report):
    _, _, body = report_render(report=task_report, fmt="csv_zip")
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        names = set(archive.namelist())
        assert {
            "questions.csv",
            "coefficients.csv",
            "kappa_pairs.csv",
            "annotators.csv",
            "contested_units.csv",
            "preference.csv",
            "manifest.json",
        } <= names
        coefficients = pd.read_csv(archive.open("coefficients.csv"), float_precision="round_trip")
        questions = pd.read_csv(archive.open("questions.csv"))
        preference = pd.read_csv(archive.open("preference.csv"))
    report = orjson.loads(task_report.result_json)
    assert set(questions["question"]) == set(report["questions"])
    alpha = coefficients[
        (coefficients["question"] == "quality")
        & coefficients["breakdown"].isna()
        & (coefficients["coefficient"] == "krippendorff_alpha")
    ]
    assert (
        alpha["value"].iloc[0]
        == report["questions"]["quality"]["overall"]["krippendorff_alpha"]["value"]
    )
    assert set(preference["ties"]) == {"with_ties", "without_ties"}


def test_html_is_self_contained_and_prints(task_report):
    _, content_type, body = report_render(report=task_report, fmt="html")
    html = body.decode()
    assert content_type.startswith("text/html")
    assert not re.search(r"https?://", html), "no external references"
    assert not re.search(r"<(script|link|img|iframe)\b", html)
    assert "<svg" in html and "@media print" in html
    assert task_report.data_hash in html and "manifest" in html.lower()


def test_pdf_has_pages(task_report):
    _, content_type, body = report_render(report=task_report, fmt="pdf")
    assert content_type == "application/pdf"
    assert body.startswith(b"%PDF-")
    assert len(re.findall(rb"/Type /Page\b", body)) >= 2
