"""Writes of the analysis app: dataset imports (study bundles) and agreement reports."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import IO, Any, TypedDict

import numpy as np
import orjson
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from analysis.importing import (
    AnnotationRow,
    RowError,
    detect_format,
    nfc,
    parse_annotations_file,
)
from analysis.importing_bundle import (
    ParsedAnnotators,
    ParsedUnits,
    check_bundle,
    parse_annotators_file,
    parse_units_file,
)
from analysis.jobs import agreement_report_enqueue
from analysis.loaders import (
    FILTER_KEYS,
    RAW_COLUMNS,
    BundleDesign,
    Questions,
    bundle_table,
    dataset_table,
    long_table,
    output_design,
    report_questions,
    table_hash,
    task_table_by_ref,
    unit_designs,
)
from analysis.metrics.bias import DEFAULT_QUESTIONS as DEFAULT_BIAS_QUESTIONS
from analysis.metrics.bias import bias_report
from analysis.metrics.expert_vs_crowd import expert_vs_crowd_report
from analysis.metrics.ranking_report import preference_question, ranking_sections
from analysis.metrics.rankings import RankingError
from analysis.metrics.report import agreement_report
from analysis.models import (
    AgreementReport,
    AnnotationDataset,
    DatasetAnnotation,
    DatasetAnnotator,
    DatasetOutput,
    DatasetUnit,
    ReportSource,
    ReportStatus,
)
from annotation.services.outputs import ImportRefused
from common.exceptions import ApplicationError
from common.models import Project, User
from common.services import audit_record

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[str, int, int], None]

__all__ = [
    "DEFAULT_PARAMETERS",
    "BundleFile",
    "BundleFiles",
    "ImportRefused",
    "RecomputeCheck",
    "agreement_report_compute",
    "agreement_report_recompute_check",
    "agreement_report_request",
    "bundle_files",
    "canonical_json",
    "dataset_import",
    "report_parameters",
]

DEFAULT_PARAMETERS: dict[str, Any] = {
    "thresholds": [0.667, 0.8],
    "n_bootstrap": 1000,
    "seed": 0,
    "confidence_level": 0.95,
    "min_shared_units": 10,
    "min_annotator_items": 10,
    "top_contested": 20,
    "breakdown_columns": ["pool", "guideline_version", "system"],
    "ranking_resample": "prompt",
    # Expert labels a unit needs for an expert reference in expert vs crowd; one expert
    # label per unit is a valid reference (its reliability is then unknown).
    "min_expert_labels": 1,
    # The pair of tone conditions the tone checks compare (treated minus control).
    "treated_tone": "assertive",
    "control_tone": "hedged",
}
# What reports stored before a parameter existed were computed with, so recomputing
# them gives their bytes back.
LEGACY_PARAMETERS: dict[str, Any] = {
    "ranking_resample": "prompt",
    "min_expert_labels": 2,
    "treated_tone": "assertive",
    "control_tone": "hedged",
}
MAX_BOOTSTRAP = 10_000
MAX_TONE_LENGTH = 64


def canonical_json(value: Any) -> bytes:
    """The one serialisation of reports: sorted keys, shortest float repr, UTF-8."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


# -- datasets ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BundleFile:
    """A study bundle's units or annotators file, as uploaded."""

    stream: IO[bytes]
    fmt: str
    filename: str = ""


class BundleFiles(TypedDict, total=False):
    """`dataset_import`'s optional bundle arguments, as keyword arguments to unpack."""

    units: BundleFile
    annotators: BundleFile


def bundle_files(*, units: Any = None, annotators: Any = None) -> BundleFiles:
    """`dataset_import`'s `units` / `annotators` arguments from uploaded files (anything
    with a `.name`), each format told by its file name; ValueError when one cannot be."""
    files = BundleFiles()
    if units is not None:
        files["units"] = BundleFile(units, detect_format(units.name), units.name)
    if annotators is not None:
        files["annotators"] = BundleFile(
            annotators, detect_format(annotators.name), annotators.name
        )
    return files


