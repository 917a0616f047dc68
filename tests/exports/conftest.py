"""An annotated pairwise task with gold, skips and flags, and the people around it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from annotation.models import AnnotatorPool, Assignment, Output, PoolKind, System, Unit
from annotation.services.assignment import assignment_claim
from annotation.services.pools import pool_member_add
from annotation.services.submission import annotation_submit, assignment_flag, assignment_skip
from annotation.services.tasks import task_launch, task_pool_add, unit_mark_gold
from common.models import ProjectRole, User
from tests.annotation.conftest import Scenario, acknowledge, build_scenario
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


# Markup and a character outside Latin-1, so escaping and the PDF's fallback are exercised.
ODD_NAME = 'Ωmega <b>&"'
PARAMETERS = {"n_bootstrap": 50, "seed": 11, "min_shared_units": 2, "min_annotator_items": 2}


def annotate_pairwise(scenario: Any, strength: Mapping[int, int]) -> int:
    """Each annotator prefers the stronger system, except on a fixed quarter of units
    (so no system wins every vote and the maximum-likelihood ratings exist)."""
    system_of = dict(
        Output.objects.filter(prompt__project=scenario.project).values_list("pk", "system_id")
    )
    votes = 0
    for n, annotator in enumerate(scenario.annotators):
        while (assignment := assignment_claim(actor=annotator, task=scenario.task)) is not None:
            first, second = (system_of[pk] for pk in assignment.shown_order)
            stronger_first = strength[first] > strength[second]
            upset = (assignment.unit_id + n) % 4 == 0
            letter = "A" if stronger_first != upset else "B"
            annotation_submit(
                actor=annotator,
                handle=assignment.handle,
                answers={
                    "preference": {"choice": letter},
                    "quality": {
                        "A": 1 + (assignment.unit_id + n) % 5,
                        "B": 1 + (assignment.unit_id + 2 * n) % 5,
                    },
                },
            )
            votes += 1
    return votes


@pytest.fixture
def ranked_report(db, settings, tmp_path):
    """A pairwise task over four systems answered by a crowd and an expert pool, one
    system oddly named; its report ranks them (tests of the ranking exports and of the
    formats agreeing)."""
    from analysis.services import agreement_report_compute, agreement_report_request

    settings.MEDIA_ROOT = str(tmp_path / "media")
    scenario = build_scenario(
        mode="pairwise", n_prompts=5, n_systems=4, k=2, n_annotators=3, launch=False
    )
    System.objects.filter(pk=scenario.systems[0].pk).update(name=ODD_NAME)
    experts = AnnotatorPool.objects.create(
        project=scenario.project, name=f"experts-{scenario.project.slug}", kind=PoolKind.EXPERT
    )
    for n in range(2):
        user = UserFactory(username=f"expert-{scenario.project.slug}-{n}")
        pool_member_add(actor=scenario.lead, pool=experts, user=user)
        acknowledge(user, scenario.version)
        scenario.annotators.append(user)
    task_pool_add(actor=scenario.lead, task=scenario.task, pool=experts, redundancy=1)
    scenario.task = task_launch(actor=scenario.lead, task=scenario.task)
    strength = {system.pk: 4 - i for i, system in enumerate(scenario.systems)}
    assert annotate_pairwise(scenario, strength) == 5 * 6 * (2 + 1)
    report = agreement_report_request(
        actor=scenario.lead,
        project=scenario.project,
        task=scenario.task,
        parameters=PARAMETERS,
        enqueue=False,
    )
    report = agreement_report_compute(report_id=report.pk)
    assert report.status == "done", report.error
    result = orjson.loads(report.result_json)
    assert result["rankings"]["status"] == "computed"
    assert set(result["rankings"]["leaderboards"]) == {"overall", "crowd", "expert"}
    return report
