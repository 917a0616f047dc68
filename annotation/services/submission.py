"""Submitting, skipping and flagging a leased unit.

Lock order is always slot, then assignment (the same order as the claim), so a
submit racing a claim of the same expired slot cannot deadlock.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from annotation.models import (
    Annotation,
    Assignment,
    AssignmentStatus,
    FlagReason,
    Slot,
    SlotState,
    TaskStatus,
)
from annotation.services.assignment import worker_counts_bump
from common.exceptions import AccessDenied, ApplicationError
from common.models import User


class LeaseLost(ApplicationError):
    """The lease ran out and the slot went to someone else (or was skipped/flagged)."""


class AnswersInvalid(ApplicationError):
    """The answers do not fit the rubric; `extra["errors"]` maps field → messages."""


def rubric_questions(rubric: Any) -> list[Any]:
    """The list of questions in a guideline version's rubric JSON."""
    if isinstance(rubric, dict):
        return list(rubric.get("questions", []))
    return list(rubric or [])


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
    """
    assignment = _own_assignment(actor=actor, handle=handle)
    slot, assignment = _lock(assignment=assignment)
    if assignment.status == AssignmentStatus.SUBMITTED:
        return Annotation.objects.get(assignment=assignment), False
    if assignment.status != AssignmentStatus.LEASED:
        raise LeaseLost(
            "This item is no longer yours: its lease ran out or it was skipped.",
            extra={"code": "lease_lost"},
        )
    if assignment.task_pool.task.status == TaskStatus.CLOSED:
        raise ApplicationError("The task is closed.", extra={"code": "task_closed"})
    from guidelines.rubric import validate_answers

    if not isinstance(answers, dict):
        raise AnswersInvalid("Answers must be an object.", extra={"errors": {"answers": ["Expected an object."]}})
    errors = validate_answers(
        rubric_questions(assignment.guideline_version.rubric),
        answers,
        n_outputs=len(assignment.shown_order),
    )
    if errors:
        raise AnswersInvalid("Some answers are missing or invalid.", extra={"errors": errors})
    now = timezone.now()
    annotation = Annotation.objects.create(
        assignment=assignment,
        slot=slot,
        unit_id=assignment.unit_id,
        task_pool_id=assignment.task_pool_id,
        annotator=actor,
        guideline_version_id=assignment.guideline_version_id,
        answers=answers,
        shown_order=assignment.shown_order,
        served_at=assignment.served_at,
        first_interaction_at=assignment.first_interaction_at,
        submitted_at=now,
        client_first_interaction_at=_clamp(
            client_first_interaction_at, lo=assignment.served_at, hi=now
        ),
        client_active_seconds=client_active_seconds,
        submission_token=submission_token[:64],
    )
    slot.state = SlotState.DONE
    slot.lease_expires_at = None
    slot.save(update_fields=["state", "lease_expires_at"])
    assignment.status = AssignmentStatus.SUBMITTED
    assignment.closed_at = now
    assignment.save(update_fields=["status", "closed_at"])
    worker_counts_bump(task_pool_id=assignment.task_pool_id, user=actor, submitted_count=1)
    return annotation, True


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
        raise ApplicationError("Say why you skip this item.", extra={"errors": {"reason": ["Required."]}})
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
