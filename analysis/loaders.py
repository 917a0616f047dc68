"""The only ORM-to-DataFrame adapter of the analysis app.

Every loader returns ``(table, questions)``: the long table
``analysis.metrics.report.agreement_report`` takes (``unit_id``, ``annotator_id``,
``question``, ``value`` and the optional ``pool`` and ``guideline_version``), sorted
canonically by unit, annotator and question, and the question specs. Each loader reads
the answers with one streamed query (a server-side cursor on PostgreSQL), never one
query per annotation.

The pure helpers here (`long_table`, `apply_filters`, `table_hash`) are shared with
the import service, so a dataset's hash at import and a report's hash at compute
time are computed the same way.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import orjson
import pandas as pd

from analysis.models import AnnotationDataset, DatasetAnnotation

TABLE_COLUMNS = ("unit_id", "annotator_id", "question", "value", "pool", "guideline_version")
RAW_COLUMNS = (
    "unit",
    "annotator",
    "question",
    "value_text",
    "value_number",
    "pool",
    "guideline_version",
)
FILTER_KEYS = {"questions": "question", "pools": "pool", "guideline_versions": "guideline_version"}
_FETCH_SIZE = 50_000

Questions = dict[str, dict[str, Any]]


def numeric_question(spec: Mapping[str, Any]) -> bool:
    """Whether a question's answers enter the report as numbers rather than labels.

    Interval and ratio answers are numbers; ordinal answers are numbers unless an order
    of word labels was declared; nominal answers are labels (so "1" and "1.0" differ,
    as they would in the file).
    """
    level = spec.get("level")
    return level in ("interval", "ratio") or (level == "ordinal" and not spec.get("order"))


def long_table(raw: Mapping[str, Sequence[Any]], questions: Mapping[str, Any]) -> pd.DataFrame:
    """Build the canonical long table from raw stored columns (see RAW_COLUMNS).

    Empty pool and guideline-version cells become missing; a column with no value at
    all is dropped, so the report does not break down by it.
    """
    frame = pd.DataFrame(
        {
            "unit_id": pd.Categorical(raw["unit"]),
            "annotator_id": pd.Categorical(raw["annotator"]),
            "question": pd.Categorical(raw["question"]),
        }
    )
    numeric_questions = [name for name, spec in questions.items() if numeric_question(spec)]
    numbers = np.asarray(raw["value_number"], dtype=np.float64)
    if set(numeric_questions) >= set(frame["question"].cat.categories):
        frame["value"] = numbers
    else:
        texts = np.asarray(raw["value_text"], dtype=object)
        is_numeric = frame["question"].isin(numeric_questions).to_numpy()
        values = texts.copy()
        values[is_numeric] = numbers[is_numeric]
        frame["value"] = values
    for column in ("pool", "guideline_version"):
        cells = pd.Categorical(raw[column])
        if len(cells.categories) == 0 or list(cells.categories) == [""]:
            continue
        frame[column] = cells.remove_categories([""]) if "" in cells.categories else cells
    frame = frame.sort_values(["unit_id", "annotator_id", "question"], kind="stable")
    return frame.reset_index(drop=True)


def apply_filters(table: pd.DataFrame, filters: Mapping[str, Sequence[str]]) -> pd.DataFrame:
    """Keep the rows whose question, pool and guideline version are in the filter lists.

    Raises
    ------
    ValueError
        On an unknown filter key.
    """
    unknown = set(filters) - set(FILTER_KEYS)
    if unknown:
        raise ValueError(f"Unknown filter(s): {', '.join(sorted(unknown))}.")
    mask = np.ones(len(table), dtype=bool)
    for key, wanted in filters.items():
        column = FILTER_KEYS[key]
        if not wanted:
            continue
        if column not in table.columns:
            mask[:] = False
            continue
        mask &= table[column].astype(object).isin([str(v) for v in wanted]).to_numpy()
    if mask.all():
        return table
    filtered = table[mask].reset_index(drop=True)
    for column in ("unit_id", "annotator_id", "question", "pool", "guideline_version"):
        if column in filtered.columns and isinstance(filtered[column].dtype, pd.CategoricalDtype):
            filtered[column] = filtered[column].cat.remove_unused_categories()
    return filtered


def table_hash(table: pd.DataFrame, questions: Mapping[str, Any]) -> str:
    """sha256 of the question specs (one canonical JSON line) and the sorted table as CSV.

    `table` must come from `long_table` (canonical order); the CSV holds the
    TABLE_COLUMNS present, header included, numbers in Python's shortest repr.
    """
    digest = hashlib.sha256()
    digest.update(orjson.dumps(dict(questions), option=orjson.OPT_SORT_KEYS) + b"\n")
    columns = [column for column in TABLE_COLUMNS if column in table.columns]
    for start in range(0, max(len(table), 1), 200_000):
        chunk = table.iloc[start : start + 200_000]
        digest.update(
            chunk.to_csv(
                columns=columns, index=False, header=start == 0, lineterminator="\n"
            ).encode("utf-8")
        )
    return digest.hexdigest()


def _collect(rows: Iterable[tuple[Any, ...]]) -> dict[str, list[Any]]:
    """Transpose the streamed rows into column lists, one fetch-sized batch at a time."""
    columns: dict[str, list[Any]] = {name: [] for name in RAW_COLUMNS}
    iterator = iter(rows)
    while batch := list(itertools.islice(iterator, _FETCH_SIZE)):
        for name, values in zip(RAW_COLUMNS, zip(*batch, strict=True), strict=True):
            columns[name].extend(values)
    for name in ("value_number",):
        columns[name] = [np.nan if v is None else v for v in columns[name]]
    return columns


def dataset_table(
    *, dataset: AnnotationDataset, filters: Mapping[str, Sequence[str]] | None = None
) -> tuple[pd.DataFrame, Questions]:
    """The dataset's answers as the report's long table, with one streamed query."""
    questions: Questions = {
        name: {"level": spec["level"], "order": spec.get("order")}
        for name, spec in sorted(dataset.questions.items())
    }
    rows = (
        DatasetAnnotation.objects.filter(dataset_id=dataset.pk)
        .values_list(*RAW_COLUMNS)
        .iterator(chunk_size=_FETCH_SIZE)
    )
    table = long_table(_collect(rows), questions)
    if filters:
        table = apply_filters(table, filters)
        present = set(table["question"].astype(str).unique())
        questions = {name: spec for name, spec in questions.items() if name in present}
    return table, questions


def report_questions(questions: Questions) -> dict[str, dict[str, Any]]:
    """Specs in the form the metrics take (no ``order`` or ``type`` key when unset)."""
    return {
        name: {
            "level": spec["level"],
            **({"order": spec["order"]} if spec.get("order") else {}),
            **({"type": spec["type"]} if spec.get("type") else {}),
        }
        for name, spec in questions.items()
    }


# -- annotation tasks -------------------------------------------------------------------

# Rubric question types the agreement report can take, with the level they enter at.
# Free text and rankings are skipped by the report; multi-choice answers are sets,
# which no coefficient in report schema 1.0 takes.
_TASK_TYPES = {"likert", "binary", "single_choice", "numeric", "pairwise"}


def task_questions(rubric: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Question specs of a task's rubric, for the questions the report analyses."""
    specs: dict[str, dict[str, Any]] = {}
    for question in rubric:
        kind, level = question.get("type"), question.get("level")
        if kind not in _TASK_TYPES or level is None:
            continue
        if kind == "pairwise" and level != "nominal":
            continue  # strength-graded preferences are not in report schema 1.0
        spec: dict[str, Any] = {"level": level, "order": None, "scope": question.get("scope")}
        if kind == "pairwise":
            spec["type"] = "pairwise"
        specs[str(question["key"])] = spec
    return specs


