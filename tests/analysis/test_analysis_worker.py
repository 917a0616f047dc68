"""A report requested through the service is computed by a real Celery worker."""

from __future__ import annotations

import json

import pytest

from analysis.models import AgreementReport, ReportStatus
from analysis.services import agreement_report_request
from tests.worker import wait_until

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


def test_a_real_worker_computes_the_report(project_roles, dataset, celery_worker_process):
    report = agreement_report_request(
        actor=project_roles.researcher,
        project=project_roles.project,
        dataset=dataset,
        parameters={"n_bootstrap": 200, "seed": 5},
    )
    # Outside any atomic block here, so the job was published when the request committed.

    def finished() -> bool:
        report.refresh_from_db()
        return report.status in (ReportStatus.DONE, ReportStatus.FAILED)

    wait_until(finished, timeout=90)
    assert report.status == ReportStatus.DONE, (report.error, celery_worker_process.log[-3000:])
    result = json.loads(report.result_json)
    assert result["parameters"]["seed"] == 5
    assert report.data_hash == dataset.data_hash
    assert "agreement_report_compute_task" in celery_worker_process.log


def test_a_redelivered_job_does_nothing(project_roles, dataset, celery_worker_process):
    from analysis.tasks import agreement_report_compute_task

    report = agreement_report_request(
        actor=project_roles.lead,
        project=project_roles.project,
        dataset=dataset,
        parameters={"n_bootstrap": 50},
    )
    wait_until(lambda: AgreementReport.objects.get(pk=report.pk).status == ReportStatus.DONE)
    finished_at = AgreementReport.objects.get(pk=report.pk).finished_at
    # The same message again, as a broker redelivery would send it.
    agreement_report_compute_task.delay(report.pk)
    wait_until(lambda: celery_worker_process.log.count("succeeded") >= 2)
    assert AgreementReport.objects.get(pk=report.pk).finished_at == finished_at
