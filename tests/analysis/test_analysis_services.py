"""Dataset import and agreement-report services."""

from __future__ import annotations

import io
import json

import pytest

from analysis.models import AgreementReport, AnnotationDataset, DatasetAnnotation, ReportStatus
from analysis.services import (
    ImportRefused,
    agreement_report_compute,
    agreement_report_recompute_check,
    agreement_report_request,
    dataset_import,
)
from common.exceptions import ApplicationError
from common.models import AuditEvent


def _import(project_roles, data: bytes, name="example", **kwargs):
    return dataset_import(
        actor=project_roles.researcher,
        project=project_roles.project,
        name=name,
        stream=io.BytesIO(data),
        fmt="csv",
        **kwargs,
    )


def _request(project_roles, dataset, **kwargs):
    return agreement_report_request(
        actor=project_roles.researcher,
        project=project_roles.project,
        dataset=dataset,
        parameters=kwargs.pop("parameters", {"n_bootstrap": 100}),
        enqueue=False,
        **kwargs,
    )


def test_import_writes_rows_declarations_and_an_audit_row(project_roles, dataset):
    assert dataset.row_count == DatasetAnnotation.objects.filter(dataset=dataset).count() == 435
    assert (dataset.unit_count, dataset.annotator_count) == (24, 7)
    assert dataset.questions["quality"] == {"level": "ordinal", "order": ["bad", "ok", "good"]}
    assert len(dataset.data_hash) == 64
    event = AuditEvent.objects.get(action="dataset.import")
    assert event.actor == project_roles.researcher and event.object_id == str(dataset.pk)


def test_a_bad_file_writes_nothing(project_roles, example_bytes):
    bad = example_bytes.replace(b"item-05,exp-1,minutes,", b"item-05,exp-1,minutes,-", 1)
    with pytest.raises(ImportRefused) as refused:
        _import(project_roles, bad)
    assert refused.value.extra["error_count"] == 1
    assert refused.value.extra["errors"][0]["field"] == "value"
    assert not AnnotationDataset.objects.exists()
    assert not DatasetAnnotation.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="dataset.").exists()


def test_a_failing_write_rolls_back_everything(project_roles, example_bytes, monkeypatch):
    import analysis.services as services

    def explode(**kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(services, "audit_record", explode)
    with pytest.raises(RuntimeError):
        _import(project_roles, example_bytes)
    assert not AnnotationDataset.objects.exists()
    assert not DatasetAnnotation.objects.exists()


def test_an_existing_name_is_refused_unless_replace(project_roles, dataset, example_bytes):
    with pytest.raises(ApplicationError, match="already exists"):
        _import(project_roles, example_bytes)
    smaller = b"unit,annotator,question,value\nu1,a,q,x\nu1,b,q,y\n"
    replaced = _import(project_roles, smaller, replace=True)
    assert replaced.pk == dataset.pk
    assert replaced.row_count == DatasetAnnotation.objects.filter(dataset=dataset).count() == 2
    assert replaced.questions == {"q": {"level": "nominal", "order": None}}
    assert AuditEvent.objects.filter(action="dataset.replace").count() == 1


def test_request_queues_the_job_on_commit_and_audits(
    project_roles, dataset, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        report = agreement_report_request(
            actor=project_roles.researcher,
            project=project_roles.project,
            dataset=dataset,
            parameters={"seed": 7},
        )
    assert len(callbacks) == 1
    assert report.status == ReportStatus.QUEUED
    assert report.parameters["seed"] == 7 and report.parameters["n_bootstrap"] == 1000
    assert report.platform_version
    assert AuditEvent.objects.filter(action="agreement_report.request").count() == 1


@pytest.mark.parametrize(
    "parameters",
    [
        {"n_bootstrap": -1},
        {"seed": "x"},
        {"thresholds": "0.8"},
        {"bogus": 1},
        {"n_bootstrap": True},
    ],
)
def test_bad_parameters_are_refused(project_roles, dataset, parameters):
    with pytest.raises(ApplicationError):
        _request(project_roles, dataset, parameters=parameters)


def test_a_source_of_another_project_is_refused(project_roles, dataset):
    with pytest.raises(ApplicationError, match="another project"):
        agreement_report_request(
            actor=project_roles.outsider, project=project_roles.other_project, dataset=dataset
        )


def test_compute_stores_the_result_and_is_idempotent(project_roles, dataset):
    report = agreement_report_compute(report_id=_request(project_roles, dataset).pk)
    assert report.status == ReportStatus.DONE and report.progress_percent == 100
    result = json.loads(report.result_json)
    assert result["questions"]["quality"]["overall"]["krippendorff_alpha"]["n_bootstrap"] == 100
    assert report.data_hash == dataset.data_hash
    finished = report.finished_at
    again = agreement_report_compute(report_id=report.pk)
    assert again.finished_at == finished
    assert AuditEvent.objects.filter(action="agreement_report.done").count() == 1


def test_a_report_left_running_by_a_dead_worker_is_computed_again(project_roles, dataset):
    report = _request(project_roles, dataset)
    AgreementReport.objects.filter(pk=report.pk).update(status=ReportStatus.RUNNING)
    assert agreement_report_compute(report_id=report.pk).status == ReportStatus.DONE


def test_failure_is_stored_with_its_reason(project_roles, dataset):
    report = _request(project_roles, dataset, filters={"pools": ["nobody"]})
    report = agreement_report_compute(report_id=report.pk)
    assert report.status == ReportStatus.FAILED
    assert "no annotations" in report.error
    assert AuditEvent.objects.filter(action="agreement_report.failed").count() == 1


def test_filters_restrict_the_data(project_roles, dataset):
    report = _request(project_roles, dataset, filters={"pools": ["expert"]})
    result = json.loads(agreement_report_compute(report_id=report.pk).result_json)
    assert result["input"]["n_annotators"] == 3
    assert report.filters == {"pools": ["expert"]}


def test_recomputing_from_the_stored_inputs_gives_identical_bytes(project_roles, dataset):
    report = agreement_report_compute(
        report_id=_request(project_roles, dataset, parameters={"n_bootstrap": 300, "seed": 11}).pk
    )
    check = agreement_report_recompute_check(report_id=report.pk)
    assert check.identical and check.same_platform_version
    # A different seed is a different report: the check would notice.
    other = agreement_report_compute(
        report_id=_request(project_roles, dataset, parameters={"n_bootstrap": 300, "seed": 12}).pk
    )
    assert other.result_json != report.result_json


def test_eager_celery_computes_synchronously_after_commit(
    project_roles, dataset, eager_celery, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        report = agreement_report_request(
            actor=project_roles.lead,
            project=project_roles.project,
            dataset=dataset,
            parameters={"n_bootstrap": 50},
        )
    report.refresh_from_db()
    assert report.status == ReportStatus.DONE
