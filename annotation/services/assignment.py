"""The assignment engine: claim the next slot for an annotator, and expire stale leases.

Claiming runs in one short transaction of two statements in the usual case:

1. one statement finds the annotator's pools in the task (membership included) and
   upserts-and-locks their worker rows (``INSERT … ON CONFLICT DO UPDATE``): this
   serialises one person's own concurrent requests, so nobody holds two leases or
   overshoots a cap;
2. one statement (data-modifying CTEs) returns the annotator's live lease if there is
   one, and otherwise takes the first slot of the pool's queue that is open and whose
   unit this annotator has never been served (``SELECT … FOR UPDATE SKIP LOCKED
   LIMIT 1`` over a partial index of open slots), leases it, inserts the assignment
   with its counterbalanced shown order, bumps the worker's counters, and returns the
   prompt and response texts the item page needs.

Leases that ran out are looked for first on every n-th claim and whenever no open
slot is left; re-serving one takes a statement more (lock the slot and expire the
old assignment, then the lease above).

The queue order is (slot ordinal, slot id): every unit's first slot is served before
any unit's second one, so partial data is balanced (breadth first). Finished slots
leave the partial index, so the query's cost does not grow with finished work.

The SQL is hand-written because this is the hot path (a few milliseconds of server
time per annotation matter); the constraints in annotation.models stay the safety net.
INSERT column lists are built from the models' fields, so a field added later with a
default needs no change here (annotation.db holds that plumbing).
"""

from __future__ import annotations

import functools
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.utils import timezone

from annotation.db import (
    ITEM_CONTENT_ATTR,
    ITEM_PROMPT_SQL,
    ITEM_TEXTS_SQL,
    ItemContent,
    hot_cursor,
    sql_columns,
    sql_insert_parts,
    sql_instance,
)
from annotation.models import (
    Assignment,
    AssignmentStatus,
    Slot,
    SlotState,
    Task,
    TaskPool,
    TaskPoolWorker,
    TaskStatus,
)
from common.exceptions import AccessDenied, ApplicationError
from common.models import User


class GuidelineNotCleared(ApplicationError):
    """The annotator must acknowledge the task's guideline version (or pass its quiz) first."""


# -- clearance ----------------------------------------------------------------------

# (annotator, guideline version, quiz required) known to be cleared -> until when the
# answer holds (monotonic clock). Annotators never undo an acknowledgement or a passed
# quiz, but an admin can delete either: the process that deletes one forgets the
# annotator's entries at once (`_clearance_lost` below), every other process within
# CLEARANCE_CACHE_SECONDS, after which the next claim checks the database again.
_cleared: dict[tuple[int, int, bool], float] = {}
_CLEARED_MAX = 100_000
CLEARANCE_CACHE_SECONDS = 60.0


def _require_clearance(*, actor: User, task: Task, require_quiz: bool) -> None:
    key = (actor.pk, task.guideline_version_id, require_quiz)
    now = time.monotonic()
    if _cleared.get(key, 0.0) > now:
        return
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
    if len(_cleared) >= _CLEARED_MAX:
        _cleared.clear()
    _cleared[key] = now + CLEARANCE_CACHE_SECONDS


def clearance_cache_clear() -> None:
    _cleared.clear()


@receiver(post_delete, sender="guidelines.GuidelineAcknowledgement", dispatch_uid="clearance_ack")
@receiver(post_delete, sender="guidelines.QuizAttempt", dispatch_uid="clearance_quiz")
def _clearance_lost(sender: Any, instance: Any, **kwargs: Any) -> None:
    # Not business logic: it only drops what this process remembered about the
    # annotator's clearance for that version.
    for key in [k for k in _cleared if k[0] == instance.user_id and k[1] == instance.version_id]:
        _cleared.pop(key, None)


# -- the claim ------------------------------------------------------------------------


@dataclass
class _PoolStanding:
    task_pool: TaskPool
    worker_id: int | None
    served: int
    gold_served: int
    submitted: int


_WORKER_EXPRS = (("task_pool_id", "tp.id"),)


