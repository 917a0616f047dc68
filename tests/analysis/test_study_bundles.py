"""Study bundles on real PostgreSQL: one service behind the page, the API and the command;
nothing written on a refused bundle; every report section runs on a dataset as on a task.

The synthetic study (analysis.simulation_bundle) stands in for a published crowd-plus-
expert study, at a size a test can afford; the full size is exercised by
test_the_published_shape_is_what_the_generator_draws (no database) and bench runs."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client

from analysis.loaders import dataset_table
from analysis.management.commands.agreement_report import Command as ReportCommand
from analysis.models import (
    AnnotationDataset,
    DatasetAnnotation,
    DatasetAnnotator,
    DatasetOutput,
    DatasetUnit,
)
from analysis.services import (
    DEFAULT_PARAMETERS,
    BundleFile,
    ImportRefused,
    agreement_report_compute,
    agreement_report_request,
    dataset_import,
)
from analysis.simulation_bundle import (
    TONES,
    BundleConfig,
    generate_study,
    write_bundle,
)
from exports.renderers import hf
from exports.services import annotations_write
from tests.conftest import api_as

SMALL = BundleConfig(n_prompts=8, n_crowd=10, crowd_ratings=(3, 5), n_experts=2, expert_outputs=20)


@pytest.fixture(scope="module")
def study():
    return generate_study(SMALL, rng=np.random.default_rng(2024))


def _files(study, tmp_path: Path, fmt: str):
    return write_bundle(study, tmp_path / fmt, fmt=fmt)


def _report(project, actor, dataset, **parameters):
    report = agreement_report_request(
        actor=actor,
        project=project,
        dataset=dataset,
        parameters={"n_bootstrap": 30, "min_shared_units": 2, **parameters},
        enqueue=False,
    )
    report = agreement_report_compute(report_id=report.pk)
    assert report.status == "done", report.error
    return json.loads(report.result_json)


def test_the_published_shape_is_what_the_generator_draws():
    full = generate_study(rng=np.random.default_rng(0))
    units, answers = full.units, full.annotations
    assert len(units) == 1500
    assert units["tone"].value_counts().to_dict() == dict.fromkeys(TONES, 300)
    crowd = answers[answers["annotator"].str.startswith("cw-")]
    per_output = crowd.groupby("unit")["annotator"].nunique()
    assert per_output.min() >= 3 and per_output.max() <= 8
    assert crowd["annotator"].nunique() >= 300
    experts = answers[answers["annotator"].str.startswith("ex-")]
    assert experts.groupby("unit")["annotator"].nunique().max() == 1
    assert experts["unit"].nunique() == 300
    assert set(answers["question"]) == {
        "overall",
        "assertiveness",
        "error_factuality",
        "error_inconsistency",
        "error_relevance",
        "error_repetition",
    }
    # The matched rewrites share their baseline's facts and planted errors.
    errors = units.assign(n=units["known_errors"].map(len)).pivot(
        index="prompt_id", columns="tone", values="n"
    )
    assert (errors["assertive"] == errors["baseline"]).all()
    assert (errors["hedged"] == errors["baseline"]).all()
    assert (errors["complex"] != errors["baseline"]).any()
    assert set(full.truth["crowd_hit_rate"]) == set(TONES)


@pytest.mark.slow
@pytest.mark.django_db
def test_a_bundle_goes_in_through_the_command_and_every_section_runs(
    project_roles, study, tmp_path
):
    paths = _files(study, tmp_path, "parquet")
    out = io.StringIO()
    call_command(
        "import_annotations",
        str(paths.annotations),
        "--units",
        str(paths.units),
        "--annotators",
        str(paths.annotators),
        "--dataset",
        "tone study",
        "--project",
        "alpha",
        stdout=out,
    )
    assert "Study design: 40 units in the units file, 12 annotators" in out.getvalue()
    dataset = AnnotationDataset.objects.get(name="tone study")
    assert dataset.questions["overall"]["role"] == "quality"
    assert dataset.questions["error_factuality"] == {
        "level": "nominal",
        "order": None,
        "role": "error_flag",
        "boolean": True,
    }
    assert DatasetOutput.objects.filter(unit__dataset=dataset).count() == 40
    attributes = DatasetAnnotator.objects.get(dataset=dataset, annotator="cw-0001").attributes
    assert set(attributes) == {"country", "age_band"}

    table, _ = dataset_table(dataset=dataset)
    for column in ("pool_kind", "system", "prompt_id", "tone", "n_known_errors", "output_length"):
        assert column in table.columns
    assert set(table["pool_kind"]) == {"crowd", "expert"}

    result = _report(project_roles.project, project_roles.lead, dataset)
    bias = result["bias"]
    assert set(bias["pools"]) == {"crowd", "expert"}
    crowd = bias["pools"]["crowd"]["checks"]
    # The design reached the checks: each runs, or says why in words.
    for name in ("tone_premium_paired", "error_detection_by_tone", "length_bias"):
        assert crowd[name].get("defined") or crowd[name].get("reason"), name
    assert crowd["tone_premium_paired"]["n_pairs"] == SMALL.n_prompts
    assert crowd["error_detection_by_tone"]["defined"]
    assert crowd["position_bias"]["reason"] == "no preference question"
    # Two pools of different kinds: expert vs crowd is attempted, not inapplicable.
    assert result["expert_vs_crowd"].get("status") != "not_applicable"
    assert result["rankings"]["status"] == "not_applicable"


@pytest.mark.django_db
def test_a_bundle_goes_in_through_the_page(project_roles, study, tmp_path):
    paths = _files(study, tmp_path, "csv")
    client = Client()
    client.force_login(project_roles.researcher)
    response = client.post(
        "/p/alpha/analysis/datasets/import/",
        {
            "name": "from the page",
            "file": SimpleUploadedFile("annotations.csv", paths.annotations.read_bytes()),
            "units": SimpleUploadedFile("units.csv", paths.units.read_bytes()),
            "annotators": SimpleUploadedFile("annotators.csv", paths.annotators.read_bytes()),
            "declarations": "level assertiveness=ordinal",
        },
    )
    assert response.status_code == 200, response.content.decode()[:2000]
    assert "Study design: 40 units in the units file" in response.content.decode()
    dataset = AnnotationDataset.objects.get(name="from the page")
    assert (dataset.units_filename, dataset.annotators_filename) == ("units.csv", "annotators.csv")
    page = client.get(f"/p/alpha/analysis/datasets/{dataset.pk}/").content.decode()
    assert "error_flag" in page and "units.csv" in page

    bad_units = paths.units.read_text().replace("o00001,", "o99999,", 1)
    refused = client.post(
        "/p/alpha/analysis/datasets/import/",
        {
            "name": "refused",
            "file": SimpleUploadedFile("annotations.csv", paths.annotations.read_bytes()),
            "units": SimpleUploadedFile("units.csv", bad_units.encode()),
        },
        HTTP_HX_REQUEST="true",
    )
    html = refused.content.decode()
    assert refused.status_code == 400
    assert "<th>File</th>" in html and "is not in the units file" in html
    assert not AnnotationDataset.objects.filter(name="refused").exists()


@pytest.mark.django_db
def test_a_bundle_goes_in_through_the_api(project_roles, study, tmp_path):
    paths = _files(study, tmp_path, "jsonl")
    client = api_as(project_roles.researcher)
    response = client.post(
        "/api/projects/alpha/datasets/import/",
        {
            "name": "from the api",
            "file": SimpleUploadedFile("annotations.jsonl", paths.annotations.read_bytes()),
            "units": SimpleUploadedFile("units.jsonl", paths.units.read_bytes()),
            "annotators": SimpleUploadedFile("annotators.jsonl", paths.annotators.read_bytes()),
        },
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["bundle_unit_count"], body["bundle_annotator_count"]) == (40, 12)

    people = paths.annotators.read_text().splitlines()
    response = client.post(
        "/api/projects/alpha/datasets/import/",
        {
            "name": "missing someone",
            "file": SimpleUploadedFile("annotations.jsonl", paths.annotations.read_bytes()),
            "annotators": SimpleUploadedFile("annotators.jsonl", "\n".join(people[1:]).encode()),
        },
        format="multipart",
    )
    assert response.status_code == 400
    first = response.json()["errors"][0]
    assert first["file"] == "annotations" and first["field"] == "annotator"
    assert "is not in the annotators file" in first["message"]


@pytest.mark.django_db
def test_a_refused_bundle_writes_nothing_and_lists_errors_file_by_file(project_roles):
    answers = "unit,annotator,question,value\nu1,a,q,1\nu2,b,q,2\nu3,c,q,x\n"
    units = "unit,system,known_errors\nu1,m,0\nu2,m,many\n"
    people = "annotator,pool_kind\na,crowd\nb,wizard\n"
    with pytest.raises(ImportRefused) as refused:
        dataset_import(
            actor=project_roles.lead,
            project=project_roles.project,
            name="refused",
            stream=io.BytesIO(answers.encode()),
            fmt="csv",
            declarations={"q": {"level": "interval"}},
            units=BundleFile(io.BytesIO(units.encode()), "csv", "units.csv"),
            annotators=BundleFile(io.BytesIO(people.encode()), "csv", "people.csv"),
        )
    # u2 and b are named in their files, so their answers are not "unknown" again.
    assert [(e.file, e.line, e.field) for e in refused.value.errors] == [
        ("annotations", 4, "value"),
        ("units", 3, "known_errors"),
        ("annotators", 3, "pool_kind"),
    ]
    assert refused.value.extra["errors"][0]["file"] == "annotations"
    for model in (AnnotationDataset, DatasetAnnotation, DatasetUnit, DatasetAnnotator):
        assert not model.objects.exists()


@pytest.mark.django_db
def test_a_pairwise_bundle_gets_rankings_and_position_bias(project_roles):
    systems = ["m1", "m2", "m3"]
    units = ["unit,prompt_id,system_a,system_b,output_a,output_b"]
    answers = ["unit,annotator,question,value,pool,shown_order"]
    people = ["annotator,pool,pool_kind"] + [f"w{n},crowd,crowd" for n in range(6)]
    for p in range(12):
        for i, a in enumerate(systems):
            for b in systems[i + 1 :]:
                unit = f"p{p}-{a}-{b}"
                units.append(f"{unit},p{p},{a},{b},{'x' * (20 + p)},{'y' * 30}")
                for n in range(3):
                    annotator = f"w{(p + n) % 6}"
                    flipped = (p + n) % 2 == 1
                    better_first = (a < b) != flipped
                    # Mostly merit, plus a habit of picking what was shown first.
                    vote = "A" if better_first or n == 0 else "B"
                    order = "ba" if flipped else "ab"
                    answers.append(f"{unit},{annotator},preference,{vote},crowd,{order}")
    dataset = dataset_import(
        actor=project_roles.lead,
        project=project_roles.project,
        name="arena",
        stream=io.BytesIO("\n".join(answers).encode()),
        fmt="csv",
        units=BundleFile(io.BytesIO("\n".join(units).encode()), "csv"),
        annotators=BundleFile(io.BytesIO("\n".join(people).encode()), "csv"),
    )
    assert dataset.questions["preference"]["type"] == "pairwise"
    table, _ = dataset_table(dataset=dataset)
    first = table.iloc[0]
    assert first["shown_order"] in (("m1", "m2"), ("m2", "m1"))
    assert first["shown_lengths"] in ((20, 30), (30, 20))

    result = _report(project_roles.project, project_roles.lead, dataset)
    board = result["rankings"]["leaderboards"]["crowd"]
    best = min(board["systems"], key=lambda row: row["rank"])
    assert best["system"] == "m1"
    position = result["bias"]["pools"]["crowd"]["checks"]["position_bias"]
    assert position["defined"] and position["estimate"] > 0.5
    assert result["questions"]["preference"]["preference"]["votes"]


@pytest.mark.django_db
def test_a_dataset_exported_in_the_hugging_face_layout_imports_as_itself(
    project_roles, study, tmp_path, settings
):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    paths = _files(study, tmp_path, "csv")
    with (
        paths.annotations.open("rb") as a,
        paths.units.open("rb") as u,
        paths.annotators.open("rb") as p,
    ):
        original = dataset_import(
            actor=project_roles.lead,
            project=project_roles.project,
            name="original",
            stream=a,
            fmt="csv",
            units=BundleFile(u, "csv"),
            annotators=BundleFile(p, "csv"),
        )
    export = tmp_path / "export.zip"
    annotations_write(
        path=export,
        fmt="hf",
        project=project_roles.project,
        actor=project_roles.lead,
        dataset=original,
    )
    with zipfile.ZipFile(export) as archive:
        files = {n: io.BytesIO(archive.read(hf.table_file(n))) for n in hf_tables()}
    copy = dataset_import(
        actor=project_roles.lead,
        project=project_roles.project,
        name="copy",
        stream=files["annotations"],
        fmt="parquet",
        units=BundleFile(files["units"], "parquet"),
        annotators=BundleFile(files["annotators"], "parquet"),
    )
    assert copy.data_hash == original.data_hash
    assert copy.questions == original.questions
    assert {a.annotator: a.attributes for a in copy.annotators.all()} == {
        a.annotator: a.attributes for a in original.annotators.all()
    }


def hf_tables() -> tuple[str, ...]:
    return ("annotations", "units", "annotators")


def test_every_report_parameter_of_the_api_is_a_command_option():
    parser = ReportCommand().create_parser("manage.py", "agreement_report")
    options = {action.dest for action in parser._actions}
    assert set(DEFAULT_PARAMETERS) <= options
    assert {"questions", "pools", "guideline_versions"} <= options


@pytest.mark.django_db
def test_the_command_passes_its_parameters_and_filters(project_roles, dataset):
    out = io.StringIO()
    call_command(
        "agreement_report",
        "--dataset",
        "example",
        "--project",
        "alpha",
        "--n-bootstrap",
        "20",
        "--min-shared-units",
        "3",
        "--min-annotator-items",
        "4",
        "--min-expert-labels",
        "2",
        "--treated-tone",
        "complex",
        "--control-tone",
        "simple",
        "--thresholds",
        "0.5,0.7",
        "--top-contested",
        "5",
        "--breakdown-columns",
        "pool",
        "--pool",
        "expert",
        stdout=out,
    )
    document = json.loads(out.getvalue())
    parameters = document["provenance"]["parameters"]
    assert parameters["min_shared_units"] == 3 and parameters["min_annotator_items"] == 4
    assert parameters["min_expert_labels"] == 2
    assert (parameters["treated_tone"], parameters["control_tone"]) == ("complex", "simple")
    assert parameters["thresholds"] == [0.5, 0.7] and parameters["top_contested"] == 5
    assert document["provenance"]["filters"] == {"pools": ["expert"]}
    with pytest.raises(CommandError, match="two different tones"):
        call_command(
            "agreement_report",
            "--dataset",
            "example",
            "--project",
            "alpha",
            "--treated-tone",
            "x",
            "--control-tone",
            "x",
            stdout=io.StringIO(),
        )


@pytest.mark.django_db
def test_the_dataset_page_form_takes_the_new_parameters(project_roles, dataset):
    client = Client()
    client.force_login(project_roles.researcher)
    url = f"/p/alpha/analysis/datasets/{dataset.pk}/reports/"
    data = {"n_bootstrap": 0, "seed": 1, "confidence_level": 0.9}
    response = client.post(
        url, {**data, "min_expert_labels": 3, "treated_tone": "complex", "control_tone": "simple"}
    )
    assert response.status_code == 302
    report = dataset.reports.get()
    assert report.parameters["min_expert_labels"] == 3
    assert (report.parameters["treated_tone"], report.parameters["control_tone"]) == (
        "complex",
        "simple",
    )
    same = client.post(url, {**data, "treated_tone": "x", "control_tone": "x"})
    assert same.status_code == 400 and "two different tones" in same.content.decode()
