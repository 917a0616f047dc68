"""An annotated pairwise task with gold, skips and flags, and the people around it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from annotation.models import Assignment, Output, Unit
from annotation.services.assignment import assignment_claim
from annotation.services.submission import annotation_submit, assignment_flag, assignment_skip
from annotation.services.tasks import task_launch, unit_mark_gold
from common.models import ProjectRole, User
from tests.annotation.conftest import Scenario, build_scenario
from tests.factories import MembershipFactory, ProjectFactory, UserFactory

# The real-worker fixtures (tests/worker.py), for test_export_worker_kill.py.
from tests.worker import celery_worker_factory, celery_worker_process  # noqa: F401

GOLD = {"preference": {"choice": "A"}, "quality": {"A": 5, "B": 2}}


@dataclass
class Annotated:
    scenario: Scenario
    researcher: User
    annotator: User
    outsider: User
    gold_unit: Unit
    submitted: int
    skipped: int
    flagged: int

    @property
    def task(self) -> Any:
        return self.scenario.task

    @property
    def project(self) -> Any:
        return self.scenario.project

    @property
    def lead(self) -> User:
        return self.scenario.lead


def answer_for(scenario: Scenario, annotator: User, shown: list[int]) -> dict[str, Any]:
    """The first system always wins; quality depends on the annotator and the output."""
    first = scenario.systems[0].pk
    system_of = dict(Output.objects.filter(pk__in=shown).values_list("pk", "system_id"))
    letter = "A" if system_of[shown[0]] == first else "B"
    offset = scenario.annotators.index(annotator)
    return {
        "preference": {"choice": letter},
        "quality": {"A": 1 + (shown[0] + offset) % 5, "B": 1 + (shown[1] + 2 * offset) % 5},
    }


def build_annotated(*, n_prompts: int = 6, n_annotators: int = 4, k: int = 3) -> Annotated:
    scenario = build_scenario(
        mode="pairwise",
        n_prompts=n_prompts,
        n_systems=2,
        k=k,
        n_annotators=n_annotators,
        gold_share=0.2,
        launch=False,
    )
    gold_unit = Unit.objects.filter(task=scenario.task).order_by("ordinal").first()
    unit_mark_gold(actor=scenario.lead, unit=gold_unit, answers=GOLD)
    scenario.task = task_launch(actor=scenario.lead, task=scenario.task)
    submitted = skipped = flagged = 0
    for n, annotator in enumerate(scenario.annotators):
        first = True
        while (assignment := assignment_claim(actor=annotator, task=scenario.task)) is not None:
            if first and n == 0:
                assignment_skip(actor=annotator, handle=assignment.handle, reason="Not my field")
                skipped += 1
            elif first and n == 1:
                assignment_flag(
                    actor=annotator, handle=assignment.handle, reason="broken", note="cut off"
                )
                flagged += 1
            else:
                annotation_submit(
                    actor=annotator,
                    handle=assignment.handle,
                    answers=answer_for(scenario, annotator, list(assignment.shown_order)),
                )
                submitted += 1
            first = False
    researcher = UserFactory(username=f"researcher-{scenario.project.slug}")
    MembershipFactory(project=scenario.project, user=researcher, role=ProjectRole.RESEARCHER)
    member = UserFactory(username=f"annotator-{scenario.project.slug}")
    MembershipFactory(project=scenario.project, user=member, role=ProjectRole.ANNOTATOR)
    outsider = UserFactory(username=f"outsider-{scenario.project.slug}")
    other = ProjectFactory(slug=f"other-{scenario.project.slug}", created_by=outsider)
    for role in ProjectRole.values:
        MembershipFactory(project=other, user=outsider, role=role)
    assert Assignment.objects.filter(unit__task=scenario.task, status="leased").count() == 0
    return Annotated(scenario, researcher, member, outsider, gold_unit, submitted, skipped, flagged)


@pytest.fixture
def annotated(db, settings, tmp_path) -> Annotated:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return build_annotated()


@pytest.fixture
def committed(transactional_db, settings, tmp_path) -> Annotated:
    """The same, committed: exports then read through their own connection, as in
    production (and a worker process can see the rows)."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return build_annotated()


@pytest.fixture
def task_report(annotated):
    from analysis.services import agreement_report_compute, agreement_report_request

    report = agreement_report_request(
        actor=annotated.researcher,
        project=annotated.project,
        task=annotated.task,
        parameters={"n_bootstrap": 50, "seed": 7, "min_shared_units": 2, "min_annotator_items": 2},
        enqueue=False,
    )
    report = agreement_report_compute(report_id=report.pk)
    assert report.status == "done", report.error
    return report


@pytest.fixture
def eager_celery():
    from config.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield app
    app.conf.task_always_eager = previous