@functools.cache
def _pools_lock_sql() -> str:
    # The lateral FOR UPDATE locks each worker row as the pools are read in id order (the
    # same order for every request, so one person's concurrent requests cannot deadlock);
    # after waiting it reads the row's latest version.
    return f"""
    SELECT {sql_columns(TaskPool, "tp")}, w.id, w.served_count, w.gold_served_count,
           w.submitted_count
    FROM (
        SELECT tp.* FROM annotation_taskpool tp
        WHERE tp.task_id = %(task)s
          AND EXISTS (SELECT 1 FROM annotation_poolmembership m
                      WHERE m.pool_id = tp.pool_id AND m.user_id = %(user)s)
        ORDER BY tp.id
    ) tp
    LEFT JOIN LATERAL (
        SELECT w.id, w.served_count, w.gold_served_count, w.submitted_count
        FROM annotation_taskpoolworker w
        WHERE w.task_pool_id = tp.id AND w.user_id = %(user)s AND tp.slots_created
        FOR UPDATE
    ) w ON true
    ORDER BY tp.id
    """


@functools.cache
def _workers_create_sql(*, columns: str, values: str) -> str:
    return f"""
    INSERT INTO annotation_taskpoolworker ({columns})
    SELECT {values} FROM unnest(%(pools)s::bigint[]) AS tp(id)
    ON CONFLICT (task_pool_id, user_id) DO NOTHING
    """


def _pools_lock(*, cursor: Any, actor: User, task: Task, now: datetime) -> list[_PoolStanding]:
    """The actor's pools in `task` (by membership) with their worker rows locked; a
    worker row is created on the actor's first claim in a pool."""
    params = {"task": task.pk, "user": actor.pk}
    n = len(TaskPool._meta.concrete_fields)

    def read() -> list[tuple[TaskPool, Sequence[Any]]]:
        cursor.execute(_pools_lock_sql(), params)
        return [(sql_instance(TaskPool, row[:n]), row[n:]) for row in cursor.fetchall()]

    pools = read()
    missing = [tp.pk for tp, worker in pools if tp.slots_created and worker[0] is None]
    if missing:
        columns, values, insert_params = sql_insert_parts(
            TaskPoolWorker, {"user_id": actor.pk}, exprs=_WORKER_EXPRS, now=now
        )
        sql = _workers_create_sql(columns=columns, values=values)
        cursor.execute(sql, {**insert_params, "pools": missing})
        pools = read()
    return [_PoolStanding(tp, w[0], w[1] or 0, w[2] or 0, w[3] or 0) for tp, w in pools]


def _progress(pools: list[_PoolStanding]) -> dict[str, Any]:
    caps = [p.task_pool.per_annotator_cap for p in pools]
    cap = None if not caps or any(c is None for c in caps) else sum(c or 0 for c in caps)
    return {"submitted": sum(p.submitted for p in pools), "cap": cap}


# "OFFSET 0" keeps each NOT EXISTS a per-candidate probe of the unique (unit, annotator)
# index: without it the planner may turn it into an anti-join that first reads every unit
# the annotator was ever served, a cost that grows with finished work.
_CURRENT_CTE = """cur AS (
        SELECT a.id FROM annotation_assignment a
        WHERE a.annotator_id = %(user)s AND a.task_pool_id = ANY(%(pools)s)
          AND a.status = 'leased' AND a.lease_expires_at > %(now)s
        ORDER BY a.id LIMIT 1
    ),"""

_FRESH_PICK = """
        SELECT s.id, s.unit_id, s.ordinal, s.is_gold FROM annotation_slot s
        WHERE s.task_pool_id = %(tp)s AND s.is_gold = %(gold)s AND s.state = 'open' {gate}
          AND (s.ordinal, s.id) >= (%(from_ordinal)s, %(from_id)s)
          AND NOT EXISTS (SELECT 1 FROM annotation_assignment x
                          WHERE x.unit_id = s.unit_id AND x.annotator_id = %(user)s OFFSET 0)
        ORDER BY s.ordinal, s.id
        LIMIT 1
        FOR UPDATE OF s SKIP LOCKED"""