def task_table(
    *, task: Any, filters: Mapping[str, Sequence[str]] | None = None
) -> tuple[pd.DataFrame, Questions]:
    """A task's submitted annotations as the report's long table.

    Per-output questions become one unit per (unit, output) — ``"<unit>/<output>"`` —
    with the answer the annotator gave to that output whatever letter it was shown
    under; per-unit questions keep the unit. Annotators appear by pseudonym only.
    One streamed query reads the annotations, one more the systems of the outputs.
    """
    from annotation.models import Annotation, Output

    specs = task_questions(task.guideline_version.rubric)
    systems = dict(
        Output.objects.filter(prompt__project_id=task.project_id).values_list("pk", "system__name")
    )
    columns: dict[str, list[Any]] = {
        name: []
        for name in (
            "unit_id",
            "annotator_id",
            "question",
            "value",
            "pool",
            "guideline_version",
            "system",
            "shown_order",
            "active_seconds",
        )
    }
    rows = (
        Annotation.objects.filter(unit__task_id=task.pk, unit__excluded=False)
        .values_list(
            "unit_id",
            "annotator_id",
            "annotator__pseudonym",
            "task_pool__pool__name",
            "guideline_version__number",
            "answers",
            "shown_order",
            "client_active_seconds",
        )
        .iterator(chunk_size=_FETCH_SIZE)
    )
    for unit, user_id, pseudonym, pool, version, answers, shown, seconds in rows:
        annotator = pseudonym or f"ann-{user_id:06d}"
        letters = {chr(ord("A") + i): output for i, output in enumerate(shown or [])}
        for key, spec in specs.items():
            answer = (answers or {}).get(key)
            if answer is None:
                continue
            if spec.get("scope") == "per_output" and isinstance(answer, dict):
                cells = [
                    (f"{unit}/{letters[letter]}", value, systems.get(letters[letter]), None)
                    for letter, value in sorted(answer.items())
                    if letter in letters and value is not None
                ]
            else:
                order = tuple(shown) if spec.get("type") == "pairwise" else None
                cells = [(str(unit), answer, None, order)]
            for unit_id, value, system, order in cells:
                columns["unit_id"].append(unit_id)
                columns["annotator_id"].append(annotator)
                columns["question"].append(key)
                columns["value"].append(value)
                columns["pool"].append(pool)
                columns["guideline_version"].append(str(version))
                columns["system"].append(system)
                columns["shown_order"].append(order)
                columns["active_seconds"].append(seconds)
    table = pd.DataFrame(columns)
    for column in ("system", "shown_order", "active_seconds"):
        if table[column].isna().all():
            table = table.drop(columns=column)
    table = table.sort_values(["unit_id", "annotator_id", "question"], kind="stable")
    table = table.reset_index(drop=True)
    questions = {
        name: {k: v for k, v in spec.items() if k != "scope"} for name, spec in specs.items()
    }
    if filters:
        table = apply_filters(table, filters)
    present = set(table["question"].astype(str).unique()) if len(table) else set()
    return table, {name: spec for name, spec in questions.items() if name in present}


def task_table_by_ref(
    *, project: Any, ref: str, filters: Mapping[str, Sequence[str]] | None = None
) -> tuple[pd.DataFrame, Questions]:
    """`task_table` of the project's task whose public id is `ref`.

    Raises
    ------
    ValueError
        When the project has no such task.
    """
    from annotation.models import Task

    task = (
        Task.objects.select_related("guideline_version")
        .filter(project=project, public_id=ref)
        .first()
    )
    if task is None:
        raise ValueError(f"The project has no task '{ref}'.")
    return task_table(task=task, filters=filters)
