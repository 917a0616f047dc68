"""Jobs never stick: a broker that is down, a worker that died, and the beat schedule.

The broker is made unreachable for real: the Celery app is pointed at a local port
nothing listens on, so publishing fails as it would with Redis down. Requests then
answer 503 (JSON on the API, the error page in HTML), the report or export stays
queued with a note, and once the broker is back the periodic recovery sends it again
and a real worker finishes it.
"""

from __future__ import annotations

import io
import socket
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone

from analysis.jobs import MAX_ATTEMPTS, agreement_reports_recover
from analysis.models import AgreementReport, ReportStatus
from common.jobs import QUEUE_DOWN_NOTE
from common.models import AuditEvent
from exports.models import ExportJob, ExportStatus
from exports.services import export_jobs_recover
from tests.conftest import api_as
from tests.worker import wait_until

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "annotations-example.csv"


@pytest.fixture
def dataset(project_roles):
    from analysis.services import dataset_import

    return dataset_import(
        actor=project_roles.researcher,
        project=project_roles.project,
        name="example",
        stream=io.BytesIO(EXAMPLE.read_bytes()),
        fmt="csv",
        filename="annotations-example.csv",
    )


def _point_celery_at(url: str) -> None:
    from config.celery import app

    app.conf.broker_url = app.conf.broker_write_url = app.conf.broker_read_url = url
    # Forget connections made to the previous address (as Celery does after a fork).
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def broker_down():
    from config.celery import app

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    working = app.conf.broker_write_url
    _point_celery_at(f"redis://127.0.0.1:{closed_port}/0")
    yield lambda: _point_celery_at(working)
    _point_celery_at(working)


def _report_request(client, project_roles, dataset):
    return client.post(
        f"/api/projects/{project_roles.project.slug}/reports/request/",
        {"dataset_id": dataset.pk, "parameters": {"n_bootstrap": 50}},
        format="json",
    )


def _export_request(client, project_roles):
    return client.post(
        f"/api/projects/{project_roles.project.slug}/exports/request/",
        {"kind": "annotations", "format": "parquet", "dataset": "example"},
        format="json",
    )


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_a_broker_outage_answers_503_and_the_jobs_recover_when_it_returns(
    project_roles, dataset, celery_worker_factory, broker_down, settings, tmp_path
):
    settings.MEDIA_ROOT = str(tmp_path)
    api = api_as(project_roles.researcher)

    report_response = _report_request(api, project_roles, dataset)
    assert report_response.status_code == 503
    assert "job queue cannot be reached" in report_response.json()["detail"]
    assert report_response["Retry-After"] == "30"
    export_response = _export_request(api, project_roles)
    assert export_response.status_code == 503

    # The rows were committed and say what is going on; nothing is lost or stuck.
    report = AgreementReport.objects.get()
    job = ExportJob.objects.get()
    assert (report.status, report.error) == (ReportStatus.QUEUED, QUEUE_DOWN_NOTE)
    assert (job.status, job.error) == (ExportStatus.QUEUED, QUEUE_DOWN_NOTE)

    # The HTML form answers with the error page and 503, not a server error.
    page = Client()
    page.force_login(project_roles.researcher)
    html = page.post(
        f"/p/{project_roles.project.slug}/analysis/datasets/{dataset.pk}/reports/",
        {"n_bootstrap": 50, "seed": 1, "confidence_level": 0.95},
    )
    assert html.status_code == 503
    assert "Try again in a moment" in html.content.decode()
    # The report page tells the user why it waits.
    waiting = page.get(f"/p/{project_roles.project.slug}/analysis/reports/{report.pk}/")
    assert QUEUE_DOWN_NOTE in waiting.content.decode()

    # While the broker is down the recovery cannot send anything, and fails nothing.
    later = timezone.now() + timedelta(minutes=11)
    assert agreement_reports_recover(now=later) == {"requeued": [], "failed": []}
    report.refresh_from_db()
    assert report.status == ReportStatus.QUEUED

    # The broker is back: beat's recovery sends the jobs again and a worker runs them.
    restore = broker_down
    restore()
    worker = celery_worker_factory(extra_env={"MEDIA_ROOT": str(tmp_path)})
    recovered = agreement_reports_recover(now=later)
    assert set(recovered["requeued"]) == set(AgreementReport.objects.values_list("pk", flat=True))
    ExportJob.objects.update(updated_at=timezone.now() - timedelta(minutes=11))
    assert export_jobs_recover() == [job.pk]

    def finished() -> bool:
        statuses = set(AgreementReport.objects.values_list("status", flat=True))
        return statuses == {ReportStatus.DONE} and ExportJob.objects.get().status in (
            ExportStatus.DONE,
            ExportStatus.FAILED,
        )

    wait_until(finished, timeout=120)
    job.refresh_from_db()
    assert job.status == ExportStatus.DONE, (job.error, worker.log[-3000:])


