"""The demo's two live tasks for its human annotators; seeded after the guidelines.

"demo-factual-qa" rates 120 single outputs (30 prompts × 4 systems) under the latest
"Factual QA rating" version, k = 2 experts + 3 crowd workers, with a few gold units in
the crowd's mix and the quiz required of the crowd. "demo-pairwise" compares pairs on
60 prompts with a balanced schedule. Both pay per item and are live. Every step goes
through the services and checks state first, so re-running changes nothing.
Annotators are not acknowledged here: logging in as one shows the onboarding.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction

from annotation.models import (
    AnnotatorPool,
    Output,
    Pairing,
    PayMode,
    PoolKind,
    Prompt,
    Task,
    TaskMode,
    TaskPool,
    TaskStatus,
    Unit,
)
from annotation.services.tasks import task_create, task_launch, task_pool_add, unit_mark_gold
from common.models import Project, User
from demo.guidelines import FACTUAL_NAME, PAIRWISE_NAME
from demo.project import CROWD_POOL_NAME, EXPERT_POOL_NAME, prompt_external_id
from guidelines.models import Guideline, GuidelineVersion, VersionStatus

FACTUAL_SLUG = "demo-factual-qa"
PAIRWISE_SLUG = "demo-pairwise"
FACTUAL_PROMPTS = 30
PAIRWISE_PROMPTS = 60
GOLD_UNITS = 6


def _latest(project: Project, name: str) -> GuidelineVersion:
    guideline = Guideline.objects.get(project=project, name=name)
    return GuidelineVersion.objects.filter(
        guideline=guideline, status=VersionStatus.PUBLISHED
    ).latest("number")


def _prompt_ids(project: Project, *, start: int, count: int) -> list[int]:
    # By external id: the main set's questions, in the order of the hand-written list.
    wanted = [prompt_external_id(index) for index in range(start, start + count)]
    ids = dict(
        Prompt.objects.filter(project=project, external_id__in=wanted).values_list(
            "external_id", "pk"
        )
    )
    return [ids[external_id] for external_id in wanted]


def _gold_answers(output: Output) -> dict[str, Any]:
    """The known answer of a demo output, from its design metadata (errors and tone)."""
    wrong = bool(output.known_error_count)
    tone = output.metadata.get("tone")
    return {
        "quality": {"A": 1 if wrong else 5},
        "has_factual_error": {"A": wrong},
        "assertiveness": {"A": 5 if tone == "assertive" else 2},
    }


def _ensure_task(
    *, lead: User, project: Project, slug: str, create: dict[str, Any]
) -> tuple[Task, bool]:
    task = Task.objects.filter(slug=slug).first()
    if task is not None:
        return task, False
    return task_create(actor=lead, project=project, slug=slug, **create), True


def _ensure_pools(
    *, lead: User, task: Task, pools: list[tuple[AnnotatorPool, dict[str, Any]]]
) -> None:
    for pool, options in pools:
        if not TaskPool.objects.filter(task=task, pool=pool).exists():
            task_pool_add(actor=lead, task=task, pool=pool, **options)


@transaction.atomic
def seed_demo_tasks(*, project: Project, lead: User) -> dict[str, Task]:
    """Create and launch the two demo tasks (once); returns them by slug."""
    expert = AnnotatorPool.objects.get(project=project, kind=PoolKind.EXPERT, name=EXPERT_POOL_NAME)
    crowd = AnnotatorPool.objects.get(project=project, kind=PoolKind.CROWD, name=CROWD_POOL_NAME)

    factual, created = _ensure_task(
        lead=lead,
        project=project,
        slug=FACTUAL_SLUG,
        create={
            "title": "Rate factual answers",
            "description": "Is the answer right, and how sure does it sound? About a minute each.",
            "guideline_version": _latest(project, FACTUAL_NAME),
            "mode": TaskMode.SINGLE,
            "prompt_ids": _prompt_ids(project, start=0, count=FACTUAL_PROMPTS),
            "pay_per_item": Decimal("0.20"),
            "pay_mode": PayMode.PER_ITEM,
            "min_hourly_rate": Decimal("12.00"),
            "lease_seconds": 600,
            "seed": 11,
        },
    )
    if created:
        units = Unit.objects.filter(task=factual).order_by("ordinal")[:GOLD_UNITS]
        for unit in units:
            output = Output.objects.get(pk=unit.unit_outputs.get().output_id)
            unit_mark_gold(actor=lead, unit=unit, answers=_gold_answers(output))
    _ensure_pools(
        lead=lead,
        task=factual,
        pools=[
            (expert, {"redundancy": 2}),
            (
                crowd,
                {"redundancy": 3, "per_annotator_cap": 40, "gold_share": 0.1, "require_quiz": True},
            ),
        ],
    )
    pairwise, _ = _ensure_task(
        lead=lead,
        project=project,
        slug=PAIRWISE_SLUG,
        create={
            "title": "Which answer is better?",
            "description": "Two answers to the same question: pick the better one.",
            "guideline_version": _latest(project, PAIRWISE_NAME),
            "mode": TaskMode.PAIRWISE,
            "prompt_ids": _prompt_ids(project, start=FACTUAL_PROMPTS, count=PAIRWISE_PROMPTS),
            "pairing": Pairing.BALANCED,
            "pairs_per_prompt": 2,
            "pay_per_item": Decimal("0.25"),
            "pay_mode": PayMode.PER_ITEM,
            "min_hourly_rate": Decimal("12.00"),
            "lease_seconds": 600,
            "seed": 12,
        },
    )
    _ensure_pools(
        lead=lead,
        task=pairwise,
        pools=[(expert, {"redundancy": 2}), (crowd, {"redundancy": 3, "per_annotator_cap": 40})],
    )
    for task in (factual, pairwise):
        if task.status == TaskStatus.DRAFT:
            task_launch(actor=lead, task=task)
    return {
        FACTUAL_SLUG: Task.objects.get(pk=factual.pk),
        PAIRWISE_SLUG: Task.objects.get(pk=pairwise.pk),
    }