# Order in which refused files list their errors.
_FILE_ORDER = {"": 0, "annotations": 0, "units": 1, "annotators": 2}


def dataset_import(
    *,
    actor: User | None,
    project: Project,
    name: str,
    stream: IO[bytes],
    fmt: str,
    filename: str = "",
    declarations: Mapping[str, Mapping[str, Any]] | None = None,
    replace: bool = False,
    progress: ProgressCallback | None = None,
    units: BundleFile | None = None,
    annotators: BundleFile | None = None,
) -> AnnotationDataset:
    """Import annotations (and a study bundle's units and annotators files) into the
    dataset `name`, all or nothing.

    Every file is validated first, and the files against each other (every error by
    file, line and field); then, in one transaction, the rows are written (COPY for the
    answers). An existing dataset of that name is refused unless `replace`, which swaps
    its rows, design and declarations.
    """
    report = progress or (lambda stage, done, total: None)
    name = name.strip()
    if not name or len(name) > 120:
        raise ApplicationError("A dataset name of 1 to 120 characters is required.")
    report("reading", 0, 0)
    parsed = parse_annotations_file(stream, fmt, declarations=declarations)
    parsed_units = parse_units_file(units.stream, units.fmt) if units is not None else None
    parsed_annotators = (
        parse_annotators_file(annotators.stream, annotators.fmt) if annotators is not None else None
    )
    report("validating", len(parsed.rows), len(parsed.rows))
    bundle = units is not None or annotators is not None
    label = "annotations" if bundle else ""
    errors = [RowError(e.line, e.field, e.message, e.file or label) for e in parsed.errors]
    errors += parsed_units.errors if parsed_units is not None else []
    errors += parsed_annotators.errors if parsed_annotators is not None else []
    errors += check_bundle(parsed, parsed_units, parsed_annotators, file=label)
    if errors:
        errors.sort(key=lambda error: (_FILE_ORDER.get(error.file, 3), error.line))
        raise ImportRefused(errors)
    raw = _raw_columns(parsed.rows)
    design = _bundle_design(parsed_units, parsed_annotators) if bundle else None
    table = (
        long_table(raw, parsed.questions)
        if design is None
        else bundle_table(raw, parsed.questions, design)
    )
    data_hash = table_hash(table, parsed.questions, design=True)
    with transaction.atomic():
        # Lock the project so two imports of one name cannot both pass the check.
        Project.objects.select_for_update().filter(pk=project.pk).get()
        dataset = AnnotationDataset.objects.filter(project=project, name=name).first()
        if dataset is not None and not replace:
            raise ApplicationError(
                f"A dataset named '{name}' already exists in this project; choose another "
                "name or replace it (--replace on the command line)."
            )
        replaced = dataset is not None
        if dataset is None:
            dataset = AnnotationDataset(project=project, name=name, created_by=actor)
        else:
            DatasetAnnotation.objects.filter(dataset=dataset).delete()
            DatasetUnit.objects.filter(dataset=dataset).delete()
            DatasetAnnotator.objects.filter(dataset=dataset).delete()
        dataset.questions = parsed.questions
        dataset.source_filename = filename[:255]
        dataset.source_format = fmt
        dataset.units_filename = (units.filename if units is not None else "")[:255]
        dataset.annotators_filename = (annotators.filename if annotators is not None else "")[:255]
        dataset.row_count = len(parsed.rows)
        dataset.empty_value_count = parsed.empty_values
        dataset.bundle_unit_count = len(parsed_units.rows) if parsed_units is not None else 0
        dataset.bundle_annotator_count = (
            len(parsed_annotators.rows) if parsed_annotators is not None else 0
        )
        dataset.unit_count = int(table["unit_id"].nunique())
        dataset.annotator_count = int(table["annotator_id"].nunique())
        dataset.data_hash = data_hash
        dataset.save()
        report("writing", 0, len(parsed.rows))
        if parsed_units is not None:
            _insert_units(dataset=dataset, units=parsed_units)
        if parsed_annotators is not None:
            _insert_annotators(dataset=dataset, annotators=parsed_annotators)
        _insert_annotations(dataset=dataset, rows=parsed.rows)
        report("writing", len(parsed.rows), len(parsed.rows))
        audit_record(
            actor=actor,
            project=project,
            action="dataset.replace" if replaced else "dataset.import",
            target=dataset,
            details={
                "name": name,
                "filename": filename,
                "format": fmt,
                "rows": dataset.row_count,
                "rows_without_value": parsed.empty_values,
                "units_file": dataset.units_filename if units is not None else None,
                "units": len(parsed_units.rows) if parsed_units is not None else None,
                "annotators_file": (
                    dataset.annotators_filename if annotators is not None else None
                ),
                "annotators": (
                    len(parsed_annotators.rows) if parsed_annotators is not None else None
                ),
                "questions": parsed.questions,
                "data_hash": data_hash,
            },
        )
    return dataset


