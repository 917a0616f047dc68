"""Export jobs through the services: atomic files, idempotent re-runs, expiry."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from django.conf import settings
from django.utils import timezone

from common.models import AuditEvent
from exports import services
from exports.models import ExportJob, ExportStatus
from exports.services import export_job_request, export_job_run, export_jobs_expire


def _job(annotated, fmt="parquet", **kwargs):
    return export_job_request(
        actor=annotated.researcher,
        project=annotated.project,
        kind="annotations",
        fmt=fmt,
        task=annotated.task,
        enqueue=False,
        **kwargs,
    )


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet", "hf"])
def test_a_job_writes_a_complete_checked_file(annotated, fmt):
    job = _job(annotated, fmt)
    assert AuditEvent.objects.filter(action="export.request", object_id=str(job.pk)).exists()
    job = export_job_run(job_id=job.pk)
    assert job.status == ExportStatus.DONE, job.error
    path = Path(settings.MEDIA_ROOT) / job.file_path
    assert path.is_file() and not path.with_name(path.name + ".partial").exists()
    assert job.size_bytes == path.stat().st_size
    assert job.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert job.row_count == annotated.submitted + annotated.skipped + annotated.flagged
    assert job.expires_at == job.finished_at + timedelta(hours=settings.EXPORT_RETENTION_HOURS)
    assert AuditEvent.objects.filter(action="export.done", object_id=str(job.pk)).exists()
    if fmt == "csv":
        assert len(pd.read_csv(path)) == job.row_count


def test_a_rerun_of_a_done_job_does_nothing(annotated):
    job = export_job_run(job_id=_job(annotated).pk)
    again = export_job_run(job_id=job.pk)
    assert (again.attempts, again.finished_at, again.sha256) == (1, job.finished_at, job.sha256)


def test_a_job_left_running_by_a_dead_worker_starts_over(annotated):
    job = _job(annotated, "csv")
    first = export_job_run(job_id=job.pk)
    final = Path(settings.MEDIA_ROOT) / first.file_path
    # As if a worker had died after renaming but before marking done, with a stale partial.
    ExportJob.objects.filter(pk=job.pk).update(status=ExportStatus.RUNNING, file_path="", sha256="")
    final.write_bytes(b"truncated")
    final.with_name(final.name + ".partial").write_bytes(b"half")
    job = export_job_run(job_id=job.pk)
    assert job.status == ExportStatus.DONE and job.attempts == 2
    assert final.read_bytes() != b"truncated"
    assert not final.with_name(final.name + ".partial").exists()
    assert len(pd.read_csv(final)) == job.row_count


def test_a_failure_mid_write_leaves_no_file_and_marks_the_job_failed(committed, monkeypatch):
    annotated = committed
    job = _job(annotated, "csv")

    def broken(batches, schema):
        for _batch in batches:
            yield b"header\n"
            raise OSError("disk full")

    monkeypatch.setattr(services.csv_renderer, "render", broken)
    job = export_job_run(job_id=job.pk)
    assert job.status == ExportStatus.FAILED and "disk full" in job.error
    folder = Path(settings.MEDIA_ROOT) / "exports" / str(annotated.project.pk)
    assert list(folder.iterdir()) == []
    # The reader's COPY was ended at once: the default connection is usable.
    assert ExportJob.objects.get(pk=job.pk).status == ExportStatus.FAILED


def test_progress_is_written_while_a_job_runs(committed, settings, monkeypatch):
    import exports.selectors as selectors

    settings.EXPORT_READ_BLOCK_BYTES = 2048
    job = _job(committed, "jsonl")
    seen = []
    real = selectors.export_batches

    def watched(*, query, on_batch=None):
        def both(rows):
            on_batch(rows)
            seen.append(ExportJob.objects.get(pk=job.pk).rows_done)

        return real(query=query, on_batch=both)

    monkeypatch.setattr(selectors, "export_batches", watched)
    job = export_job_run(job_id=job.pk)
    assert job.status == ExportStatus.DONE and job.rows_expected == job.row_count
    assert len(seen) > 2 and seen == sorted(seen) and 0 < seen[0] < job.row_count


def test_a_locked_job_is_left_to_its_runner(annotated):
    from django.db import connection

    job = _job(annotated, "csv")
    # Another session (a live worker) holds the job's lock.
    other = connection.get_new_connection(connection.get_connection_params())
    other.autocommit = True
    other.execute("SELECT pg_advisory_lock(%s, %s)", [services.LOCK_NAMESPACE, job.pk])
    try:
        assert export_job_run(job_id=job.pk).status == ExportStatus.QUEUED
    finally:
        other.execute("SELECT pg_advisory_unlock(%s, %s)", [services.LOCK_NAMESPACE, job.pk])
        other.close()
    assert export_job_run(job_id=job.pk).status == ExportStatus.DONE


def test_expired_files_are_deleted(annotated):
    job = export_job_run(job_id=_job(annotated, "csv").pk)
    path = Path(settings.MEDIA_ROOT) / job.file_path
    assert export_jobs_expire(now=timezone.now()) == 0
    assert export_jobs_expire(now=job.expires_at + timedelta(seconds=1)) == 1
    job.refresh_from_db()
    assert job.status == ExportStatus.EXPIRED and not path.exists() and job.file_path == ""


def test_report_jobs(annotated, task_report):
    for fmt in ("json", "csv_zip", "html", "pdf"):
        job = export_job_request(
            actor=annotated.researcher,
            project=annotated.project,
            kind="report",
            fmt=fmt,
            report=task_report,
            enqueue=False,
        )
        job = export_job_run(job_id=job.pk)
        assert job.status == ExportStatus.DONE, job.error
        assert (Path(settings.MEDIA_ROOT) / job.file_path).stat().st_size == job.size_bytes
