"""A task's export, imported as a study bundle, gives the task's report number for number.

The task is pairwise (a preference and a per-output quality score) with an expert and a
crowd pool and a tone design, so every section runs on both sides: agreement, bias
(tone premium, position, length), expert vs crowd, rankings and their stability.
"""

from __future__ import annotations

import io
import json
import zipfile
import zlib

import pytest

from analysis.loaders import dataset_table, task_table
from analysis.services import (
    BundleFile,
    agreement_report_compute,
    agreement_report_request,
    dataset_import,
)
from annotation.models import Annotation, AnnotatorPool, PoolKind
from annotation.services.pools import pool_member_add
from annotation.services.tasks import task_launch, task_pool_add
from exports.renderers import hf
from exports.services import annotations_write
from tests.analysis.test_task_reports import annotate_everything
from tests.annotation.conftest import acknowledge, build_scenario
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PARAMETERS = {
    "n_bootstrap": 40,
    "seed": 11,
    "min_shared_units": 2,
    "min_annotator_items": 2,
    "min_expert_labels": 1,
}


def _noise(*parts: object) -> float:
    return (zlib.crc32(repr(parts).encode()) % 1000) / 1000


def _pairwise_study():
    scenario = build_scenario(
        mode="pairwise",
        n_prompts=10,
        n_systems=3,
        k=3,
        n_annotators=4,
        launch=False,
        output_text=lambda i, j: "Tides follow the moon. " * (2 + (i * 3 + j) % 5),
    )
    experts = AnnotatorPool.objects.create(
        project=scenario.project, name="panel", kind=PoolKind.EXPERT
    )
    for n in range(2):
        user = UserFactory(username=f"expert-{scenario.project.slug}-{n}")
        pool_member_add(actor=scenario.lead, pool=experts, user=user)
        acknowledge(user, scenario.version)
        scenario.annotators.append(user)
    task_pool_add(actor=scenario.lead, task=scenario.task, pool=experts, redundancy=2)
    scenario.task = task_launch(actor=scenario.lead, task=scenario.task)
    systems = {o.pk: o.system.name for o in scenario.outputs}
    names = sorted(set(systems.values()))

    def answer(annotator, assignment, shown):
        skill = [names.index(systems[o]) for o in shown]
        wobble = _noise(annotator.pk, assignment.unit_id)
        if wobble < 0.15:
            choice = "tie"
        elif wobble < 0.3:
            choice = "A"  # a first-position habit
        else:
            choice = "A" if skill[0] < skill[1] else "B"
        quality = {
            letter: 1 + (skill[i] + int(_noise(annotator.pk, o) * 3)) % 5
            for i, (letter, o) in enumerate(zip("AB", shown, strict=True))
        }
        return {"preference": {"choice": choice}, "quality": quality}

    annotate_everything(scenario, answer)
    return scenario


def _report(**source):
    report = agreement_report_request(enqueue=False, parameters=PARAMETERS, **source)
    report = agreement_report_compute(report_id=report.pk)
    assert report.status == "done", report.error
    return json.loads(report.result_json)


def _import_export(scenario, tmp_path):
    path = tmp_path / "export.zip"
    annotations_write(
        path=path, fmt="hf", project=scenario.project, actor=scenario.lead, task=scenario.task
    )
    with zipfile.ZipFile(path) as archive:
        files = {
            name: io.BytesIO(archive.read(hf.table_file(name)))
            for name in ("annotations", "units", "annotators")
        }
    return dataset_import(
        actor=scenario.lead,
        project=scenario.project,
        name="re-imported",
        stream=files["annotations"],
        fmt="parquet",
        units=BundleFile(files["units"], "parquet", "units.parquet"),
        annotators=BundleFile(files["annotators"], "parquet", "annotators.parquet"),
    )


def _differences(left, right, path=()):
    """Paths where two JSON documents differ (leaves only)."""
    if isinstance(left, dict) and isinstance(right, dict):
        found = []
        for key in sorted(set(left) | set(right)):
            found += _differences(left.get(key), right.get(key), (*path, key))
        return found
    if isinstance(left, list) and isinstance(right, list) and len(left) == len(right):
        found = []
        for index, (a, b) in enumerate(zip(left, right, strict=True)):
            found += _differences(a, b, (*path, index))
        return found
    return [] if left == right else [path]


@pytest.mark.slow
def test_a_task_export_imported_as_a_bundle_gives_the_same_report(tmp_path):
    scenario = _pairwise_study()
    dataset = _import_export(scenario, tmp_path)

    # The loaders agree row for row on every column a bundle carries.
    task_rows, task_questions = task_table(task=scenario.task)
    bundle_rows, bundle_questions = dataset_table(dataset=dataset)
    carried = [c for c in task_rows.columns if c not in ("active_seconds",)]
    assert list(bundle_rows.columns) == carried
    assert task_rows[carried].equals(bundle_rows)
    assert {k: v.get("type") for k, v in task_questions.items()} == {
        k: v.get("type") for k, v in bundle_questions.items()
    }

    task = _report(actor=scenario.lead, project=scenario.project, task=scenario.task)
    data = _report(actor=scenario.lead, project=scenario.project, dataset=dataset)
    for section in ("bias", "expert_vs_crowd", "rankings", "rank_stability"):
        assert task[section].get("status") not in ("not_applicable", "not_computed"), section
    assert task["bias"]["pools"]["crowd"]["checks"]["position_bias"]["estimate"] is not None
    assert task["rankings"]["leaderboards"]

    # Number for number: every section of the report, the input summary included.
    assert _differences(task, data) == []

    # What a bundle cannot carry is what a task records alone: the browser's active time.
    # With it, only the per-annotator median time and the list of columns differ.
    Annotation.objects.filter(unit__task=scenario.task).update(client_active_seconds=12.5)
    timed = _report(actor=scenario.lead, project=scenario.project, task=scenario.task)
    differing = {
        tuple(k for k in path if not isinstance(k, int)) for path in _differences(timed, data)
    }
    assert differing == {
        ("annotators", "median_active_seconds"),
        ("input", "optional_columns"),
    }
