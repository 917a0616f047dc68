"""The reports a researcher opens first in the demo: requested by each study's seed step,
computed by the seed itself (not by Celery) once the study's data is in.
"""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import Future, ProcessPoolExecutor

from django.db import connections
from threadpoolctl import threadpool_limits

from analysis.models import AgreementReport, AnnotationDataset, ReportStatus
from analysis.services import agreement_report_compute, agreement_report_request
from annotation.models import Task
from common.models import Project, User


def demo_report_request(
    *,
    project: Project,
    researcher: User,
    task: Task | None = None,
    dataset: AnnotationDataset | None = None,
) -> AgreementReport:
    """The first report on `task` or `dataset`, requested (without a job) if there is none."""
    reports = AgreementReport.objects.filter(project=project)
    if task is not None:
        reports = reports.filter(source_ref=task.slug)
    else:
        reports = reports.filter(dataset=dataset)
    existing = reports.order_by("pk").first()
    if existing is not None:
        return existing
    return agreement_report_request(
        actor=researcher, project=project, task=task, dataset=dataset, enqueue=False
    )


def demo_report_compute(report: AgreementReport) -> AgreementReport:
    """Compute a demo report unless it is done (or failed: its reason stays readable)."""
    if report.status in (ReportStatus.DONE, ReportStatus.FAILED):
        return report
    # One BLAS thread: the reports' many small matrix solves (MixedLM above all) spend
    # more time synchronising threads than computing, and on two busy cores a second
    # thread made the tone study's report cost 4-5 times the CPU.
    with threadpool_limits(limits=1, user_api="blas"):
        return agreement_report_compute(report_id=report.pk)


def _compute_in_worker(report_id: int) -> float:
    started = time.perf_counter()
    demo_report_compute(AgreementReport.objects.get(pk=report_id))
    return time.perf_counter() - started


def forked_workers_available() -> bool:
    """Whether this platform forks worker processes by default (Linux does; macOS and
    Windows spawn them, which would set Django up again and is not worth it here)."""
    return multiprocessing.get_start_method() == "fork"


class ReportRunner:
    """Computes the demo's reports, here or in a worker process as each study lands.

    With a worker, a study's report is computed while the seed goes on with the next
    study. The simulated annotators keep about one core busy (Python and PostgreSQL
    taking turns) and the statistics another, so on two cores most of the reports'
    time disappears from the first seed. The worker is forked: it shares this process's
    settings (a test's database too) and opens a connection of its own. Only committed
    reports can be started, as the worker does not see this process's transaction.
    """

    def __init__(self, *, workers: int = 0) -> None:
        self._pool = (
            ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"))
            if workers
            else None
        )
        self._running: dict[int, Future[float]] = {}

    def start(self, report: AgreementReport) -> None:
        """Start computing `report` in the worker, if there is one and it is not done."""
        if self._pool is None or report.status == ReportStatus.DONE:
            return
        if report.pk not in self._running:
            # A forked worker must not inherit, and so share, this process's connection.
            connections.close_all()
            self._running[report.pk] = self._pool.submit(_compute_in_worker, report.pk)

    def finish(self, report: AgreementReport) -> tuple[AgreementReport, float | None]:
        """Wait for `report`, or compute it here if no worker took it; returns it updated,
        with the seconds the worker spent on it (None when computed here)."""
        running = self._running.pop(report.pk, None)
        seconds = running.result() if running is not None else None
        if running is None:
            demo_report_compute(report)
        report.refresh_from_db()
        return report, seconds

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