def _bundle_design(units: ParsedUnits | None, annotators: ParsedAnnotators | None) -> BundleDesign:
    """The design the loader will read back from the rows written below."""
    designs = None
    if units is not None:
        designs = unit_designs(
            (
                row.unit,
                row.prompt_id,
                row.output_id,
                row.shown_order,
                tuple(
                    output_design(
                        system=o.system,
                        variant=o.variant,
                        tone=o.tone,
                        known_errors=o.known_errors,
                        length=None if o.text is None else len(o.text),
                    )
                    for o in row.outputs
                ),
            )
            for row in units.rows
        )
    kinds = (
        {row.pool: row.pool_kind for row in annotators.rows if row.pool and row.pool_kind}
        if annotators is not None
        else {}
    )
    return BundleDesign(units=designs, pool_kinds=kinds)


def _insert_units(*, dataset: AnnotationDataset, units: ParsedUnits) -> None:
    created = DatasetUnit.objects.bulk_create(
        (
            DatasetUnit(
                dataset=dataset,
                unit=row.unit,
                prompt_id=row.prompt_id,
                output_id=row.output_id,
                shown_order=row.shown_order,
            )
            for row in units.rows
        ),
        batch_size=2000,
    )
    DatasetOutput.objects.bulk_create(
        (
            DatasetOutput(
                unit=unit,
                position=position,
                system=output.system,
                text=output.text,
                tone=output.tone,
                known_errors=output.known_errors,
                known_error_list=output.known_error_list,
                variant=output.variant,
            )
            for unit, row in zip(created, units.rows, strict=True)
            for position, output in enumerate(row.outputs)
        ),
        batch_size=2000,
    )


def _insert_annotators(*, dataset: AnnotationDataset, annotators: ParsedAnnotators) -> None:
    DatasetAnnotator.objects.bulk_create(
        (
            DatasetAnnotator(
                dataset=dataset,
                annotator=row.annotator,
                pool=row.pool,
                pool_kind=row.pool_kind,
                attributes=row.attributes,
            )
            for row in annotators.rows
        ),
        batch_size=2000,
    )


def _raw_columns(rows: list[AnnotationRow]) -> dict[str, list[Any]]:
    columns: dict[str, list[Any]] = {name: [] for name in RAW_COLUMNS}
    for row in rows:
        columns["unit"].append(row.unit)
        columns["annotator"].append(row.annotator)
        columns["question"].append(row.question)
        columns["value_text"].append(row.value_text)
        columns["value_number"].append(
            float("nan") if row.value_number is None else row.value_number
        )
        columns["pool"].append(row.pool)
        columns["guideline_version"].append(row.guideline_version)
        columns["shown_order"].append(row.shown_order)
    return columns


def _insert_annotations(*, dataset: AnnotationDataset, rows: list[AnnotationRow]) -> None:
    # COPY: several times faster than INSERT for the 10^6-row files imports take.
    columns = (
        "(dataset_id, unit, annotator, question, value_text, value_number, pool, "
        "guideline_version, shown_order)"
    )
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY analysis_datasetannotation {columns} FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(
                (
                    dataset.pk,
                    row.unit,
                    row.annotator,
                    row.question,
                    row.value_text,
                    row.value_number,
                    row.pool,
                    row.guideline_version,
                    row.shown_order,
                )
            )


