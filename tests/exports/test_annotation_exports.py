"""Raw annotation exports: layout, de-blinding, types, gold, filters, every format."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from django.utils import timezone

from annotation.models import Annotation, Assignment, Output
from common.exceptions import ApplicationError
from exports.renderers import hf
from exports.services import annotations_download, annotations_write, export_filters_clean


def _read(path, fmt):
    if fmt == "csv":
        return pd.read_csv(path, float_precision="round_trip")
    if fmt == "jsonl":
        return pd.read_json(path, lines=True, precise_float=True)
    return pd.read_parquet(path)


def write(annotated, tmp_path, fmt, **kwargs):
    path = tmp_path / f"out.{fmt}"
    rows = annotations_write(
        path=path,
        fmt=fmt,
        project=annotated.project,
        actor=annotated.researcher,
        task=annotated.task,
        **kwargs,
    )
    return path, rows


def test_one_row_per_decided_assignment_with_systems_and_reasons(annotated, tmp_path):
    path, rows = write(annotated, tmp_path, "parquet")
    total = annotated.submitted + annotated.skipped + annotated.flagged
    assert rows == total
    table = pq.read_table(path)
    frame = table.to_pandas()
    assert len(frame) == total
    assert frame["status"].value_counts().to_dict() == {
        "submitted": annotated.submitted,
        "skipped": annotated.skipped,
        "flagged": annotated.flagged,
    }
    skipped = frame[frame["status"] == "skipped"].iloc[0]
    assert skipped["skip_reason"] == "Not my field" and pd.isna(skipped["annotation_id"])
    flagged = frame[frame["status"] == "flagged"].iloc[0]
    assert (flagged["flag_reason"], flagged["flag_note"]) == ("broken", "cut off")

    outputs = {o.pk: o for o in Output.objects.select_related("system")}
    for assignment in Assignment.objects.filter(unit__task=annotated.task).exclude(status="leased"):
        row = frame[frame["assignment_id"] == assignment.pk].iloc[0]
        shown = list(assignment.shown_order)
        assert [row["output_id.A"], row["output_id.B"]] == shown
        assert [row["system.A"], row["system.B"]] == [outputs[o].system.name for o in shown]
        # Each shown position carries its output's text and design beside the system.
        for letter, output_id in zip("AB", shown, strict=True):
            output = outputs[output_id]
            assert row[f"output.{letter}"] == output.text
            assert row[f"tone.{letter}"] == output.tone_condition
            assert row[f"known_errors.{letter}"] == output.known_error_count
            assert pd.isna(row[f"variant.{letter}"]) and not output.variant
            assert json.loads(row[f"metadata.{letter}"]) == output.metadata
    submitted = frame[frame["status"] == "submitted"]
    # Every annotator always preferred the first system, whatever letter it had.
    assert set(submitted["answer.preference.system"]) == {annotated.scenario.systems[0].name}
    assert set(submitted["answer.preference.choice"]) == {"A", "B"}
    for annotation in Annotation.objects.filter(unit__task=annotated.task):
        row = frame[frame["annotation_id"] == annotation.pk].iloc[0]
        assert row["answer.quality.A"] == annotation.answers["quality"]["A"]
        assert row["answer.quality.B"] == annotation.answers["quality"]["B"]
        assert row["client_active_seconds"] == annotation.client_active_seconds or (
            pd.isna(row["client_active_seconds"]) and annotation.client_active_seconds is None
        )
    # Pseudonyms only, never usernames.
    usernames = {u.username for u in annotated.scenario.annotators}
    assert not set(frame["annotator"]) & usernames
    assert all(a.startswith("ann-") for a in frame["annotator"])


def test_parquet_columns_have_real_types(annotated, tmp_path):
    path, _ = write(annotated, tmp_path, "parquet")
    schema = pq.read_schema(path)
    assert schema.field("annotation_id").type == pa.int64()
    assert schema.field("answer.quality.A").type == pa.int64()
    assert schema.field("is_gold").type == pa.bool_()
    assert schema.field("gold_correct").type == pa.bool_()
    assert schema.field("submitted_at").type == pa.timestamp("us", tz="UTC")
    assert schema.field("seconds_to_submit").type == pa.float64()
    assert schema.field("answer.preference.system").type == pa.string()
    assert schema.field("guideline_version").type == pa.int64()
    assert b"judgebench" in schema.metadata
    assert schema.field("prompt_text").metadata[b"description"] == b"the prompt"


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_csv_and_jsonl_hold_the_same_values_as_parquet(annotated, tmp_path, fmt):
    parquet_path, _ = write(annotated, tmp_path, "parquet")
    path, _ = write(annotated, tmp_path, fmt)
    reference = pd.read_parquet(parquet_path)
    frame = _read(path, fmt)
    assert list(frame.columns) == list(reference.columns)
    assert len(frame) == len(reference)
    for column in ["assignment_id", "answer.quality.A", "answer.quality.B", "guideline_version"]:
        assert (
            frame[column].fillna(-1).astype("int64").tolist()
            == reference[column].fillna(-1).astype("int64").tolist()
        )
    for column in ["status", "annotator", "system.A", "answer.preference.system", "prompt_text"]:
        assert frame[column].fillna("").tolist() == reference[column].fillna("").tolist()
    served = pd.to_datetime(frame["served_at"], utc=True)
    assert (served == reference["served_at"]).all()
    seconds = frame["seconds_to_submit"].astype("float64")
    assert seconds.equals(reference["seconds_to_submit"])


def test_gold_results_match_the_gold_answers_after_undoing_the_order(annotated, tmp_path):
    path, _ = write(annotated, tmp_path, "parquet")
    frame = pd.read_parquet(path)
    gold = frame[(frame["unit_id"] == annotated.gold_unit.pk) & (frame["status"] == "submitted")]
    assert len(gold) > 0 and gold["is_gold"].all()
    base = list(
        annotated.gold_unit.unit_outputs.order_by("position").values_list("output_id", flat=True)
    )
    for _, row in gold.iterrows():
        shown = [row["output_id.A"], row["output_id.B"]]
        expected_cells = 3  # preference + quality.A + quality.B
        base_answers = {"A": None, "B": None}
        for letter, output in zip("AB", shown, strict=True):
            base_answers["AB"[base.index(output)]] = row[f"answer.quality.{letter}"]
        chosen_base = "AB"[base.index(shown["AB".index(row["answer.preference.choice"])])]
        correct = (chosen_base == "A") + (base_answers["A"] == 5) + (base_answers["B"] == 2)
        assert row["gold_n_checked"] == expected_cells
        assert row["gold_n_correct"] == correct
        assert row["gold_correct"] == (correct == expected_cells)
    assert frame[~frame["is_gold"]]["gold_n_checked"].isna().all()


def test_filters_pool_version_dates_systems(annotated, tmp_path):
    everything = pd.read_parquet(write(annotated, tmp_path, "parquet")[0])
    pool = annotated.scenario.pool.name
    assert len(
        pd.read_parquet(write(annotated, tmp_path, "parquet", filters={"pools": [pool]})[0])
    ) == len(everything)
    assert write(annotated, tmp_path, "parquet", filters={"pools": ["nope"]})[1] == 0
    assert write(annotated, tmp_path, "parquet", filters={"guideline_versions": ["2"]})[1] == 0
    assert write(annotated, tmp_path, "parquet", filters={"guideline_versions": [1]})[1] == len(
        everything
    )
    tomorrow = (timezone.now() + timedelta(days=1)).date().isoformat()
    yesterday = (timezone.now() - timedelta(days=1)).date().isoformat()
    assert write(annotated, tmp_path, "parquet", filters={"date_from": tomorrow})[1] == 0
    assert write(
        annotated,
        tmp_path,
        "parquet",
        filters={"date_from": yesterday, "date_to": timezone.now().date().isoformat()},
    )[1] == len(everything)
    system = annotated.scenario.systems[0].name
    assert write(annotated, tmp_path, "parquet", filters={"systems": [system]})[1] == len(
        everything
    )
    assert write(annotated, tmp_path, "parquet", filters={"systems": ["other"]})[1] == 0
    with pytest.raises(ApplicationError, match="does not apply"):
        export_filters_clean(filters={"systems": ["x"]}, source="dataset")
    with pytest.raises(ApplicationError, match="not a date"):
        export_filters_clean(filters={"date_from": "last week"}, source="task")


def test_real_usernames_only_for_leads(annotated, tmp_path):
    with pytest.raises(ApplicationError, match="Only a lead"):
        write(annotated, tmp_path, "csv", options={"identity": "username"})
    path = tmp_path / "lead.csv"
    annotations_write(
        path=path,
        fmt="csv",
        project=annotated.project,
        actor=annotated.lead,
        task=annotated.task,
        options={"identity": "username"},
    )
    names = set(pd.read_csv(path)["annotator"])
    assert names == {u.username for u in annotated.scenario.annotators}


def test_hugging_face_layout_has_a_card_describing_every_field(annotated, tmp_path):
    path, rows = write(annotated, tmp_path, "hf")
    with zipfile.ZipFile(path) as archive:
        assert set(archive.namelist()) == {
            "README.md",
            hf.DATA_FILE,
            *(hf.table_file(name) for name in ("annotations", "units", "annotators")),
        }
        card = archive.read("README.md").decode()
        frame = pd.read_parquet(io.BytesIO(archive.read(hf.DATA_FILE)))
    front = yaml.safe_load(card.split("---")[1])
    features = front["dataset_info"]["features"]
    assert [f["name"] for f in features] == list(frame.columns)
    assert {f["name"]: f["dtype"] for f in features}["submitted_at"] == "timestamp[us, tz=UTC]"
    assert front["dataset_info"]["splits"][0]["num_examples"] == rows == len(frame)
    assert front["configs"][0]["data_files"][0]["path"] == "data/train-*"
    assert [c["config_name"] for c in front["configs"]] == [
        "default",
        "annotations",
        "units",
        "annotators",
    ]
    assert "import_annotations" in card
    assert annotated.task.slug in card and "Guideline" in card
    for column in frame.columns:
        assert f"`{column}`" in card


def test_direct_download_streams_and_refuses_large_exports(annotated):
    from exports.services import ExportTooLarge

    download = annotations_download(
        actor=annotated.researcher, project=annotated.project, fmt="csv", task=annotated.task
    )
    assert not isinstance(download.chunks, bytes | list)
    frame = pd.read_csv(io.BytesIO(b"".join(download.chunks)))
    assert len(frame) == annotated.submitted + annotated.skipped + annotated.flagged
    with pytest.raises(ExportTooLarge):
        annotations_download(
            actor=annotated.researcher,
            project=annotated.project,
            fmt="jsonl",
            task=annotated.task,
            max_rows=3,
        )


def test_dataset_exports(project_roles, tmp_path, settings):
    from pathlib import Path

    from analysis.services import dataset_import

    settings.MEDIA_ROOT = str(tmp_path)
    example = Path(__file__).resolve().parents[2] / "docs" / "examples" / "annotations-example.csv"
    dataset = dataset_import(
        actor=project_roles.lead,
        project=project_roles.project,
        name="ex",
        stream=io.BytesIO(example.read_bytes()),
        fmt="csv",
    )
    path = tmp_path / "d.parquet"
    rows = annotations_write(
        path=path,
        fmt="parquet",
        project=project_roles.project,
        actor=project_roles.lead,
        dataset=dataset,
    )
    frame = pd.read_parquet(path)
    assert rows == dataset.row_count == len(frame)
    assert list(frame.columns) == [
        "unit",
        "annotator",
        "question",
        "value",
        "value_number",
        "pool",
        "guideline_version",
    ]
    crowd = annotations_write(
        path=tmp_path / "c.jsonl",
        fmt="jsonl",
        project=project_roles.project,
        actor=project_roles.lead,
        dataset=dataset,
        filters={"pools": ["crowd"]},
    )
    assert 0 < crowd < rows
    assert set(pd.read_json(tmp_path / "c.jsonl", lines=True)["pool"]) == {"crowd"}
