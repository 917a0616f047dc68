"""The assignment engine: claim the next slot for an annotator, and expire stale leases.

Claiming runs in one short transaction:

1. lock the annotator's worker rows for the task (serialises one person's own
   concurrent requests, so nobody holds two leases or overshoots a cap);
2. resume the annotator's live lease if there is one;
3. take the first slot of the pool's queue that is open (or leased with an expired
   lease) and whose unit this annotator has never been served, with
   ``SELECT … FOR UPDATE SKIP LOCKED LIMIT 1`` over a partial index of open slots;
4. record the assignment with its counterbalanced shown order.

The queue order is (slot ordinal, slot id): every unit's first slot is served before
any unit's second one, so partial data is balanced (breadth first). Finished slots
leave the partial index, so the query's cost does not grow with finished work.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Exists, F, OuterRef, QuerySet
from django.utils import timezone

from annotation.models import (
    Assignment,
    AssignmentStatus,
    Slot,
    SlotState,
    Task,
    TaskPool,
    TaskPoolWorker,
    TaskStatus,
    UnitOutput,
)
from annotation.services.blinding import shown_order_for_slot
from common.exceptions import AccessDenied, ApplicationError
from common.models import User


class GuidelineNotCleared(ApplicationError):
    """The annotator must acknowledge the task's guideline version (or pass its quiz) first."""


class NoWork(ApplicationError):
    """Nothing left for this annotator (quota done or queue empty)."""


def _require_clearance(*, actor: User, task: Task, require_quiz: bool) -> None:
    from guidelines.selectors import guideline_version_clearance

    clearance = guideline_version_clearance(
        actor=actor, version=task.guideline_version, require_quiz=require_quiz
    )
    if not clearance.cleared:
        raise GuidelineNotCleared(
            "Read and acknowledge the task's guidelines before annotating.",
            extra={
                "code": "guideline_not_cleared",
                "reason": clearance.reason,
                "guideline_version": task.guideline_version_id,
            },
        )


def _worker_rows_lock(*, task_pools: list[TaskPool], user: User) -> dict[int, TaskPoolWorker]:
    def lock() -> dict[int, TaskPoolWorker]:
        workers = TaskPoolWorker.objects.select_for_update().filter(
            task_pool__in=task_pools, user=user
        ).order_by("pk")
        return {worker.task_pool_id: worker for worker in workers}

    workers = lock()
    if len(workers) < len(task_pools):  # first claim in a pool: create the row, then lock
        TaskPoolWorker.objects.bulk_create(
            [TaskPoolWorker(task_pool=tp, user=user) for tp in task_pools], ignore_conflicts=True
        )
        workers = lock()
    return workers


def _queue(*, task_pool: TaskPool, actor: User, gold: bool) -> tuple[QuerySet[Slot], QuerySet[Slot]]:
    seen = Assignment.objects.filter(unit_id=OuterRef("unit_id"), annotator=actor)
    mine = Slot.objects.filter(task_pool=task_pool, is_gold=gold).exclude(Exists(seen))
    expired = mine.filter(state=SlotState.LEASED, lease_expires_at__lt=timezone.now()).order_by(
        "lease_expires_at"
    )
    fresh = mine.filter(state=SlotState.OPEN).order_by("ordinal", "id")
    return expired, fresh


# Expired leases are looked for first on every n-th claim of an annotator, and always
# when no open slot is left; in between, the open queue alone answers (one query).
EXPIRED_FIRST_EVERY = 8


def _slot_take(*, task_pool: TaskPool, actor: User, gold: bool, expired_first: bool) -> Slot | None:
    expired, fresh = _queue(task_pool=task_pool, actor=actor, gold=gold)
    order = (expired, fresh) if expired_first else (fresh, expired)
    for queryset in order:
        slot = queryset.select_for_update(skip_locked=True, of=("self",)).first()
        if slot is not None:
            return slot
    return None


def _wants_gold(*, task_pool: TaskPool, worker: TaskPoolWorker) -> bool:
    # Keep each annotator's running share of gold at the pool's gold share.
    return task_pool.gold_share > 0 and worker.gold_served_count < task_pool.gold_share * (
        worker.served_count + 1
    )


def task_pools_for_annotator(*, actor: User, task: Task) -> list[TaskPool]:
    return list(
        TaskPool.objects.filter(task=task, pool__members__user=actor, slots_created=True).order_by(
            "pk"
        )
    )


