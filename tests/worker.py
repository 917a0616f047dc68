"""A real Celery worker in a subprocess, on Redis and the pytest-django test database.

Use it from any test module (or a conftest) by importing the fixtures::

    from tests.worker import celery_worker_factory, celery_worker_process  # noqa: F401

    @pytest.mark.celery_worker
    @pytest.mark.django_db(transaction=True)
    def test_something(celery_worker_process):
        ...  # enqueue through a service; poll the database until the job is done

The test must be transactional (rows are committed, so the worker sees them).
`celery_worker_process` is one started worker; `celery_worker_factory(**options)`
starts as many as you like. A `CeleryWorker` can `stop()` (SIGTERM, warm shutdown:
its unacknowledged message goes back to the queue), `kill()` (SIGKILL, as a crash:
with acks_late the message stays unacknowledged until Redis's visibility timeout,
CELERY_BROKER_TRANSPORT_OPTIONS) and `start()` again. Every worker is stopped when
the test ends, before pytest-django flushes the database. Its log is in `.log`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from urllib.parse import quote

import pytest

ROOT = Path(__file__).resolve().parents[1]
READY_TIMEOUT = 60.0


def current_test_database_url() -> str:
    """postgres:// URL of the database pytest-django is using right now."""
    from django.db import connection

    settings = connection.settings_dict
    credentials = quote(settings["USER"] or "", safe="")
    if settings.get("PASSWORD"):
        credentials += ":" + quote(settings["PASSWORD"], safe="")
    host = settings.get("HOST") or "127.0.0.1"
    port = settings.get("PORT") or "5432"
    return f"postgres://{credentials}@{host}:{port}/{settings['NAME']}"


class CeleryWorker:
    """One `celery worker --pool=solo` subprocess."""

    def __init__(
        self,
        *,
        broker_url: str,
        database_url: str,
        app: str = "config",
        queues: Sequence[str] = ("celery",),
        extra_args: Sequence[str] = (),
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.broker_url = broker_url
        self.database_url = database_url
        self.app = app
        self.queues = list(queues)
        self.extra_args = list(extra_args)
        self.extra_env = dict(extra_env or {})
        self.nodename = f"jbtest-{uuid.uuid4().hex[:10]}@{os.uname().nodename}"
        self.process: subprocess.Popen[bytes] | None = None
        self._log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - lives as long as the worker
            prefix="celery-worker-", suffix=".log", delete=False
        )

    @property
    def log(self) -> str:
        return Path(self._log.name).read_text(errors="replace")

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, *, wait: bool = True) -> CeleryWorker:
        if self.alive:
            return self
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": self.database_url,
            "CELERY_BROKER_URL": self.broker_url,
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
        }
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            self.app,
            "worker",
            "--pool=solo",
            "-Q",
            ",".join(self.queues),
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "-n",
            self.nodename,
            "--loglevel=INFO",
            *self.extra_args,
        ]
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        """Block until the worker answers a broadcast ping (it is consuming by then)."""
        from config.celery import app

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive:
                raise RuntimeError(f"Celery worker exited early:\n{self.log[-4000:]}")
            if app.control.ping(destination=[self.nodename], timeout=0.5):
                return
        raise TimeoutError(f"Celery worker not ready after {timeout}s:\n{self.log[-4000:]}")

    def stop(self, timeout: float = 20.0) -> None:
        """Warm shutdown (SIGTERM); SIGKILL if it does not exit in time."""
        if not self.alive:
            return
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """Crash the worker (SIGKILL) — e.g. mid-job, to test redelivery."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def close(self) -> None:
        self.stop()
        self._log.close()
        Path(self._log.name).unlink(missing_ok=True)


def wait_until(
    predicate: Callable[[], bool], *, timeout: float = 60.0, interval: float = 0.2
) -> None:
    """Poll `predicate` (e.g. a database read) until it is true, or fail the test."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    pytest.fail(f"condition not met within {timeout}s")


@pytest.fixture
def celery_worker_factory(transactional_db) -> Iterator[Callable[..., CeleryWorker]]:
    from django.conf import settings

    from config.celery import app

    # Messages left in this broker database by earlier runs would be executed against
    # our fresh test data; start from an empty queue.
    app.control.purge()
    workers: list[CeleryWorker] = []

    def make(*, start: bool = True, **options: object) -> CeleryWorker:
        worker = CeleryWorker(
            broker_url=settings.CELERY_BROKER_URL,
            database_url=current_test_database_url(),
            **options,  # type: ignore[arg-type]
        )
        workers.append(worker)
        if start:
            worker.start()
        return worker

    yield make
    for worker in workers:
        worker.close()
    app.control.purge()


@pytest.fixture
def celery_worker_process(celery_worker_factory) -> CeleryWorker:
    return celery_worker_factory()
