"""Reads of the exports app: jobs, sources, and the raw rows as a stream of Arrow batches.

Every function takes a project the caller resolved through
`common.selectors.project_get_for_actor`, so ids from other projects are not found.

Raw rows come from ONE query per export, streamed with ``COPY (SELECT …) TO STDOUT``
(the SQL is built by exports.layout), cut into blocks of whole rows and parsed block by
block into typed Arrow record batches; nothing holds more than a block
(EXPORT_READ_BLOCK_BYTES) of rows at a time.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
from django.conf import settings
from django.db import connection
from django.db.models import Max, Q, QuerySet

from analysis.models import AgreementReport, AnnotationDataset, ReportSource, ReportStatus
from common.exceptions import ApplicationError, NotFound
from common.models import Project
from exports.layout import ExportQuery, dataset_query, task_query
from exports.models import ExportJob


class ExportIncomplete(ApplicationError):
    """Fewer rows were read than the database sent: the file must not be kept."""


# -- jobs and sources --------------------------------------------------------------------


def export_job_list(*, project: Project) -> QuerySet[ExportJob]:
    return (
        ExportJob.objects.filter(project=project)
        .select_related("task", "dataset", "report", "created_by")
        .order_by("-created_at", "-id")
    )


def export_job_get(*, project: Project, job_id: int) -> ExportJob:
    job = export_job_list(project=project).filter(pk=job_id).first()
    if job is None:
        raise NotFound("No such export in this project.")
    return job


def task_list(*, project: Project) -> QuerySet[Any]:
    from annotation.models import Task

    return Task.objects.filter(project=project).order_by("title")


def task_get_by_slug(*, project: Project | None, slug: str) -> Any:
    """The task named `slug`; with `project`, only within it."""
    from annotation.models import Task

    tasks = Task.objects.select_related("project", "guideline_version__guideline")
    if project is not None:
        tasks = tasks.filter(project=project)
    task = tasks.filter(Q(slug=slug) | Q(public_id=slug)).first()
    if task is None:
        raise NotFound(f"No task '{slug}' in this project.")
    return task


def dataset_get_by_name(*, project: Project, name: str) -> AnnotationDataset:
    dataset = AnnotationDataset.objects.filter(project=project, name=name).first()
    if dataset is None:
        raise NotFound(f"No dataset '{name}' in this project.")
    return dataset


def report_list_done(*, project: Project) -> QuerySet[AgreementReport]:
    return (
        AgreementReport.objects.filter(project=project, status=ReportStatus.DONE)
        .select_related("dataset", "project")
        .defer("result_json")
        .order_by("-created_at", "-id")
    )


def report_get_done(*, project: Project, report_id: int) -> AgreementReport:
    report = (
        AgreementReport.objects.filter(project=project, pk=report_id)
        .select_related("dataset", "project", "created_by")
        .first()
    )
    if report is None:
        raise NotFound("No such report in this project.")
    if report.status != ReportStatus.DONE:
        raise ApplicationError("That report is not finished yet.")
    return report


def report_latest_for_source(
    *, project: Project, task: Any = None, dataset: AnnotationDataset | None = None
) -> AgreementReport | None:
    reports = AgreementReport.objects.filter(project=project, status=ReportStatus.DONE)
    if task is not None:
        reports = reports.filter(source_kind=ReportSource.TASK, source_ref=task.slug)
    else:
        reports = reports.filter(source_kind=ReportSource.DATASET, dataset=dataset)
    return reports.select_related("dataset", "project").order_by("-created_at", "-id").first()


# -- raw rows ----------------------------------------------------------------------------


def task_export_query(
    *, task: Any, filters: Mapping[str, Any] | None = None, identity: str = "pseudonym"
) -> ExportQuery:
    from annotation.models import UnitOutput

    top = UnitOutput.objects.filter(unit__task_id=task.pk).aggregate(top=Max("position"))["top"]
    # One column group per shown position: the mode's count, or more if units have more.
    n_shown = max({"single": 1, "pairwise": 2}.get(task.mode, 2), (top or 0) + 1)
    return task_query(
        task_id=task.pk,
        rubric=task.guideline_version.rubric,
        n_shown=n_shown,
        identity=identity,
        filters=filters,
    )


def dataset_export_query(
    *, dataset: AnnotationDataset, filters: Mapping[str, Any] | None = None
) -> ExportQuery:
    return dataset_query(dataset_id=dataset.pk, filters=filters)


def export_row_count(*, query: ExportQuery) -> int:
    with connection.cursor() as cursor:
        cursor.execute(query.count_sql(), query.params)
        return int(cursor.fetchone()[0])


def _row_blocks(copy: Any, size: int) -> Iterator[bytes]:
    """COPY output in blocks of about `size` bytes that end on a row boundary: the server
    sends one message per row, so no CSV parsing is needed to cut it."""
    parts: list[Any] = []
    have = 0
    for message in copy:
        parts.append(message)
        have += len(message)
        if have >= size:
            yield b"".join(parts)
            parts, have = [], 0
    if parts:
        yield b"".join(parts)


def _convert_options(query: ExportQuery) -> pacsv.ConvertOptions:
    # Timestamps and floats are parsed as text-free Arrow types; COPY writes NULL as an
    # unquoted empty field and '' as "", which these options keep apart.
    return pacsv.ConvertOptions(
        column_types={c.name: c.type for c in query.columns},
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
        null_values=[""],
        true_values=["t", "true"],
        false_values=["f", "false"],
    )


def export_batches(
    *, query: ExportQuery, on_batch: Callable[[int], None] | None = None
) -> Iterator[pa.RecordBatch]:
    """Stream the query's rows as record batches with exactly `query.schema`.

    Reads through a connection of its own (so the caller's connection stays free for
    progress writes), except inside a transaction, where only the caller's connection
    sees the caller's rows. Raises ExportIncomplete if fewer rows were parsed than the
    server reported sending.
    """
    own = not connection.in_atomic_block
    if own:
        connection.ensure_connection()
        raw = connection.get_new_connection(connection.get_connection_params())
        raw.autocommit = True
    else:
        connection.ensure_connection()
        raw = connection.connection
    schema = query.schema
    size = int(settings.EXPORT_READ_BLOCK_BYTES)
    read_options = pacsv.ReadOptions(
        column_names=[c.name for c in query.columns], block_size=1 << 20
    )
    parse_options = pacsv.ParseOptions(newlines_in_values=True)
    convert_options = _convert_options(query)
    seen = 0
    reader = _BlockReader(raw=raw, query=query, size=size)
    try:
        for block in reader:
            try:
                table = pacsv.read_csv(
                    pa.py_buffer(block),
                    read_options=read_options,
                    parse_options=parse_options,
                    convert_options=convert_options,
                )
            except pa.ArrowInvalid as exc:
                raise ApplicationError(f"A row could not be read: {exc}") from exc
            del block
            for batch in table.to_batches():
                batch = pa.RecordBatch.from_arrays(batch.columns, schema=schema)
                seen += batch.num_rows
                yield batch
            del table
            if on_batch is not None:
                on_batch(seen)
        if reader.sent >= 0 and reader.sent != seen:
            raise ExportIncomplete(f"The database sent {reader.sent} rows but {seen} were read.")
    finally:
        reader.close()
        if own:
            raw.close()


class _BlockReader:
    """Reads the COPY in a thread of its own, two blocks ahead of the parser.

    Receiving rows (network, libpq) and parsing and rendering them (Arrow, which
    releases the GIL) then overlap instead of taking turns. The connection is used only
    by this thread; `close` stops it early (psycopg then cancels the COPY).
    """

    _END = object()

    def __init__(self, *, raw: Any, query: ExportQuery, size: int) -> None:
        self.sent = -1
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=2)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(raw, query, size), name="export-copy-reader", daemon=True
        )
        self._thread.start()

    def _run(self, raw: Any, query: ExportQuery, size: int) -> None:
        try:
            with raw.cursor() as cursor:
                with cursor.copy(query.copy_sql(), query.params) as copy:
                    for block in _row_blocks(copy, size):
                        if not self._put(block):
                            return
                self.sent = cursor.rowcount
            self._put(self._END)
        except BaseException as exc:  # handed to the consumer, which raises it
            self._put(exc)

    def _put(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[bytes]:
        while True:
            item = self._queue.get()
            if item is self._END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


def guideline_digest(*, version: Any) -> str:
    """sha256 of the version's prose and rubric as one canonical JSON document."""
    import hashlib

    import orjson

    body = orjson.dumps(
        {"prose": version.prose, "rubric": version.rubric}, option=orjson.OPT_SORT_KEYS
    )
    return hashlib.sha256(body).hexdigest()


