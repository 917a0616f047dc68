"""python manage.py export annotations|report|cleanup — exports in-process, no broker.

    export annotations --task SLUG --format csv|jsonl|parquet|hf --output PATH
    export annotations --dataset NAME --project SLUG --format ... --output PATH
    export report --task SLUG --format json|csv|html|pdf --output PATH
    export cleanup

A progress bar goes to stderr. `hf` writes the Hugging Face layout as a folder, or as a
zip when PATH ends in .zip. `report` exports the latest finished report of the source
(or `--report ID`); with none, or with `--recompute`, it computes one first.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from analysis.management.commands._common import actor_for_command, project_for_command
from analysis.models import ReportStatus
from analysis.services import DEFAULT_PARAMETERS, agreement_report_compute, agreement_report_request
from common.exceptions import ApplicationError
from exports import selectors
from exports.services import annotations_write, export_jobs_maintain, report_write

REPORT_FORMATS = {"json": "json", "csv": "csv_zip", "html": "html", "pdf": "pdf"}


def _source_arguments(parser: CommandParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--task", help="Task slug (its project is implied).")
    source.add_argument("--dataset", help="An imported dataset's name (with --project).")
    parser.add_argument("--project", help="Project slug (default: the only project).")
    parser.add_argument("--output", required=True, help="File (or folder for hf) to write.")
    parser.add_argument("--as-user", help="Recorded in the audit log (default: first superuser).")


class Command(BaseCommand):
    help = "Export raw annotations or an agreement report to a file (docs/exports.md)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="what", required=True)
        annotations = sub.add_parser("annotations", help="Raw annotations, one row each.")
        _source_arguments(annotations)
        annotations.add_argument(
            "--format", required=True, choices=["csv", "jsonl", "parquet", "hf"]
        )
        annotations.add_argument("--pool", action="append", default=[], help="Repeatable.")
        annotations.add_argument("--guideline-version", action="append", default=[])
        annotations.add_argument("--system", action="append", default=[], help="Repeatable.")
        annotations.add_argument("--date-from", help="YYYY-MM-DD or ISO datetime.")
        annotations.add_argument("--date-to", help="YYYY-MM-DD (inclusive) or ISO datetime.")
        annotations.add_argument(
            "--identity", choices=["pseudonym", "username"], default="pseudonym"
        )
        report = sub.add_parser("report", help="An agreement report with its manifest.")
        _source_arguments(report)
        report.add_argument("--format", required=True, choices=list(REPORT_FORMATS))
        report.add_argument("--report", type=int, help="A finished report's id.")
        report.add_argument("--recompute", action="store_true", help="Compute a new report.")
        report.add_argument("--seed", type=int, default=DEFAULT_PARAMETERS["seed"])
        report.add_argument("--n-bootstrap", type=int, default=DEFAULT_PARAMETERS["n_bootstrap"])
        sub.add_parser("cleanup", help="Delete expired files; re-enqueue dead jobs.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["what"] == "cleanup":
                result = export_jobs_maintain()
                self.stdout.write(f"expired {result['expired']}, re-enqueued {result['recovered']}")
                return
            task, dataset, project = self._source(options)
            actor = actor_for_command(options["as_user"])
            output = Path(options["output"])
            if options["what"] == "annotations":
                self._annotations(
                    options, project=project, task=task, dataset=dataset, actor=actor, output=output
                )
            else:
                self._report(
                    options, project=project, task=task, dataset=dataset, actor=actor, output=output
                )
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc

    def _source(self, options: dict[str, Any]) -> tuple[Any, Any, Any]:
        if options["task"]:
            project = project_for_command(options["project"]) if options["project"] else None
            task = selectors.task_get_by_slug(project=project, slug=options["task"])
            return task, None, task.project
        project = project_for_command(options["project"])
        return (
            None,
            selectors.dataset_get_by_name(project=project, name=options["dataset"]),
            project,
        )

    def _annotations(self, options: dict[str, Any], *, output: Path, **source: Any) -> None:
        fmt = options["format"]
        target = output
        unpack = fmt == "hf" and output.suffix != ".zip"
        if unpack:
            target = Path(tempfile.mkdtemp(prefix="jb-export-")) / "dataset.zip"
        bar = tqdm(total=0, unit=" rows", file=sys.stderr, disable=options.get("verbosity", 1) == 0)

        def progress(rows: int, total: int) -> None:
            bar.total = total
            bar.update(rows - bar.n)

        try:
            rows = annotations_write(
                path=target,
                fmt=fmt,
                filters={
                    "pools": options["pool"],
                    "guideline_versions": options["guideline_version"],
                    "systems": options["system"],
                    "date_from": options["date_from"],
                    "date_to": options["date_to"],
                },
                options={"identity": options["identity"]},
                on_progress=progress,
                **source,
            )
            bar.update(rows - bar.n)
        finally:
            bar.close()
        if unpack:
            output.mkdir(parents=True, exist_ok=True)
            with zipfile.ZipFile(target) as archive:
                archive.extractall(output)
            shutil.rmtree(target.parent, ignore_errors=True)
        self.stdout.write(f"{rows} rows written to {output}")

    def _report(
        self,
        options: dict[str, Any],
        *,
        output: Path,
        project: Any,
        task: Any,
        dataset: Any,
        actor: Any,
    ) -> None:
        report = None
        if options["report"]:
            report = selectors.report_get_done(project=project, report_id=options["report"])
        elif not options["recompute"]:
            report = selectors.report_latest_for_source(project=project, task=task, dataset=dataset)
        if report is None:
            self.stderr.write("Computing the agreement report…")
            report = agreement_report_request(
                actor=actor,
                project=project,
                task=task,
                dataset=dataset,
                parameters={"seed": options["seed"], "n_bootstrap": options["n_bootstrap"]},
                enqueue=False,
            )
            report = agreement_report_compute(report_id=report.pk)
            if report.status != ReportStatus.DONE:
                raise CommandError(f"The report failed: {report.error}")
        size = report_write(
            actor=actor, report=report, fmt=REPORT_FORMATS[options["format"]], path=output
        )
        self.stdout.write(f"report #{report.pk} ({size} bytes) written to {output}")
