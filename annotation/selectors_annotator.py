"""Annotator-facing reads. Every function takes `actor=` and returns only what a blinded
annotator may see: opaque handles, the task title, texts and the rubric questions.

No system name or id, no output or prompt id, no metadata, no gold flag and no other
annotator's answers ever leave these functions; the crawler test checks the pages and
APIs built on them.

The task and item reads run on every next-item request, so they are hand-written
PostgreSQL through annotation.db (as the claim is).
"""

from __future__ import annotations

import functools
from typing import Any

from django.db.models import OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from annotation.db import (
    ITEM_CONTENT_ATTR,
    ITEM_PROMPT_SQL,
    ITEM_TEXTS_SQL,
    ItemContent,
    hot_cursor,
    sql_columns,
    sql_instance,
)
from annotation.models import (
    Assignment,
    AssignmentStatus,
    PoolKind,
    Slot,
    Task,
    TaskPool,
    TaskPoolWorker,
    TaskStatus,
)
from common.exceptions import AccessDenied
from common.models import User

# What a rubric question may show an annotator; anything else in the JSON stays home.
QUESTION_FIELDS = (
    "key",
    "label",
    "help",
    "required",
    "type",
    "scope",
    "min",
    "max",
    "anchors",
    "options",
    "allow_tie",
    "strength",
    "strength_levels",
    "max_length",
)


def rubric_questions(rubric: Any) -> list[Any]:
    """The list of questions in a guideline version's rubric JSON."""
    if isinstance(rubric, dict):
        return list(rubric.get("questions", []))
    return list(rubric or [])


# Published guideline versions are immutable, so their questions are kept per process.
_published_questions: dict[int, list[Any]] = {}


def rubric_questions_for_version(version_id: int) -> list[Any]:
    """The rubric questions of guideline version `version_id` (read-only: shared)."""
    questions = _published_questions.get(version_id)
    if questions is not None:
        return questions
    from guidelines.models import GuidelineVersion, VersionStatus

    rubric, status = (
        GuidelineVersion.objects.filter(pk=version_id).values_list("rubric", "status").get()
    )
    questions = rubric_questions(rubric)
    if status == VersionStatus.PUBLISHED:
        _published_questions[version_id] = questions
    return questions


def position_label(index: int) -> str:
    """0 → "A", 25 → "Z", 26 → "AA": labels carry no information but the position."""
    label = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        label = chr(ord("A") + rest) + label
    return label


def _public_question(question: Any) -> dict[str, Any]:
    if not isinstance(question, dict):
        return {}
    return {name: question[name] for name in QUESTION_FIELDS if name in question}


@functools.cache
def _task_for_annotator_sql() -> str:
    from guidelines.models import GuidelineVersion

    return f"""
    SELECT {sql_columns(Task, "t")}, {sql_columns(GuidelineVersion, "gv")}
    FROM annotation_task t
    JOIN {GuidelineVersion._meta.db_table} gv ON gv.id = t.guideline_version_id
    WHERE t.public_id = %(public_id)s AND t.status = ANY(%(statuses)s)
      AND EXISTS (SELECT 1 FROM annotation_taskpool tp
                  JOIN annotation_poolmembership m ON m.pool_id = tp.pool_id
                  WHERE tp.task_id = t.id AND m.user_id = %(user)s)
    """


def task_get_for_annotator(*, actor: User, public_id: str) -> Task:
    """A live or paused task whose pool `actor` belongs to, with its guideline version;
    anything else is AccessDenied. (One hand-written query: it runs on every next-item
    request.)"""
    from guidelines.models import GuidelineVersion

    row = None
    if actor.is_authenticated:
        with hot_cursor() as cursor:
            cursor.execute(
                _task_for_annotator_sql(),
                {
                    "public_id": public_id,
                    "statuses": [TaskStatus.LIVE.value, TaskStatus.PAUSED.value],
                    "user": actor.pk,
                },
            )
            row = cursor.fetchone()
    if row is None:
        raise AccessDenied("No such task.")
    n = len(Task._meta.concrete_fields)
    task = sql_instance(Task, row[:n])
    task.guideline_version = sql_instance(GuidelineVersion, row[n:])
    return task


def task_list_for_annotator(*, actor: User) -> list[dict[str, Any]]:
    """The live and paused tasks `actor` may work on, with their own progress."""
    if not actor.is_authenticated:
        return []
    task_pools = (
        TaskPool.objects.filter(
            pool__members__user=actor, task__status__in=[TaskStatus.LIVE, TaskStatus.PAUSED]
        )
        .select_related("task")
        .order_by("task_id", "pk")
    )
    workers = {
        w.task_pool_id: w
        for w in TaskPoolWorker.objects.filter(user=actor, task_pool__in=task_pools)
    }
    tasks: dict[int, dict[str, Any]] = {}
    for tp in task_pools:
        entry = tasks.setdefault(
            tp.task_id,
            {
                "public_id": tp.task.public_id,
                "title": tp.task.title,
                "description": tp.task.description,
                "mode": tp.task.mode,
                "status": tp.task.status,
                "submitted": 0,
                "cap": 0,
            },
        )
        worker = workers.get(tp.pk)
        entry["submitted"] += worker.submitted_count if worker else 0
        entry["cap"] = (
            None
            if tp.per_annotator_cap is None or entry["cap"] is None
            else (entry["cap"] + tp.per_annotator_cap)
        )
    return list(tasks.values())


