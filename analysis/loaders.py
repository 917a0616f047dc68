"""The only ORM-to-DataFrame adapter of the analysis app.

Every loader returns ``(table, questions)``: the long table
``analysis.metrics.report.agreement_report`` takes (``unit_id``, ``annotator_id``,
``question``, ``value`` and the optional ``pool`` and ``guideline_version``), sorted
canonically by unit, annotator and question, and the question specs. Each loader reads
the answers with one streamed query (a server-side cursor on PostgreSQL), never one
query per annotation.

The pure helpers here (`long_table`, `bundle_table`, `apply_filters`, `table_hash`) are
shared with the import service, so a dataset's hash at import and a report's hash at
compute time are computed the same way.

A dataset imported as a study bundle (with a units or an annotators file) loads into the
same table a task does (`task_table`): the same columns, the same unit ids, the same
coding of answers, so every section of the report runs on it as on a task. A dataset of
answers alone keeps the lean table of `long_table`.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import pandas as pd

from analysis.models import (
    AnnotationDataset,
    DatasetAnnotation,
    DatasetAnnotator,
    DatasetOutput,
)

TABLE_COLUMNS = ("unit_id", "annotator_id", "question", "value", "pool", "guideline_version")
RAW_COLUMNS = (
    "unit",
    "annotator",
    "question",
    "value_text",
    "value_number",
    "pool",
    "guideline_version",
    "shown_order",
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
        yes_no = [name for name, spec in questions.items() if spec.get("boolean")]
        if yes_no:
            # Yes/no questions (marked at import) enter as booleans, as tasks' do.
            is_yes_no = frame["question"].isin(yes_no).to_numpy()
            values[is_yes_no] = [str(v).lower() == "true" for v in texts[is_yes_no]]
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


def table_hash(table: pd.DataFrame, questions: Mapping[str, Any], *, design: bool = False) -> str:
    """sha256 of the question specs (one canonical JSON line) and the sorted table as CSV.

    `table` must come from a loader (canonical order); the CSV holds the TABLE_COLUMNS
    present, header included, numbers in Python's shortest repr. With `design` (datasets)
    the design columns present are hashed too, so a study bundle whose units or pools
    changed hashes differently; a dataset of answers alone has none, and task reports
    keep the hash they always had.
    """
    digest = hashlib.sha256()
    digest.update(orjson.dumps(dict(questions), option=orjson.OPT_SORT_KEYS) + b"\n")
    hashed = TABLE_COLUMNS + (DESIGN_HASH_COLUMNS if design else ())
    columns = [column for column in hashed if column in table.columns]
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
    """The dataset's answers as the report's long table, with one streamed query (and,
    for a study bundle, one query each over its units and its pools).

    The questions come back as stored (level, order, and role, yes/no and pairwise marks
    where set): `report_questions` gives the metrics their view of them, and the data
    hash covers them whole.
    """
    questions: Questions = {
        name: dict(spec, order=spec.get("order"))
        for name, spec in sorted(dataset.questions.items())
    }
    rows = (
        DatasetAnnotation.objects.filter(dataset_id=dataset.pk)
        .values_list(*RAW_COLUMNS)
        .iterator(chunk_size=_FETCH_SIZE)
    )
    design = dataset_design(dataset=dataset)
    raw = _collect(rows)
    table = long_table(raw, questions) if design is None else bundle_table(raw, questions, design)
    if filters:
        table = apply_filters(table, filters)
    present = set(table["question"].astype(str).unique()) if len(table) else set()
    return table, {name: spec for name, spec in questions.items() if name in present}


def report_questions(questions: Questions) -> dict[str, dict[str, Any]]:
    """Specs in the form the metrics take (no ``order`` or ``type`` key when unset; a
    dataset's ``role`` and yes/no marks stay behind)."""
    return {
        name: {
            "level": spec["level"],
            **({"order": spec["order"]} if spec.get("order") else {}),
            **({"type": spec["type"]} if spec.get("type") else {}),
        }
        for name, spec in questions.items()
    }


# -- study bundles ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OutputDesign:
    """What the analysis knows of one shown output (the task loader's `_task_design`)."""

    system: str | None
    entrant: str | None  # what a pairwise vote is for: the system, or "system [variant]"
    tone: str | None
    n_known_errors: int | None
    output_length: int | None


@dataclass(frozen=True, slots=True)
class UnitDesign:
    prompt_id: str | None
    output_id: Any  # single units: the output's id (the unit id when none was given)
    shown_order: str  # pairs: "ab" or "ba" when everyone saw that order, else ""
    outputs: tuple[OutputDesign, ...]


@dataclass(frozen=True, slots=True)
class BundleDesign:
    """A study bundle's design: its units (None without a units file) and the kind of
    each pool its annotators file names."""

    units: Mapping[str, UnitDesign] | None
    pool_kinds: Mapping[str, str]


def output_design(
    *, system: str, variant: str, tone: str, known_errors: int | None, length: int | None
) -> OutputDesign:
    return OutputDesign(
        system=system or None,
        entrant=(f"{system} [{variant}]" if variant else system) or None,
        tone=tone or None,
        n_known_errors=known_errors,
        output_length=length,
    )


def numeric_ids(ids: Iterable[Any]) -> bool:
    """Whether every id is a whole number written plainly ("17", not "017" or "1.0"):
    such ids are compared as numbers, so "9" comes before "10" as a researcher expects."""
    return all(
        isinstance(i, str) and i.isdigit() and (i == "0" or not i.startswith("0")) for i in ids
    )


# The columns a bundle's table may carry, in the task loader's order.
BUNDLE_COLUMNS = (
    "unit_id",
    "annotator_id",
    "question",
    "value",
    "pool",
    "pool_kind",
    "guideline_version",
    "system",
    "shown_order",
)
TASK_DESIGN_COLUMNS = (
    "prompt_id",
    "output_id",
    "tone",
    "n_known_errors",
    "output_length",
)
# What a pairwise vote's two outputs were, by shown position: the rankings' covariates.
PAIR_DESIGN_COLUMNS = ("shown_lengths", "shown_tones", "shown_errors")
DESIGN_HASH_COLUMNS = (
    "pool_kind",
    "system",
    "shown_order",
    *TASK_DESIGN_COLUMNS,
    *PAIR_DESIGN_COLUMNS,
)


def _bundle_value(spec: Mapping[str, Any], text: str, number: float) -> Any:
    """An answer coded as the task loader codes it: whole numbers as integers, yes/no
    answers as booleans, labels (and pairwise letters) as text."""
    if numeric_question(spec):
        return int(number) if float(number).is_integer() else float(number)
    if spec.get("boolean"):
        return text.lower() == "true"
    return text


def bundle_table(
    raw: Mapping[str, Sequence[Any]], questions: Mapping[str, Any], design: BundleDesign
) -> pd.DataFrame:
    """A study bundle's long table, in the shape and coding of `task_table`.

    Rows on a one-output unit carry that output's design (system, prompt, output id, tone,
    known errors, length); rows of the pairwise preference question on a pair carry the
    entrants in the order this annotator saw them (``shown_order``), the prompt and the
    pair's lengths, tones and known errors by shown position; other rows on a pair carry
    no design, as in a task. Pools take their kind from the annotators file.
    """
    n = len(raw["unit"])
    columns: dict[str, list[Any]] = {
        name: [] for name in (*BUNDLE_COLUMNS, *TASK_DESIGN_COLUMNS, *PAIR_DESIGN_COLUMNS)
    }
    units = design.units
    kinds = design.pool_kinds
    empty: dict[str, Any] = dict.fromkeys((*TASK_DESIGN_COLUMNS, *PAIR_DESIGN_COLUMNS, "system"))
    for i in range(n):
        unit, question, pool = raw["unit"][i], raw["question"][i], raw["pool"][i]
        spec = questions.get(question, {})
        columns["unit_id"].append(unit)
        columns["annotator_id"].append(raw["annotator"][i])
        columns["question"].append(question)
        columns["value"].append(_bundle_value(spec, raw["value_text"][i], raw["value_number"][i]))
        columns["pool"].append(pool or None)
        columns["pool_kind"].append(kinds.get(pool) if pool else None)
        columns["guideline_version"].append(raw["guideline_version"][i] or None)
        row = empty
        shown: Any = None
        unit_design = units.get(unit) if units is not None else None
        if unit_design is not None and len(unit_design.outputs) == 1:
            out = unit_design.outputs[0]
            row = {
                **empty,
                "system": out.system,
                "prompt_id": unit_design.prompt_id,
                "output_id": unit_design.output_id,
                "tone": out.tone,
                "n_known_errors": out.n_known_errors,
                "output_length": out.output_length,
            }
        elif unit_design is not None and spec.get("type") == "pairwise":
            order = raw["shown_order"][i] or unit_design.shown_order or "ab"
            pair = unit_design.outputs if order == "ab" else unit_design.outputs[::-1]
            shown = tuple(o.entrant for o in pair)
            row = {
                **empty,
                "prompt_id": unit_design.prompt_id,
                "shown_lengths": tuple(o.output_length for o in pair),
                "shown_tones": tuple(o.tone for o in pair),
                "shown_errors": tuple(o.n_known_errors for o in pair),
            }
        columns["shown_order"].append(shown)
        columns["system"].append(row["system"])
        for name in (*TASK_DESIGN_COLUMNS, *PAIR_DESIGN_COLUMNS):
            columns[name].append(row[name])
    table = pd.DataFrame(columns)
    for column in table.columns[3:]:
        if column != "value" and table[column].isna().all():
            table = table.drop(columns=column)
    table = table.sort_values(["unit_id", "annotator_id", "question"], kind="stable")
    return table.reset_index(drop=True)


def dataset_design(*, dataset: AnnotationDataset) -> BundleDesign | None:
    """The design of a study bundle, or None for a dataset of answers alone. Two
    queries, bounded by the numbers of units and annotators."""
    from django.db.models.functions import Length

    has_units = dataset.bundle_unit_count > 0
    if not has_units and not dataset.bundle_annotator_count:
        return None
    kinds = dict(
        DatasetAnnotator.objects.filter(dataset_id=dataset.pk)
        .exclude(pool="")
        .exclude(pool_kind="")
        .values_list("pool", "pool_kind")
        .distinct()
    )
    units: dict[str, UnitDesign] | None = None
    if has_units:
        rows = (
            DatasetOutput.objects.filter(unit__dataset_id=dataset.pk)
            .order_by("unit_id", "position")
            .values_list(
                "unit__unit",
                "unit__prompt_id",
                "unit__output_id",
                "unit__shown_order",
                "system",
                "variant",
                "tone",
                "known_errors",
                Length("text"),
            )
            .iterator(chunk_size=_FETCH_SIZE)
        )
        specs: dict[str, tuple[str, str, str, list[OutputDesign]]] = {}
        for unit, prompt, output_id, order, system, variant, tone, known, length in rows:
            entry = specs.setdefault(unit, (prompt, output_id, order, []))
            entry[3].append(
                output_design(
                    system=system, variant=variant, tone=tone, known_errors=known, length=length
                )
            )
        units = unit_designs(
            (unit, prompt, output_id, order, tuple(outputs))
            for unit, (prompt, output_id, order, outputs) in specs.items()
        )
    return BundleDesign(units=units, pool_kinds=kinds)


def unit_designs(
    rows: Iterable[tuple[str, str, str, str, tuple[OutputDesign, ...]]],
) -> dict[str, UnitDesign]:
    """Unit id -> design from (unit, prompt id, output id, shown order, outputs). A
    single unit without an output id is its own output; ids that are all whole numbers
    become integers (`numeric_ids`)."""
    listed = list(rows)
    ids = [(output_id or unit) for unit, _, output_id, _, outputs in listed if len(outputs) == 1]
    as_int = numeric_ids(ids)
    designs = {}
    for unit, prompt, output_id, order, outputs in listed:
        single = len(outputs) == 1
        identity: Any = (output_id or unit) if single else None
        if single and as_int:
            identity = int(identity)
        designs[unit] = UnitDesign(
            prompt_id=prompt or None, output_id=identity, shown_order=order, outputs=outputs
        )
    return designs


# -- annotation tasks -------------------------------------------------------------------

# Rubric question types the agreement report takes. Free text and rankings are skipped
# by report schema 1.0; a multi-choice question enters as one yes/no question per option.
_TASK_TYPES = {"likert", "binary", "single_choice", "multi_choice", "numeric", "pairwise"}


def task_questions(rubric: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Question specs of a task's rubric, for the questions the report analyses.

    A multi-choice question ``k`` with options ``x, y`` becomes the nominal questions
    ``k[x]`` and ``k[y]`` (chosen or not): a set of choices has no agreement
    coefficient of its own, while each option's yes/no does. Pairwise preferences are
    analysed on the A/B/tie choice, whatever strength was given.
    """
    specs: dict[str, dict[str, Any]] = {}
    for question in rubric:
        kind, level = question.get("type"), question.get("level")
        if kind not in _TASK_TYPES or level is None:
            continue
        key = str(question["key"])
        scope = question.get("scope") or "per_unit"
        if kind == "multi_choice":
            for option in question.get("options", []):
                specs[f"{key}[{option['value']}]"] = {
                    "level": "nominal",
                    "order": None,
                    "scope": scope,
                    "source": key,
                    "option": option["value"],
                }
            continue
        spec: dict[str, Any] = {"level": level, "order": None, "scope": scope, "source": key}
        if kind == "pairwise":
            spec.update(type="pairwise", level="nominal")
        specs[key] = spec
    return specs


def _task_design(task_id: int) -> tuple[dict[int, dict[str, Any]], dict[int, list[int]]]:
    """Per output of the task: system, prompt, tone, known errors, length; and per unit
    its outputs in base order. One query, bounded by the task's size."""
    from django.db.models.functions import Length

    from annotation.models import UnitOutput

    outputs: dict[int, dict[str, Any]] = {}
    base_order: dict[int, list[int]] = {}
    rows = (
        UnitOutput.objects.filter(unit__task_id=task_id)
        .order_by("unit_id", "position")
        .values_list(
            "unit_id",
            "output_id",
            "output__system__name",
            "output__variant",
            "output__prompt__external_id",
            "output__tone_condition",
            "output__known_error_count",
            Length("output__text"),
        )
        .iterator(chunk_size=_FETCH_SIZE)
    )
    for unit, output, system, variant, prompt, tone, errors, length in rows:
        base_order.setdefault(unit, []).append(output)
        outputs[output] = {
            "system": system,
            # What a pairwise vote is for: the system, or the system's variant when a
            # study pairs rewrites of one system's answer against each other.
            "entrant": f"{system} [{variant}]" if variant else system,
            "prompt_id": prompt,
            "tone": tone or None,
            "n_known_errors": errors,
            "output_length": length,
        }
    return outputs, base_order


def _pair_design(
    shown: list[int], outputs: Mapping[int, Mapping[str, Any]]
) -> dict[str, Any] | None:
    """The prompt both outputs answer and their lengths, tones and known errors by
    shown position; None unless exactly two known outputs were shown."""
    if len(shown) != 2 or not all(o in outputs for o in shown):
        return None
    first, second = outputs[shown[0]], outputs[shown[1]]
    return {
        "prompt_id": first["prompt_id"],
        "shown_lengths": (first["output_length"], second["output_length"]),
        "shown_tones": (first["tone"], second["tone"]),
        "shown_errors": (first["n_known_errors"], second["n_known_errors"]),
    }


def _task_cells(
    *,
    spec: Mapping[str, Any],
    answer: Any,
    unit: int,
    shown: list[int],
    outputs: Mapping[int, Mapping[str, Any]],
) -> list[tuple[str, Any, int | None]]:
    """(unit id, value, output judged) cells one answer contributes to the table."""
    option = spec.get("option")
    if spec.get("type") == "pairwise":
        choice = answer.get("choice") if isinstance(answer, dict) else answer
        return [(str(unit), choice, None)] if choice is not None else []
    if spec.get("scope") == "per_output" and isinstance(answer, dict):
        letters = {chr(ord("A") + i): output for i, output in enumerate(shown)}
        cells: list[tuple[str, Any, int | None]] = []
        for letter, value in sorted(answer.items()):
            if letter not in letters or value is None:
                continue
            if option is not None:
                value = option in value
            cells.append((f"{unit}/{letters[letter]}", value, letters[letter]))
        return cells
    if option is not None:
        return [(str(unit), option in answer, None)]
    output = shown[0] if len(shown) == 1 else None
    return [(str(unit), answer, output)]


def _gold_value(
    *,
    spec: Mapping[str, Any],
    gold: Mapping[str, Any] | None,
    output: int | None,
    base: list[int],
    outputs: Mapping[int, Mapping[str, Any]],
) -> Any:
    """The known answer for one cell, in the same coding as the annotators' values.

    Gold answers are written against the unit's base order (A = first output), so
    per-output answers are found by the output's base letter and a pairwise choice
    becomes the winning system's name, as the report codes preferences.
    """
    if not gold:
        return None
    answer = gold.get(spec["source"])
    if answer is None:
        return None
    if spec.get("type") == "pairwise":
        choice = answer.get("choice") if isinstance(answer, dict) else answer
        if choice in ("A", "B") and len(base) > "AB".index(choice):
            return outputs[base["AB".index(choice)]]["entrant"]
        return choice
    if spec.get("scope") == "per_output" and isinstance(answer, dict):
        if output is None or output not in base:
            return None
        answer = answer.get(chr(ord("A") + base.index(output)))
        if answer is None:
            return None
    option = spec.get("option")
    return option in answer if option is not None else answer


def task_table(
    *,
    task: Any,
    filters: Mapping[str, Sequence[str]] | None = None,
    identity: str = "pseudonym",
    where: Any = None,
) -> tuple[pd.DataFrame, Questions]:
    """A task's submitted annotations as the report's long table, de-blinded.

    Per-output questions become one unit per (unit, output) -- ``"<unit>/<output>"`` --
    with the answer the annotator gave that output whatever letter it was shown under;
    per-unit questions keep the unit. Pairwise answers keep the letter the annotator
    chose and ``shown_order`` carries the systems by position, so the report maps the
    vote back to a system. Annotators appear by pseudonym only. The design columns
    (tone, known errors, length, prompt) come along for the bias checks.

    Two queries: the task's outputs (bounded by its size) and one streamed query over
    its annotations. The raw-data export passes `identity="username"` (a lead's opt-in)
    and `where` (a Q over the annotations, for its date and system filters) to write the
    same table as a study bundle.
    """
    from annotation.models import Annotation

    specs = task_questions(task.guideline_version.rubric)
    outputs, base_order = _task_design(task.pk)
    gold_units = dict(task.units.filter(is_gold=True).values_list("pk", "gold_answers"))
    names = (
        "unit_id",
        "annotator_id",
        "question",
        "value",
        "pool",
        "pool_kind",
        "guideline_version",
        "system",
        "shown_order",
        "active_seconds",
        "is_gold",
        "gold_value",
        *TASK_DESIGN_COLUMNS,
        *PAIR_DESIGN_COLUMNS,
    )
    columns: dict[str, list[Any]] = {name: [] for name in names}
    annotations = Annotation.objects.filter(unit__task_id=task.pk, unit__excluded=False)
    if where is not None:
        annotations = annotations.filter(pk__in=Annotation.objects.filter(where).values("pk"))
    rows = annotations.values_list(
        "unit_id",
        "annotator_id",
        "annotator__username" if identity == "username" else "annotator__pseudonym",
        "task_pool__pool__name",
        "task_pool__pool__kind",
        "guideline_version__number",
        "answers",
        "shown_order",
        "client_active_seconds",
    ).iterator(chunk_size=_FETCH_SIZE)
    no_design = dict.fromkeys(TASK_DESIGN_COLUMNS)
    for unit, user_id, pseudonym, pool, kind, version, answers, shown, seconds in rows:
        annotator = pseudonym or f"ann-{user_id:06d}"
        shown = list(shown or [])
        systems_shown = tuple(outputs[o]["entrant"] for o in shown if o in outputs)
        gold = gold_units.get(unit)
        for key, spec in specs.items():
            answer = (answers or {}).get(spec["source"])
            if answer is None:
                continue
            for unit_id, value, output in _task_cells(
                spec=spec, answer=answer, unit=unit, shown=shown, outputs=outputs
            ):
                design = (
                    {**outputs[output], "output_id": output} if output in outputs else no_design
                )
                columns["unit_id"].append(unit_id)
                columns["annotator_id"].append(annotator)
                columns["question"].append(key)
                columns["value"].append(value)
                columns["pool"].append(pool)
                columns["pool_kind"].append(kind)
                columns["guideline_version"].append(str(version))
                columns["system"].append(design.get("system"))
                columns["shown_order"].append(
                    systems_shown if spec.get("type") == "pairwise" else None
                )
                columns["active_seconds"].append(seconds)
                columns["is_gold"].append(gold is not None)
                columns["gold_value"].append(
                    _gold_value(
                        spec=spec,
                        gold=gold,
                        output=output,
                        base=base_order.get(unit, []),
                        outputs=outputs,
                    )
                )
                for name in TASK_DESIGN_COLUMNS:
                    columns[name].append(design[name])
                pair = _pair_design(shown, outputs) if spec.get("type") == "pairwise" else None
                if pair is not None:
                    columns["prompt_id"][-1] = pair["prompt_id"]
                for name in PAIR_DESIGN_COLUMNS:
                    columns[name].append(None if pair is None else pair[name])
    table = pd.DataFrame(columns)
    optional = ("system", "shown_order", "active_seconds", "gold_value")
    for column in (*optional, *TASK_DESIGN_COLUMNS, *PAIR_DESIGN_COLUMNS):
        if table[column].isna().all():
            table = table.drop(columns=column)
    if "gold_value" not in table.columns:
        table = table.drop(columns="is_gold")
    table = table.sort_values(["unit_id", "annotator_id", "question"], kind="stable")
    table = table.reset_index(drop=True)
    questions = {
        name: {k: v for k, v in spec.items() if k in ("level", "order", "type")}
        for name, spec in specs.items()
    }
    if filters:
        table = apply_filters(table, filters)
    present = set(table["question"].astype(str).unique()) if len(table) else set()
    return table, {name: spec for name, spec in questions.items() if name in present}


def task_table_by_ref(
    *, project: Any, ref: str, filters: Mapping[str, Sequence[str]] | None = None
) -> tuple[pd.DataFrame, Questions]:
    """`task_table` of the project's task whose slug (or public id) is `ref`.

    Raises
    ------
    ValueError
        When the project has no such task.
    """
    from django.db.models import Q

    from annotation.models import Task

    task = (
        Task.objects.select_related("guideline_version")
        .filter(Q(slug=ref) | Q(public_id=ref), project=project)
        .first()
    )
    if task is None:
        raise ValueError(f"The project has no task '{ref}'.")
    return task_table(task=task, filters=filters)
