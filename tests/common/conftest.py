from __future__ import annotations

# The real-worker fixtures (tests/worker.py), for test_job_queue.py.
from tests.worker import celery_worker_factory, celery_worker_process  # noqa: F401
