"""Writes about time and pay: the workspace's timed submit and the lead's minimum rate.

The submit itself is annotation.services.submission.annotation_submit; this module only
adds the credited active time next to it, in the same transaction.
"""

from __future__ import annotations

import math
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction

from annotation.models import Annotation, Task
from annotation.services.submission import annotation_submit
from common.exceptions import ApplicationError
from common.models import User
from common.services import audit_record


def active_seconds_clamp(
    *, client_seconds: float | None, served_at: datetime, submitted_at: datetime
) -> float:
    """The browser's visible-tab seconds, never more than the server saw pass between
    serving and submitting (nor less than zero). Without a browser figure, the server's."""
    wall = max(0.0, (submitted_at - served_at).total_seconds())
    if client_seconds is None or not math.isfinite(client_seconds):
        return wall
    return min(max(0.0, client_seconds), wall)


@transaction.atomic
def annotation_submit_timed(
    *,
    actor: User,
    handle: str,
    answers: dict[str, Any],
    client_active_seconds: float | None = None,
    client_first_interaction_at: datetime | None = None,
    submission_token: str = "",
) -> tuple[Annotation, bool]:
    """annotation_submit, then store the credited active time of a new annotation.

    The browser's figure is kept as sent (client_active_seconds, only made non-negative
    and finite so the row's constraint holds); the credited figure is clamped to the
    server's served → submitted time. A repeated submit changes nothing.
    """
    if client_active_seconds is not None and not (
        math.isfinite(client_active_seconds) and client_active_seconds >= 0
    ):
        client_active_seconds = None
    annotation, created = annotation_submit(
        actor=actor,
        handle=handle,
        answers=answers,
        client_active_seconds=client_active_seconds,
        client_first_interaction_at=client_first_interaction_at,
        submission_token=submission_token,
    )
    if created:
        annotation.active_seconds = active_seconds_clamp(
            client_seconds=client_active_seconds,
            served_at=annotation.served_at,
            submitted_at=annotation.submitted_at,
        )
        Annotation.objects.filter(pk=annotation.pk).update(active_seconds=annotation.active_seconds)
    return annotation, created


@transaction.atomic
def task_min_hourly_rate_set(*, actor: User, task: Task, rate: Decimal | None) -> Task:
    """The lead's floor for the task's effective hourly rate (None removes it)."""
    if rate is not None and rate < 0:
        raise ApplicationError("The minimum hourly rate cannot be negative.")
    task = Task.objects.select_for_update().get(pk=task.pk)
    previous = task.min_hourly_rate
    if previous == rate:
        return task
    task.min_hourly_rate = rate
    task.save(update_fields=["min_hourly_rate", "updated_at"])
    audit_record(
        actor=actor,
        project=task.project,
        action="task.min_hourly_rate_set",
        target=task,
        guideline_version=task.guideline_version,
        details={
            "previous": None if previous is None else str(previous),
            "rate": None if rate is None else str(rate),
        },
    )
    return task
