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
from collections.abc import Callable, Generator, Iterator, Mapping
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
) -> Generator[pa.RecordBatch, None, None]:
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


# -- the study bundle (Hugging Face layout) ----------------------------------------------

BUNDLE_TABLES = ("annotations", "units", "annotators")
# The bundle's column order (docs/annotations-format.md, "A study bundle").
_ANNOTATION_COLUMNS = (
    "unit",
    "annotator",
    "question",
    "value",
    "pool",
    "guideline_version",
    "shown_order",
)
_UNIT_COLUMNS = (
    "unit",
    "prompt_id",
    "output_id",
    "system",
    "output",
    "tone",
    "known_errors",
    "variant",
    "system_a",
    "system_b",
    "output_a",
    "output_b",
    "tone_a",
    "tone_b",
    "known_errors_a",
    "known_errors_b",
    "variant_a",
    "variant_b",
)


def _answer_text(value: Any) -> str:
    """An analysed answer as the bundle writes it: yes/no as true/false, numbers plainly."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _known_errors_text(count: int | None, listed: Any) -> str | None:
    """The list of known errors when the import gave one (as JSON), else the count."""
    import orjson

    if isinstance(listed, list) and len(listed) == count:
        return orjson.dumps(listed).decode()
    return None if count is None else str(count)


def _text_table(columns: tuple[str, ...], rows: list[dict[str, Any]]) -> pa.Table:
    return pa.table(
        {name: pa.array([row.get(name) for row in rows], type=pa.string()) for name in columns}
    )


def _with_questions(table: pa.Table, questions: Mapping[str, Any]) -> pa.Table:
    import orjson

    return table.replace_schema_metadata({"judgebench.questions": orjson.dumps(dict(questions))})


def task_bundle_tables(
    *, task: Any, filters: Mapping[str, Any] | None = None, identity: str = "pseudonym"
) -> dict[str, pa.Table]:
    """The task's analysed answers as a study bundle (annotations, units, annotators):
    the files `import_annotations --units --annotators` takes, so a report on the
    imported dataset gives the task's numbers.

    The annotations are exactly those the task's report reads (`analysis.loaders.
    task_table`: submitted, units not excluded), narrowed by the export's filters. Units
    keep the report's unit ids (``<unit>`` for a unit, ``<unit>/<output>`` for one output
    of it); a unit of more than two outputs keeps its prompt only.
    """
    from django.db.models import Q as Where

    from analysis.loaders import task_table
    from annotation.models import UnitOutput

    filters = filters or {}
    where = Where()
    if filters.get("date_from"):
        where &= Where(submitted_at__gte=filters["date_from"])
    if filters.get("date_to"):
        where &= Where(submitted_at__lt=filters["date_to"])
    if filters.get("systems"):
        where &= Where(unit__unit_outputs__output__system__name__in=list(filters["systems"]))
    table_filters = {
        key: [str(v) for v in filters[key]]
        for key in ("pools", "guideline_versions")
        if filters.get(key)
    }
    table, questions = task_table(
        task=task, filters=table_filters, identity=identity, where=where if where else None
    )
    outputs: dict[int, list[Mapping[str, Any]]] = {}
    for row in (
        UnitOutput.objects.filter(unit__task_id=task.pk)
        .order_by("unit_id", "position")
        .values(
            "unit_id",
            "output_id",
            "output__system__name",
            "output__variant",
            "output__text",
            "output__tone_condition",
            "output__known_error_count",
            "output__metadata",
            "unit__prompt__external_id",
        )
        .iterator(chunk_size=10_000)
    ):
        outputs.setdefault(row["unit_id"], []).append(row)

    def single(row: Mapping[str, Any], suffix: str = "") -> dict[str, Any]:
        return {
            f"system{suffix}": row["output__system__name"],
            f"output{suffix}": row["output__text"],
            f"tone{suffix}": row["output__tone_condition"] or None,
            f"known_errors{suffix}": _known_errors_text(
                row["output__known_error_count"],
                (row["output__metadata"] or {}).get("known_errors"),
            ),
            f"variant{suffix}": row["output__variant"] or None,
        }

    units: list[dict[str, Any]] = []
    base: dict[str, tuple[str, ...]] = {}
    for unit_id in sorted(set(table["unit_id"].astype(str)) if len(table) else ()):
        unit, _, output = unit_id.partition("/")
        shown = outputs.get(int(unit), [])
        entry: dict[str, Any] = {
            "unit": unit_id,
            "prompt_id": shown[0]["unit__prompt__external_id"] if shown else None,
        }
        chosen = [r for r in shown if str(r["output_id"]) == output] if output else shown
        if len(chosen) == 1:
            entry |= single(chosen[0]) | {"output_id": str(chosen[0]["output_id"])}
        elif len(chosen) == 2:
            entry |= single(chosen[0], "_a") | single(chosen[1], "_b")
            base[unit_id] = tuple(
                f"{r['output__system__name']} [{r['output__variant']}]"
                if r["output__variant"]
                else r["output__system__name"]
                for r in chosen
            )
        units.append(entry)

    annotations = []
    shown_orders = table["shown_order"] if "shown_order" in table.columns else None
    for index, row in enumerate(table.itertuples(index=False)):
        order = shown_orders.iloc[index] if shown_orders is not None else None
        shown_as = None
        if isinstance(order, tuple) and row.unit_id in base:
            shown_as = "ab" if order == base[row.unit_id] else "ba"
        annotations.append(
            {
                "unit": row.unit_id,
                "annotator": row.annotator_id,
                "question": row.question,
                "value": _answer_text(row.value),
                "pool": row.pool,
                "guideline_version": row.guideline_version,
                "shown_order": shown_as,
            }
        )
    kinds = (
        table.groupby("annotator_id", sort=True)[["pool", "pool_kind"]].first()
        if len(table)
        else None
    )
    annotators = (
        [
            {"annotator": annotator, "pool": pool, "pool_kind": kind}
            for annotator, (pool, kind) in kinds.iterrows()
        ]
        if kinds is not None
        else []
    )
    roles = {str(q["key"]): q["role"] for q in task.guideline_version.rubric if q.get("role")}
    declared = {
        name: {
            "level": spec["level"],
            **({"order": spec["order"]} if spec.get("order") else {}),
            **({"role": roles[name]} if name in roles else {}),
            # A pairwise question is the preference its votes express.
            **(
                {"role": "preference"}
                if spec.get("type") == "pairwise"
                and name not in roles
                and "preference" not in roles.values()
                else {}
            ),
        }
        for name, spec in questions.items()
    }
    return {
        "annotations": _with_questions(_text_table(_ANNOTATION_COLUMNS, annotations), declared),
        "units": _text_table(_UNIT_COLUMNS, units),
        "annotators": _text_table(("annotator", "pool", "pool_kind"), annotators),
    }


def dataset_bundle_tables(
    *, dataset: AnnotationDataset, filters: Mapping[str, Any] | None = None
) -> dict[str, pa.Table]:
    """A dataset's answers, units and annotators as a study bundle again (what was
    imported, with ids and labels as stored)."""
    from analysis.models import DatasetAnnotation, DatasetAnnotator, DatasetOutput

    filters = filters or {}
    answers = DatasetAnnotation.objects.filter(dataset=dataset)
    if filters.get("pools"):
        answers = answers.filter(pool__in=list(filters["pools"]))
    if filters.get("guideline_versions"):
        answers = answers.filter(
            guideline_version__in=[str(v) for v in filters["guideline_versions"]]
        )
    annotations = [
        {
            "unit": unit,
            "annotator": annotator,
            "question": question,
            "value": value,
            "pool": pool or None,
            "guideline_version": version or None,
            "shown_order": order or None,
        }
        for unit, annotator, question, value, pool, version, order in answers.order_by("id")
        .values_list(
            "unit",
            "annotator",
            "question",
            "value_text",
            "pool",
            "guideline_version",
            "shown_order",
        )
        .iterator(chunk_size=50_000)
    ]
    units: dict[str, dict[str, Any]] = {}
    for output in (
        DatasetOutput.objects.filter(unit__dataset=dataset)
        .select_related("unit")
        .order_by("unit_id", "position")
        .iterator(chunk_size=10_000)
    ):
        entry = units.setdefault(
            output.unit.unit,
            {
                "unit": output.unit.unit,
                "prompt_id": output.unit.prompt_id or None,
                "output_id": output.unit.output_id or None,
                "shown_order": output.unit.shown_order or None,
                "_outputs": [],
            },
        )
        entry["_outputs"].append(output)
    unit_rows = []
    for entry in units.values():
        shown = entry.pop("_outputs")
        suffixes = ("",) if len(shown) == 1 else ("_a", "_b")
        for suffix, output in zip(suffixes, shown, strict=False):
            entry |= {
                f"system{suffix}": output.system or None,
                f"output{suffix}": output.text,
                f"tone{suffix}": output.tone or None,
                f"known_errors{suffix}": _known_errors_text(
                    output.known_errors, output.known_error_list
                ),
                f"variant{suffix}": output.variant or None,
            }
        unit_rows.append(entry)
    people = list(DatasetAnnotator.objects.filter(dataset=dataset).order_by("annotator"))
    attributes = sorted({key for person in people for key in person.attributes})
    annotator_rows = [
        {
            "annotator": person.annotator,
            "pool": person.pool or None,
            "pool_kind": person.pool_kind or None,
            **{f"attr.{key}": person.attributes.get(key) for key in attributes},
        }
        for person in people
    ]
    declared = {
        name: {key: spec[key] for key in ("level", "order", "role") if spec.get(key)}
        for name, spec in dataset.questions.items()
    }
    columns = {
        name: pa.array([row.get(name) for row in annotator_rows], type=pa.string())
        for name in ("annotator", "pool", "pool_kind")
    }
    for key in attributes:
        values = [row[f"attr.{key}"] for row in annotator_rows]
        # One Arrow type per column: attributes of mixed types are written as text.
        if len({type(v) for v in values if v is not None}) > 1:
            values = [None if v is None else str(v) for v in values]
        columns[f"attr.{key}"] = pa.array(values)
    annotator_table = pa.table(columns)
    return {
        "annotations": _with_questions(_text_table(_ANNOTATION_COLUMNS, annotations), declared),
        "units": _text_table((*_UNIT_COLUMNS, "shown_order"), unit_rows),
        "annotators": annotator_table,
    }
