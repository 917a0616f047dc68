"""The column layout of raw exports, and the SQL that produces it. Pure: no Django.

A task export has one row per decided assignment (submitted, skipped or flagged), built
by ONE PostgreSQL query that does every join and expands the JSON answers into one typed
column per answer cell, so the export streams it with COPY and never touches a row in
Python. The layout (docs/exports.md):

* identity and design: ``annotation_id``, ``assignment_id``, ``status``, ``task``,
  ``unit_id``, ``unit_ordinal``, ``unit_excluded``, ``prompt_id``, ``prompt_text``,
  ``n_shown``, then per shown position ``L`` (A = first shown): ``system.L``,
  ``output_id.L``, ``output.L`` (the text), ``variant.L``, ``tone.L``,
  ``known_errors.L`` and ``metadata.L`` (the output's design, as imported);
* who and when: ``annotator``, ``pool``, ``pool_kind``, ``guideline_version``,
  timestamps, ``client_active_seconds``, ``seconds_to_submit``;
* gold: ``is_gold``, ``gold_n_checked``, ``gold_n_correct``, ``gold_correct``;
* ``skip_reason``, ``flag_reason``, ``flag_note``;
* answers: ``answer.<key>`` (per-unit question) or ``answer.<key>.<L>`` (per shown
  position); multi-choice ``...[<option>]`` booleans; pairwise ``answer.<key>.choice``,
  ``.strength`` and ``.system`` (the chosen system, de-blinded, or ``tie``); ranking
  ``answer.<key>.<L>`` = rank (1 = best) of the response shown at L;
* ``answers_json``: the stored answers verbatim.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

INT = pa.int64()
FLOAT = pa.float64()
BOOL = pa.bool_()
TEXT = pa.string()
TIME = pa.timestamp("us", tz="UTC")

# Hugging Face `datasets` dtype names of the Arrow types above.
HF_DTYPES = {
    str(INT): "int64",
    str(FLOAT): "float64",
    str(BOOL): "bool",
    str(TEXT): "string",
    str(TIME): "timestamp[us, tz=UTC]",
}

EXPORTED_STATUSES = ("submitted", "skipped", "flagged")
GOLD_TYPES = {"likert", "binary", "single_choice", "multi_choice", "numeric", "pairwise"}


@dataclass(frozen=True)
class Column:
    name: str
    type: pa.DataType
    sql: str
    description: str


@dataclass(frozen=True)
class ExportQuery:
    """One export's SELECT (without ORDER BY wrapper), its parameters and columns."""

    select: str
    params: dict[str, Any]
    columns: tuple[Column, ...]
    order_by: str = ""

    @property
    def schema(self) -> pa.Schema:
        return pa.schema(
            [
                pa.field(c.name, c.type, metadata={"description": c.description})
                for c in self.columns
            ]
        )

    def copy_sql(self) -> str:
        return f"COPY ({self.select} {self.order_by}) TO STDOUT (FORMAT csv)"

    def count_sql(self) -> str:
        return f"SELECT count(*) FROM ({self.select}) AS export_rows"


def letters(n: int) -> list[str]:
    if not 1 <= n <= 26:
        raise ValueError("Between 1 and 26 shown responses are supported.")
    return [chr(ord("A") + i) for i in range(n)]


def literal(text: str) -> str:
    """A SQL string literal; rubric keys and option values are user-authored text."""
    if "\x00" in text:
        raise ValueError("NUL characters cannot appear in a column literal.")
    # `%` is doubled because every query goes through psycopg's %(name)s formatting.
    return "'" + text.replace("'", "''").replace("%", "%%") + "'"


def _typed(expr: str, kind: str) -> str:
    """The JSON value `expr` as text when it has JSON type `kind`, else NULL, so a value of
    an unexpected type becomes a missing cell instead of breaking the typed column."""
    return f"(CASE WHEN jsonb_typeof({expr}) = '{kind}' THEN ({expr}) #>> '{{}}' END)"


