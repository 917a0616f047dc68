"""python manage.py agreement_report (--dataset NAME | --task SLUG) --format json"""

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
        parser.add_argument("--seed", type=int, default=DEFAULT_PARAMETERS["seed"])
        parser.add_argument("--n-bootstrap", type=int, default=DEFAULT_PARAMETERS["n_bootstrap"])
        parser.add_argument(
            "--confidence-level", type=float, default=DEFAULT_PARAMETERS["confidence_level"]
        )
        parser.add_argument(
            "--ranking-resample",
            choices=["prompt", "vote"],
            default=DEFAULT_PARAMETERS["ranking_resample"],
            help="Pairwise tasks: bootstrap the leaderboard over prompts (default) or votes.",
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
            "ranking_resample": options["ranking_resample"],
        }
        try:
            if options["dataset"]:
                dataset = dataset_get_by_name(project=project, name=options["dataset"])
                source: dict[str, Any] = {"dataset": dataset}
            else:
                source = {"task": task}
            # Computed here rather than by a worker, so the command needs no broker.
            report = agreement_report_request(
                actor=actor, project=project, parameters=parameters, enqueue=False, **source
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
