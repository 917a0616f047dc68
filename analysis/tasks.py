"""Celery interfaces of the analysis app: each takes ids, re-fetches and calls one service."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from analysis.services import agreement_report_compute


@shared_task(
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=3,
    soft_time_limit=20 * 60,
    time_limit=22 * 60,
)
def agreement_report_compute_task(report_id: int) -> str:
    """Compute one agreement report; idempotent (a done or failed report is left alone)."""
    return agreement_report_compute(report_id=report_id).status