def _answer_columns(question: Mapping[str, Any], shown: Sequence[str]) -> list[Column]:
    key = str(question["key"])
    qtype = question.get("type")
    base = f"a.answers -> {literal(key)}"
    label = question.get("label") or key
    per_output = (question.get("scope") or "per_output") == "per_output"
    cells: list[tuple[str, str, str | None]] = [
        (f"answer.{key}.{letter}", f"{base} -> '{letter}'", letter) for letter in shown
    ]
    if not per_output:
        cells = [(f"answer.{key}", base, None)]
    columns: list[Column] = []
    if qtype == "pairwise":
        choice = f"COALESCE({_typed(base + ' -> ' + literal('choice'), 'string')}, {_typed(base, 'string')})"
        systems = " ".join(f"WHEN '{letter}' THEN s{i}.name" for i, letter in enumerate(shown))
        columns += [
            Column(f"answer.{key}.choice", TEXT, choice, f"{label}: the letter chosen, or tie"),
            Column(
                f"answer.{key}.strength",
                TEXT,
                _typed(f"{base} -> 'strength'", "string"),
                f"{label}: strength of the preference",
            ),
            Column(
                f"answer.{key}.system",
                TEXT,
                f"(CASE {choice} {systems} WHEN 'tie' THEN 'tie' END)",
                f"{label}: the system preferred (de-blinded), or tie",
            ),
        ]
        return columns
    if qtype == "ranking":
        ranking = f"(CASE WHEN jsonb_typeof({base}) = 'array' THEN {base} END)"
        for letter in shown:
            columns.append(
                Column(
                    f"answer.{key}.{letter}",
                    INT,
                    f"(SELECT r.ord FROM jsonb_array_elements_text({ranking}) WITH ORDINALITY "
                    f"AS r(v, ord) WHERE r.v = '{letter}')",
                    f"{label}: rank of the response shown at {letter} (1 = best)",
                )
            )
        return columns
    for name, expr, response in cells:
        where = f" (response {response})" if response else ""
        if qtype == "multi_choice":
            for option in question.get("options") or []:
                value = str(option["value"])
                columns.append(
                    Column(
                        f"{name}[{value}]",
                        BOOL,
                        f"(CASE WHEN jsonb_typeof({expr}) = 'array' THEN ({expr}) ? {literal(value)} END)",
                        f"{label}{where}: option '{value}' chosen",
                    )
                )
            continue
        kind, arrow = {
            "likert": ("number", INT),
            "numeric": ("number", FLOAT),
            "binary": ("boolean", BOOL),
        }.get(str(qtype), ("string", TEXT))
        columns.append(Column(name, arrow, _typed(expr, kind), f"{label}{where}"))
    return columns


def _gold_checks(question: Mapping[str, Any], shown: Sequence[str]) -> list[tuple[str, str]]:
    """(checked, correct) SQL conditions of one question on a gold unit.

    Gold answers are written against the unit's base order (A = base position 0) while
    the annotator answered in shown order, so each shown letter is mapped to its output's
    base letter through that output's unit position (``uo<i>.position``).
    """
    key = literal(str(question["key"]))
    qtype = question.get("type")
    gold = f"u.gold_answers -> {key}"
    answer = f"a.answers -> {key}"
    if qtype == "pairwise":
        g = f"COALESCE(({gold}) ->> 'choice', {_typed(gold, 'string')})"
        c = f"COALESCE(({answer}) ->> 'choice', {_typed(answer, 'string')})"
        mapped = " ".join(
            f"WHEN '{letter}' THEN chr(65 + uo{i}.position)" for i, letter in enumerate(shown)
        )
        return [(f"{g} IS NOT NULL", f"(CASE {c} {mapped} WHEN 'tie' THEN 'tie' END) = {g}")]

    def equal(g: str, v: str) -> str:
        if qtype == "multi_choice":
            return f"(({g}) @> ({v}) AND ({v}) @> ({g}))"
        return f"({g}) = ({v})"

    def present(g: str) -> str:
        return f"(jsonb_typeof({g}) IS NOT NULL AND jsonb_typeof({g}) <> 'null')"

    if (question.get("scope") or "per_output") != "per_output":
        return [(present(gold), equal(gold, answer))]
    checks = []
    for i, letter in enumerate(shown):
        g = f"{gold} -> chr(65 + uo{i}.position)"
        checks.append((present(g), equal(g, f"{answer} -> '{letter}'")))
    return checks