_GIVEN_PICK = """
        SELECT s.id, s.unit_id, s.ordinal, s.is_gold FROM annotation_slot s
        WHERE s.id = %(slot)s"""

# Lock an expired leased slot and expire its old assignment (slot first, then
# assignment: the lock order of submit and release too).
_EXPIRED_TAKE = """
    WITH pick AS MATERIALIZED (
        SELECT s.id FROM annotation_slot s
        WHERE s.task_pool_id = %(tp)s AND s.is_gold = %(gold)s AND s.state = 'leased'
          AND s.lease_expires_at < %(now)s
          AND NOT EXISTS (SELECT 1 FROM annotation_assignment x
                          WHERE x.unit_id = s.unit_id AND x.annotator_id = %(user)s OFFSET 0)
        ORDER BY s.lease_expires_at
        LIMIT 1
        FOR UPDATE OF s SKIP LOCKED
    ), expired AS (
        UPDATE annotation_assignment a SET status = 'expired', closed_at = %(now)s
        FROM pick WHERE a.slot_id = pick.id AND a.status = 'leased'
    )
    SELECT id FROM pick
"""


_LEASE_EXPRS = (
    ("slot_id", "upd.id"),
    ("unit_id", "upd.unit_id"),
    ("shown_order", "to_jsonb(shown.ids)"),
)


@functools.cache
def _lease_sql(*, pick: str, with_current: bool, columns: str, values: str) -> str:
    # The shown order is the unit's base order (by position) rotated by the slot ordinal:
    # the output at rank r goes to (r - ordinal mod n) mod n, as shown_order_for_slot.
    returned = sql_columns(Assignment, "ins")
    current = (
        f"""
    UNION ALL
    SELECT {sql_columns(Assignment, "a")}, {ITEM_TEXTS_SQL}, {ITEM_PROMPT_SQL}, NULL::smallint
    FROM cur JOIN annotation_assignment a ON a.id = cur.id"""
        if with_current
        else ""
    )
    return f"""
    WITH {_CURRENT_CTE if with_current else ""}
    pick AS MATERIALIZED ({pick}
    ), upd AS (
        UPDATE annotation_slot s SET state = 'leased', lease_expires_at = %(expires)s
        FROM pick WHERE s.id = pick.id
        RETURNING s.id, s.unit_id, s.ordinal, s.is_gold
    ), uo AS (
        SELECT uo.output_id, COALESCE(uo.masked_text, o.text) AS text,
               row_number() OVER (ORDER BY uo.position) - 1 AS r, count(*) OVER () AS n
        FROM annotation_unitoutput uo JOIN annotation_output o ON o.id = uo.output_id
        WHERE uo.unit_id = (SELECT unit_id FROM pick)
    ), shown AS (
        SELECT array_agg(uo.output_id ORDER BY (uo.r - upd.ordinal %% uo.n + uo.n) %% uo.n) AS ids,
               array_agg(uo.text ORDER BY (uo.r - upd.ordinal %% uo.n + uo.n) %% uo.n) AS texts
        FROM upd, uo GROUP BY upd.id
    ), ins AS (
        INSERT INTO annotation_assignment ({columns})
        SELECT {values} FROM upd, shown
        RETURNING *
    ), wk AS (
        UPDATE annotation_taskpoolworker w
        SET served_count = w.served_count + 1,
            gold_served_count = w.gold_served_count + CASE WHEN upd.is_gold THEN 1 ELSE 0 END,
            updated_at = %(now)s
        FROM upd WHERE w.id = %(worker)s
    )
    SELECT {returned}, shown.texts,
           (SELECT p.text FROM annotation_unit u JOIN annotation_prompt p ON p.id = u.prompt_id
            WHERE u.id = ins.unit_id), upd.ordinal
    FROM ins, shown, upd{current}
    """


