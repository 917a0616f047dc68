"""Annotator reads with the ORM, for databases other than PostgreSQL.

annotation.selectors_annotator reads the task and the item's texts with hand-written
PostgreSQL (array_agg over the shown order, ``= ANY(array)``); when
annotation.services.assignment.hot_sql() is false it calls these instead. Blinding is
unchanged: they return the same things (a task, a prompt and texts), never ids or
metadata of outputs.
"""

from __future__ import annotations

from collections.abc import Sequence

from annotation.models import Task, TaskStatus, Unit, UnitOutput
from common.exceptions import AccessDenied
from common.models import User


def task_get_for_annotator(*, actor: User, public_id: str) -> Task:
    """A live or paused task whose pool `actor` belongs to, with its guideline version;
    anything else is AccessDenied."""
    task = (
        Task.objects.filter(
            public_id=public_id,
            task_pools__pool__members__user=actor,
            status__in=[TaskStatus.LIVE, TaskStatus.PAUSED],
        )
        .select_related("guideline_version")
        .first()
        if actor.is_authenticated
        else None
    )
    if task is None:
        raise AccessDenied("No such task.")
    return task


def unit_base_order(*, unit_id: int) -> list[int]:
    """The unit's output ids by position: the order each slot's shown order rotates."""
    return list(
        UnitOutput.objects.filter(unit_id=unit_id)
        .order_by("position")
        .values_list("output_id", flat=True)
    )


def item_texts(*, unit_id: int, shown_order: Sequence[int]) -> tuple[str, list[str]]:
    """The unit's prompt, and its response texts in `shown_order` (masked where the lead
    masked a span)."""
    prompt = Unit.objects.filter(pk=unit_id).values_list("prompt__text", flat=True).get()
    texts = {
        output_id: text if masked is None else masked
        for output_id, masked, text in UnitOutput.objects.filter(unit_id=unit_id).values_list(
            "output_id", "masked_text", "output__text"
        )
    }
    return prompt, [texts[output_id] for output_id in shown_order]