def assignment_get_for_annotator(*, actor: User, handle: str) -> Assignment:
    """The annotator's own assignment; someone else's handle is indistinguishable from none."""
    assignment = (
        Assignment.objects.filter(handle=handle, annotator=actor)
        .select_related("task_pool__task", "unit__prompt", "guideline_version")
        .first()
        if actor.is_authenticated
        else None
    )
    if assignment is None:
        raise AccessDenied("No such item.")
    return assignment


def assignment_current_for_annotator(*, actor: User, task: Task) -> Assignment | None:
    """The annotator's live lease in `task`, if any (read-only: nothing is claimed)."""
    return (
        Assignment.objects.filter(
            annotator=actor,
            task_pool__task=task,
            status=AssignmentStatus.LEASED,
            lease_expires_at__gt=timezone.now(),
        )
        .select_related("task_pool__task", "unit__prompt", "guideline_version")
        .first()
    )


def annotator_progress(*, actor: User, task: Task) -> dict[str, Any]:
    """Submitted items and the cap across the annotator's pools in `task` (one query)."""
    rows = list(
        TaskPool.objects.filter(task=task, pool__members__user=actor)
        .annotate(
            submitted=Coalesce(
                Subquery(
                    TaskPoolWorker.objects.filter(task_pool=OuterRef("pk"), user=actor).values(
                        "submitted_count"
                    )[:1]
                ),
                0,
            )
        )
        .values_list("per_annotator_cap", "submitted")
    )
    caps = [cap for cap, _ in rows]
    cap = None if not caps or any(c is None for c in caps) else sum(c or 0 for c in caps)
    return {"submitted": sum(submitted for _, submitted in rows), "cap": cap}


def _item_content(*, actor: User, assignment: Assignment) -> ItemContent:
    """The prompt, the texts in shown order and the progress: as the claim read them when
    it attached them to `assignment`, otherwise in two queries."""
    content = getattr(assignment, ITEM_CONTENT_ATTR, None)
    if content is not None:
        return content
    with hot_cursor() as cursor:
        cursor.execute(
            f"SELECT {ITEM_PROMPT_SQL}, {ITEM_TEXTS_SQL} FROM annotation_assignment a "
            "WHERE a.id = %s",
            [assignment.pk],
        )
        prompt, texts = cursor.fetchone()
    progress = annotator_progress(actor=actor, task=assignment.task_pool.task)
    return ItemContent(prompt=prompt, texts=texts or [], progress=progress)


def assignment_item(*, actor: User, assignment: Assignment) -> dict[str, Any]:
    """The blinded view of one leased item: exactly the fields of the annotator API."""
    if assignment.annotator_id != actor.pk:
        raise AccessDenied("No such item.")
    content = _item_content(actor=actor, assignment=assignment)
    questions = rubric_questions_for_version(assignment.guideline_version_id)
    return {
        "handle": assignment.handle,
        "task": assignment.task_pool.task.title,
        "prompt": content.prompt,
        "responses": [
            {"label": position_label(i), "text": text} for i, text in enumerate(content.texts)
        ],
        "rubric": [_public_question(q) for q in questions],
        "status": assignment.status,
        "lease_expires_at": assignment.lease_expires_at,
        "progress": content.progress,
    }


def annotator_completion(*, actor: User, task: Task) -> dict[str, Any]:
    """Whether the annotator's quota is done, and for crowd pools the completion code.

    Done means: the cap is reached, or nothing is left to serve them and they
    submitted at least one item. The code is only ever shown to a done worker.
    """
    progress = annotator_progress(actor=actor, task=task)
    worker = (
        TaskPoolWorker.objects.filter(user=actor, task_pool__task=task, completed_at__isnull=False)
        .select_related("task_pool__pool")
        .order_by("pk")
        .first()
    )
    code = None
    if worker is not None and worker.task_pool.pool.kind == PoolKind.CROWD:
        code = worker.task_pool.worker_completion_code(actor.pk)
    return {"done": worker is not None, "completion_code": code, "progress": progress}


def crowd_link_worker_limit(*, task_pool: TaskPool) -> int:
    """How many workers the crowd link may sign up: the lead's `max_workers`, else as
    many as the pool's slots need at the per-annotator cap (every slot if uncapped)."""
    if task_pool.max_workers is not None:
        return task_pool.max_workers
    slots = Slot.objects.filter(task_pool=task_pool).count()
    cap = task_pool.per_annotator_cap
    return max(1, -(-slots // cap) if cap else slots)


def crowd_link_workers_joined(*, task_pool: TaskPool) -> int:
    return TaskPoolWorker.objects.filter(task_pool=task_pool).count()


def crowd_worker_account(*, task_pool: TaskPool, username: str) -> User | None:
    """The account a returning worker already has in this task pool, if any."""
    worker = (
        TaskPoolWorker.objects.filter(task_pool=task_pool, user__username=username)
        .select_related("user")
        .first()
    )
    return worker.user if worker is not None else None


def task_pool_by_entry_token(*, token: str) -> TaskPool:
    """The task pool a crowd link opens (the token is the only key; no login yet)."""
    task_pool = (
        TaskPool.objects.filter(entry_token=token)
        .select_related("task__guideline_version", "pool")
        .first()
    )
    if task_pool is None:
        raise AccessDenied("This link is not valid.")
    return task_pool


def guideline_clearance_for_task(*, actor: User, task: Task) -> Any:
    from guidelines.selectors import guideline_version_clearance

    require_quiz = TaskPool.objects.filter(
        task=task, pool__members__user=actor, require_quiz=True
    ).exists()
    return guideline_version_clearance(
        actor=actor, version=task.guideline_version, require_quiz=require_quiz
    )