def test_a_report_whose_worker_died_is_sent_again_then_given_up(project_roles, dataset):
    from analysis.services import agreement_report_request

    report = agreement_report_request(
        actor=project_roles.researcher,
        project=project_roles.project,
        dataset=dataset,
        enqueue=False,
    )
    page = Client()
    page.force_login(project_roles.researcher)
    url = f"/p/{project_roles.project.slug}/analysis/reports/{report.pk}/"
    for attempt in range(1, MAX_ATTEMPTS + 1):
        # A worker took it and died: `running`, started longer ago than any run may take.
        started = timezone.now() - timedelta(minutes=30)
        AgreementReport.objects.filter(pk=report.pk).update(
            status=ReportStatus.RUNNING, started_at=started, updated_at=started
        )
        body = page.get(url).content.decode()
        assert "seems to have stopped" in body and "sent again automatically" in body
        # (The resend is an on_commit callback: inside this test's transaction it never runs.)
        outcome = agreement_reports_recover()
        report.refresh_from_db()
        if attempt < MAX_ATTEMPTS:
            assert outcome["requeued"] == [report.pk]
            assert report.status == ReportStatus.QUEUED
            assert f"attempt {attempt + 1} of {MAX_ATTEMPTS}" in report.error
        else:
            assert outcome["failed"] == [report.pk]
            assert report.status == ReportStatus.FAILED
            assert report.error.startswith(f"Gave up after {MAX_ATTEMPTS} attempts")
    assert AuditEvent.objects.filter(action="agreement_report.requeue").count() == MAX_ATTEMPTS - 1
    assert "Gave up after" in page.get(url).content.decode()


def test_a_lost_report_message_is_resent_without_spending_an_attempt(project_roles, dataset):
    from analysis.services import agreement_report_request

    report = agreement_report_request(
        actor=project_roles.researcher,
        project=project_roles.project,
        dataset=dataset,
        enqueue=False,
    )
    assert agreement_reports_recover()["requeued"] == []  # not stale yet
    later = timezone.now() + timedelta(minutes=11)
    for _ in range(MAX_ATTEMPTS + 1):
        assert agreement_reports_recover(now=later)["requeued"] == [report.pk]
        later += timedelta(minutes=11)
    report.refresh_from_db()
    assert report.status == ReportStatus.QUEUED and "no worker had picked it up" in report.error


def test_the_exports_page_says_when_a_worker_died(project_roles, dataset):
    from exports.services import export_job_request

    job = export_job_request(
        actor=project_roles.researcher,
        project=project_roles.project,
        kind="annotations",
        fmt="parquet",
        dataset=dataset,
        enqueue=False,
    )
    ExportJob.objects.filter(pk=job.pk).update(status=ExportStatus.RUNNING, attempts=1)
    page = Client()
    page.force_login(project_roles.researcher)
    body = page.get(f"/p/{project_roles.project.slug}/exports/").content.decode()
    # Nobody holds the job's advisory lock: its worker is gone.
    assert "The worker writing this file stopped" in body
    assert "attempt 2 of 5" in body


def test_beat_ships_with_the_project_and_names_real_tasks(settings):
    from config.celery import app

    app.loader.import_default_modules()
    schedule = settings.CELERY_BEAT_SCHEDULE
    assert {entry["task"] for entry in schedule.values()} == {
        "annotation.tasks.slot_leases_expire_task",
        "analysis.tasks.agreement_reports_recover_task",
        "exports.tasks.export_jobs_maintain_task",
    }
    for entry in schedule.values():
        assert entry["task"] in app.tasks, entry["task"]
    assert app.conf.beat_schedule == schedule