# -- reports ----------------------------------------------------------------------------


def report_parameters(raw: Mapping[str, Any] | None) -> dict[str, Any]:
    """Fill defaults and check the report parameters; ApplicationError names the field."""
    values = {**DEFAULT_PARAMETERS, **(raw or {})}
    unknown = set(values) - set(DEFAULT_PARAMETERS)
    if unknown:
        raise ApplicationError(f"Unknown parameter(s): {', '.join(sorted(unknown))}.")

    def integer(name: str, low: int, high: int) -> int:
        value = values[name]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ApplicationError(f"{name} must be an integer from {low} to {high}.")
        return value

    thresholds = values["thresholds"]
    if not isinstance(thresholds, list | tuple) or not all(
        isinstance(t, int | float) and not isinstance(t, bool) and -1 <= t <= 1 for t in thresholds
    ):
        raise ApplicationError("thresholds must be a list of numbers between -1 and 1.")
    level = values["confidence_level"]
    if isinstance(level, bool) or not isinstance(level, int | float) or not 0.5 <= level < 1:
        raise ApplicationError("confidence_level must be a number from 0.5 to below 1.")
    columns = values["breakdown_columns"]
    if not isinstance(columns, list | tuple) or not all(isinstance(c, str) for c in columns):
        raise ApplicationError("breakdown_columns must be a list of column names.")
    if values["ranking_resample"] not in ("prompt", "vote"):
        raise ApplicationError("ranking_resample must be 'prompt' or 'vote'.")
    tones = {}
    for name in ("treated_tone", "control_tone"):
        tone = values[name]
        if not isinstance(tone, str) or not tone.strip() or len(tone) > MAX_TONE_LENGTH:
            raise ApplicationError(
                f"{name} must be a tone condition's label (1 to {MAX_TONE_LENGTH} characters)."
            )
        tones[name] = nfc(tone.strip())
    if tones["treated_tone"] == tones["control_tone"]:
        raise ApplicationError("treated_tone and control_tone must be two different tones.")
    return {
        "thresholds": [float(t) for t in thresholds],
        "n_bootstrap": integer("n_bootstrap", 0, MAX_BOOTSTRAP),
        "seed": integer("seed", 0, 2**63 - 1),
        "confidence_level": float(level),
        "min_shared_units": integer("min_shared_units", 1, 1_000_000),
        "min_annotator_items": integer("min_annotator_items", 1, 1_000_000),
        "top_contested": integer("top_contested", 0, 1000),
        "breakdown_columns": list(columns),
        "ranking_resample": values["ranking_resample"],
        "min_expert_labels": integer("min_expert_labels", 1, 1000),
        **tones,
    }


def _checked_filters(filters: Mapping[str, Any] | None) -> dict[str, list[str]]:
    cleaned: dict[str, list[str]] = {}
    for key, value in (filters or {}).items():
        if key not in FILTER_KEYS:
            raise ApplicationError(f"Unknown filter '{key}'; use {', '.join(sorted(FILTER_KEYS))}.")
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise ApplicationError(f"Filter '{key}' must be a list of names.")
        if value:
            cleaned[key] = sorted(set(value))
    return cleaned


