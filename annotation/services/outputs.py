"""Importing model outputs: validate the whole file, then write it in one transaction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

import orjson
from django.db import connection, transaction
from django.utils import timezone

from annotation.importing import (
    ERRORS_SHOWN,
    OutputRow,
    RowError,
    design_fields,
    parse_outputs_file,
)
from annotation.models import Output, Prompt, System
from common.exceptions import ApplicationError
from common.models import Project, User
from common.services import audit_record

ProgressCallback = Callable[[str, int, int], None]


class ImportRefused(ApplicationError):
    """The file has errors; nothing was written. `errors` holds every one of them."""

    def __init__(self, errors: list[RowError]) -> None:
        shown = errors[:ERRORS_SHOWN]
        super().__init__(
            f"The file was refused: {len(errors)} error(s); nothing was written.",
            extra={
                "errors": [error.as_dict() for error in shown],
                "error_count": len(errors),
                "errors_not_shown": max(0, len(errors) - len(shown)),
            },
        )
        self.errors = errors


@dataclass
class ImportResult:
    rows: int = 0
    prompts_created: int = 0
    systems_created: int = 0
    outputs_created: int = 0
    outputs_unchanged: int = 0
    outputs_updated: int = 0
    # Rows whose output is empty: imported (real models return them); annotators see
    # "(empty response)".
    empty_outputs: int = 0
    systems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def outputs_import(
    *,
    actor: User | None,  # None: a command run by no one in particular (the audit allows it)
    project: Project,
    stream: IO[bytes],
    fmt: str,
    filename: str = "",
    progress: ProgressCallback | None = None,
) -> ImportResult:
    """Import a file of outputs into `project`, all or nothing.

    Rows already in the project (same prompt id and system, same texts) are left
    as they are, so importing a file twice creates nothing the second time.
    A row that would change the text of an existing prompt or output is an error:
    annotations refer to that exact text.
    """
    report = progress or (lambda stage, done, total: None)
    report("reading", 0, 0)
    parsed = parse_outputs_file(stream, fmt)
    report("validating", len(parsed.rows), len(parsed.rows))
    if parsed.errors:
        raise ImportRefused(parsed.errors)
    with transaction.atomic():
        result = _write_rows(project=project, rows=parsed.rows, report=report)
        result.empty_outputs = parsed.empty_outputs
        audit_record(
            actor=actor,
            project=project,
            action="outputs.import",
            details={"filename": filename, "format": fmt, **result.as_dict()},
        )
    return result


def _write_rows(
    *, project: Project, rows: list[OutputRow], report: ProgressCallback
) -> ImportResult:
    result = ImportResult(rows=len(rows))
    # Lock the project row so two imports into one project cannot interleave their checks.
    Project.objects.select_for_update().filter(pk=project.pk).get()
    systems = _ensure_systems(project=project, names={row.system for row in rows}, result=result)
    prompt_ids = _existing_prompts(project=project, rows=rows)
    existing_outputs = _existing_outputs(project=project, prompt_pks=list(prompt_ids.values()))

    errors: list[RowError] = []
    new_prompts: dict[str, OutputRow] = {}
    new_outputs: list[OutputRow] = []
    metadata_updates: list[tuple[int, OutputRow]] = []
    for row in rows:
        known_prompt = prompt_ids.get(row.prompt_id)
        if known_prompt is None:
            new_prompts.setdefault(row.prompt_id, row)
            new_outputs.append(row)
            continue
        known = existing_outputs.get((known_prompt, row.system, row.variant))
        if known is None:
            new_outputs.append(row)
        elif known["text"] != row.output:
            errors.append(
                RowError(
                    row.line,
                    "output",
                    "An output for this prompt, system and variant already exists with "
                    "different text; outputs cannot change once imported.",
                )
            )
        elif known["metadata"] != row.metadata:
            metadata_updates.append((known["pk"], row))
        else:
            result.outputs_unchanged += 1
    errors.extend(_prompt_text_conflicts(project=project, rows=rows, prompt_ids=prompt_ids))
    if errors:
        errors.sort(key=lambda error: error.line)
        raise ImportRefused(errors)

    report("writing", 0, len(new_outputs))
    prompt_ids.update(_insert_prompts(project=project, rows=list(new_prompts.values())))
    result.prompts_created = len(new_prompts)
    _insert_outputs(rows=new_outputs, prompt_ids=prompt_ids, systems=systems)
    result.outputs_created = len(new_outputs)
    for output_pk, row in metadata_updates:
        tone, known_errors = design_fields(row.metadata)
        Output.objects.filter(pk=output_pk).update(
            metadata=row.metadata,
            tone_condition=tone,
            known_error_count=known_errors,
            updated_at=timezone.now(),
        )
    result.outputs_updated = len(metadata_updates)
    report("writing", len(new_outputs), len(new_outputs))
    return result


def _ensure_systems(*, project: Project, names: set[str], result: ImportResult) -> dict[str, int]:
    systems = dict(System.objects.filter(project=project, name__in=names).values_list("name", "pk"))
    for name in sorted(names - systems.keys()):
        systems[name] = System.objects.create(project=project, name=name).pk
        result.systems_created += 1
    result.systems = sorted(names)
    return systems


def _existing_prompts(*, project: Project, rows: list[OutputRow]) -> dict[str, int]:
    if not Prompt.objects.filter(project=project).exists():
        return {}
    external_ids = list({row.prompt_id for row in rows})
    # One array parameter instead of tens of thousands of placeholders.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT external_id, id FROM annotation_prompt "
            "WHERE project_id = %s AND external_id = ANY(%s)",
            [project.pk, external_ids],
        )
        return dict(cursor.fetchall())


def _existing_outputs(
    *, project: Project, prompt_pks: list[int]
) -> dict[tuple[int, str, str], dict[str, Any]]:
    found: dict[tuple[int, str, str], dict[str, Any]] = {}
    for start in range(0, len(prompt_pks), 20_000):
        chunk = prompt_pks[start : start + 20_000]
        for pk, prompt_pk, system, variant, text, metadata in Output.objects.filter(
            prompt_id__in=chunk
        ).values_list("pk", "prompt_id", "system__name", "variant", "text", "metadata"):
            found[(prompt_pk, system, variant)] = {"pk": pk, "text": text, "metadata": metadata}
    return found


def _prompt_text_conflicts(
    *, project: Project, rows: list[OutputRow], prompt_ids: dict[str, int]
) -> list[RowError]:
    if not prompt_ids:
        return []
    stored = dict(
        Prompt.objects.filter(pk__in=list(prompt_ids.values())).values_list("external_id", "text")
    )
    errors = []
    for row in rows:
        if row.prompt_id in stored and stored[row.prompt_id] != row.prompt:
            errors.append(
                RowError(
                    row.line,
                    "prompt",
                    f"Prompt '{row.prompt_id}' already exists with different text.",
                )
            )
    return errors


def _insert_prompts(*, project: Project, rows: list[OutputRow]) -> dict[str, int]:
    if not rows:
        return {}
    now = timezone.now()
    # Reserve the ids first so COPY (several times faster than INSERT) can write them
    # and nothing has to be read back.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence('annotation_prompt', 'id')) "
            "FROM generate_series(1, %s)",
            [len(rows)],
        )
        ids = [pk for (pk,) in cursor.fetchall()]
        columns = "(id, project_id, external_id, text, reference, metadata, created_at, updated_at)"
        with cursor.cursor.copy(f"COPY annotation_prompt {columns} FROM STDIN") as copy:
            for pk, row in zip(ids, rows, strict=True):
                copy.write_row(
                    (pk, project.pk, row.prompt_id, row.prompt, row.reference, "{}", now, now)
                )
    return {row.prompt_id: pk for pk, row in zip(ids, rows, strict=True)}


def _insert_outputs(
    *, rows: list[OutputRow], prompt_ids: dict[str, int], systems: dict[str, int]
) -> None:
    if not rows:
        return
    now = timezone.now()
    columns = (
        "(prompt_id, system_id, variant, text, metadata, tone_condition, known_error_count, "
        "created_at, updated_at)"
    )
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY annotation_output {columns} FROM STDIN") as copy,
    ):
        for row in rows:
            tone, known_errors = design_fields(row.metadata)
            copy.write_row(
                (
                    prompt_ids[row.prompt_id],
                    systems[row.system],
                    row.variant,
                    row.output,
                    orjson.dumps(row.metadata).decode(),
                    tone,
                    known_errors,
                    now,
                    now,
                )
            )
