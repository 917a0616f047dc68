"""A real Celery worker on Redis is killed (SIGKILL) in the middle of an export: no file
is marked done and no complete-looking file exists; a new worker finishes the job.

Recovery: the dead worker's message stays unacknowledged in Redis until the visibility
timeout (an hour), so redelivery alone would take that long. Each run holds a
PostgreSQL advisory lock on its job, which vanished with the killed worker's database
session; a starting worker runs `export_jobs_maintain`, which re-enqueues `running`
jobs whose lock is free. The run starts over from scratch (attempt 2).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from exports.models import ExportJob, ExportStatus
from exports.services import export_job_request
from tests.worker import wait_until

pytestmark = [pytest.mark.celery_worker, pytest.mark.slow]


@pytest.mark.django_db(transaction=True)
def test_a_killed_export_leaves_no_complete_looking_file_and_the_retry_finishes(
    committed, celery_worker_factory, settings
):
    annotated = committed
    env = {
        # Slow the export down deterministically: a tiny read block and a pause after
        # each (tests/slow_export_worker.py), so the kill lands mid-file.
        "SLOW_EXPORT_SECONDS": "0.4",
        "EXPORT_READ_BLOCK_BYTES": "2048",
        "EXPORT_PARQUET_ROW_GROUP": "4",
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
    }
    first = celery_worker_factory(app="tests.slow_export_worker", extra_env=env)
    job = export_job_request(
        actor=annotated.researcher,
        project=annotated.project,
        kind="annotations",
        fmt="parquet",
        task=annotated.task,
    )
    wait_until(lambda: ExportJob.objects.get(pk=job.pk).rows_done > 0, timeout=60)
    first.kill()

    job.refresh_from_db()
    assert job.status == ExportStatus.RUNNING and job.attempts == 1
    assert job.file_path == "" and job.sha256 == ""
    folder = Path(settings.MEDIA_ROOT) / "exports" / str(annotated.project.pk)
    left = sorted(p.name for p in folder.iterdir())
    assert left and all(name.endswith(".partial") for name in left), left

    second = celery_worker_factory(app="tests.slow_export_worker", extra_env=env)
    wait_until(
        lambda: ExportJob.objects.get(pk=job.pk).status in (ExportStatus.DONE, ExportStatus.FAILED),
        timeout=120,
    )
    job.refresh_from_db()
    assert job.status == ExportStatus.DONE, (job.error, second.log[-3000:])
    assert job.attempts == 2
    path = Path(settings.MEDIA_ROOT) / job.file_path
    frame = pd.read_parquet(path)
    assert (
        len(frame) == job.row_count == annotated.submitted + annotated.skipped + annotated.flagged
    )
    assert frame["assignment_id"].is_unique
    assert sorted(p.name for p in folder.iterdir()) == [path.name]