@transaction.atomic
def agreement_report_request(
    *,
    actor: User | None,
    project: Project,
    dataset: AnnotationDataset | None = None,
    task: Any = None,
    parameters: Mapping[str, Any] | None = None,
    filters: Mapping[str, Any] | None = None,
    enqueue: bool = True,
) -> AgreementReport:
    """Queue an agreement report on a dataset or a task of `project`.

    The computation runs in a Celery job after this transaction commits; pass
    `enqueue=False` to run `agreement_report_compute` yourself (the command line does).
    """
    if (dataset is None) == (task is None):
        raise ApplicationError("Choose exactly one source: a dataset or a task.")
    source = dataset if dataset is not None else task
    if source.project_id != project.pk:
        raise ApplicationError("That source belongs to another project.")
    report = AgreementReport.objects.create(
        project=project,
        source_kind=ReportSource.DATASET if dataset is not None else ReportSource.TASK,
        dataset=dataset,
        source_ref="" if task is None else str(task.slug),
        filters=_checked_filters(filters),
        parameters=report_parameters(parameters),
        platform_version=settings.PLATFORM_VERSION,
        created_by=actor,
    )
    audit_record(
        actor=actor,
        project=project,
        action="agreement_report.request",
        target=report,
        details={
            "source_kind": report.source_kind,
            "source": dataset.name if dataset is not None else report.source_ref,
            "parameters": report.parameters,
            "filters": report.filters,
        },
    )
    if enqueue:
        # After the commit; a broker that is down answers 503 and leaves it retryable.
        agreement_report_enqueue(report=report)
    return report


def _load(report: AgreementReport) -> tuple[Any, Questions]:
    if report.source_kind == ReportSource.DATASET:
        if report.dataset is None:
            raise ApplicationError("The dataset of this report no longer exists.")
        return dataset_table(dataset=report.dataset, filters=report.filters)
    return task_table_by_ref(project=report.project, ref=report.source_ref, filters=report.filters)


# The columns that make a bias check possible: a design (tone, known errors) or
# pairwise preferences whose display order was recorded.
BIAS_COLUMNS = ("tone", "n_known_errors", "shown_order")


def question_roles(*, report: AgreementReport, questions: Questions) -> dict[str, str]:
    """Which question plays which part in the bias checks.

    A rubric question, or a dataset's question declaration, may name its part
    (`"role": "quality" | "error_flag" | "assertiveness" | "preference"`); otherwise the
    conventional keys are used.
    """
    roles = dict(DEFAULT_BIAS_QUESTIONS)
    if report.source_kind == ReportSource.DATASET:
        for key, spec in questions.items():
            if spec.get("role") in roles:
                roles[spec["role"]] = key
    else:
        from annotation.models import Task

        task = (
            Task.objects.select_related("guideline_version")
            .filter(project=report.project, slug=report.source_ref)
            .first()
        )
        rubric = task.guideline_version.rubric if task is not None else []
        for question in rubric:
            if question.get("role") in roles:
                roles[question["role"]] = str(question["key"])
    return {role: key for role, key in roles.items() if key in questions}


def _bias_sections(*, table: Any, report: AgreementReport, questions: Questions) -> dict[str, Any]:
    """The report's `bias` and `expert_vs_crowd` sections, or why they are absent.

    A check the data cannot feed (say, quality answered in words with no declared
    order) is reported as not computed with the reason; the agreement part of the
    report stands either way.
    """
    parameters = {**LEGACY_PARAMETERS, **report.parameters}
    pool_column = "pool_kind" if "pool_kind" in table.columns else "pool"
    roles = question_roles(report=report, questions=questions)
    specs = report_questions(questions)
    role_specs = {role: specs[key] for role, key in roles.items() if key in specs}
    common = {
        "pool_column": pool_column,
        "seed": parameters["seed"],
        "n_bootstrap": parameters["n_bootstrap"],
        "alpha": 1 - parameters["confidence_level"],
    }
    sections: dict[str, Any] = {}
    if not (set(BIAS_COLUMNS) & set(table.columns)) or pool_column not in table.columns:
        sections["bias"] = {
            "status": "not_applicable",
            "reason": (
                "The data carries no study design (tone condition, known factual errors) "
                "and no pairwise preferences with their display order, or no pools."
            ),
        }
    else:
        try:
            sections["bias"] = bias_report(
                table,
                roles,
                treated=parameters["treated_tone"],
                control=parameters["control_tone"],
                **common,
            )
        except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
            sections["bias"] = {"status": "not_computed", "reason": str(exc)}
    pools = set(table[pool_column].dropna().astype(str)) if pool_column in table.columns else set()
    if not {"expert", "crowd"} <= pools:
        sections["expert_vs_crowd"] = {
            "status": "not_applicable",
            "reason": "Needs answers from both an expert pool and a crowd pool.",
        }
    else:
        computed_bias = sections["bias"] if "status" not in sections["bias"] else None
        try:
            sections["expert_vs_crowd"] = expert_vs_crowd_report(
                table,
                roles,
                specs=role_specs,
                bias_section=computed_bias,
                min_expert_labels=parameters["min_expert_labels"],
                treated=parameters["treated_tone"],
                control=parameters["control_tone"],
                **common,
            )
        except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
            sections["expert_vs_crowd"] = {"status": "not_computed", "reason": str(exc)}
    return sections


