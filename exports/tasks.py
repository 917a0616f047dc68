"""Celery interfaces of the exports app: each takes ids and calls one service."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from celery.signals import worker_ready
from django.db import InterfaceError, OperationalError

from exports.services import export_job_run, export_jobs_maintain


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    retry_backoff_max=300,
    max_retries=5,
    soft_time_limit=60 * 60,
    time_limit=65 * 60,
)
def export_job_run_task(job_id: int) -> str:
    """Write one export file; idempotent (done/failed jobs and locked jobs are left alone)."""
    return export_job_run(job_id=job_id).status


@shared_task(acks_late=True, soft_time_limit=5 * 60, time_limit=6 * 60)
def export_jobs_maintain_task() -> dict[str, Any]:
    """Re-enqueue exports whose worker died and delete expired files (beat, worker start)."""
    return export_jobs_maintain()


@worker_ready.connect
def _maintain_on_worker_start(**_: Any) -> None:
    # A worker that starts may be replacing one that was killed mid-export: with the
    # Redis visibility timeout (an hour) its message would wait that long, while the
    # job's advisory lock shows at once that nobody is working on it.
    export_jobs_maintain_task.delay()
