"""python manage.py import_annotations FILE --dataset NAME [--level Q=LEVEL ...] [--order Q=v1,v2 ...]"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from analysis.importing import FORMATS, LEVELS, detect_format
from analysis.management.commands._common import actor_for_command, project_for_command
from analysis.services import ImportRefused, dataset_import
from common.exceptions import ApplicationError

ERRORS_PRINTED = 100


def _pair(text: str) -> tuple[str, str]:
    name, equals, value = text.partition("=")
    if not equals or not name.strip():
        raise CommandError(f"Expected QUESTION=VALUE, got '{text}'.")
    return name.strip(), value.strip()


class Command(BaseCommand):
    help = (
        "Import annotations collected elsewhere (long format: unit, annotator, question, "
        "value, optional pool and guideline_version; CSV, JSONL or Parquet) into an "
        "analysis-only dataset. All rows or none."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--dataset", required=True, help="Dataset name (unique per project).")
        parser.add_argument("--project", help="Project slug (default: the only project).")
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
        parser.add_argument("--format", choices=list(FORMATS))
        parser.add_argument(
            "--replace", action="store_true", help="Replace an existing dataset of that name."
        )
        parser.add_argument(
            "--as-user", help="Recorded in the audit log (default: first superuser)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        project = project_for_command(options["project"])
        actor = actor_for_command(options["as_user"])
        declarations: dict[str, dict[str, Any]] = {}
        for text in options["level"]:
            name, level = _pair(text)
            declarations.setdefault(name, {})["level"] = level
        for text in options["order"]:
            name, order = _pair(text)
            declarations.setdefault(name, {})["order"] = [v.strip() for v in order.split(",")]
        try:
            fmt = detect_format(path.name, options["format"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        with path.open("rb") as stream:
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
                )
            except ImportRefused as refused:
                for error in refused.errors[:ERRORS_PRINTED]:
                    self.stderr.write(f"line {error.line}, {error.field}: {error.message}")
                if len(refused.errors) > ERRORS_PRINTED:
                    self.stderr.write(
                        f"… and {len(refused.errors) - ERRORS_PRINTED} more error(s)."
                    )
                raise CommandError(refused.message) from refused
            except ApplicationError as exc:
                raise CommandError(exc.message) from exc
        questions = ", ".join(f"{k} ({v['level']})" for k, v in dataset.questions.items())
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {dataset.row_count} answers into dataset '{dataset.name}' of "
                f"project '{project.slug}': {dataset.unit_count} units, "
                f"{dataset.annotator_count} annotators; questions {questions}."
            )
        )
