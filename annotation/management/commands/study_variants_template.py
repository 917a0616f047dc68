from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotation.services.study import VariantSpec, study_variants_template_csv
from common.exceptions import ApplicationError
from common.models import Project


class Command(BaseCommand):
    help = (
        "Write the rewrite sheet for matched study variants: one row per base output and "
        "variant, the base text prefilled. Rewrite the `output` cells, then import the "
        "file with import_outputs."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--project", required=True)
        parser.add_argument(
            "--variant",
            action="append",
            required=True,
            help="LABEL:TONE:ERRORS, e.g. assertive:assertive:0 (repeatable).",
        )
        parser.add_argument("--system", action="append", default=[], help="Only these systems.")
        parser.add_argument("--output", type=Path, help="CSV path (default: standard output).")

    def handle(self, *args: Any, **options: Any) -> None:
        project = Project.objects.filter(slug=options["project"]).first()
        if project is None:
            raise CommandError(f"No project with slug '{options['project']}'.")
        try:
            variants = [VariantSpec.parse(text) for text in options["variant"]]
            chunks = study_variants_template_csv(
                project=project, variants=variants, systems=options["system"]
            )
            if options["output"]:
                with options["output"].open("w", encoding="utf-8", newline="") as handle:
                    handle.writelines(chunks)
            else:
                for chunk in chunks:
                    self.stdout.write(chunk, ending="")
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
