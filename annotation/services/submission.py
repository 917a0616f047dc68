"""Submitting, skipping and flagging a leased unit.

Lock order is always slot, then assignment (the same order as the claim), so a
submit racing a claim of the same expired slot cannot deadlock.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from annotation.db import hot_cursor, sql_columns, sql_insert_parts, sql_instance
from annotation.models import (
    Annotation,
    Assignment,
    AssignmentStatus,
    FlagReason,
    Slot,
    SlotState,
    TaskStatus,
)
from annotation.selectors_annotator import rubric_questions_for_version
from common.exceptions import AccessDenied, ApplicationError
from common.models import User


class LeaseLost(ApplicationError):
    """The lease ran out and the slot went to someone else (or was skipped/flagged)."""


class AnswersInvalid(ApplicationError):
    """The answers do not fit the rubric; `extra["errors"]` maps field → messages."""


def _own_assignment(*, actor: User, handle: str) -> Assignment:
    assignment = Assignment.objects.filter(handle=handle, annotator=actor).first()
    if assignment is None or not actor.is_authenticated:
        # Someone else's handle and a made-up one look the same.
        raise AccessDenied("No such item.")
    return assignment


def _lock(*, assignment: Assignment) -> tuple[Slot, Assignment]:
    slot = Slot.objects.select_for_update().get(pk=assignment.slot_id)
    locked = (
        Assignment.objects.select_for_update(of=("self",))
        .select_related("task_pool__task", "guideline_version")
        .get(pk=assignment.pk)
    )
    return slot, locked


def _clamp(moment: datetime | None, *, lo: datetime, hi: datetime) -> datetime | None:
    if moment is None:
        return None
    return min(max(moment, lo), hi)


# Lock the slot, then the assignment (a CTE the outer row depends on is read first), and
# read what the submit checks. The handle is looked up alone ("OFFSET 0" keeps the
# planner on its unique index, whatever the statistics say about the annotator's rows); EvalPlanQual hands back the assignment's latest version if
# a concurrent submit or claim changed it while we waited.
_SUBMIT_LOCK = """
    WITH s AS MATERIALIZED (
        SELECT s.id FROM annotation_slot s
        WHERE s.id = (SELECT h.slot_id FROM (SELECT a.slot_id, a.annotator_id
                                             FROM annotation_assignment a
                                             WHERE a.handle = %(handle)s OFFSET 0) h
                      WHERE h.annotator_id = %(user)s)
        FOR UPDATE
    )
    SELECT {columns}, t.status
    FROM s JOIN annotation_assignment a ON a.slot_id = s.id AND a.handle = %(handle)s
    JOIN annotation_taskpool tp ON tp.id = a.task_pool_id
    JOIN annotation_task t ON t.id = tp.task_id
    FOR UPDATE OF a
"""

_SUBMIT_STORE = """
    WITH an AS (
        INSERT INTO annotation_annotation ({columns}) VALUES ({values}) RETURNING *
    ), slot_done AS (
        UPDATE annotation_slot SET state = 'done', lease_expires_at = NULL WHERE id = %(slot)s
    ), assignment_done AS (
        UPDATE annotation_assignment SET status = 'submitted', closed_at = %(now)s
        WHERE id = %(assignment)s
    ), worker AS (
        UPDATE annotation_taskpoolworker SET submitted_count = submitted_count + 1
        WHERE task_pool_id = %(task_pool)s AND user_id = %(user)s
    )
    SELECT {returned} FROM an
"""


@functools.cache
def _submit_lock_sql() -> str:
    return _SUBMIT_LOCK.format(columns=sql_columns(Assignment, "a"))


@functools.cache
def _submit_store_sql(*, columns: str, values: str) -> str:
    return _SUBMIT_STORE.format(
        columns=columns, values=values, returned=sql_columns(Annotation, "an")
    )


def _lock_by_handle(*, actor: User, handle: str) -> tuple[Assignment, str]:
    """The actor's assignment behind `handle`, its slot and itself locked, with the task's
    status; someone else's handle and a made-up one look the same."""
    if not actor.is_authenticated:
        raise AccessDenied("No such item.")
    with hot_cursor() as cursor:
        cursor.execute(
            _submit_lock_sql(),
            {"handle": handle, "user": actor.pk},
        )
        row = cursor.fetchone()
    if row is None:
        raise AccessDenied("No such item.")
    return sql_instance(Assignment, row[:-1]), row[-1]


def submit_check(*, assignment: Assignment, task_status: str, answers: Any) -> Annotation | None:
    """For a locked `assignment`: its stored annotation if it was already submitted (a
    repeated submit), else None once the lease, the task and the answers are fine;
    raises what a submit refuses."""
    if assignment.status == AssignmentStatus.SUBMITTED:
        return Annotation.objects.get(assignment_id=assignment.pk)
    if assignment.status != AssignmentStatus.LEASED:
        raise LeaseLost(
            "This item is no longer yours: its lease ran out or it was skipped.",
            extra={"code": "lease_lost"},
        )
    if task_status == TaskStatus.CLOSED:
        raise ApplicationError("The task is closed.", extra={"code": "task_closed"})
    from guidelines.rubric import validate_answers

    if not isinstance(answers, dict):
        raise AnswersInvalid(
            "Answers must be an object.", extra={"errors": {"answers": ["Expected an object."]}}
        )
    errors = validate_answers(
        rubric_questions_for_version(assignment.guideline_version_id),
        answers,
        n_outputs=len(assignment.shown_order),
    )
    if errors:
        raise AnswersInvalid("Some answers are missing or invalid.", extra={"errors": errors})
    return None


