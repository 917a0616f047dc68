"""Celery interfaces of the analysis app: each takes ids, re-fetches and calls one service."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from analysis.jobs import agreement_reports_recover
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


@shared_task(acks_late=True, soft_time_limit=5 * 60, time_limit=6 * 60)
def agreement_reports_recover_task() -> dict[str, list[int]]:
    """Send stuck reports again or fail those out of attempts (beat, docs/deploy.md)."""
    return agreement_reports_recover()
