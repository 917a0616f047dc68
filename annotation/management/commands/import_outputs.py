from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from annotation.importing import detect_format
from annotation.services.outputs import ImportRefused, outputs_import
from common.models import Project, User


class Command(BaseCommand):
    help = "Import model outputs (JSONL, CSV or Parquet) into a project; all rows or none."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--project", required=True, help="The project's slug.")
        parser.add_argument("--format", choices=["jsonl", "csv", "parquet"])
        parser.add_argument(
            "--as-user",
            default=None,
            help="Recorded in the audit log as the importer (default: the first superuser).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        project = Project.objects.filter(slug=options["project"]).first()
        if project is None:
            raise CommandError(f"No project with slug '{options['project']}'.")
        actor = self._actor(options["as_user"])
        try:
            fmt = detect_format(path.name, options["format"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc

        bar = tqdm(total=path.stat().st_size, unit="B", unit_scale=True, file=sys.stderr)
        with path.open("rb") as stream:
            progress = _Progress(bar, stream)
            try:
                result = outputs_import(
                    actor=actor,
                    project=project,
                    stream=progress.wrap(),
                    fmt=fmt,
                    filename=path.name,
                    progress=progress.stage,
                )
            except ImportRefused as refused:
                bar.close()
                for error in refused.errors[:100]:
                    self.stderr.write(f"line {error.line}, {error.field}: {error.message}")
                if len(refused.errors) > 100:
                    self.stderr.write(f"… and {len(refused.errors) - 100} more error(s).")
                raise CommandError(refused.message) from refused
        bar.close()
        summary = ", ".join(
            f"{key} {value}" for key, value in result.as_dict().items() if key != "systems"
        )
        self.stdout.write(self.style.SUCCESS(f"Imported {path.name}: {summary}."))

    def _actor(self, username: str | None) -> User | None:
        if username:
            user = User.objects.filter(username=username).first()
            if user is None:
                raise CommandError(f"No user '{username}'.")
            return user
        return User.objects.filter(is_superuser=True).order_by("pk").first()


class _Progress:
    """Advances the bar as the parser reads bytes, then names the writing stage."""

    def __init__(self, bar: tqdm, stream: Any) -> None:
        self.bar = bar
        self.stream = stream

    def wrap(self) -> Any:
        progress = self

        class Reader:
            def __iter__(self) -> Any:
                for line in progress.stream:
                    progress.bar.update(len(line))
                    yield line

            def read(self, size: int = -1) -> bytes:
                data = progress.stream.read(size)
                progress.bar.update(len(data))
                return data

            def __getattr__(self, name: str) -> Any:
                return getattr(progress.stream, name)

        return Reader()

    def stage(self, stage: str, done: int, total: int) -> None:
        self.bar.set_description(stage)
