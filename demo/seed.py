"""`manage.py seed_demo`: the demo project, stage by stage, each stage idempotent and in
its own transaction, so the command can run on every start and resumes where a failed
run stopped.

The stages: the project (users, pools), its outputs, its guidelines, its two live
tasks, then the simulated studies (a dataset imported as a file, and the tone study's
two tasks and the arena, whose simulated annotators claim and submit through the real
engine), then one report per study, computed by the seed rather than by Celery.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from analysis.models import AgreementReport, ReportStatus
from annotation.models import Annotation, Task
from common.models import Project, User
from demo.arena import ARENA_SLUG, ARENA_STRENGTHS, arena_prompts, seed_demo_arena
from demo.content import ARENA_REQUESTS, FACTUAL_ITEMS
from demo.dataset import DEMO_DATASET, seed_demo_dataset
from demo.guidelines import seed_demo_guidelines
from demo.live_tasks import seed_demo_tasks
from demo.project import (
    DEMO_PROJECT_SLUG,
    SYSTEMS,
    DemoLogin,
    seed_demo_outputs,
    seed_demo_project,
)
from demo.reports import ReportRunner, demo_report_request
from demo.tone_study import (
    PAIRWISE_SLUG,
    STUDY_QUESTIONS,
    STUDY_SLUG,
    STUDY_SYSTEMS,
    seed_demo_tone_study,
    seed_demo_tone_study_pairwise,
)


def project_description() -> str:
    """What the project holds, counted from the same constants the stages import."""
    n_systems = len({*SYSTEMS, *STUDY_SYSTEMS, *ARENA_STRENGTHS})
    return (
        f"{len(SYSTEMS)} assistants answer {len(FACTUAL_ITEMS)} short factual questions, "
        "each answer assertive or hedged, a quarter of them with a planted factual error. "
        f"Also here: a simulated tone study ({len(STUDY_SYSTEMS)} of the assistants, "
        f"{len(STUDY_QUESTIONS)} of the questions, every answer in matched assertive and "
        f"hedged versions) and a blind arena of {len(ARENA_STRENGTHS)} other systems on "
        f"{len(ARENA_REQUESTS)} everyday requests, each asked three ways "
        f"({len(arena_prompts())} prompts): {n_systems} systems in all."
    )


@dataclass
class Stage:
    """A stage in progress; `note` says what it did, for its progress line."""

    label: str
    note: str = ""


class Progress:
    """One line per stage: its name as it starts, then what it did and how long it took."""

    def __init__(self, write: Callable[[str], None] | None = None) -> None:
        self._write = write or (lambda text: None)

    @contextmanager
    def stage(self, label: str) -> Iterator[Stage]:
        self._write(f"  {label} … ")
        stage = Stage(label)
        started = time.perf_counter()
        yield stage
        elapsed = time.perf_counter() - started
        self._write(f"{stage.note}{'; ' if stage.note else ''}{elapsed:.1f} s\n")


def _count(number: int, what: str) -> str:
    return f"{number:,} {what}"


def _annotations(task: Task) -> str:
    return _count(Annotation.objects.filter(unit__task=task).count(), "annotations")


def seed_demo(*, progress: Progress | None = None, report_workers: int = 0) -> list[DemoLogin]:
    """Load (or complete) the demo; returns the logins to print.

    With `report_workers`, each study's report is computed in a forked worker while the
    next study is seeded (see `ReportRunner`); the data must then be committed as it
    goes, so not inside a test's transaction.
    """
    progress = progress or Progress()
    runner = ReportRunner(workers=report_workers)
    try:
        return _seed(progress, runner)
    finally:
        runner.close()


def _seed(progress: Progress, runner: ReportRunner) -> list[DemoLogin]:
    with progress.stage("project, users and pools"):
        logins = seed_demo_project(description=project_description())
    project = Project.objects.get(slug=DEMO_PROJECT_SLUG)
    lead = User.objects.get(username="lead")
    researcher = User.objects.get(username="researcher")

    with progress.stage("outputs") as stage:
        result = seed_demo_outputs(project=project, lead=lead)
        stage.note = (
            f"{_count(result.outputs_created, 'new')}, "
            f"{_count(result.outputs_unchanged, 'already there')}"
        )
    with progress.stage("guidelines"):
        seed_demo_guidelines(project=project, lead=lead)
    with progress.stage("live tasks") as stage:
        stage.note = ", ".join(seed_demo_tasks(project=project, lead=lead))

    reports: list[tuple[str, AgreementReport]] = []

    def report_on(label: str, **source: Any) -> None:
        # Started as soon as its data is committed, when there is a worker to take it.
        report = demo_report_request(project=project, researcher=researcher, **source)
        runner.start(report)
        reports.append((label, report))

    with progress.stage("simulated dataset") as stage:
        dataset = seed_demo_dataset(project=project, researcher=researcher)
        stage.note = f"'{DEMO_DATASET}', {_count(dataset.unit_count, 'units')} from a file"
    report_on("the simulated dataset", dataset=dataset)
    studies = (
        (STUDY_SLUG, seed_demo_tone_study),
        (PAIRWISE_SLUG, seed_demo_tone_study_pairwise),
        (ARENA_SLUG, seed_demo_arena),
    )
    for slug, seed in studies:
        with progress.stage(f"simulated study {slug}") as stage:
            existed = Task.objects.filter(slug=slug).exists()
            task = seed(project=project, lead=lead, researcher=researcher)
            stage.note = _annotations(task) + (
                " (already there)" if existed else " through the claim/submit engine"
            )
        report_on(slug, task=task)

    for label, report in reports:
        with progress.stage(f"report on {label}") as stage:
            if report.status == ReportStatus.DONE:
                stage.note = "already computed"
                continue
            report, seconds = runner.finish(report)
            stage.note = report.get_status_display().lower()
            if report.error:
                stage.note += f": {report.error}"
            if seconds is not None:
                stage.note += f", computed in {seconds:.1f} s alongside the studies"
    return logins