def task_query(
    *,
    task_id: int,
    rubric: Sequence[Mapping[str, Any]],
    n_shown: int,
    identity: str = "pseudonym",
    filters: Mapping[str, Any] | None = None,
) -> ExportQuery:
    """The SELECT of a task's raw export (see the module docstring for the layout).

    `filters`: ``pools`` (names), ``guideline_versions`` (numbers), ``date_from`` /
    ``date_to`` (aware datetimes; decision time in [from, to)), ``systems`` (names; a
    row is kept when any shown response is by one of them).
    """
    shown = letters(n_shown)
    filters = filters or {}
    if identity == "username":
        annotator = "usr.username"
        annotator_doc = "the annotator's username (exported by a lead who opted in)"
    else:
        annotator = "COALESCE(usr.pseudonym, 'ann-' || lpad(usr.id::text, 6, '0'))"
        annotator_doc = "the annotator's stable pseudonymous id"
    columns = [
        Column("annotation_id", INT, "a.id", "id of the annotation (empty when skipped/flagged)"),
        Column("assignment_id", INT, "asg.id", "id of the serving (assignment)"),
        Column("status", TEXT, "asg.status", "submitted, skipped or flagged"),
        Column("task", TEXT, "t.slug", "the task's slug"),
        Column("unit_id", INT, "u.id", "the judged unit (a prompt and its responses)"),
        Column("unit_ordinal", INT, "u.ordinal", "the unit's number within the task"),
        Column("unit_excluded", BOOL, "u.excluded", "the lead excluded the unit from analysis"),
        Column("prompt_id", TEXT, "p.external_id", "the prompt's id in the imported file"),
        Column("prompt_text", TEXT, "p.text", "the prompt"),
        Column("n_shown", INT, "jsonb_array_length(asg.shown_order)", "responses shown"),
    ]
    for i, letter in enumerate(shown):
        columns += [
            Column(
                f"system.{letter}",
                TEXT,
                f"s{i}.name",
                f"the system whose response was shown at position {letter}",
            ),
            Column(f"output_id.{letter}", INT, f"uo{i}.output_id", f"the output shown at {letter}"),
            Column(
                f"output.{letter}", TEXT, f"o{i}.text", f"the text of the output shown at {letter}"
            ),
            Column(
                f"variant.{letter}",
                TEXT,
                f"NULLIF(o{i}.variant, '')",
                f"the rewrite label of the output shown at {letter} (empty: the system's own)",
            ),
            Column(
                f"tone.{letter}",
                TEXT,
                f"NULLIF(o{i}.tone_condition, '')",
                f"the tone condition of the output shown at {letter}",
            ),
            Column(
                f"known_errors.{letter}",
                INT,
                f"o{i}.known_error_count",
                f"known (planted or found) errors in the output shown at {letter}",
            ),
            Column(
                f"metadata.{letter}",
                TEXT,
                f"o{i}.metadata::text",
                f"the metadata of the output shown at {letter} (JSON)",
            ),
        ]
    columns += [
        Column("annotator", TEXT, annotator, annotator_doc),
        Column("pool", TEXT, "pl.name", "the annotator pool the work was done in"),
        Column("pool_kind", TEXT, "pl.kind", "expert or crowd"),
        Column("guideline_version", INT, "gv.number", "guideline version number in force"),
        Column("served_at", TIME, "asg.served_at", "when the unit was served"),
        Column(
            "first_interaction_at",
            TIME,
            "COALESCE(a.first_interaction_at, asg.first_interaction_at)",
            "first interaction seen by the server",
        ),
        Column(
            "client_first_interaction_at",
            TIME,
            "a.client_first_interaction_at",
            "first interaction reported by the browser",
        ),
        Column("submitted_at", TIME, "a.submitted_at", "when the annotation was submitted"),
        Column("closed_at", TIME, "asg.closed_at", "when the assignment was closed"),
        Column(
            "client_active_seconds",
            FLOAT,
            "a.client_active_seconds",
            "seconds the page was active (browser)",
        ),
        Column(
            "seconds_to_submit",
            FLOAT,
            "EXTRACT(EPOCH FROM a.submitted_at - asg.served_at)::float8",
            "submitted_at minus served_at, in seconds",
        ),
        Column("is_gold", BOOL, "u.is_gold", "the unit has a known (gold) answer"),
    ]
    checks = [
        check
        for question in rubric
        if question.get("type") in GOLD_TYPES
        for check in _gold_checks(question, shown)
    ]
    if checks:
        n_checked = " + ".join(f"(CASE WHEN {c} THEN 1 ELSE 0 END)" for c, _ in checks)
        n_correct = " + ".join(
            f"(CASE WHEN {c} AND COALESCE({ok}, false) THEN 1 ELSE 0 END)" for c, ok in checks
        )
    else:
        n_checked = n_correct = "0"
    on_gold = "u.is_gold AND a.id IS NOT NULL"
    columns += [
        Column(
            "gold_n_checked",
            INT,
            f"(CASE WHEN {on_gold} THEN {n_checked} END)",
            "answer cells with a gold answer (gold units only)",
        ),
        Column(
            "gold_n_correct",
            INT,
            f"(CASE WHEN {on_gold} THEN {n_correct} END)",
            "of those, answered exactly as the gold answer",
        ),
        Column(
            "gold_correct",
            BOOL,
            f"(CASE WHEN {on_gold} AND ({n_checked}) > 0 THEN ({n_checked}) = ({n_correct}) END)",
            "every gold-checked cell was correct",
        ),
        Column("skip_reason", TEXT, "NULLIF(asg.skip_reason, '')", "why the unit was skipped"),
        Column("flag_reason", TEXT, "NULLIF(asg.flag_reason, '')", "why the unit was flagged"),
        Column("flag_note", TEXT, "NULLIF(asg.flag_note, '')", "the annotator's note on a flag"),
    ]
    for question in rubric:
        columns += _answer_columns(question, shown)
    columns.append(Column("answers_json", TEXT, "a.answers::text", "the stored answers, verbatim"))
    names = [c.name for c in columns]
    if len(set(names)) != len(names):
        raise ValueError("The rubric produces duplicate column names.")

    joins = "\n".join(
        f"LEFT JOIN annotation_unitoutput uo{i} ON uo{i}.unit_id = asg.unit_id "
        f"AND uo{i}.output_id = (asg.shown_order ->> {i})::bigint\n"
        f"LEFT JOIN annotation_output o{i} ON o{i}.id = uo{i}.output_id\n"
        f"LEFT JOIN annotation_system s{i} ON s{i}.id = o{i}.system_id"
        for i in range(len(shown))
    )
    where = [
        "u.task_id = %(task_id)s",
        "asg.status IN (" + ", ".join(literal(s) for s in EXPORTED_STATUSES) + ")",
    ]
    params: dict[str, Any] = {"task_id": task_id}
    if filters.get("pools"):
        where.append("pl.name = ANY(%(pools)s)")
        params["pools"] = list(filters["pools"])
    if filters.get("guideline_versions"):
        where.append("gv.number = ANY(%(versions)s)")
        params["versions"] = [int(v) for v in filters["guideline_versions"]]
    decided = "COALESCE(a.submitted_at, asg.closed_at, asg.served_at)"
    if filters.get("date_from"):
        where.append(f"{decided} >= %(date_from)s")
        params["date_from"] = filters["date_from"]
    if filters.get("date_to"):
        where.append(f"{decided} < %(date_to)s")
        params["date_to"] = filters["date_to"]
    if filters.get("systems"):
        where.append(
            "(" + " OR ".join(f"s{i}.name = ANY(%(systems)s)" for i in range(len(shown))) + ")"
        )
        params["systems"] = list(filters["systems"])
    select = (
        "SELECT "
        + ",\n  ".join(f"{c.sql} AS {_ident(c.name)}" for c in columns)
        + "\nFROM annotation_assignment asg"
        + "\nJOIN annotation_unit u ON u.id = asg.unit_id"
        + "\nJOIN annotation_task t ON t.id = u.task_id"
        + "\nJOIN annotation_prompt p ON p.id = u.prompt_id"
        + "\nJOIN annotation_taskpool tp ON tp.id = asg.task_pool_id"
        + "\nJOIN annotation_annotatorpool pl ON pl.id = tp.pool_id"
        + "\nJOIN guidelines_guidelineversion gv ON gv.id = asg.guideline_version_id"
        + "\nJOIN common_user usr ON usr.id = asg.annotator_id"
        + "\nLEFT JOIN annotation_annotation a ON a.assignment_id = asg.id\n"
        + joins
        + "\nWHERE "
        + " AND ".join(where)
    )
    return ExportQuery(
        select=select, params=params, columns=tuple(columns), order_by="ORDER BY asg.id"
    )


