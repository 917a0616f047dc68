"""The assignment engine on any database Django supports: claim and submit with the ORM.

annotation.services.assignment and annotation.services.submission run hand-written
PostgreSQL (data-modifying CTEs, ``FOR UPDATE SKIP LOCKED``, prepared statements); on
any other database (the SQLite demo), or with ANNOTATION_HOT_SQL = False, their public
functions call the ones here instead. The rules are the same and shared where they can
be: clearance, the gold mix, the queue order (slot ordinal, slot id: breadth first),
expired leases looked for first on every n-th claim, the counterbalanced shown order,
the submit's checks and the annotation row. Skip, flag and the interaction record are
ORM code already and need nothing here.

On PostgreSQL this path still locks as the hand-written one does (worker rows, then
the slot with SKIP LOCKED, then the assignment). SQLite has no row locks: its writes
are serialised by the database lock, which the demo's IMMEDIATE transactions take at
the start of each transaction.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from annotation.models import (
    Annotation,
    Assignment,
    AssignmentStatus,
    Slot,
    SlotState,
    Task,
    TaskPool,
    TaskPoolWorker,
)
from annotation.selectors_portable import item_texts, unit_base_order
from annotation.services.assignment import (
    EXPIRED_FIRST_EVERY,
    ITEM_CONTENT_ATTR,
    ItemContent,
    _PoolStanding,
    _progress,
    _require_clearance,
    _wants_gold,
    require_live,
    worker_counts_bump,
)
from annotation.services.blinding import shown_order_for_slot
from annotation.services.submission import (
    _lock,
    _own_assignment,
    annotation_values,
    submit_check,
)
from common.exceptions import AccessDenied
from common.models import User

# -- the claim ------------------------------------------------------------------------


def _workers_lock(*, task_pools: list[TaskPool], actor: User) -> dict[int, TaskPoolWorker]:
    """The actor's worker rows in `task_pools`, locked in id order (created on the first
    claim in a pool); this serialises one person's own concurrent claims."""

    def lock() -> dict[int, TaskPoolWorker]:
        workers = (
            TaskPoolWorker.objects.select_for_update()
            .filter(task_pool__in=task_pools, user=actor)
            .order_by("pk")
        )
        return {worker.task_pool_id: worker for worker in workers}

    workers = lock()
    if len(workers) < len(task_pools):
        TaskPoolWorker.objects.bulk_create(
            [TaskPoolWorker(task_pool=tp, user=actor) for tp in task_pools if tp.pk not in workers],
            ignore_conflicts=True,
        )
        workers = lock()
    return workers


def _queues(
    *, task_pool: TaskPool, actor: User, gold: bool, now: datetime
) -> tuple[QuerySet[Slot], QuerySet[Slot]]:
    """(expired leases, open slots) of the pool on units `actor` was never served."""
    seen = Assignment.objects.filter(unit_id=OuterRef("unit_id"), annotator=actor)
    mine = Slot.objects.filter(task_pool=task_pool, is_gold=gold).exclude(Exists(seen))
    expired = mine.filter(state=SlotState.LEASED, lease_expires_at__lt=now).order_by(
        "lease_expires_at"
    )
    fresh = mine.filter(state=SlotState.OPEN).order_by("ordinal", "id")
    return expired, fresh


def _slot_take(
    *, task_pool: TaskPool, actor: User, gold: bool, expired_first: bool, now: datetime
) -> Slot | None:
    expired, fresh = _queues(task_pool=task_pool, actor=actor, gold=gold, now=now)
    for queryset in (expired, fresh) if expired_first else (fresh, expired):
        slot = queryset.select_for_update(skip_locked=True, of=("self",)).first()
        if slot is not None:
            return slot
    return None


def _served(
    assignment: Assignment, *, task: Task, task_pool: TaskPool, progress: dict[str, Any]
) -> Assignment:
    """Attach what the hand-written claim attaches: the pool with the caller's task, the
    guideline version, and the item content assignment_item reads."""
    task_pool.task = task  # the caller's task (with its guideline version) is current
    assignment.task_pool = task_pool
    if Task.guideline_version.is_cached(task):
        assignment.guideline_version = task.guideline_version
    prompt, texts = item_texts(unit_id=assignment.unit_id, shown_order=assignment.shown_order)
    setattr(assignment, ITEM_CONTENT_ATTR, ItemContent(prompt, texts, progress))
    return assignment