def _ranking_sections(
    *, table: Any, report: AgreementReport, questions: Questions
) -> dict[str, Any]:
    """The report's `rankings` and `rank_stability` sections, or why they are absent."""
    parameters = report.parameters
    roles = question_roles(report=report, questions=questions)
    question = preference_question(report_questions(questions), roles.get("preference"))
    if question is None or "shown_order" not in table.columns:
        reason = (
            "Rankings need pairwise-preference votes whose display order was recorded "
            "(a pairwise task)."
        )
        absent = {"status": "not_applicable", "reason": reason}
        return {"rankings": absent, "rank_stability": absent}
    pool_column = "pool_kind" if "pool_kind" in table.columns else "pool"
    try:
        return ranking_sections(
            table,
            question,
            pool_column=pool_column if pool_column in table.columns else None,
            n_bootstrap=parameters["n_bootstrap"],
            seed=parameters["seed"],
            alpha=1 - parameters["confidence_level"],
            # Reports stored before this parameter existed resampled prompts.
            resample=parameters.get("ranking_resample", LEGACY_PARAMETERS["ranking_resample"]),
        )
    except RankingError as exc:
        failed = {"status": "not_computed", "reason": str(exc)}
        return {"rankings": failed, "rank_stability": failed}


def _compute(report: AgreementReport) -> tuple[str, bytes]:
    """Load the report's source and run the metrics; returns (data hash, result bytes)."""
    table, questions = _load(report)
    if table.empty:
        raise ApplicationError("There are no annotations to analyse (check the filters).")
    _progress(report, "computing", 30)
    data_hash = table_hash(table, questions, design=report.source_kind == ReportSource.DATASET)
    result = agreement_report(
        table,
        report_questions(questions),
        thresholds=tuple(report.parameters["thresholds"]),
        n_bootstrap=report.parameters["n_bootstrap"],
        seed=report.parameters["seed"],
        confidence_level=report.parameters["confidence_level"],
        min_shared_units=report.parameters["min_shared_units"],
        min_annotator_items=report.parameters["min_annotator_items"],
        top_contested=report.parameters["top_contested"],
        breakdown_columns=tuple(report.parameters["breakdown_columns"]),
    )
    _progress(report, "bias checks", 70)
    result.update(_bias_sections(table=table, report=report, questions=questions))
    _progress(report, "rankings", 85)
    result.update(_ranking_sections(table=table, report=report, questions=questions))
    return data_hash, canonical_json(result)


def _progress(report: AgreementReport, stage: str, percent: int) -> None:
    # Outside the compute's own work so pollers see it at once (autocommit).
    report.progress_stage, report.progress_percent = stage, percent
    AgreementReport.objects.filter(pk=report.pk).update(
        progress_stage=stage, progress_percent=percent, updated_at=timezone.now()
    )


