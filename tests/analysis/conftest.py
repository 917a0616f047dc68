"""Fixtures of the analysis app's Django-side tests (datasets, reports, eager Celery)."""

from __future__ import annotations

from pathlib import Path

import pytest

# The real-worker fixtures (tests/worker.py), for test_analysis_worker.py.
from tests.worker import celery_worker_factory, celery_worker_process  # noqa: F401

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "annotations-example.csv"


@pytest.fixture
def example_bytes() -> bytes:
    return EXAMPLE.read_bytes()


@pytest.fixture
def dataset(project_roles, example_bytes):
    import io

    from analysis.services import dataset_import

    return dataset_import(
        actor=project_roles.researcher,
        project=project_roles.project,
        name="example",
        stream=io.BytesIO(example_bytes),
        fmt="csv",
        filename="annotations-example.csv",
    )


@pytest.fixture
def eager_celery():
    """Run tasks in-process, as the demo does (CELERY_TASK_ALWAYS_EAGER)."""
    from config.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield app
    app.conf.task_always_eager = previous
