"""The leaderboard pages: one report's rankings, or the latest rankings of a task.

Leads and researchers of the project only, like every analysis page. The page reads
the report's `rankings` and `rank_stability` sections (analysis.metrics.ranking_report)
and shows one board at a time: overall, or one pool's (`?board=crowd`).
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import HttpResponseClientRedirect, HttpResponseClientRefresh

from analysis.models import AgreementReport, ReportStatus
from analysis.ranking_charts import ranking_charts
from analysis.selectors import report_get, report_result, report_source_label
from analysis.selectors_leaderboard import task_get_by_slug, task_leaderboard_get
from analysis.services import agreement_report_request
from analysis.views import READERS
from annotation.models import TaskMode
from common.http import AuthenticatedHttpRequest
from common.models import Project
from common.views import project_view

TEMPLATE = "analysis/leaderboard.html"
FIGURES = [
    ("forest", "Ratings with their bootstrap intervals (banded rows: tie groups)"),
    ("rank_intervals", "Rank intervals: the ranks each system could hold given the intervals"),
    ("rank_probability_heatmap", "How often each system takes each rank over the replicates"),
    ("win_rate_heatmap", "Direct win rates, row system against column system"),
    ("battles_heatmap", "Votes behind each pair"),
    ("tau_histogram", "Agreement of the bootstrap rankings with the ranking"),
    ("votes_needed_curve", "How the ranking firms up as votes accumulate"),
    ("leave_one_out_bars", "Leave one system out"),
    ("weak_competitor_bars", "Adding a weak competitor to each adjacent pair"),
    ("controlled_slope", "Rank before and after controlling for style and tone"),
]
VERDICT_NOTICE = {"stable": "ok", "fragile": "warn", "unstable": "error"}


@require_GET
@project_view(READERS)
def report_leaderboard(
    request: AuthenticatedHttpRequest, project: Project, report_id: int
) -> HttpResponse:
    report = report_get(project=project, report_id=report_id)
    pending = report if report.status in (ReportStatus.QUEUED, ReportStatus.RUNNING) else None
    context = {"project": project, "pending": pending, "task": None}
    context |= _report_context(report, report_result(report=report), request.GET.get("board"))
    return _respond(request, context)


@require_http_methods(["GET", "POST"])
@project_view(READERS)
def task_leaderboard(
    request: AuthenticatedHttpRequest, project: Project, task_slug: str
) -> HttpResponse:
    task = task_get_by_slug(project=project, slug=task_slug)
    if request.method == "POST":
        agreement_report_request(actor=request.user, project=project, task=task)
        url = reverse("analysis-task-leaderboard", args=[project.slug, task.slug])
        return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    state = task_leaderboard_get(project=project, task=task)
    context: dict[str, Any] = {
        "project": project,
        "task": task,
        "pairwise": task.mode == TaskMode.PAIRWISE,
        "pending": state.pending,
        "latest": state.latest,
        "latest_rankings": (state.latest_result or {}).get("rankings"),
    }
    if state.report is not None:
        context |= _report_context(state.report, state.result, request.GET.get("board"))
    return _respond(request, context)


def _respond(request: AuthenticatedHttpRequest, context: dict[str, Any]) -> HttpResponse:
    """The page, or for the progress poll the progress partial while a report computes
    and a full refresh once it is done (the whole page changes then)."""
    context["poll_url"] = request.get_full_path()
    if request.htmx:
        if context["pending"] is None:
            return HttpResponseClientRefresh()
        response = render(request, TEMPLATE + "#pending", context)
    else:
        response = render(request, TEMPLATE, context)
    response["Vary"] = "HX-Request"
    return response


def _report_context(
    report: AgreementReport, result: dict[str, Any] | None, board: str | None
) -> dict[str, Any]:
    context: dict[str, Any] = {
        "report": report,
        "source": report_source_label(report=report),
        "rankings": (result or {}).get("rankings"),
    }
    rankings = context["rankings"] or {}
    if rankings.get("status") != "computed":
        return context
    leaderboards = rankings.get("leaderboards") or {}
    boards = ["overall"] if "overall" in leaderboards else []
    boards += sorted(name for name in leaderboards if name != "overall")
    board = board or "overall"
    if board not in boards:
        raise Http404("This report has no such leaderboard.")
    result = result or {}
    stability = ((result.get("rank_stability") or {}).get("leaderboards") or {}).get(board) or {}
    charts = ranking_charts(result, board)
    context |= {
        "boards": boards,
        "board": board,
        "leaderboard": leaderboards[board],
        "stability": stability,
        "verdict_notice": VERDICT_NOTICE.get(stability.get("verdict") or "", "warn"),
        "confidence_percent": _percent((rankings.get("bootstrap") or {}).get("confidence_level")),
        "rows": _rows(leaderboards[board]),
        "controlled": leaderboards[board].get("controlled") or {},
        "controlled_rows": _controlled_rows(leaderboards[board].get("controlled") or {}),
        "online_elo_by_k": _by_k(stability.get("method_sensitivity") or {}),
        "pool_agreement": rankings.get("pool_agreement") or [],
        # Built by analysis.ranking_charts from escaped labels only.
        "figures": [
            {"key": key, "caption": caption, "svg": mark_safe(svg)}
            for key, caption in FIGURES
            if (svg := charts.get(key))
        ],
    }
    return context


def _percent(value: Any) -> float | None:
    return None if value is None else 100 * value


def _rows(leaderboard: dict[str, Any]) -> list[dict[str, Any]]:
    """The table rows: every system with its percentages, and whether its tie group is
    shaded (every other group, so neighbouring groups stay apart)."""
    rows = []
    for row in leaderboard.get("systems") or []:
        group = row.get("tie_group")
        rows.append(
            row
            | {
                "p_first_percent": _percent(row.get("p_rank_first")),
                "win_rate_percent": _percent(row.get("win_rate")),
                "shaded": isinstance(group, int) and group % 2 == 1,
            }
        )
    return rows


def _controlled_rows(controlled: dict[str, Any]) -> list[dict[str, Any]]:
    """The controlled ranking with each system's move (rank_change = raw - controlled)."""
    rows = []
    for row in controlled.get("systems") or []:
        change = row.get("rank_change")
        moved = None
        if isinstance(change, int) and change:
            moved = "up" if change > 0 else "down"
        rows.append(row | {"moved": moved, "shift": abs(change) if moved else 0})
    return rows


def _by_k(sensitivity: dict[str, Any]) -> list[tuple[str, Any]]:
    """Online Elo per K in numeric order (the stored keys sort as text: 16, 32, 4)."""

    def number(key: str) -> float:
        try:
            return float(key)
        except ValueError:
            return float("inf")

    return sorted((sensitivity.get("online_elo_by_k") or {}).items(), key=lambda kv: number(kv[0]))