def _lease(
    *,
    task: Task,
    task_pool: TaskPool,
    worker: TaskPoolWorker,
    slot: Slot,
    actor: User,
    now: datetime,
) -> Assignment:
    if slot.state == SlotState.LEASED:
        # The previous holder's lease ran out; their late submit will be refused.
        Assignment.objects.filter(slot=slot, status=AssignmentStatus.LEASED).update(
            status=AssignmentStatus.EXPIRED, closed_at=now
        )
    expires = now + timedelta(seconds=task.lease_seconds)
    slot.state = SlotState.LEASED
    slot.lease_expires_at = expires
    slot.save(update_fields=["state", "lease_expires_at"])
    assignment = Assignment.objects.create(
        handle=secrets.token_urlsafe(16),
        task_pool=task_pool,
        unit_id=slot.unit_id,
        slot=slot,
        annotator=actor,
        guideline_version_id=task.guideline_version_id,
        status=AssignmentStatus.LEASED,
        shown_order=shown_order_for_slot(
            base_order=unit_base_order(unit_id=slot.unit_id), slot_ordinal=slot.ordinal
        ),
        served_at=now,
        lease_expires_at=expires,
    )
    worker.served_count += 1
    update_fields = ["served_count", "updated_at"]
    if slot.is_gold:
        worker.gold_served_count += 1
        update_fields.append("gold_served_count")
    worker.save(update_fields=update_fields)
    return assignment


@transaction.atomic
def assignment_claim(*, actor: User, task: Task) -> Assignment | None:
    """annotation.services.assignment.assignment_claim with the ORM: lease the next unit
    of `task` to `actor` or return their live lease; None when nothing is left for them.
    The assignment carries its item content, as the hand-written claim's does."""
    require_live(task)
    member_pools = list(
        TaskPool.objects.filter(task=task, pool__members__user=actor).order_by("pk")
    )
    task_pools = [tp for tp in member_pools if tp.slots_created]
    if not task_pools:
        raise AccessDenied("You are not in a pool working on this task.")
    _require_clearance(
        actor=actor, task=task, require_quiz=any(tp.require_quiz for tp in task_pools)
    )
    workers = _workers_lock(task_pools=task_pools, actor=actor)
    standings = [
        _PoolStanding(tp, None, 0, 0, w.submitted_count if (w := workers.get(tp.pk)) else 0)
        for tp in member_pools
    ]
    progress = _progress(standings)
    by_pk = {tp.pk: tp for tp in task_pools}
    now = timezone.now()
    current = (
        Assignment.objects.filter(
            annotator=actor,
            task_pool__in=task_pools,
            status=AssignmentStatus.LEASED,
            lease_expires_at__gt=now,
        )
        .order_by("pk")
        .first()
    )
    if current is not None:
        return _served(current, task=task, task_pool=by_pk[current.task_pool_id], progress=progress)
    for task_pool in task_pools:
        worker = workers[task_pool.pk]
        cap = task_pool.per_annotator_cap
        if cap is not None and worker.submitted_count >= cap:
            continue
        gold = _wants_gold(
            task_pool=task_pool,
            served=worker.served_count,
            gold_served=worker.gold_served_count,
        )
        expired_first = worker.served_count % EXPIRED_FIRST_EVERY == 0
        for wanted in [gold, not gold] if task_pool.gold_share > 0 or gold else [gold]:
            slot = _slot_take(
                task_pool=task_pool, actor=actor, gold=wanted, expired_first=expired_first, now=now
            )
            if slot is not None:
                assignment = _lease(
                    task=task, task_pool=task_pool, worker=worker, slot=slot, actor=actor, now=now
                )
                return _served(assignment, task=task, task_pool=task_pool, progress=progress)
    return None


# -- the submit -----------------------------------------------------------------------


@transaction.atomic
def annotation_submit(
    *,
    actor: User,
    handle: str,
    answers: dict[str, Any],
    client_active_seconds: float | None = None,
    client_first_interaction_at: datetime | None = None,
    submission_token: str = "",
) -> tuple[Annotation, bool]:
    """annotation.services.submission.annotation_submit with the ORM: store the annotation
    for the assignment behind `handle`; returns (annotation, created). Idempotent."""
    slot, assignment = _lock(assignment=_own_assignment(actor=actor, handle=handle))
    stored = submit_check(
        assignment=assignment, task_status=assignment.task_pool.task.status, answers=answers
    )
    if stored is not None:
        return stored, False
    now = timezone.now()
    annotation = Annotation.objects.create(
        **annotation_values(
            assignment=assignment,
            answers=answers,
            now=now,
            client_active_seconds=client_active_seconds,
            client_first_interaction_at=client_first_interaction_at,
            submission_token=submission_token,
        )
    )
    slot.state = SlotState.DONE
    slot.lease_expires_at = None
    slot.save(update_fields=["state", "lease_expires_at"])
    assignment.status = AssignmentStatus.SUBMITTED
    assignment.closed_at = now
    assignment.save(update_fields=["status", "closed_at"])
    worker_counts_bump(task_pool_id=assignment.task_pool_id, user=actor, submitted_count=1)
    return annotation, True