def task_configuration(*, task: Any) -> dict[str, Any]:
    """What a reader needs to know about how the task collected its data."""
    from annotation.models import TaskPool, Unit

    version = task.guideline_version
    pools = TaskPool.objects.filter(task=task).select_related("pool").order_by("pool__name")
    return {
        "slug": task.slug,
        "title": task.title,
        "mode": task.mode,
        "status": task.status,
        "pairing": task.pairing,
        "pairs_per_prompt": task.pairs_per_prompt,
        "ranking_size": task.ranking_size,
        "launched_at": task.launched_at.isoformat() if task.launched_at else None,
        "n_units": Unit.objects.filter(task=task).count(),
        "n_gold_units": Unit.objects.filter(task=task, is_gold=True).count(),
        "pools": [
            {
                "name": tp.pool.name,
                "kind": tp.pool.kind,
                "redundancy": tp.redundancy,
                "per_annotator_cap": tp.per_annotator_cap,
                "gold_share": tp.gold_share,
                "require_quiz": tp.require_quiz,
            }
            for tp in pools
        ],
        "guideline": {
            "name": version.guideline.name,
            "version": version.number,
            "sha256": guideline_digest(version=version),
            "published_at": version.published_at.isoformat() if version.published_at else None,
        },
    }


def export_job_file(*, job: ExportJob) -> Path:
    """The complete file of a done job, for the download views."""
    if job.status != "done" or not job.file_path:
        raise ApplicationError("This export has no file (not finished, failed or expired).")
    path = Path(settings.MEDIA_ROOT) / job.file_path
    if not path.is_file():
        raise ApplicationError("The file of this export is gone.")
    return path
