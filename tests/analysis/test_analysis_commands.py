"""import_annotations and agreement_report on the command line."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from analysis.models import AnnotationDataset, DatasetAnnotation

WORDS = b"unit,annotator,question,value,pool\n" + b"".join(
    f"u{u},{a},tone,{['calm', 'firm', 'harsh'][(u + (a == 'c')) % 3]},crowd\n".encode()
    for u in range(12)
    for a in "abc"
)


@pytest.fixture
def words_file(tmp_path):
    path = tmp_path / "words.csv"
    path.write_bytes(WORDS)
    return path


def run(*args):
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_import_with_level_and_order_flags(project_roles, words_file):
    out, _ = run(
        "import_annotations",
        str(words_file),
        "--dataset",
        "words",
        "--project",
        "alpha",
        "--level",
        "tone=ordinal",
        "--order",
        "tone=calm,firm,harsh",
    )
    assert "Imported 36 answers" in out
    dataset = AnnotationDataset.objects.get(name="words")
    assert dataset.questions == {"tone": {"level": "ordinal", "order": ["calm", "firm", "harsh"]}}


def test_errors_go_to_stderr_by_line_and_nothing_is_written(project_roles, words_file):
    with pytest.raises(CommandError, match="nothing was written") as failure:
        call_command(
            "import_annotations",
            str(words_file),
            "--dataset",
            "words",
            "--project",
            "alpha",
            "--level",
            "tone=ordinal",
            "--order",
            "tone=calm,firm",
            stderr=(err := StringIO()),
        )
    assert failure.value
    lines = err.getvalue().splitlines()
    assert (
        lines[0].startswith("line ") and ", value: 'harsh' is not in the declared order" in lines[0]
    )
    assert not DatasetAnnotation.objects.exists()


def test_existing_dataset_needs_replace(project_roles, words_file):
    run("import_annotations", str(words_file), "--dataset", "w", "--project", "alpha")
    with pytest.raises(CommandError, match="already exists"):
        run("import_annotations", str(words_file), "--dataset", "w", "--project", "alpha")
    out, _ = run(
        "import_annotations", str(words_file), "--dataset", "w", "--project", "alpha", "--replace"
    )
    assert "Imported 36" in out


def test_project_is_required_when_there_are_several(project_roles, words_file):
    with pytest.raises(CommandError, match="--project"):
        run("import_annotations", str(words_file), "--dataset", "w")


def test_agreement_report_prints_the_json_document(project_roles, words_file):
    run(
        "import_annotations",
        str(words_file),
        "--dataset",
        "words",
        "--project",
        "alpha",
        "--order",
        "tone=calm,firm,harsh",
    )
    out, _ = run(
        "agreement_report",
        "--dataset",
        "words",
        "--project",
        "alpha",
        "--format",
        "json",
        "--n-bootstrap",
        "50",
        "--seed",
        "4",
    )
    document = json.loads(out)
    assert document["format"] == "judgebench.agreement-report"
    assert document["provenance"]["parameters"]["seed"] == 4
    assert document["report"]["questions"]["tone"]["level"] == "ordinal"
    again, _ = run(
        "agreement_report",
        "--dataset",
        "words",
        "--project",
        "alpha",
        "--format",
        "json",
        "--n-bootstrap",
        "50",
        "--seed",
        "4",
    )
    assert json.loads(again)["report"] == document["report"]


def test_agreement_report_on_an_unknown_dataset(project_roles):
    with pytest.raises(CommandError, match="no dataset named"):
        run("agreement_report", "--dataset", "nope", "--project", "alpha", "--format", "json")