def agreement_report_compute(*, report_id: int) -> AgreementReport:
    """Compute a queued report and store its result, or its failure and the reason.

    Idempotent: a report that is done or failed is returned unchanged, so a
    redelivered job does nothing; a report left `running` by a worker that died is
    computed again from its stored inputs. Transient database errors propagate (the
    task retries them); every other error marks the report failed.
    """
    with transaction.atomic():
        report = (
            AgreementReport.objects.select_for_update(of=("self",))
            .select_related("project", "dataset")
            .get(pk=report_id)
        )
        if report.status in (ReportStatus.DONE, ReportStatus.FAILED):
            return report
        report.status = ReportStatus.RUNNING
        report.started_at = timezone.now()
        report.progress_stage, report.progress_percent = "loading", 5
        report.save(
            update_fields=[
                "status",
                "started_at",
                "progress_stage",
                "progress_percent",
                "updated_at",
            ]
        )
    try:
        data_hash, result = _compute(report)
    except (OperationalError, InterfaceError):
        raise
    except (ValueError, ApplicationError) as exc:
        return _finish_failed(report, str(getattr(exc, "message", exc)))
    except SoftTimeLimitExceeded:
        return _finish_failed(report, "The computation took longer than the time limit.")
    except (
        DatabaseError,
        MemoryError,
        RuntimeError,
        TypeError,
        KeyError,
        IndexError,
        ArithmeticError,
        np.linalg.LinAlgError,
    ) as exc:
        logger.exception("agreement report %s failed", report.pk)
        return _finish_failed(report, f"Internal error ({type(exc).__name__}): {exc}")
    with transaction.atomic():
        report.status = ReportStatus.DONE
        report.result_json = result.decode("utf-8")
        report.data_hash = data_hash
        report.progress_stage, report.progress_percent = "done", 100
        report.finished_at = timezone.now()
        report.error = ""
        report.save(
            update_fields=[
                "status",
                "result_json",
                "data_hash",
                "progress_stage",
                "progress_percent",
                "finished_at",
                "error",
                "updated_at",
            ]
        )
        audit_record(
            actor=None,
            project=report.project,
            action="agreement_report.done",
            target=report,
            details={"data_hash": data_hash},
        )
    return report


def _finish_failed(report: AgreementReport, reason: str) -> AgreementReport:
    with transaction.atomic():
        report.status = ReportStatus.FAILED
        report.error = reason[:5000]
        report.progress_stage = "failed"
        report.finished_at = timezone.now()
        report.save(
            update_fields=["status", "error", "progress_stage", "finished_at", "updated_at"]
        )
        audit_record(
            actor=None,
            project=report.project,
            action="agreement_report.failed",
            target=report,
            details={"error": report.error},
        )
    return report


@dataclass(frozen=True)
class RecomputeCheck:
    same_data: bool
    same_result: bool
    same_platform_version: bool
    data_hash: str

    @property
    def identical(self) -> bool:
        return self.same_data and self.same_result


def agreement_report_recompute_check(*, report_id: int) -> RecomputeCheck:
    """Recompute a finished report from its stored inputs and compare, writing nothing.

    `same_result` means the freshly computed report serialises to exactly the stored
    bytes; `same_data` that the source still hashes to the stored data hash.
    """
    report = AgreementReport.objects.select_related("project", "dataset").get(pk=report_id)
    if report.status != ReportStatus.DONE:
        raise ApplicationError("Only a finished report can be recomputed.")
    data_hash, result = agreement_report_result_compute(report)
    return RecomputeCheck(
        same_data=data_hash == report.data_hash,
        same_result=result == report.result_json.encode("utf-8"),
        same_platform_version=report.platform_version == settings.PLATFORM_VERSION,
        data_hash=data_hash,
    )


def agreement_report_result_compute(report: AgreementReport) -> tuple[str, bytes]:
    """(data hash, canonical result bytes) of `report`'s inputs, writing nothing.

    The one place a report's numbers are computed from its stored inputs: the
    recompute check and the exports' manifest round trip both call it, so they can
    never drift from what the job computes.
    """
    # A detached copy, so the progress writes of _compute never touch the stored report.
    shadow = AgreementReport(
        pk=None,
        project=report.project,
        source_kind=report.source_kind,
        dataset=report.dataset,
        source_ref=report.source_ref,
        filters=report.filters,
        parameters=report.parameters,
    )
    return _compute(shadow)
