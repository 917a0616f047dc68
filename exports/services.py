"""Writes of the exports app: export jobs, direct downloads, and report manifests.

How a job stays honest (docs/exports.md):

* A run holds a PostgreSQL advisory lock on its job for as long as it works. The lock
  lives in the worker's database session, so it disappears the moment the worker dies,
  and a second delivery of the same job (broker redelivery, a retry, recovery) that
  cannot take it does nothing.
* The file is written to ``<name>.partial``, fsynced, checked (rows the database sent
  == rows written; Parquet footers re-read), renamed into place with ``os.replace`` and
  only then marked ``done`` in one short transaction. A run that starts over deletes
  any stale partial or unconfirmed final file first. So a ``done`` job always names a
  complete file, and a killed worker leaves at most a ``.partial``.
* ``export_jobs_maintain`` re-enqueues jobs left ``running`` whose lock is free (their
  worker died) and deletes expired files; every worker runs it when it starts, and a
  beat schedule or ``manage.py export cleanup`` may run it too.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import os
import secrets
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from analysis.models import AgreementReport, AnnotationDataset, ReportSource
from analysis.selectors import report_document_json, report_result
from common.exceptions import ApplicationError, ServiceUnavailable
from common.models import Project, ProjectRole, User
from common.selectors import project_roles_for_user
from common.services import audit_record, user_ensure_pseudonym
from common.versions import library_versions
from exports import selectors
from exports.jobs import export_job_enqueue
from exports.layout import ExportQuery
from exports.models import (
    ANNOTATION_FORMATS,
    REPORT_FORMATS,
    ExportFormat,
    ExportJob,
    ExportKind,
    ExportStatus,
)
from exports.renderers import csv as csv_renderer
from exports.renderers import hf, jsonl, parquet

logger = logging.getLogger(__name__)

MANIFEST_VERSION = "1.0"
MAX_ATTEMPTS = 5
# Namespace of the jobs' advisory locks (pg_try_advisory_lock(namespace, job id)).
LOCK_NAMESPACE = 0x4A42
TASK_FILTERS = {"pools", "guideline_versions", "date_from", "date_to", "systems"}
DATASET_FILTERS = {"pools", "guideline_versions"}
IDENTITIES = ("pseudonym", "username")
TABLE_RENDERERS: dict[str, Any] = {
    "csv": csv_renderer,
    "jsonl": jsonl,
    "parquet": parquet,
    "hf": hf,
}
# Report renderers (and the analysis app's compute, with scipy and friends) are imported
# when used, so a raw export's process stays small (bench/export.py measures it).
REPORT_RENDERERS = {
    "csv_zip": "exports.renderers.report_csv",
    "html": "exports.renderers.report_html",
    "pdf": "exports.renderers.report_pdf",
}
REPORT_EXTENSIONS = {"json": "json", "csv_zip": "zip", "html": "html", "pdf": "pdf"}
REPORT_TYPES = {
    "json": "application/json",
    "csv_zip": "application/zip",
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
}


class DataChanged(ApplicationError):
    """The data a manifest describes has changed since the report was computed."""


class ExportTooLarge(ApplicationError):
    """Too many rows to stream directly; request an export job instead."""


@dataclass(frozen=True)
class Download:
    filename: str
    content_type: str
    chunks: Iterator[bytes]


# -- validation -------------------------------------------------------------------------


def _moment(value: Any, *, end: bool) -> str:
    """An ISO date or datetime as an aware ISO datetime; a date `to` means the whole day."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day, tzinfo=UTC)
        if end:
            moment += timedelta(days=1)
    else:
        text = str(value).strip()
        parsed_date = parse_date(text) if len(text) == 10 else None
        if parsed_date is not None:
            return _moment(parsed_date, end=end)
        parsed = parse_datetime(text)
        if parsed is None:
            raise ApplicationError(f"'{value}' is not a date (YYYY-MM-DD) or an ISO datetime.")
        moment = parsed
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, UTC)
    return moment.isoformat()