def dataset_query(*, dataset_id: int, filters: Mapping[str, Any] | None = None) -> ExportQuery:
    """The SELECT of an imported dataset's raw export: its long table as stored."""
    filters = filters or {}
    columns = (
        Column("unit", TEXT, "unit", "the unit id as imported"),
        Column("annotator", TEXT, "annotator", "the annotator id as imported"),
        Column("question", TEXT, "question", "question key"),
        Column("value", TEXT, "value_text", "the answer as written in the file"),
        Column("value_number", FLOAT, "value_number", "the answer as a number, when it is one"),
        Column("pool", TEXT, "NULLIF(pool, '')", "annotator pool"),
        Column("guideline_version", TEXT, "NULLIF(guideline_version, '')", "guideline version"),
    )
    where = ["dataset_id = %(dataset_id)s"]
    params: dict[str, Any] = {"dataset_id": dataset_id}
    if filters.get("pools"):
        where.append("pool = ANY(%(pools)s)")
        params["pools"] = list(filters["pools"])
    if filters.get("guideline_versions"):
        where.append("guideline_version = ANY(%(versions)s)")
        params["versions"] = [str(v) for v in filters["guideline_versions"]]
    select = (
        "SELECT "
        + ", ".join(f"{c.sql} AS {_ident(c.name)}" for c in columns)
        + " FROM analysis_datasetannotation WHERE "
        + " AND ".join(where)
    )
    return ExportQuery(select=select, params=params, columns=columns, order_by="ORDER BY id")


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""').replace("%", "%%") + '"'
