"""Fixtures for the task and assignment engine: a project with systems, prompts and
outputs (with large, recognisable primary keys so a leaked id is easy to spot), a
published guideline, pools with acknowledged annotators, and a task ready to serve."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import pytest

from annotation.models import AnnotatorPool, Output, PoolKind, Prompt, System, Task, TaskPool
from annotation.services.pools import pool_member_add
from annotation.services.tasks import task_create, task_launch, task_pool_add
from common.models import Project, ProjectRole, User
from tests.factories import MembershipFactory, ProjectFactory, UserFactory

SINGLE_RUBRIC = [
    {"key": "quality", "label": "Overall quality", "type": "likert", "min": 1, "max": 5},
    {"key": "has_error", "label": "Contains a factual error", "type": "binary"},
    {"key": "comment", "label": "Anything else?", "type": "text", "scope": "per_unit"},
]
PAIRWISE_RUBRIC = [
    {"key": "preference", "label": "Which response is better?", "type": "pairwise"},
    {"key": "quality", "label": "Overall quality", "type": "likert", "min": 1, "max": 5},
]
RANKING_RUBRIC = [{"key": "ranking", "label": "Rank the responses", "type": "ranking"}]
RUBRICS = {"single": SINGLE_RUBRIC, "pairwise": PAIRWISE_RUBRIC, "ranking": RANKING_RUBRIC}

TONES = ("assertive", "hedged")
METADATA_KEY = "planted_metadata_marker"
_offsets = itertools.count(1)


def valid_answers(mode: str, n_outputs: int) -> dict[str, Any]:
    letters = [chr(ord("A") + i) for i in range(n_outputs)]
    if mode == "single":
        return {"quality": {"A": 4}, "has_error": {"A": False}}
    if mode == "pairwise":
        return {"preference": {"choice": "A"}, "quality": {"A": 3, "B": 4}}
    return {"ranking": letters}


@dataclass
class Scenario:
    project: Project
    lead: User
    version: Any
    task: Task
    task_pool: TaskPool
    pool: AnnotatorPool
    annotators: list[User]
    systems: list[System]
    prompts: list[Prompt]
    outputs: list[Output]
    extra: dict[str, Any] = field(default_factory=dict)


def make_guideline(*, project: Project, lead: User, mode: str, name: str = "Guide") -> Any:
    from guidelines.services import guideline_create, guideline_version_publish

    guideline = guideline_create(
        actor=lead,
        project=project,
        name=name,
        mode=mode,
        prose="Judge carefully.",
        rubric=RUBRICS[mode],
    )
    return guideline_version_publish(actor=lead, version=guideline.versions.get())


def acknowledge(user: User, version: Any) -> None:
    from guidelines.services import guideline_version_acknowledge

    guideline_version_acknowledge(actor=user, version=version)


def build_scenario(
    *,
    mode: str = "single",
    n_prompts: int = 4,
    n_systems: int = 2,
    k: int = 3,
    cap: int | None = None,
    n_annotators: int = 3,
    pool_kind: str = PoolKind.CROWD,
    gold_share: float = 0.0,
    launch: bool = True,
    lease_seconds: int = 600,
    acknowledged: bool = True,
    output_text: Any = None,
    **task_kwargs: Any,
) -> Scenario:
    offset = next(_offsets) * 100_000
    lead = UserFactory(username=f"lead-{offset}")
    project = ProjectFactory(slug=f"proj-{offset}", created_by=lead)
    MembershipFactory(project=project, user=lead, role=ProjectRole.LEAD)
    systems = [
        System.objects.create(
            pk=9_100_000 + offset + i, project=project, name=f"sysname-{offset}-{i}"
        )
        for i in range(n_systems)
    ]
    prompts = [
        Prompt.objects.create(
            pk=9_200_000 + offset + j,
            project=project,
            external_id=f"pext-{offset}-{j}",
            text=f"Question number {j}: explain the tides.",
            metadata={METADATA_KEY: "x"},
        )
        for j in range(n_prompts)
    ]
    outputs = []
    for j, prompt in enumerate(prompts):
        for i, system in enumerate(systems):
            text = output_text(i, j) if output_text else f"Plain answer {j}-{i} about tides."
            outputs.append(
                Output.objects.create(
                    pk=9_300_000 + offset + j * 100 + i,
                    prompt=prompt,
                    system=system,
                    text=text,
                    metadata={METADATA_KEY: "y", "tone": TONES[(i + j) % 2]},
                    tone_condition=TONES[(i + j) % 2],
                    known_error_count=(i + j) % 3,
                )
            )
    version = make_guideline(project=project, lead=lead, mode=mode)
    pool = AnnotatorPool.objects.create(project=project, name=f"pool-{offset}", kind=pool_kind)
    annotators = []
    for n in range(n_annotators):
        user = UserFactory(username=f"ann-{offset}-{n}")
        pool_member_add(actor=lead, pool=pool, user=user)
        if acknowledged:
            acknowledge(user, version)
        annotators.append(user)
    task = task_create(
        actor=lead,
        project=project,
        title=f"Task {offset}",
        guideline_version=version,
        mode=mode,
        lease_seconds=lease_seconds,
        seed=offset,
        **task_kwargs,
    )
    task_pool = task_pool_add(
        actor=lead, task=task, pool=pool, redundancy=k, per_annotator_cap=cap, gold_share=gold_share
    )
    if launch:
        task = task_launch(actor=lead, task=task)
    task_pool.refresh_from_db()
    return Scenario(
        project, lead, version, task, task_pool, pool, annotators, systems, prompts, outputs
    )


@pytest.fixture
def scenario_factory(db):
    return build_scenario