def export_filters_clean(*, filters: Mapping[str, Any] | None, source: str) -> dict[str, Any]:
    """Checked filters as stored on a job; ApplicationError names the bad one.

    Tasks: ``pools`` and ``systems`` (names), ``guideline_versions`` (numbers),
    ``date_from`` / ``date_to`` (dates or ISO datetimes; a date ``date_to`` includes
    that day). Datasets: ``pools`` and ``guideline_versions`` only.
    """
    allowed = TASK_FILTERS if source == "task" else DATASET_FILTERS
    cleaned: dict[str, Any] = {}
    for key, value in (filters or {}).items():
        if value in (None, "", []):
            continue
        if key not in allowed:
            raise ApplicationError(
                f"Filter '{key}' does not apply to a {source}; use {', '.join(sorted(allowed))}."
            )
        if key in ("date_from", "date_to"):
            cleaned[key] = _moment(value, end=key == "date_to")
            continue
        values = value if isinstance(value, list | tuple) else [value]
        if key == "guideline_versions" and source == "task":
            try:
                cleaned[key] = sorted({int(v) for v in values})
            except (TypeError, ValueError) as exc:
                raise ApplicationError("guideline_versions must be version numbers.") from exc
        else:
            cleaned[key] = sorted({str(v) for v in values})
    return cleaned


def _identity(*, actor: User | None, project: Project, options: Mapping[str, Any]) -> str:
    identity = str((options or {}).get("identity") or "pseudonym")
    if identity not in IDENTITIES:
        raise ApplicationError(f"identity must be one of {', '.join(IDENTITIES)}.")
    if identity == "username" and (
        actor is None
        or ProjectRole.LEAD not in project_roles_for_user(actor=actor, project=project)
    ):
        raise ApplicationError("Only a lead of the project may export real usernames.")
    return identity


