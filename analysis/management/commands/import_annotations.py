"""python manage.py import_annotations FILE --dataset NAME [--units FILE] [--annotators FILE]
[--role QUESTION=ROLE ...] [--level QUESTION=LEVEL ...] [--order QUESTION=v1,v2 ...]"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from analysis.importing import FORMATS, LEVELS, ROLES, detect_format
from analysis.management.commands._common import actor_for_command, project_for_command
from analysis.services import BundleFile, BundleFiles, ImportRefused, dataset_import
from common.exceptions import ApplicationError

ERRORS_PRINTED = 100


def _pair(text: str) -> tuple[str, str]:
    name, equals, value = text.partition("=")
    if not equals or not name.strip():
        raise CommandError(f"Expected QUESTION=VALUE, got '{text}'.")
    return name.strip(), value.strip()


def _readable(path: Path | None) -> Path | None:
    if path is not None and not path.is_file():
        raise CommandError(f"No such file: {path}")
    return path


class Command(BaseCommand):
    help = (
        "Import annotations collected elsewhere (long format: unit, annotator, question, "
        "value, optional pool, guideline_version and shown_order; CSV, JSONL or Parquet) "
        "into an analysis-only dataset, optionally as a study bundle with a units file "
        "(what each unit showed: systems, outputs, tone, known errors, variant) and an "
        "annotators file (pool, pool kind, attr.* columns). All rows or none."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--dataset", required=True, help="Dataset name (unique per project).")
        parser.add_argument("--project", help="Project slug (default: the only project).")
        parser.add_argument(
            "--units",
            type=Path,
            metavar="UNITS_FILE",
            help="The bundle's units: one row per unit (unit, prompt_id, system, output, "
            "tone, known_errors, variant; pairs: system_a, system_b, output_a, output_b, …).",
        )
        parser.add_argument(
            "--annotators",
            type=Path,
            metavar="ANNOTATORS_FILE",
            help="The bundle's annotators: annotator, pool, pool_kind (expert|crowd), attr.*.",
        )
        parser.add_argument(
            "--role",
            action="append",
            default=[],
            metavar="QUESTION=ROLE",
            help=f"The part a question plays in the bias checks ({'|'.join(ROLES)}).",
        )
        parser.add_argument(
            "--level",
            action="append",
            default=[],
            metavar="QUESTION=LEVEL",
            help=f"Level of measurement ({'|'.join(LEVELS)}); a question without one is nominal.",
        )
        parser.add_argument(
            "--order",
            action="append",
            default=[],
            metavar="QUESTION=v1,v2,...",
            help="Order of an ordinal question's word labels, lowest first.",
        )
        parser.add_argument(
            "--format", choices=list(FORMATS), help="Of FILE (default: from its name)."
        )
        parser.add_argument(
            "--replace", action="store_true", help="Replace an existing dataset of that name."
        )
        parser.add_argument(
            "--as-user", help="Recorded in the audit log (default: first superuser)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        _readable(path)
        units_path = _readable(options["units"])
        annotators_path = _readable(options["annotators"])
        project = project_for_command(options["project"])
        actor = actor_for_command(options["as_user"])
        declarations: dict[str, dict[str, Any]] = {}
        for text in options["level"]:
            name, level = _pair(text)
            declarations.setdefault(name, {})["level"] = level
        for text in options["order"]:
            name, order = _pair(text)
            declarations.setdefault(name, {})["order"] = [v.strip() for v in order.split(",")]
        for text in options["role"]:
            name, role = _pair(text)
            declarations.setdefault(name, {})["role"] = role
        try:
            fmt = detect_format(path.name, options["format"])
            formats = {
                p: detect_format(p.name) for p in (units_path, annotators_path) if p is not None
            }
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        with ExitStack() as files:
            stream = files.enter_context(path.open("rb"))
            bundle = BundleFiles()
            if units_path is not None:
                bundle["units"] = BundleFile(
                    files.enter_context(units_path.open("rb")), formats[units_path], units_path.name
                )
            if annotators_path is not None:
                bundle["annotators"] = BundleFile(
                    files.enter_context(annotators_path.open("rb")),
                    formats[annotators_path],
                    annotators_path.name,
                )
            try:
                dataset = dataset_import(
                    actor=actor,
                    project=project,
                    name=options["dataset"],
                    stream=stream,
                    fmt=fmt,
                    filename=path.name,
                    declarations=declarations,
                    replace=options["replace"],
                    **bundle,
                )
            except ImportRefused as refused:
                for error in refused.errors[:ERRORS_PRINTED]:
                    where = f"{error.file}, " if error.file else ""
                    self.stderr.write(f"{where}line {error.line}, {error.field}: {error.message}")
                if len(refused.errors) > ERRORS_PRINTED:
                    self.stderr.write(
                        f"… and {len(refused.errors) - ERRORS_PRINTED} more error(s)."
                    )
                raise CommandError(refused.message) from refused
            except ApplicationError as exc:
                raise CommandError(exc.message) from exc
        self.stdout.write(self.style.SUCCESS(_summary(dataset, project.slug)))


def _summary(dataset: Any, project: str) -> str:
    questions = ", ".join(
        f"{k} ({v['level']}{', ' + v['role'] if v.get('role') else ''})"
        for k, v in dataset.questions.items()
    )
    parts = [
        f"Imported {dataset.row_count} answers into dataset '{dataset.name}' of project "
        f"'{project}': {dataset.unit_count} units, {dataset.annotator_count} annotators; "
        f"questions {questions}."
    ]
    if dataset.empty_value_count:
        parts.append(f"{dataset.empty_value_count} row(s) without a value were left out.")
    if dataset.bundle_unit_count or dataset.bundle_annotator_count:
        parts.append(
            f"Study design: {dataset.bundle_unit_count} units in the units file, "
            f"{dataset.bundle_annotator_count} annotators in the annotators file."
        )
    return " ".join(parts)
