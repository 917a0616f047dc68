"""Reads about time and pay: what an annotator earned, and the lead's payout table.

Pay rules (docs/workspace.md):

* Only submitted annotations are paid; skipped, flagged and expired items are not.
* Credited active time of an annotation is `active_seconds` (the browser's visible-tab
  time clamped to submitted_at - served_at when the workspace stored it); for an
  annotation submitted without it (an API client) it is the browser figure clamped the
  same way in SQL, or the whole served → submitted time when the browser sent nothing.
* `per_item` tasks pay `Task.pay_per_item` per submitted item. `per_hour` tasks pay
  credited hours × the hourly rate: the member's `PoolMembership.pay_rate_per_hour`
  when set, else the task's rate (`Task.pay_per_item`, read as a rate per hour).
* The effective hourly rate is amount / credited hours.

Every function runs a fixed number of queries: one grouped aggregate over the
annotations, whatever their number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.db.models import (
    Count,
    Exists,
    F,
    FloatField,
    Func,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.db.models.functions import Coalesce, Least
from django.utils import timezone

from annotation.codes import worker_code
from annotation.models import (
    Annotation,
    Assignment,
    AssignmentStatus,
    PayMode,
    PoolKind,
    PoolMembership,
    Slot,
    SlotState,
    Task,
    TaskPool,
    TaskPoolWorker,
    TaskStatus,
)
from common.models import User

CENT = Decimal("0.01")


def pay_currency() -> str:
    """The symbol amounts are shown with (setting JUDGEBENCH_PAY_CURRENCY, default "$")."""
    return getattr(settings, "JUDGEBENCH_PAY_CURRENCY", "$")


class SecondsBetween(Func):
    """Seconds from the first datetime expression to the second, as a float."""

    output_field = FloatField()
    arity = 2

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        start, end = self.source_expressions
        return Func(end, start, arg_joiner=" - ").as_sql(
            compiler,
            connection,
            template="EXTRACT(EPOCH FROM (%(expressions)s))::double precision",
            **extra,
        )


def credited_seconds() -> Coalesce:
    """The active seconds pay is computed from, for one annotation row (see module doc)."""
    served = SecondsBetween(F("served_at"), F("submitted_at"))
    # LEAST skips NULLs, so a missing client figure leaves the served time.
    clamped = Least(F("client_active_seconds"), served)
    return Coalesce(F("active_seconds"), clamped, served, output_field=FloatField())


def _member_rate() -> Subquery:
    return Subquery(
        PoolMembership.objects.filter(
            pool_id=OuterRef("task_pool__pool_id"), user_id=OuterRef("annotator_id")
        ).values("pay_rate_per_hour")[:1]
    )


def pay_amount(*, pay_mode: str, rate: Decimal, items: int, seconds: float) -> Decimal:
    if pay_mode == PayMode.PER_HOUR:
        amount = Decimal(str(seconds)) / Decimal(3600) * rate
    else:
        amount = rate * items
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def hourly_rate(amount: Decimal, seconds: float) -> Decimal | None:
    if seconds <= 0:
        return None
    return (amount / (Decimal(str(seconds)) / Decimal(3600))).quantize(CENT, ROUND_HALF_UP)


@dataclass
class PayLine:
    """One annotator's pay in one task pool."""

    task_id: int
    task_title: str
    pay_mode: str
    rate: Decimal
    items: int
    seconds: float
    amount: Decimal
    annotator_id: int = 0
    username: str = ""
    pool: str = ""
    pool_kind: str = ""
    worker_id: str = ""
    # A crowd worker's own completion code (annotation/codes.py), to match the code
    # they entered on the crowd platform.
    completion_code: str = ""

    @property
    def hours(self) -> float:
        return self.seconds / 3600

    @property
    def effective_rate(self) -> Decimal | None:
        return hourly_rate(self.amount, self.seconds)


