"""Export jobs and failures of the queue or a worker (see also analysis/jobs.py).

`export_job_request` sends its job through `common.jobs.job_enqueue`; if the broker is
down, `export_job_enqueue_failed` notes it on the job, the request answers 503 and
the job stays queued. Recovery is `exports.services.export_jobs_recover` (beat every
few minutes and at every worker start): a `running` job whose advisory lock is free
lost its worker, a `queued` one older than ten minutes its message; both are sent
again, and a run past MAX_ATTEMPTS marks the job failed. `export_job_notice`
tells the exports page which running jobs lost their worker.
"""

from __future__ import annotations

from django.db import connection
from django.utils import timezone

from common.jobs import QUEUE_DOWN_NOTE, job_enqueue
from exports.models import ExportJob, ExportStatus

RECOVERY_MINUTES = 5  # CELERY_BEAT_SCHEDULE in config/settings/base.py


def export_job_enqueue_failed(job_id: int) -> None:
    """The broker refused the job: say so on the job (it stays queued)."""
    ExportJob.objects.filter(pk=job_id, status=ExportStatus.QUEUED).update(
        error=QUEUE_DOWN_NOTE, updated_at=timezone.now()
    )


def export_job_enqueue(*, job_id: int) -> None:
    """Send the job after the current transaction commits (or answer 503)."""
    from exports.tasks import export_job_run_task

    job_enqueue(task=export_job_run_task, job_id=job_id, on_failure=export_job_enqueue_failed)


def _worker_alive(job_id: int) -> bool:
    from exports.services import LOCK_NAMESPACE

    # A run holds a session-level advisory lock on its job; it vanishes with the run's
    # database session, that is with its worker.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_NAMESPACE, job_id])
        free = bool(cursor.fetchone()[0])
        if free:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_NAMESPACE, job_id])
    return not free


def export_job_notice(job: ExportJob) -> str:
    """What happens next to a running job whose worker died; "" for any other job."""
    from exports.services import MAX_ATTEMPTS

    if job.status != ExportStatus.RUNNING or _worker_alive(job.pk):
        return ""
    if job.attempts >= MAX_ATTEMPTS:
        return (
            f"The worker writing this file stopped, on the last of {MAX_ATTEMPTS} "
            f"attempts; the job will be marked failed within {RECOVERY_MINUTES} minutes."
        )
    return (
        f"The worker writing this file stopped (it was restarted or ran out of "
        f"memory). The job starts again from the beginning within "
        f"{RECOVERY_MINUTES} minutes (attempt {job.attempts + 1} of {MAX_ATTEMPTS})."
    )
