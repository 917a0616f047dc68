"""python manage.py rank_battles FILE [--format csv|jsonl|parquet] > rankings.json"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from analysis.battles_file import ERRORS_SHOWN, QUESTION, parse_battles_file
from analysis.metrics.ranking_report import ranking_sections
from analysis.metrics.rankings import RankingError
from analysis.services import DEFAULT_PARAMETERS, canonical_json
from annotation.importing import detect_format


class Command(BaseCommand):
    help = (
        "Rank the systems of a pairwise battle log collected elsewhere (columns model_a, "
        "model_b, winner; optional prompt/question_id, judge, pool) and print the "
        "rankings and rank-stability sections as JSON (docs/rankings.md). Reads the file "
        "only: nothing is stored."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="A .csv, .jsonl or .parquet battle log.")
        parser.add_argument("--format", choices=["csv", "jsonl", "parquet"])
        parser.add_argument("--seed", type=int, default=DEFAULT_PARAMETERS["seed"])
        parser.add_argument("--n-bootstrap", type=int, default=DEFAULT_PARAMETERS["n_bootstrap"])
        parser.add_argument(
            "--confidence-level", type=float, default=DEFAULT_PARAMETERS["confidence_level"]
        )
        parser.add_argument(
            "--resample",
            choices=["prompt", "vote"],
            default="prompt",
            help="Bootstrap over prompts (when the file has them; the default) or votes.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["path"])
        try:
            fmt = detect_format(path.name, options["format"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        if not 2 <= options["n_bootstrap"] <= 10_000:
            raise CommandError("--n-bootstrap must be from 2 to 10000.")
        if not 0.5 <= options["confidence_level"] < 1:
            raise CommandError("--confidence-level must be from 0.5 to below 1.")
        with path.open("rb") as stream:
            parsed = parse_battles_file(stream, fmt)
        if parsed.errors:
            for error in parsed.errors[:ERRORS_SHOWN]:
                self.stderr.write(f"line {error.line}, {error.field}: {error.message}")
            hidden = len(parsed.errors) - ERRORS_SHOWN
            if hidden > 0:
                self.stderr.write(f"… and {hidden} more errors")
            raise CommandError(f"{path.name} was refused: {len(parsed.errors)} errors.")
        # A parse without errors always carries its table.
        assert parsed.table is not None
        try:
            sections = ranking_sections(
                parsed.table,
                QUESTION,
                pool_column="pool" if parsed.pooled else None,
                n_bootstrap=options["n_bootstrap"],
                seed=options["seed"],
                alpha=1 - options["confidence_level"],
                resample=options["resample"],
            )
        except RankingError as exc:
            raise CommandError(str(exc)) from exc
        document = {
            "source": {"file": path.name, "format": fmt, "votes": len(parsed.table)},
            "parameters": {
                "seed": options["seed"],
                "n_bootstrap": options["n_bootstrap"],
                "confidence_level": options["confidence_level"],
                "resample": options["resample"],
            },
            **sections,
        }
        self.stdout.write(canonical_json(document).decode("utf-8"))
