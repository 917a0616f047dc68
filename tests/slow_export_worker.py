"""A Celery app for test workers whose exports are slowed down, so a test can kill a
worker halfway through a file (tests/exports/test_export_worker_kill.py).

Start it with ``celery_worker_factory(app="tests.slow_export_worker")``; the pause after
each block of rows is ``SLOW_EXPORT_SECONDS`` (environment, default 0.4). This replaces a
sleep that used to live in the export code behind a setting.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import django

from config.celery import app

django.setup()

import exports.selectors as selectors  # noqa: E402 - needs the app registry

PAUSE = float(os.environ.get("SLOW_EXPORT_SECONDS", "0.4"))
_real_export_batches = selectors.export_batches


def _slow_export_batches(**kwargs: Any) -> Iterator[Any]:
    for batch in _real_export_batches(**kwargs):
        yield batch
        time.sleep(PAUSE)


selectors.export_batches = _slow_export_batches

__all__ = ["app"]