def _pay_lines(annotations: QuerySet[Annotation], *, with_people: bool = False) -> list[PayLine]:
    """One grouped query: items and credited seconds per (task pool, annotator)."""
    group = [
        "task_pool_id",
        "annotator_id",
        "task_pool__task_id",
        "task_pool__task__title",
        "task_pool__task__pay_mode",
        "task_pool__task__pay_per_item",
    ]
    if with_people:
        group += [
            "annotator__username",
            "task_pool__pool__name",
            "task_pool__pool__kind",
            "task_pool__completion_code",
        ]
    rows = (
        annotations.order_by()
        .values(*group)
        .annotate(items=Count("pk"), seconds=Sum(credited_seconds()), member_rate=_member_rate())
        .order_by("task_pool__task_id", "task_pool_id", "annotator_id")
    )
    if with_people:
        rows = rows.annotate(
            worker_id=Subquery(
                PoolMembership.objects.filter(
                    pool_id=OuterRef("task_pool__pool_id"), user_id=OuterRef("annotator_id")
                ).values("external_worker_id")[:1]
            )
        )
    lines = []
    for row in rows:
        pay_mode = row["task_pool__task__pay_mode"]
        rate = row["task_pool__task__pay_per_item"]
        if pay_mode == PayMode.PER_HOUR and row["member_rate"] is not None:
            rate = row["member_rate"]
        seconds = float(row["seconds"] or 0.0)
        lines.append(
            PayLine(
                task_id=row["task_pool__task_id"],
                task_title=row["task_pool__task__title"],
                pay_mode=pay_mode,
                rate=rate,
                items=row["items"],
                seconds=seconds,
                amount=pay_amount(
                    pay_mode=pay_mode, rate=rate, items=row["items"], seconds=seconds
                ),
                annotator_id=row["annotator_id"],
                username=row.get("annotator__username", ""),
                pool=row.get("task_pool__pool__name", ""),
                pool_kind=row.get("task_pool__pool__kind", ""),
                worker_id=row.get("worker_id") or "",
                completion_code=(
                    worker_code(
                        secret=row["task_pool__completion_code"], user_id=row["annotator_id"]
                    )
                    if row.get("task_pool__pool__kind") == PoolKind.CROWD
                    else ""
                ),
            )
        )
    return lines


def _merge_by_task(lines: list[PayLine]) -> dict[int, dict[str, Any]]:
    by_task: dict[int, dict[str, Any]] = {}
    for line in lines:
        entry = by_task.setdefault(
            line.task_id,
            {
                "title": line.task_title,
                "pay_mode": line.pay_mode,
                "rate": line.rate,
                "items": 0,
                "seconds": 0.0,
                "amount": Decimal("0.00"),
            },
        )
        entry["items"] += line.items
        entry["seconds"] += line.seconds
        entry["amount"] += line.amount
    for entry in by_task.values():
        entry["hours"] = entry["seconds"] / 3600
        entry["effective_rate"] = hourly_rate(entry["amount"], entry["seconds"])
    return by_task


# ---- annotators -------------------------------------------------------------------


def annotator_task_earned(*, actor: User, task: Task) -> dict[str, Any]:
    """What `actor` earned in `task` so far: items, credited seconds, amount (one query)."""
    lines = _pay_lines(Annotation.objects.filter(annotator=actor, task_pool__task=task))
    entry = _merge_by_task(lines).get(task.pk)
    if entry is None:
        return {
            "items": 0,
            "seconds": 0.0,
            "hours": 0.0,
            "amount": Decimal("0.00"),
            "effective_rate": None,
            "currency": pay_currency(),
        }
    return {**entry, "currency": pay_currency()}


def annotator_earnings(*, actor: User, recent: int = 20) -> dict[str, Any]:
    """The annotator's earnings page: per task, in total, and their latest items."""
    if not actor.is_authenticated:
        return {"tasks": [], "total": None, "recent": [], "currency": pay_currency()}
    mine = Annotation.objects.filter(annotator=actor)
    by_task = _merge_by_task(_pay_lines(mine))
    total_amount = sum((e["amount"] for e in by_task.values()), Decimal("0.00"))
    total_seconds = sum(e["seconds"] for e in by_task.values())
    latest = (
        mine.order_by("-submitted_at")
        .annotate(credited=credited_seconds(), member_rate=_member_rate())
        .values(
            "submitted_at",
            "credited",
            "member_rate",
            "task_pool__task__title",
            "task_pool__task__pay_mode",
            "task_pool__task__pay_per_item",
        )[:recent]
    )
    recent_rows = []
    for row in latest:
        pay_mode = row["task_pool__task__pay_mode"]
        rate = row["task_pool__task__pay_per_item"]
        if pay_mode == PayMode.PER_HOUR and row["member_rate"] is not None:
            rate = row["member_rate"]
        seconds = float(row["credited"] or 0.0)
        recent_rows.append(
            {
                "task": row["task_pool__task__title"],
                "submitted_at": row["submitted_at"],
                "seconds": seconds,
                "amount": pay_amount(pay_mode=pay_mode, rate=rate, items=1, seconds=seconds),
            }
        )
    return {
        "tasks": list(by_task.values()),
        "total": {
            "items": sum(e["items"] for e in by_task.values()),
            "hours": total_seconds / 3600,
            "amount": total_amount,
            "effective_rate": hourly_rate(total_amount, total_seconds),
        },
        "recent": recent_rows,
        "currency": pay_currency(),
    }