def _query_filters(filters: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(filters)
    for key in ("date_from", "date_to"):
        if key in out:
            out[key] = datetime.fromisoformat(out[key])
    return out


# -- raw annotation exports -------------------------------------------------------------


def _ensure_pseudonyms(*, task: Any) -> None:
    users = User.objects.filter(assignments__unit__task=task, pseudonym__isnull=True).distinct()
    for user in users:
        user_ensure_pseudonym(user=user)


def _source_query(
    *, task: Any, dataset: AnnotationDataset | None, filters: Mapping[str, Any], identity: str
) -> ExportQuery:
    if task is not None:
        _ensure_pseudonyms(task=task)
        return selectors.task_export_query(
            task=task, filters=_query_filters(filters), identity=identity
        )
    assert dataset is not None
    return selectors.dataset_export_query(dataset=dataset, filters=filters)


def export_card(
    *, task: Any, dataset: AnnotationDataset | None, filters: Mapping[str, Any], identity: str
) -> dict[str, Any]:
    """Facts for the Hugging Face dataset card and the Parquet metadata."""
    if task is not None:
        config = selectors.task_configuration(task=task)
        guideline = config["guideline"]
        collection = {
            "Project": task.project.slug,
            "Task": f"{task.title} (`{task.slug}`), mode {task.mode}, pairing {task.pairing}",
            "Guideline": f"{guideline['name']} v{guideline['version']} (sha256 `{guideline['sha256']}`)",
            "Pools": "; ".join(
                f"{p['name']} ({p['kind']}, k={p['redundancy']}, cap={p['per_annotator_cap']}, "
                f"gold share={p['gold_share']})"
                for p in config["pools"]
            )
            or "none",
            "Units": f"{config['n_units']} ({config['n_gold_units']} gold)",
            "Annotators": "pseudonymous ids"
            if identity == "pseudonym"
            else "usernames (lead export)",
            "Blinding": "annotators saw responses as A, B, ... in a counterbalanced order; "
            "`system.<L>` de-blinds each position",
            "Filters": orjson.dumps(dict(filters)).decode() if filters else "none",
        }
        title = f"{task.title}: annotations"
        metadata = {"task": config, "filters": dict(filters), "identity": identity}
    else:
        assert dataset is not None
        collection = {
            "Project": dataset.project.slug,
            "Dataset": f"{dataset.name} (imported from {dataset.source_filename or 'a file'})",
            "Questions": orjson.dumps(dataset.questions).decode(),
            "Data hash": dataset.data_hash,
            "Filters": orjson.dumps(dict(filters)).decode() if filters else "none",
        }
        title = f"{dataset.name}: annotations"
        metadata = {
            "dataset": dataset.name,
            "data_hash": dataset.data_hash,
            "filters": dict(filters),
        }
    metadata |= {
        "platform_version": settings.PLATFORM_VERSION,
        "exported_at": timezone.now().isoformat(),
    }
    return {
        "title": title,
        "summary": "Human judgements of LLM outputs collected with JudgeBench: one row per "
        "annotation (skipped and flagged servings included, see `status`).",
        "collection": collection,
        "manifest_json": orjson.dumps(
            metadata, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS
        ).decode(),
        "metadata": metadata,
    }


def _bundle_tables(
    *, task: Any, dataset: AnnotationDataset | None, filters: Mapping[str, Any], identity: str
) -> dict[str, pa.Table]:
    """The study bundle the Hugging Face layout carries beside the raw rows."""
    if task is not None:
        return selectors.task_bundle_tables(
            task=task, filters=_query_filters(filters), identity=identity
        )
    assert dataset is not None
    return selectors.dataset_bundle_tables(dataset=dataset, filters=filters)


def _render_table(
    *,
    fmt: str,
    query: ExportQuery,
    card: Mapping[str, Any],
    on_batch: Callable[[int], None] | None,
    counter: list[int],
    tables: Callable[[], Mapping[str, pa.Table]] | None = None,
) -> Iterator[bytes]:
    source = selectors.export_batches(query=query, on_batch=on_batch)

    def counted() -> Iterator[pa.RecordBatch]:
        for batch in source:
            counter[0] += batch.num_rows
            yield batch

    schema = query.schema
    row_group = int(settings.EXPORT_PARQUET_ROW_GROUP)
    if fmt == "parquet":
        rendered = parquet.render(
            counted(), schema, row_group_rows=row_group, metadata=card["metadata"]
        )
    elif fmt == "hf":
        rendered = hf.render(
            counted(),
            schema,
            card=card,
            row_group_rows=row_group,
            metadata=card["metadata"],
            tables=tables() if tables is not None else None,
        )
    else:
        rendered = TABLE_RENDERERS[fmt].render(counted(), schema)

    def guarded() -> Iterator[bytes]:
        # If rendering or writing stops early, end the COPY and its connection now
        # rather than whenever the suspended reader is garbage-collected.
        try:
            yield from rendered
        finally:
            source.close()

    return guarded()


def _table_filename(
    *, project: Project, task: Any, dataset: AnnotationDataset | None, fmt: str
) -> str:
    name = task.slug if task is not None else f"dataset-{dataset.pk if dataset else 'x'}"
    extension = TABLE_RENDERERS[fmt].EXTENSION
    suffix = "-hf" if fmt == "hf" else ""
    return f"{project.slug}-{name}-annotations{suffix}.{extension}"


def annotations_download(
    *,
    actor: User,
    project: Project,
    fmt: str,
    task: Any = None,
    dataset: AnnotationDataset | None = None,
    filters: Mapping[str, Any] | None = None,
    options: Mapping[str, Any] | None = None,
    max_rows: int | None = None,
) -> Download:
    """A direct, streamed download of raw annotations (CSV or JSONL) for small sources.

    Raises ExportTooLarge above `max_rows` (default EXPORT_DIRECT_MAX_ROWS): those go
    through a job. The audit row is written before the first byte is sent.
    """
    if fmt not in ("csv", "jsonl"):
        raise ApplicationError("Direct downloads are CSV or JSONL; other formats run as jobs.")
    source = _check_source(project=project, task=task, dataset=dataset)
    cleaned = export_filters_clean(filters=filters, source=source)
    identity = (
        _identity(actor=actor, project=project, options=options or {}) if task else "pseudonym"
    )
    query = _source_query(task=task, dataset=dataset, filters=cleaned, identity=identity)
    rows = selectors.export_row_count(query=query)
    limit = settings.EXPORT_DIRECT_MAX_ROWS if max_rows is None else max_rows
    if rows > limit:
        raise ExportTooLarge(
            f"{rows} rows is more than a direct download takes ({limit}); start an export job."
        )
    with transaction.atomic():
        audit_record(
            actor=actor,
            project=project,
            action="export.download",
            target=task or dataset,
            details={
                "kind": "annotations",
                "format": fmt,
                "filters": cleaned,
                "identity": identity,
                "rows": rows,
            },
        )
    card: dict[str, Any] = {"metadata": {}}
    return Download(
        filename=_table_filename(project=project, task=task, dataset=dataset, fmt=fmt),
        content_type=TABLE_RENDERERS[fmt].CONTENT_TYPE,
        chunks=_render_table(fmt=fmt, query=query, card=card, on_batch=None, counter=[0]),
    )


def annotations_export(
    *,
    actor: User,
    project: Project,
    fmt: str,
    task: Any = None,
    dataset: AnnotationDataset | None = None,
    filters: Mapping[str, Any] | None = None,
    options: Mapping[str, Any] | None = None,
    as_job: bool = False,
) -> Download | ExportJob:
    """Stream a small CSV/JSONL export directly, or queue a job for anything else."""
    if fmt in ("csv", "jsonl") and not as_job:
        try:
            return annotations_download(
                actor=actor,
                project=project,
                fmt=fmt,
                task=task,
                dataset=dataset,
                filters=filters,
                options=options,
            )
        except ExportTooLarge:
            pass
    return export_job_request(
        actor=actor,
        project=project,
        kind=ExportKind.ANNOTATIONS,
        fmt=fmt,
        task=task,
        dataset=dataset,
        filters=filters,
        options=options,
    )


def annotations_write(
    *,
    path: Path,
    fmt: str,
    project: Project,
    actor: User | None,
    task: Any = None,
    dataset: AnnotationDataset | None = None,
    filters: Mapping[str, Any] | None = None,
    options: Mapping[str, Any] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> int:
    """Write a raw export to `path` in-process (the command line); returns the row count.

    Written atomically like a job's file (a partial renamed into place).
    """
    source = _check_source(project=project, task=task, dataset=dataset)
    cleaned = export_filters_clean(filters=filters, source=source)
    identity = (
        _identity(actor=actor, project=project, options=options or {}) if task else "pseudonym"
    )
    query = _source_query(task=task, dataset=dataset, filters=cleaned, identity=identity)
    total = selectors.export_row_count(query=query)
    card = export_card(task=task, dataset=dataset, filters=cleaned, identity=identity)
    with transaction.atomic():
        audit_record(
            actor=actor,
            project=project,
            action="export.write",
            target=task or dataset,
            details={
                "kind": "annotations",
                "format": fmt,
                "filters": cleaned,
                "identity": identity,
                "rows": total,
            },
        )
    counter = [0]
    chunks = _render_table(
        fmt=fmt,
        query=query,
        card=card,
        on_batch=(lambda rows: on_progress(rows, total)) if on_progress else None,
        counter=counter,
        tables=lambda: _bundle_tables(
            task=task, dataset=dataset, filters=cleaned, identity=identity
        ),
    )
    _write_atomically(path=Path(path), chunks=chunks, fmt=fmt, counter=counter)
    return counter[0]


def _check_source(*, project: Project, task: Any, dataset: AnnotationDataset | None) -> str:
    if task is not None and dataset is None:
        kind, project_id = "task", task.project_id
    elif dataset is not None and task is None:
        kind, project_id = "dataset", dataset.project_id
    else:
        raise ApplicationError("Choose exactly one source: a task or a dataset.")
    if project_id != project.pk:
        raise ApplicationError("That source belongs to another project.")
    return kind


# -- report exports ---------------------------------------------------------------------


def report_manifest(*, report: AgreementReport) -> dict[str, Any]:
    """Everything needed to recompute `report` and check the numbers (docs/exports.md)."""
    source: dict[str, Any] = {"kind": report.source_kind, "project": report.project.slug}
    task_config = None
    if report.source_kind == ReportSource.TASK:
        source["task"] = report.source_ref
        task = selectors.task_get_by_slug(project=report.project, slug=report.source_ref)
        task_config = selectors.task_configuration(task=task)
    else:
        source |= {
            "dataset": report.dataset.name if report.dataset else None,
            "dataset_id": report.dataset_id,
            "dataset_data_hash": report.dataset.data_hash if report.dataset else None,
        }
    result = report.result_json.encode("utf-8")
    return {
        "manifest_version": MANIFEST_VERSION,
        "report_id": report.pk,
        "source": source,
        "task": task_config,
        "filters": report.filters,
        "parameters": report.parameters,
        "seed": report.parameters.get("seed"),
        "data_hash": report.data_hash,
        "result_sha256": hashlib.sha256(result).hexdigest(),
        "report_schema_version": (report_result(report=report) or {}).get("schema_version"),
        "platform_version": report.platform_version,
        # The libraries installed where this manifest is written (common.versions): a
        # byte-identical recomputation needs these versions; report_recompute_from_manifest
        # checks the bytes.
        "libraries": library_versions(),
        "computed_at": report.finished_at.isoformat() if report.finished_at else None,
    }


def report_render(*, report: AgreementReport, fmt: str) -> tuple[str, str, bytes]:
    """(filename, content type, bytes) of a finished report in `fmt`; pure given the report."""
    if fmt not in REPORT_FORMATS:
        raise ApplicationError(f"Report formats are {', '.join(REPORT_FORMATS)}.")
    manifest = report_manifest(report=report)
    filename = f"{report.project.slug}-agreement-report-{report.pk}.{REPORT_EXTENSIONS[fmt]}"
    from analysis.services import canonical_json

    if fmt == "json":
        document = report_document_json(report=report)
        # The manifest goes in front; the stored report bytes stay untouched behind it.
        body = b'{"manifest":' + canonical_json(manifest) + b"," + document[1:]
        return filename, REPORT_TYPES[fmt], body
    result = report_result(report=report) or {}
    title = f"Agreement report #{report.pk} ({_source_label(report)})"
    renderer = importlib.import_module(REPORT_RENDERERS[fmt])
    if fmt == "csv_zip":
        return filename, REPORT_TYPES[fmt], renderer.render(result, manifest)
    return filename, REPORT_TYPES[fmt], renderer.render(result, manifest, title=title)


def _source_label(report: AgreementReport) -> str:
    if report.source_kind == ReportSource.DATASET:
        return f"dataset {report.dataset.name}" if report.dataset else "deleted dataset"
    return f"task {report.source_ref}"


def report_download(*, actor: User | None, report: AgreementReport, fmt: str) -> Download:
    filename, content_type, body = report_render(report=report, fmt=fmt)
    with transaction.atomic():
        audit_record(
            actor=actor,
            project=report.project,
            action="export.download",
            target=report,
            details={"kind": "report", "format": fmt, "data_hash": report.data_hash},
        )
    return Download(filename=filename, content_type=content_type, chunks=iter([body]))


def report_write(*, actor: User | None, report: AgreementReport, fmt: str, path: Path) -> int:
    """Write a finished report in `fmt` to `path` (atomically); returns the size."""
    _, _, body = report_render(report=report, fmt=fmt)
    with transaction.atomic():
        audit_record(
            actor=actor,
            project=report.project,
            action="export.write",
            target=report,
            details={"kind": "report", "format": fmt, "data_hash": report.data_hash},
        )
    size, _ = _write_atomically(path=Path(path), chunks=iter([body]), fmt=fmt)
    return size


def report_recompute_from_manifest(*, manifest: Mapping[str, Any]) -> dict[str, Any]:
    """Recompute a report from its manifest alone and return the result dict.

    Loads the same source with the same filters and runs the analysis app's compute
    with the manifest's parameters and seed; raises DataChanged when the data no longer
    hashes to the manifest's ``data_hash`` or a task's guideline text changed.
    ``canonical_json`` of the result equals the exported report byte for byte
    (``sha256`` = ``result_sha256``) when nothing changed.
    """
    if manifest.get("manifest_version") != MANIFEST_VERSION:
        raise ApplicationError(f"Unknown manifest version {manifest.get('manifest_version')!r}.")
    source = manifest.get("source") or {}
    project = Project.objects.filter(slug=source.get("project")).first()
    if project is None:
        raise ApplicationError(f"No project '{source.get('project')}'.")
    if source.get("kind") not in ReportSource.values:
        raise ApplicationError("The manifest names no known source kind (task or dataset).")
    shadow = AgreementReport(
        project=project,
        source_kind=str(source.get("kind")),
        filters=manifest.get("filters") or {},
        parameters=manifest["parameters"],
    )
    if source.get("kind") == ReportSource.TASK:
        task = selectors.task_get_by_slug(project=project, slug=str(source.get("task")))
        expected = ((manifest.get("task") or {}).get("guideline") or {}).get("sha256")
        actual = selectors.guideline_digest(version=task.guideline_version)
        if expected and expected != actual:
            raise DataChanged("The task's guideline version is not the one in the manifest.")
        shadow.source_ref = task.slug
    else:
        shadow.dataset = selectors.dataset_get_by_name(
            project=project, name=str(source.get("dataset"))
        )
    # The analysis app's own compute path, so a recomputation can never drift from how
    # reports are computed; it writes nothing for an unsaved report.
    from analysis.services import agreement_report_result_compute

    data_hash, result = agreement_report_result_compute(shadow)
    if data_hash != manifest.get("data_hash"):
        raise DataChanged(
            f"The data changed since the report was computed: hash {data_hash} != "
            f"{manifest.get('data_hash')}."
        )
    return orjson.loads(result)


# -- jobs -------------------------------------------------------------------------------


@transaction.atomic
def export_job_request(
    *,
    actor: User | None,
    project: Project,
    kind: str,
    fmt: str,
    task: Any = None,
    dataset: AnnotationDataset | None = None,
    report: AgreementReport | None = None,
    filters: Mapping[str, Any] | None = None,
    options: Mapping[str, Any] | None = None,
    enqueue: bool = True,
) -> ExportJob:
    """Queue an export; the file is written by a Celery job after this commits."""
    options = dict(options or {})
    if kind == ExportKind.ANNOTATIONS:
        if fmt not in ANNOTATION_FORMATS:
            raise ApplicationError(f"Annotation formats are {', '.join(ANNOTATION_FORMATS)}.")
        source = _check_source(project=project, task=task, dataset=dataset)
        cleaned = export_filters_clean(filters=filters, source=source)
        options["identity"] = (
            _identity(actor=actor, project=project, options=options) if task else "pseudonym"
        )
        report = None
    elif kind == ExportKind.REPORT:
        if fmt not in REPORT_FORMATS:
            raise ApplicationError(f"Report formats are {', '.join(REPORT_FORMATS)}.")
        if report is None or report.project_id != project.pk:
            raise ApplicationError("Choose a finished report of this project.")
        if not report.result_json:
            raise ApplicationError("That report is not finished yet.")
        task = dataset = None
        cleaned = {}
    else:
        raise ApplicationError("kind must be 'annotations' or 'report'.")
    job = ExportJob.objects.create(
        project=project,
        kind=kind,
        format=fmt,
        task=task,
        dataset=dataset,
        report=report,
        filters=cleaned,
        options=options,
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    audit_record(
        actor=actor,
        project=project,
        action="export.request",
        target=job,
        details={
            "kind": kind,
            "format": fmt,
            "source": _job_source(job),
            "filters": cleaned,
            "options": options,
        },
    )
    if enqueue:
        # After the commit; a broker that is down answers 503 and leaves it retryable.
        export_job_enqueue(job_id=job.pk)
    return job


def _job_source(job: ExportJob) -> str:
    if job.task is not None:
        return f"task {job.task.slug}"
    if job.dataset is not None:
        return f"dataset {job.dataset.name}"
    return f"report {job.report_id}"


def _lock(job_id: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_NAMESPACE, job_id])
        return bool(cursor.fetchone()[0])


def _unlock(job_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_NAMESPACE, job_id])


def export_root() -> Path:
    return Path(settings.MEDIA_ROOT) / "exports"


def _job_paths(job: ExportJob) -> tuple[Path, Path]:
    """(final, partial) absolute paths; the name is fixed per job, so a re-run finds and
    removes what an earlier attempt left."""
    token = job.options.get("_file_token") or ""
    extension = (
        TABLE_RENDERERS[job.format].EXTENSION
        if job.kind == ExportKind.ANNOTATIONS
        else REPORT_EXTENSIONS[job.format]
    )
    final = export_root() / str(job.project_id) / f"job-{job.pk}-{token}.{extension}"
    return final, final.with_name(final.name + ".partial")


def _download_name(job: ExportJob) -> str:
    if job.kind == ExportKind.REPORT:
        return (
            f"{job.project.slug}-agreement-report-{job.report_id}.{REPORT_EXTENSIONS[job.format]}"
        )
    return _table_filename(project=job.project, task=job.task, dataset=job.dataset, fmt=job.format)


def _write_atomically(
    *, path: Path, chunks: Iterator[bytes], fmt: str, counter: list[int] | None = None
) -> tuple[int, str]:
    """Write chunks to `<path>.partial`, fsync, verify, rename to `path`; (size, sha256).

    Anything left from an earlier attempt is removed first; on any error the partial
    is removed and nothing is renamed.
    """
    partial = path.with_name(path.name + ".partial")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial.unlink(missing_ok=True)
    path.unlink(missing_ok=True)
    digest = hashlib.sha256()
    size = 0
    try:
        with open(partial, "wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
                digest.update(chunk)
                size += len(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        if counter is not None and fmt in ("parquet", "hf"):
            _verify_parquet(partial, fmt=fmt, rows=counter[0])
        os.replace(partial, path)
        _fsync_dir(path.parent)
    except BaseException:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
        partial.unlink(missing_ok=True)
        raise
    return size, digest.hexdigest()


def _verify_parquet(path: Path, *, fmt: str, rows: int) -> None:
    import zipfile

    import pyarrow.parquet as pq

    if fmt == "hf":
        with zipfile.ZipFile(path) as archive, archive.open(hf.DATA_FILE) as member:
            found = pq.ParquetFile(member).metadata.num_rows
    else:
        found = pq.read_metadata(path).num_rows
    if found != rows:
        raise selectors.ExportIncomplete(f"The file holds {found} rows, {rows} were written.")


def _fsync_dir(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def export_job_run(*, job_id: int) -> ExportJob:
    """Write a queued job's file; idempotent and safe to run twice at once.

    A done, failed or expired job is returned unchanged; a job another live run holds
    (advisory lock) is left to it; a job left `running` by a dead worker starts over
    from scratch. Transient database errors propagate for the task to retry.
    """
    if not _lock(job_id):
        return ExportJob.objects.get(pk=job_id)
    try:
        with transaction.atomic():
            job = (
                ExportJob.objects.select_for_update(of=("self",))
                .select_related("project", "task", "dataset", "report")
                .get(pk=job_id)
            )
            if job.status not in (ExportStatus.QUEUED, ExportStatus.RUNNING):
                return job
            if job.attempts >= MAX_ATTEMPTS:
                return _finish_failed(job, f"Gave up after {job.attempts} attempts.")
            job.options.setdefault("_file_token", secrets.token_hex(8))
            job.status = ExportStatus.RUNNING
            job.attempts += 1
            job.started_at = timezone.now()
            job.rows_done, job.progress_percent, job.error = 0, 0, ""
            job.save(
                update_fields=[
                    "options",
                    "status",
                    "attempts",
                    "started_at",
                    "rows_done",
                    "progress_percent",
                    "error",
                    "updated_at",
                ]
            )
        try:
            size, sha256, rows = _run(job)
        except (OperationalError, InterfaceError):
            _remove_files(job)
            raise
        except SoftTimeLimitExceeded:
            _remove_files(job)
            return _finish_failed(job, "The export took longer than the time limit.")
        except ApplicationError as exc:
            _remove_files(job)
            return _finish_failed(job, exc.message)
        except (ValueError, OSError, pa.ArrowException, KeyError, TypeError) as exc:
            logger.exception("export %s failed", job.pk)
            _remove_files(job)
            return _finish_failed(job, f"Internal error ({type(exc).__name__}): {exc}")
        final, _ = _job_paths(job)
        with transaction.atomic():
            job.status = ExportStatus.DONE
            job.file_path = str(final.relative_to(Path(settings.MEDIA_ROOT)))
            job.file_name = _download_name(job)
            job.size_bytes, job.sha256, job.row_count = size, sha256, rows
            job.rows_done, job.progress_percent = rows, 100
            job.finished_at = timezone.now()
            job.expires_at = job.finished_at + timedelta(hours=settings.EXPORT_RETENTION_HOURS)
            job.save(
                update_fields=[
                    "status",
                    "file_path",
                    "file_name",
                    "size_bytes",
                    "sha256",
                    "row_count",
                    "rows_done",
                    "progress_percent",
                    "finished_at",
                    "expires_at",
                    "updated_at",
                ]
            )
            audit_record(
                actor=None,
                project=job.project,
                action="export.done",
                target=job,
                details={"rows": rows, "sha256": sha256, "size": size, "attempts": job.attempts},
            )
        return job
    finally:
        _unlock(job_id)


def _run(job: ExportJob) -> tuple[int, str, int]:
    final, _ = _job_paths(job)
    if job.kind == ExportKind.REPORT:
        # The export_source_matches_kind constraint gives every report job its report.
        assert job.report is not None
        _, _, body = report_render(report=job.report, fmt=job.format)
        size, sha256 = _write_atomically(path=final, chunks=iter([body]), fmt=job.format)
        return size, sha256, 1
    identity = job.options.get("identity", "pseudonym")
    query = _source_query(
        task=job.task, dataset=job.dataset, filters=job.filters, identity=identity
    )
    expected = job.rows_expected = selectors.export_row_count(query=query)
    ExportJob.objects.filter(pk=job.pk).update(rows_expected=expected, updated_at=timezone.now())
    card = export_card(task=job.task, dataset=job.dataset, filters=job.filters, identity=identity)
    last = [0.0]

    def progress(rows: int) -> None:
        # Reads use their own connection, so this one is free; inside a transaction
        # (tests) they share it and progress is not written.
        now = time.monotonic()
        if connection.in_atomic_block or now - last[0] < 0.5:
            return
        last[0] = now
        percent = min(99, int(rows * 100 / expected)) if expected else 0
        ExportJob.objects.filter(pk=job.pk).update(
            rows_done=rows, progress_percent=percent, updated_at=timezone.now()
        )

    counter = [0]
    chunks = _render_table(
        fmt=job.format,
        query=query,
        card=card,
        on_batch=progress,
        counter=counter,
        tables=lambda: _bundle_tables(
            task=job.task, dataset=job.dataset, filters=job.filters, identity=identity
        ),
    )
    size, sha256 = _write_atomically(path=final, chunks=chunks, fmt=job.format, counter=counter)
    return size, sha256, counter[0]


def _remove_files(job: ExportJob) -> None:
    for path in _job_paths(job):
        path.unlink(missing_ok=True)


def _finish_failed(job: ExportJob, reason: str) -> ExportJob:
    with transaction.atomic():
        job.status = ExportStatus.FAILED
        job.error = reason[:5000]
        job.finished_at = timezone.now()
        job.save(update_fields=["status", "error", "finished_at", "updated_at"])
        audit_record(
            actor=None,
            project=job.project,
            action="export.failed",
            target=job,
            details={"error": job.error},
        )
    return job


def export_jobs_recover(*, stale_queued_after: timedelta = timedelta(minutes=10)) -> list[int]:
    """Re-enqueue jobs whose run died: `running` with no live lock holder, or `queued`
    for longer than `stale_queued_after` (their message was lost). Duplicates are
    harmless: a second run of a job finds it locked or finished."""
    now = timezone.now()
    candidates = ExportJob.objects.filter(status=ExportStatus.RUNNING).values_list("pk", flat=True)
    recovered = []
    for job_id in candidates:
        if _lock(job_id):
            _unlock(job_id)
            recovered.append(job_id)
    stale = ExportJob.objects.filter(
        status=ExportStatus.QUEUED, updated_at__lt=now - stale_queued_after
    ).values_list("pk", flat=True)
    recovered += list(stale)
    for job_id in recovered:
        try:
            export_job_enqueue(job_id=job_id)
        except ServiceUnavailable:
            break  # the broker is down: the next maintenance run tries again
    return recovered


def export_jobs_expire(*, now: datetime | None = None) -> int:
    """Delete the files of finished jobs past their `expires_at` (EXPORT_RETENTION_HOURS)
    and mark them expired."""
    now = now or timezone.now()
    expired = 0
    for job in ExportJob.objects.filter(status=ExportStatus.DONE, expires_at__lte=now):
        with transaction.atomic():
            _remove_files(job)
            ExportJob.objects.filter(pk=job.pk, status=ExportStatus.DONE).update(
                status=ExportStatus.EXPIRED, file_path="", updated_at=now
            )
        expired += 1
    return expired


def export_jobs_maintain() -> dict[str, Any]:
    """Recovery and retention in one call (worker start, beat, `manage.py export cleanup`)."""
    return {"recovered": export_jobs_recover(), "expired": export_jobs_expire()}


__all__ = [
    "DataChanged",
    "Download",
    "ExportFormat",
    "ExportTooLarge",
    "annotations_download",
    "annotations_write",
    "export_job_request",
    "export_job_run",
    "export_jobs_maintain",
    "report_manifest",
    "report_recompute_from_manifest",
]
