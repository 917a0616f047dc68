"""python manage.py agreement_report (--dataset NAME | --task SLUG) --format json [parameters]

Every report parameter the API takes (`POST /api/projects/<slug>/reports/request/`) is an
option here, and so are its filters; docs/analysis.md lists them.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from analysis.management.commands._common import actor_for_command, project_for_command
from analysis.models import ReportStatus
from analysis.selectors import NotFound, dataset_get_by_name, report_document_json
from analysis.services import (
    DEFAULT_PARAMETERS,
    agreement_report_compute,
    agreement_report_request,
)
from common.exceptions import ApplicationError

D = DEFAULT_PARAMETERS


def _numbers(text: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise CommandError(f"Expected numbers separated by commas, got '{text}'.") from exc


def _names(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


class Command(BaseCommand):
    help = (
        "Compute the agreement report of a dataset or a task and print it as JSON "
        "(the document the page's 'Download JSON' serves; see docs/analysis.md). "
        "The report is also stored, like one requested from the page."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--dataset", help="An imported dataset's name.")
        source.add_argument("--task", help="A task's slug (its project is implied).")
        parser.add_argument("--project", help="Project slug (default: the only project).")
        parser.add_argument("--format", choices=["json"], default="json")
        parameters = parser.add_argument_group("report parameters (as in the API)")
        parameters.add_argument("--seed", type=int, default=D["seed"])
        parameters.add_argument("--n-bootstrap", type=int, default=D["n_bootstrap"])
        parameters.add_argument("--confidence-level", type=float, default=D["confidence_level"])
        parameters.add_argument(
            "--thresholds",
            default=",".join(str(t) for t in D["thresholds"]),
            metavar="T1,T2,...",
            help="Reliability thresholds the report compares alpha with.",
        )
        parameters.add_argument(
            "--min-shared-units",
            type=int,
            default=D["min_shared_units"],
            help="Units two annotators must share for a Cohen's kappa of the pair.",
        )
        parameters.add_argument(
            "--min-annotator-items",
            type=int,
            default=D["min_annotator_items"],
            help="Items an annotator needs for their own agreement figures.",
        )
        parameters.add_argument(
            "--top-contested",
            type=int,
            default=D["top_contested"],
            help="How many of the most contested units to list.",
        )
        parameters.add_argument(
            "--breakdown-columns",
            default=",".join(D["breakdown_columns"]),
            metavar="COLUMN,...",
            help="Columns the report breaks agreement down by.",
        )
        parameters.add_argument(
            "--ranking-resample",
            choices=["prompt", "vote"],
            default=D["ranking_resample"],
            help="Pairwise tasks: bootstrap the leaderboard over prompts (default) or votes.",
        )
        parameters.add_argument(
            "--min-expert-labels",
            type=int,
            default=D["min_expert_labels"],
            help="Expert labels a unit needs to serve as expert reference (default 1).",
        )
        parameters.add_argument(
            "--treated-tone",
            default=D["treated_tone"],
            help="The tone condition the tone checks compare (treated minus control).",
        )
        parameters.add_argument(
            "--control-tone", default=D["control_tone"], help="The tone it is compared with."
        )
        filters = parser.add_argument_group("filters (as in the API; repeatable)")
        filters.add_argument("--question", action="append", default=[], dest="questions")
        filters.add_argument("--pool", action="append", default=[], dest="pools")
        filters.add_argument(
            "--guideline-version", action="append", default=[], dest="guideline_versions"
        )
        parser.add_argument(
            "--as-user", help="Recorded in the audit log (default: first superuser)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        task = _task(options["task"], options["project"]) if options["task"] else None
        project = task.project if task is not None else project_for_command(options["project"])
        actor = actor_for_command(options["as_user"])
        parameters = {
            "seed": options["seed"],
            "n_bootstrap": options["n_bootstrap"],
            "confidence_level": options["confidence_level"],
            "thresholds": _numbers(options["thresholds"]),
            "min_shared_units": options["min_shared_units"],
            "min_annotator_items": options["min_annotator_items"],
            "top_contested": options["top_contested"],
            "breakdown_columns": _names(options["breakdown_columns"]),
            "ranking_resample": options["ranking_resample"],
            "min_expert_labels": options["min_expert_labels"],
            "treated_tone": options["treated_tone"],
            "control_tone": options["control_tone"],
        }
        filters = {
            key: options[key]
            for key in ("questions", "pools", "guideline_versions")
            if options[key]
        }
        try:
            if options["dataset"]:
                dataset = dataset_get_by_name(project=project, name=options["dataset"])
                source: dict[str, Any] = {"dataset": dataset}
            else:
                source = {"task": task}
            # Computed here rather than by a worker, so the command needs no broker.
            report = agreement_report_request(
                actor=actor,
                project=project,
                parameters=parameters,
                filters=filters,
                enqueue=False,
                **source,
            )
            report = agreement_report_compute(report_id=report.pk)
        except (NotFound, ApplicationError) as exc:
            raise CommandError(exc.message) from exc
        if report.status != ReportStatus.DONE:
            raise CommandError(f"The report failed: {report.error}")
        self.stdout.write(report_document_json(report=report).decode("utf-8"))


def _task(slug: str, project_slug: str | None) -> Any:
    from annotation.models import Task

    task = Task.objects.select_related("project").filter(slug=slug).first()
    if task is None or (project_slug and task.project.slug != project_slug):
        raise CommandError(f"No task with slug '{slug}'.")
    return task
