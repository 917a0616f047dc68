"""python manage.py export annotations|report, in-process with a progress bar."""

from __future__ import annotations

import io
import re
import zipfile

import orjson
import pandas as pd
import pytest
import yaml
from django.core.management import CommandError, call_command


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet", "hf"])
def test_export_annotations(annotated, tmp_path, fmt):
    output = tmp_path / ("hf-folder" if fmt == "hf" else f"out.{fmt}")
    stdout, stderr = io.StringIO(), io.StringIO()
    call_command(
        "export",
        "annotations",
        "--task",
        annotated.task.slug,
        "--format",
        fmt,
        "--output",
        str(output),
        stdout=stdout,
        stderr=stderr,
    )
    expected = annotated.submitted + annotated.skipped + annotated.flagged
    assert f"{expected} rows written" in stdout.getvalue()
    if fmt == "csv":
        frame = pd.read_csv(output)
    elif fmt == "jsonl":
        frame = pd.read_json(output, lines=True)
    elif fmt == "parquet":
        frame = pd.read_parquet(output)
    else:
        frame = pd.read_parquet(output / "data" / "train-00000-of-00001.parquet")
        card = (output / "README.md").read_text()
        assert (
            yaml.safe_load(card.split("---")[1])["dataset_info"]["splits"][0]["num_examples"]
            == expected
        )
    assert len(frame) == expected


def test_export_annotations_with_filters_and_zip(annotated, tmp_path):
    output = tmp_path / "hf.zip"
    call_command(
        "export",
        "annotations",
        "--task",
        annotated.task.slug,
        "--format",
        "hf",
        "--output",
        str(output),
        "--pool",
        annotated.scenario.pool.name,
        "--date-from",
        "2000-01-01",
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    assert zipfile.ZipFile(output).namelist()
    with pytest.raises(CommandError, match="No task"):
        call_command(
            "export",
            "annotations",
            "--task",
            "nope",
            "--format",
            "csv",
            "--output",
            str(tmp_path / "x"),
        )


@pytest.mark.parametrize("fmt", ["json", "csv", "html", "pdf"])
def test_export_report(annotated, task_report, tmp_path, fmt):
    output = tmp_path / f"report.{fmt}"
    call_command(
        "export",
        "report",
        "--task",
        annotated.task.slug,
        "--format",
        fmt,
        "--output",
        str(output),
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    data = output.read_bytes()
    if fmt == "json":
        assert orjson.loads(data)["manifest"]["report_id"] == task_report.pk
    elif fmt == "csv":
        assert "manifest.json" in zipfile.ZipFile(output).namelist()
    elif fmt == "html":
        assert b"<svg" in data and not re.search(rb"https?://", data)
    else:
        assert data.startswith(b"%PDF")


def test_export_report_computes_one_when_there_is_none(annotated, tmp_path):
    output = tmp_path / "r.json"
    call_command(
        "export",
        "report",
        "--task",
        annotated.task.slug,
        "--format",
        "json",
        "--output",
        str(output),
        "--n-bootstrap",
        "20",
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    assert orjson.loads(output.read_bytes())["manifest"]["parameters"]["n_bootstrap"] == 20


def test_cleanup(annotated):
    out = io.StringIO()
    call_command("export", "cleanup", stdout=out)
    assert "expired 0" in out.getvalue()
