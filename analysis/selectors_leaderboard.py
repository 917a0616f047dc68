"""Reads behind the leaderboard pages: a task by its slug, and which of a task's agreement
reports can show a leaderboard.

Scoped like analysis.selectors: the caller has resolved the project through
`project_view`, so a task or report of another project is simply not found.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from analysis.models import AgreementReport, ReportSource, ReportStatus
from analysis.selectors import NotFound
from annotation.models import Task
from common.models import Project

# How many of a task's newest finished reports are opened to find one with rankings:
# each is parsed in full, and a report older than this is stale for a leaderboard anyway.
MAX_REPORTS_SCANNED = 20


def task_get_by_slug(*, project: Project, slug: str) -> Task:
    task = Task.objects.filter(project=project, slug=slug).first()
    if task is None:
        raise NotFound("No such task in this project.")
    return task


def rankings_computed(result: dict[str, Any] | None) -> bool:
    """Whether a report result carries a computed `rankings` section."""
    rankings = (result or {}).get("rankings")
    return isinstance(rankings, dict) and rankings.get("status") == "computed"


@dataclass(frozen=True)
class TaskLeaderboard:
    """What the task's leaderboard page can show.

    `report`/`result`: the newest finished report whose rankings were computed (None if
    there is none); `pending`: the newest report still queued or running; `latest`: the
    newest report that finished or failed, so the page can say why it has no board.
    """

    task: Task
    report: AgreementReport | None
    result: dict[str, Any] | None
    pending: AgreementReport | None
    latest: AgreementReport | None
    latest_result: dict[str, Any] | None


def task_leaderboard_get(*, project: Project, task: Task) -> TaskLeaderboard:
    reports = list(
        AgreementReport.objects.filter(
            project=project, source_kind=ReportSource.TASK, source_ref=task.slug
        )
        .select_related("project", "created_by")
        # Results can be megabytes: only the candidates below are read, one at a time.
        .defer("result_json")
        .order_by("-created_at", "-id")[: MAX_REPORTS_SCANNED * 2]
    )
    pending = next(
        (r for r in reports if r.status in (ReportStatus.QUEUED, ReportStatus.RUNNING)), None
    )
    latest = next(
        (r for r in reports if r.status in (ReportStatus.DONE, ReportStatus.FAILED)), None
    )
    latest_result = None
    report = result = None
    done = [r for r in reports if r.status == ReportStatus.DONE][:MAX_REPORTS_SCANNED]
    for candidate in done:
        parsed = _result(candidate)
        if candidate == latest:
            latest_result = parsed
        if rankings_computed(parsed):
            report, result = candidate, parsed
            break
    return TaskLeaderboard(task, report, result, pending, latest, latest_result)


def _result(report: AgreementReport) -> dict[str, Any] | None:
    text = (
        AgreementReport.objects.filter(pk=report.pk).values_list("result_json", flat=True).first()
    )
    return orjson.loads(text) if text else None