def annotator_task_overview(*, actor: User) -> list[dict[str, Any]]:
    """The annotator's home: each live or paused task with progress, items left, what
    they earned, and (once their quota is done, in a crowd pool) the completion code.

    Five queries whatever the number of tasks. "Left" counts the units that still have
    a free seat for this annotator (open, or leased with an expired lease, and never
    served to them), capped by their remaining quota; it costs a scan of the open
    slots of their pools, which the partial index keeps short.
    """
    if not actor.is_authenticated:
        return []
    task_pools = list(
        TaskPool.objects.filter(
            pool__members__user=actor, task__status__in=[TaskStatus.LIVE, TaskStatus.PAUSED]
        )
        .select_related("task", "pool")
        .order_by("task_id", "pk")
    )
    if not task_pools:
        return []
    workers = {
        w.task_pool_id: w
        for w in TaskPoolWorker.objects.filter(user=actor, task_pool__in=task_pools)
    }
    now = timezone.now()
    seen = Assignment.objects.filter(unit_id=OuterRef("unit_id"), annotator=actor)
    free = dict(
        Slot.objects.filter(task_pool__in=task_pools)
        .filter(Q(state=SlotState.OPEN) | Q(state=SlotState.LEASED, lease_expires_at__lt=now))
        .exclude(Exists(seen))
        .values("task_pool_id")
        .annotate(units=Count("unit_id", distinct=True))
        .values_list("task_pool_id", "units")
    )
    leased = set(
        Assignment.objects.filter(
            annotator=actor,
            task_pool__in=task_pools,
            status=AssignmentStatus.LEASED,
            lease_expires_at__gt=now,
        ).values_list("task_pool_id", flat=True)
    )
    earned = _merge_by_task(
        _pay_lines(Annotation.objects.filter(annotator=actor, task_pool__in=task_pools))
    )
    tasks: dict[int, dict[str, Any]] = {}
    for tp in task_pools:
        task = tp.task
        entry = tasks.setdefault(
            task.pk,
            {
                "public_id": task.public_id,
                "title": task.title,
                "description": task.description,
                "mode": task.mode,
                "status": task.status,
                "pay_mode": task.pay_mode,
                "rate": task.pay_per_item,
                "submitted": 0,
                "left": 0,
                "done": False,
                "completion_code": None,
                "has_lease": False,
                "earned": earned.get(task.pk, {}).get("amount", Decimal("0.00")),
            },
        )
        worker = workers.get(tp.pk)
        submitted = worker.submitted_count if worker else 0
        entry["submitted"] += submitted
        # The annotator's own live lease is one of the items left to them.
        left = free.get(tp.pk, 0) + (1 if tp.pk in leased else 0)
        entry["has_lease"] = entry["has_lease"] or tp.pk in leased
        if tp.per_annotator_cap is not None:
            left = min(left, max(0, tp.per_annotator_cap - submitted))
        entry["left"] += left
        if worker is not None and worker.completed_at is not None:
            entry["done"] = True
            if tp.pool.kind == PoolKind.CROWD:
                entry["completion_code"] = tp.worker_completion_code(actor.pk)
    for entry in tasks.values():
        total = entry["submitted"] + entry["left"]
        entry["percent"] = round(100 * entry["submitted"] / total) if total else 100
    return list(tasks.values())


# ---- leads ------------------------------------------------------------------------


@dataclass
class Payouts:
    task: Task
    lines: list[PayLine]
    items: int
    seconds: float
    amount: Decimal
    effective_rate: Decimal | None
    min_hourly_rate: Decimal | None
    below_minimum: bool
    currency: str
    annotators_below: list[str] = field(default_factory=list)

    @property
    def hours(self) -> float:
        return self.seconds / 3600


def task_payouts(*, task: Task) -> Payouts:
    """Per annotator (and pool) of `task`: items, credited hours, amount and effective
    hourly rate; totals; and whether the task's effective rate is below the lead's
    minimum. Two queries (the task's annotations grouped, and nothing per row)."""
    lines = _pay_lines(Annotation.objects.filter(task_pool__task=task), with_people=True)
    lines.sort(key=lambda line: (line.pool, line.username))
    amount = sum((line.amount for line in lines), Decimal("0.00"))
    seconds = sum(line.seconds for line in lines)
    rate = hourly_rate(amount, seconds)
    minimum = task.min_hourly_rate
    below = [
        line.username
        for line in lines
        if minimum is not None and line.effective_rate is not None and line.effective_rate < minimum
    ]
    return Payouts(
        task=task,
        lines=lines,
        items=sum(line.items for line in lines),
        seconds=seconds,
        amount=amount,
        effective_rate=rate,
        min_hourly_rate=minimum,
        below_minimum=minimum is not None and rate is not None and rate < minimum,
        currency=pay_currency(),
        annotators_below=below,
    )