def annotation_values(
    *,
    assignment: Assignment,
    answers: dict[str, Any],
    now: datetime,
    client_active_seconds: float | None,
    client_first_interaction_at: datetime | None,
    submission_token: str,
) -> dict[str, Any]:
    """The new Annotation row of `assignment` (by attname). The credited active time is
    not here: annotation.services.pay adds it after the submit."""
    return {
        "assignment_id": assignment.pk,
        "slot_id": assignment.slot_id,
        "unit_id": assignment.unit_id,
        "task_pool_id": assignment.task_pool_id,
        "annotator_id": assignment.annotator_id,
        "guideline_version_id": assignment.guideline_version_id,
        "answers": answers,
        "shown_order": assignment.shown_order,
        "served_at": assignment.served_at,
        "first_interaction_at": assignment.first_interaction_at,
        "submitted_at": now,
        "client_first_interaction_at": _clamp(
            client_first_interaction_at, lo=assignment.served_at, hi=now
        ),
        "client_active_seconds": client_active_seconds,
        "submission_token": submission_token[:64],
    }


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
    """Store the annotation for the assignment behind `handle`; returns (annotation, created).

    Idempotent: a repeated submit of the same handle returns the stored annotation
    and stores nothing. A lease that ran out is still honoured as long as nobody else
    has claimed the slot since.

    Two statements inside the transaction: lock slot and assignment (reading what the
    checks need), then insert the annotation and close slot, assignment and the
    worker's count together.
    """
    assignment, task_status = _lock_by_handle(actor=actor, handle=handle)
    stored = submit_check(assignment=assignment, task_status=task_status, answers=answers)
    if stored is not None:
        return stored, False
    now = timezone.now()
    columns, values, params = sql_insert_parts(
        Annotation,
        annotation_values(
            assignment=assignment,
            answers=answers,
            now=now,
            client_active_seconds=client_active_seconds,
            client_first_interaction_at=client_first_interaction_at,
            submission_token=submission_token,
        ),
        now=now,
    )
    sql = _submit_store_sql(columns=columns, values=values)
    with hot_cursor() as cursor:
        cursor.execute(
            sql,
            {
                **params,
                "slot": assignment.slot_id,
                "now": now,
                "assignment": assignment.pk,
                "task_pool": assignment.task_pool_id,
                "user": actor.pk,
            },
        )
        row = cursor.fetchone()
    return sql_instance(Annotation, row), True


def _release(*, actor: User, handle: str, status: str, **fields: str) -> Assignment:
    assignment = _own_assignment(actor=actor, handle=handle)
    slot, assignment = _lock(assignment=assignment)
    if assignment.status == status:
        return assignment  # a repeated skip/flag changes nothing
    if assignment.status != AssignmentStatus.LEASED:
        raise LeaseLost("This item is no longer yours.", extra={"code": "lease_lost"})
    assignment.status = status
    assignment.closed_at = timezone.now()
    for name, value in fields.items():
        setattr(assignment, name, value)
    assignment.save(update_fields=["status", "closed_at", *fields])
    # The slot goes back to the queue for someone else; this annotator never sees
    # the unit again (unique unit × annotator).
    slot.state = SlotState.OPEN
    slot.lease_expires_at = None
    slot.save(update_fields=["state", "lease_expires_at"])
    return assignment


@transaction.atomic
def assignment_skip(*, actor: User, handle: str, reason: str) -> Assignment:
    reason = reason.strip()
    if not reason:
        raise ApplicationError(
            "Say why you skip this item.", extra={"errors": {"reason": ["Required."]}}
        )
    return _release(
        actor=actor, handle=handle, status=AssignmentStatus.SKIPPED, skip_reason=reason[:500]
    )


@transaction.atomic
def assignment_flag(*, actor: User, handle: str, reason: str, note: str = "") -> Assignment:
    if reason not in FlagReason.values:
        raise ApplicationError(
            "Flag an item as broken, unsafe or other.",
            extra={"errors": {"reason": [f"Choose one of {', '.join(FlagReason.values)}."]}},
        )
    return _release(
        actor=actor,
        handle=handle,
        status=AssignmentStatus.FLAGGED,
        flag_reason=reason,
        flag_note=note.strip()[:1000],
    )


@transaction.atomic
def assignment_interaction_record(*, actor: User, handle: str) -> Assignment:
    """Note the server time of the annotator's first interaction with the item (once)."""
    assignment = _own_assignment(actor=actor, handle=handle)
    Assignment.objects.filter(pk=assignment.pk, first_interaction_at__isnull=True).update(
        first_interaction_at=timezone.now()
    )
    assignment.refresh_from_db(fields=["first_interaction_at"])
    return assignment
