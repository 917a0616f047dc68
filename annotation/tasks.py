"""Celery interfaces of the annotation app: each takes ids, re-fetches and calls one service."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from annotation.models import Task
from annotation.services.assignment import slot_leases_expire
from annotation.services.tasks import task_units_build


@shared_task(
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
    soft_time_limit=600,
    time_limit=660,
)
def task_units_build_task(
    task_id: int, prompt_ids: list[int], system_ids: list[int], seed: int | None = None
) -> int:
    """Cut a large task into units; idempotent (a task that has units is left alone)."""
    task = Task.objects.select_related("project").get(pk=task_id)
    return task_units_build(
        task=task, prompt_ids=prompt_ids or None, system_ids=system_ids or None, seed=seed
    )


@shared_task(
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=3,
    soft_time_limit=120,
    time_limit=150,
)
def slot_leases_expire_task(task_pool_id: int | None = None) -> int:
    """Return expired leases to the queue (the claim also does this lazily); schedule
    with celery beat every minute or so if progress pages should show it promptly."""
    return slot_leases_expire(task_pool_id=task_pool_id)
