"""Sending background jobs to the broker so that a job never sticks.

Services that queue a job (a report, an export) create its row and call `job_enqueue`
inside their transaction. The message goes to the broker after the commit, so a
worker never runs before the row exists. If the broker cannot be reached (it is down,
or its address is wrong), the row is already committed: instead of a server error
and a job that stays `queued` forever, `on_failure` writes on the row that the queue
was unreachable, and `ServiceUnavailable` reaches the interface, which answers 503
(JSON for the API, the error page for HTML). The job stays retryable: the periodic
recovery (Celery beat, `docs/deploy.md`) sends it again once the broker is back, up to
its attempt cap.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.db import transaction
from kombu.exceptions import OperationalError as BrokerError

from common.exceptions import ServiceUnavailable

logger = logging.getLogger(__name__)

# Publishing gives up after about a second: a request should not hang on a dead broker.
RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}
QUEUE_DOWN_MESSAGE = (
    "The job queue cannot be reached right now. Your request is saved and will start "
    "by itself within a few minutes of the queue coming back."
)
# What the job's row says while it waits for the queue (its progress page shows it).
QUEUE_DOWN_NOTE = "The job queue could not be reached; the job will be sent again automatically."


def job_send(*, task: Any, job_id: int) -> None:
    """Publish `task(job_id)` now; raises ServiceUnavailable if the broker is unreachable."""
    try:
        task.apply_async(args=[job_id], retry=True, retry_policy=RETRY_POLICY)
    except (BrokerError, ConnectionError, OSError) as exc:
        logger.warning("could not enqueue %s(%s): %s", task.name, job_id, exc)
        raise ServiceUnavailable(QUEUE_DOWN_MESSAGE) from exc


def job_enqueue(*, task: Any, job_id: int, on_failure: Callable[[int], Any]) -> None:
    """Send `task(job_id)` once the current transaction commits.

    On a broker failure `on_failure(job_id)` records it on the job's row (in its own
    statement: the transaction that created the row has committed), then
    ServiceUnavailable propagates from the end of the caller's transaction.
    """

    def send() -> None:
        try:
            job_send(task=task, job_id=job_id)
        except ServiceUnavailable:
            on_failure(job_id)
            raise

    transaction.on_commit(send)
