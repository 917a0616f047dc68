"""Agreement reports as background jobs: what happens when the queue or a worker fails.

* Queueing: `agreement_report_request` sends the job through `common.jobs.job_enqueue`;
  if the broker is down, `agreement_report_enqueue_failed` notes it on the report and
  the request answers 503 (the report stays queued and retryable).
* Recovery (Celery beat every few minutes, `agreement_reports_recover_task`): a report
  still `queued` after STALE_QUEUED_AFTER lost its message; one still `running` after
  STALE_RUNNING_AFTER outlived the task's hard time limit, so its worker died. Both
  are sent again; runs that died count against MAX_ATTEMPTS (in the audit log), after
  which the report is marked failed with the reason. A lost message costs no attempt,
  so a long broker outage fails nothing.
* `report_job_notice` says on the report's page what went wrong and what happens next.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from analysis.models import AgreementReport, ReportStatus
from common.exceptions import ServiceUnavailable
from common.jobs import QUEUE_DOWN_NOTE, job_enqueue
from common.models import AuditEvent
from common.services import audit_record

STALE_QUEUED_AFTER = timedelta(minutes=10)
# agreement_report_compute_task's hard time limit is 22 minutes: no live run is older.
STALE_RUNNING_AFTER = timedelta(minutes=25)
RECOVERY_EVERY = timedelta(minutes=5)  # CELERY_BEAT_SCHEDULE in config/settings/base.py
MAX_ATTEMPTS = 3
REQUEUE_ACTION = "agreement_report.requeue"


def agreement_report_enqueue_failed(report_id: int) -> None:
    """The broker refused the report's job: say so on the report (it stays queued)."""
    AgreementReport.objects.filter(pk=report_id, status=ReportStatus.QUEUED).update(
        error=QUEUE_DOWN_NOTE, updated_at=timezone.now()
    )


def agreement_report_enqueue(*, report: AgreementReport) -> None:
    """Send the report's job after the current transaction commits (or answer 503)."""
    from analysis.tasks import agreement_report_compute_task

    job_enqueue(
        task=agreement_report_compute_task,
        job_id=report.pk,
        on_failure=agreement_report_enqueue_failed,
    )


def _attempts(report: AgreementReport) -> int:
    """Runs so far: the first, plus one per recovery of a run that died."""
    return (
        1
        + AuditEvent.objects.filter(
            action=REQUEUE_ACTION, object_type=AgreementReport._meta.label, object_id=str(report.pk)
        ).count()
    )


def _stale(report: AgreementReport, now: datetime) -> bool:
    if report.status == ReportStatus.QUEUED:
        return report.updated_at < now - STALE_QUEUED_AFTER
    started = report.started_at or report.updated_at
    return report.status == ReportStatus.RUNNING and started < now - STALE_RUNNING_AFTER


def agreement_reports_recover(*, now: datetime | None = None) -> dict[str, list[int]]:
    """Send stuck reports again, or fail those out of attempts. Safe to run anywhere,
    any number of times: each report is re-checked under its row lock."""
    now = now or timezone.now()
    stuck = AgreementReport.objects.filter(
        status__in=[ReportStatus.QUEUED, ReportStatus.RUNNING],
        updated_at__lt=now - STALE_QUEUED_AFTER,
    ).values_list("pk", flat=True)
    done: dict[str, list[int]] = {"requeued": [], "failed": []}
    for report_id in list(stuck):
        try:
            outcome = _recover_one(report_id=report_id, now=now)
        except ServiceUnavailable:
            break  # the broker is down: the next run tries again
        if outcome:
            done[outcome].append(report_id)
    return done


@transaction.atomic
def _recover_one(*, report_id: int, now: datetime) -> str | None:
    report = (
        AgreementReport.objects.select_for_update(of=("self",))
        .select_related("project")
        .get(pk=report_id)
    )
    if not _stale(report, now):
        return None
    if report.status == ReportStatus.QUEUED:
        # Its message was lost (or never sent): send it again; no run was spent.
        report.error = f"Sent again at {now:%H:%M} UTC: no worker had picked it up."
        report.save(update_fields=["error", "updated_at"])
        agreement_report_enqueue(report=report)
        return "requeued"
    attempts = _attempts(report)
    why = "its worker stopped before finishing"
    if attempts >= MAX_ATTEMPTS:
        report.status = ReportStatus.FAILED
        report.progress_stage = "failed"
        report.finished_at = now
        report.error = (
            f"Gave up after {attempts} attempts: {why} each time (a worker that runs out "
            f"of memory or time stops like this). Request the report again, with fewer "
            f"bootstrap resamples if it is large."
        )
        report.save(
            update_fields=["status", "progress_stage", "finished_at", "error", "updated_at"]
        )
        audit_record(
            actor=None,
            project=report.project,
            action="agreement_report.failed",
            target=report,
            details={"error": report.error, "attempts": attempts},
        )
        return "failed"
    report.status = ReportStatus.QUEUED
    report.progress_stage, report.progress_percent = "queued", 0
    report.error = (
        f"Sent again at {now:%H:%M} UTC because {why} (attempt {attempts + 1} of {MAX_ATTEMPTS})."
    )
    report.save(
        update_fields=["status", "progress_stage", "progress_percent", "error", "updated_at"]
    )
    audit_record(
        actor=None,
        project=report.project,
        action=REQUEUE_ACTION,
        target=report,
        details={"reason": why, "attempt": attempts + 1},
    )
    agreement_report_enqueue(report=report)
    return "requeued"


def report_job_notice(report: AgreementReport, *, now: datetime | None = None) -> str:
    """What the report's page says while it waits: a dead worker, a queue that was
    down, a retry; empty when nothing went wrong."""
    now = now or timezone.now()
    if report.status == ReportStatus.RUNNING and _stale(report, now):
        minutes = int(STALE_RUNNING_AFTER.total_seconds() // 60)
        recovery = int(RECOVERY_EVERY.total_seconds() // 60)
        return (
            f"The worker computing this report seems to have stopped: no run takes longer "
            f"than {minutes} minutes. It will be sent again automatically within {recovery} "
            f"minutes, up to {MAX_ATTEMPTS} attempts in all."
        )
    if report.status in (ReportStatus.QUEUED, ReportStatus.RUNNING):
        return report.error
    return ""