@functools.cache
def _current_sql() -> str:
    return f"""
    WITH {_CURRENT_CTE.rstrip(",")}
    SELECT {sql_columns(Assignment, "a")}, {ITEM_TEXTS_SQL}, {ITEM_PROMPT_SQL}
    FROM cur JOIN annotation_assignment a ON a.id = cur.id
    """


@dataclass
class _Claim:
    cursor: Any
    actor: User
    task: Task
    now: datetime
    pools: list[_PoolStanding]
    progress: dict[str, Any]

    def _run(self, sql: str, params: dict[str, Any]) -> tuple[Assignment | None, int | None]:
        """The assignment a lease statement returned, and the leased slot's ordinal
        (None when it returned the live lease instead)."""
        self.cursor.execute(sql, params)
        row = self.cursor.fetchone()
        if row is None:
            return None, None
        n = len(Assignment._meta.concrete_fields)
        assignment = sql_instance(Assignment, row[:n])
        standing = next(p for p in self.pools if p.task_pool.pk == assignment.task_pool_id)
        standing.task_pool.task = self.task  # the caller's task (with its version) is current
        assignment.task_pool = standing.task_pool
        if Task.guideline_version.is_cached(self.task):
            assignment.guideline_version = self.task.guideline_version
        setattr(assignment, ITEM_CONTENT_ATTR, ItemContent(row[n + 1], row[n], self.progress))
        return assignment, row[n + 2] if len(row) > n + 2 else None

    def _params(self, task_pool: TaskPool, **extra: Any) -> dict[str, Any]:
        return {
            "user": self.actor.pk,
            "pools": [p.task_pool.pk for p in self.pools],
            "now": self.now,
            "tp": task_pool.pk,
            **extra,
        }

    def current(self) -> Assignment | None:
        return self._run(_current_sql(), self._params(self.pools[0].task_pool))[0]

    def lease(
        self,
        *,
        standing: _PoolStanding,
        gold: bool,
        expired: bool,
        with_current: bool,
        from_head: bool,
    ) -> Assignment | None:
        """Lease one slot of the standing's pool (fresh or expired, gold or not); with
        with_current, first return the actor's live lease if they hold one (fresh only)."""
        task_pool = standing.task_pool
        params = self._params(task_pool, gold=gold, worker=standing.worker_id)
        if expired:
            self.cursor.execute(_EXPIRED_TAKE, params)
            row = self.cursor.fetchone()
            if row is None:
                return None
            pick, params["slot"] = _GIVEN_PICK, row[0]
        else:
            pick = _FRESH_PICK.format(
                gate="AND NOT EXISTS (SELECT 1 FROM cur)" if with_current else ""
            )
        expires = self.now + timedelta(seconds=self.task.lease_seconds)
        columns, values, insert_params = sql_insert_parts(
            Assignment,
            {
                "handle": secrets.token_urlsafe(16),
                "task_pool_id": task_pool.pk,
                "annotator_id": self.actor.pk,
                "guideline_version_id": self.task.guideline_version_id,
                "status": AssignmentStatus.LEASED,
                "served_at": self.now,
                "lease_expires_at": expires,
            },
            exprs=_LEASE_EXPRS,
        )
        sql = _lease_sql(pick=pick, with_current=with_current, columns=columns, values=values)
        params = {**params, **insert_params, "expires": expires}
        if expired:
            return self._run(sql, params)[0]
        key = (self.actor.pk, task_pool.pk, gold)
        hint = None if from_head else _queue_hints.get(key)
        params["from_ordinal"], params["from_id"] = hint or _QUEUE_HEAD
        assignment, ordinal = self._run(sql, params)
        if assignment is None and hint is not None:  # nothing after the hint: from the head
            params["from_ordinal"], params["from_id"] = _QUEUE_HEAD
            assignment, ordinal = self._run(sql, params)
        if ordinal is not None and assignment is not None:
            if len(_queue_hints) >= _QUEUE_HINTS_MAX:
                _queue_hints.clear()
            _queue_hints[key] = (ordinal, assignment.slot_id)
        return assignment