@transaction.atomic
def assignment_claim(*, actor: User, task: Task) -> Assignment | None:
    """Lease the next unit of `task` to `actor`, or return their live lease.

    Returns None when the annotator has nothing left in this task (quota reached or
    every remaining slot is on a unit they have already been served).
    """
    if task.status != TaskStatus.LIVE:
        raise ApplicationError("This task is not open for annotation right now.")
    task_pools = task_pools_for_annotator(actor=actor, task=task)
    if not task_pools:
        raise AccessDenied("You are not in a pool working on this task.")
    _require_clearance(
        actor=actor, task=task, require_quiz=any(tp.require_quiz for tp in task_pools)
    )
    workers = _worker_rows_lock(task_pools=task_pools, user=actor)
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
        return current
    for task_pool in task_pools:
        worker = workers[task_pool.pk]
        cap = task_pool.per_annotator_cap
        if cap is not None and worker.submitted_count >= cap:
            continue
        gold = _wants_gold(task_pool=task_pool, worker=worker)
        expired_first = worker.served_count % EXPIRED_FIRST_EVERY == 0
        slot = _slot_take(task_pool=task_pool, actor=actor, gold=gold, expired_first=expired_first)
        if slot is None and (task_pool.gold_share > 0 or gold):
            gold = not gold
            slot = _slot_take(
                task_pool=task_pool, actor=actor, gold=gold, expired_first=expired_first
            )
        if slot is None:
            continue
        task_pool.task = task  # the caller's task (with its guideline version) is current
        return _lease(task=task, task_pool=task_pool, worker=worker, slot=slot, actor=actor, now=now)
    return None


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
    base_order = list(
        UnitOutput.objects.filter(unit_id=slot.unit_id).order_by("position").values_list(
            "output_id", flat=True
        )
    )
    assignment = Assignment.objects.create(
        handle=secrets.token_urlsafe(16),
        task_pool=task_pool,
        unit_id=slot.unit_id,
        slot=slot,
        annotator=actor,
        guideline_version_id=task.guideline_version_id,
        shown_order=shown_order_for_slot(base_order=base_order, slot_ordinal=slot.ordinal),
        served_at=now,
        lease_expires_at=expires,
    )
    assignment.guideline_version = task.guideline_version  # already loaded; saves a query
    worker.served_count += 1
    update_fields = ["served_count", "updated_at"]
    if slot.is_gold:
        worker.gold_served_count += 1
        update_fields.append("gold_served_count")
    worker.save(update_fields=update_fields)
    return assignment


def assignment_claim_any(*, actor: User) -> Assignment | None:
    """The next unit from any live task whose pool `actor` belongs to.

    Tasks are tried oldest first; a task whose guidelines the annotator has not
    acknowledged is passed over, and if nothing else has work that is the error.
    """
    not_cleared: GuidelineNotCleared | None = None
    tasks = (
        Task.objects.filter(
            status=TaskStatus.LIVE, task_pools__pool__members__user=actor
        )
        .select_related("guideline_version")
        .distinct()
        .order_by("pk")
    )
    for task in tasks:
        try:
            assignment = assignment_claim(actor=actor, task=task)
        except GuidelineNotCleared as exc:
            not_cleared = not_cleared or exc
            continue
        if assignment is not None:
            return assignment
    if not_cleared is not None:
        raise not_cleared
    return None


@transaction.atomic
def slot_leases_expire(*, task_pool_id: int | None = None, batch: int = 1000) -> int:
    """Return slots whose lease ran out to the queue; the claim does the same lazily,
    so this sweep only keeps progress figures honest between claims."""
    now = timezone.now()
    slots = Slot.objects.filter(state=SlotState.LEASED, lease_expires_at__lt=now)
    if task_pool_id is not None:
        slots = slots.filter(task_pool_id=task_pool_id)
    ids = list(slots.select_for_update(skip_locked=True).values_list("pk", flat=True)[:batch])
    if not ids:
        return 0
    Assignment.objects.filter(slot_id__in=ids, status=AssignmentStatus.LEASED).update(
        status=AssignmentStatus.EXPIRED, closed_at=now
    )
    return Slot.objects.filter(pk__in=ids).update(state=SlotState.OPEN, lease_expires_at=None)


def worker_counts_bump(*, task_pool_id: int, user: User, **fields: Any) -> None:
    TaskPoolWorker.objects.filter(task_pool_id=task_pool_id, user=user).update(
        **{name: F(name) + value for name, value in fields.items()}
    )


@transaction.atomic
def task_pool_worker_complete(*, actor: User, task: Task) -> bool:
    """Called when nothing more is served to `actor` in `task`: mark their quota done
    (cap reached, or the queue has nothing left for them after at least one item)."""
    done = False
    workers = (
        TaskPoolWorker.objects.select_for_update(of=("self",))
        .filter(user=actor, task_pool__task=task)
        .select_related("task_pool")
    )
    for worker in workers:
        if worker.submitted_count == 0:
            continue
        done = True
        if worker.completed_at is None:
            worker.completed_at = timezone.now()
            worker.save(update_fields=["completed_at", "updated_at"])
    return done