# Expired leases are looked for first on every n-th claim of an annotator, and always
# when no open slot is left; in between, the open queue alone answers (one query).
EXPIRED_FIRST_EVERY = 8

# Where each annotator's last pick from an open queue was, per process: (annotator, task
# pool, gold) -> (slot ordinal, slot id). The next pick starts its index scan there
# instead of at the queue's head. Slots taken since the last VACUUM stay in the partial
# index as dead entries until PostgreSQL can prune them, and any long transaction on the
# server (a big export, an idle-in-transaction session, even in another database) stops
# that, so a scan from the head would step over every slot taken since: a cost that
# grows with finished work. From the hint it steps over only what others took since
# this annotator's last pick. Slots behind the hint that open again (skip, flag, the
# expiry sweep, a rolled-back claim) are still served: every EXPIRED_FIRST_EVERY-th
# claim scans from the head, and so does any claim that finds nothing after its hint,
# so "nothing left" is only ever answered by a full scan.
_queue_hints: dict[tuple[int, int, bool], tuple[int, int]] = {}
_QUEUE_HINTS_MAX = 100_000
_QUEUE_HEAD = (-1, 0)


def _wants_gold(*, task_pool: TaskPool, served: int, gold_served: int) -> bool:
    # Keep each annotator's running share of gold at the pool's gold share.
    return task_pool.gold_share > 0 and gold_served < task_pool.gold_share * (served + 1)


@transaction.atomic
def assignment_claim(*, actor: User, task: Task) -> Assignment | None:
    """Lease the next unit of `task` to `actor`, or return their live lease.

    Returns None when the annotator has nothing left in this task (quota reached or
    every remaining slot is on a unit they have already been served).
    """
    require_live(task)
    with hot_cursor() as cursor:
        return _claim(cursor=cursor, actor=actor, task=task)


def require_live(task: Task) -> None:
    if task.status != TaskStatus.LIVE:
        raise ApplicationError("This task is not open for annotation right now.")


def _claim(*, cursor: Any, actor: User, task: Task) -> Assignment | None:
    now = timezone.now()
    member_pools = _pools_lock(cursor=cursor, actor=actor, task=task, now=now)
    pools = [p for p in member_pools if p.task_pool.slots_created]
    if not pools:
        raise AccessDenied("You are not in a pool working on this task.")
    _require_clearance(
        actor=actor, task=task, require_quiz=any(p.task_pool.require_quiz for p in pools)
    )
    claim = _Claim(cursor, actor, task, now, pools, _progress(member_pools))
    # The live lease is looked up once, in the same statement as the first fresh pick
    # (after the worker rows are locked, so its snapshot sees the actor's other requests).
    check_current = True
    for standing in pools:
        task_pool = standing.task_pool
        cap = task_pool.per_annotator_cap
        if cap is not None and standing.submitted >= cap:
            continue
        gold = _wants_gold(
            task_pool=task_pool, served=standing.served, gold_served=standing.gold_served
        )
        golds = [gold, not gold] if task_pool.gold_share > 0 or gold else [gold]
        expired_first = standing.served % EXPIRED_FIRST_EVERY == 0
        for wanted in golds:
            for expired in (True, False) if expired_first else (False, True):
                if check_current and expired:
                    if (current := claim.current()) is not None:
                        return current
                    check_current = False
                assignment = claim.lease(
                    standing=standing,
                    gold=wanted,
                    expired=expired,
                    with_current=check_current,
                    from_head=expired_first,
                )
                if assignment is not None:
                    return assignment
                check_current = False
    return claim.current() if check_current else None


def assignment_claim_any(*, actor: User) -> Assignment | None:
    """The next unit from any live task whose pool `actor` belongs to.

    Tasks are tried oldest first; a task whose guidelines the annotator has not
    acknowledged is passed over, and if nothing else has work that is the error.
    """
    not_cleared: GuidelineNotCleared | None = None
    tasks = (
        Task.objects.filter(status=TaskStatus.LIVE, task_pools__pool__members__user=actor)
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
