"""The demo on SQLite, end to end: migrate, seed (twice), then annotators clear the
guidelines, claim and submit through the services and through the browser views.

The rest of the suite runs on PostgreSQL; the demo (`make demo`) runs on SQLite with
config.settings.local, so this runs the real commands in subprocesses against a fresh
SQLite file. The seed itself drives claims and submits for the simulated annotators.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent

# As crowd1 (the crowd pool needs the v2 quiz) and expert1: clear the live task's
# guideline, claim one item, submit a valid answer and check it was stored. Then, as
# expert2 in the browser (Django's test client): log in, take an item on the annotate
# page, submit the form.
SCRIPT = r"""
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from demo.live_tasks import FACTUAL_SLUG
from annotation.models import Annotation, Assignment, AssignmentStatus, Task
from annotation.selectors_annotator import assignment_item, task_get_for_annotator
from annotation.services.assignment import assignment_claim
from annotation.services.pay import annotation_submit_timed
from common.models import User
from guidelines.services import guideline_version_acknowledge, quiz_attempt_submit

ANSWERS = {"quality": {"A": 4}, "has_factual_error": {"A": False}, "assertiveness": {"A": 3}}
live = Task.objects.get(slug=FACTUAL_SLUG)

for name in ("crowd1", "expert1"):
    user = User.objects.get(username=name)
    task = task_get_for_annotator(actor=user, public_id=live.public_id)
    version = task.guideline_version
    guideline_version_acknowledge(actor=user, version=version)
    if name.startswith("crowd"):
        key = {item["id"]: item["answers"] for item in version.quiz["items"]}
        attempt = quiz_attempt_submit(actor=user, version=version, answers=key)
        assert attempt.passed, attempt.score
    assignment = assignment_claim(actor=user, task=task)
    assert assignment is not None, name
    item = assignment_item(actor=user, assignment=assignment)
    assert item["prompt"] and len(item["responses"]) == 1, item
    annotation, created = annotation_submit_timed(
        actor=user, handle=assignment.handle, answers=ANSWERS, client_active_seconds=4.0
    )
    again, created_again = annotation_submit_timed(
        actor=user, handle=assignment.handle, answers=ANSWERS
    )
    stored = Annotation.objects.get(assignment__handle=assignment.handle, annotator=user)
    assert created and not created_again and again.pk == stored.pk == annotation.pk
    assert stored.answers == ANSWERS and stored.active_seconds is not None
    print("SERVICES-OK", name, version.number)

user = User.objects.get(username="expert2")
client = Client(HTTP_HOST="localhost")
assert client.login(username="expert2", password="demo")
page = reverse("annotate-task", args=[live.public_id])
assert "acknowledge" in client.get(page).content.decode().lower()
assert client.post(reverse("annotate-acknowledge", args=[live.public_id])).status_code == 302
assert client.post(reverse("annotate-next", args=[live.public_id])).status_code == 302
leased = Assignment.objects.get(annotator=user, status=AssignmentStatus.LEASED)
response = client.get(page)
assert response.status_code == 200
assert escape(leased.unit.prompt.text) in response.content.decode()
form = {"q-quality.A": "5", "q-has_factual_error.A": "false", "q-assertiveness.A": "2"}
response = client.post(
    reverse("annotate-submit", args=[leased.handle]), {**form, "active_seconds": "3"}
)
assert response.status_code in (200, 302), response.status_code
stored = Annotation.objects.get(assignment=leased)
assert stored.answers["quality"] == {"A": 5} and stored.active_seconds is not None
print("BROWSER-OK expert2", response.status_code)
"""


def _manage(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": f"sqlite:///{tmp_path}/demo.sqlite3",
        "MEDIA_ROOT": str(tmp_path / "media"),
        "CELERY_TASK_ALWAYS_EAGER": "true",
        "CELERY_BROKER_URL": "memory://",
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_the_demo_seeds_and_serves_annotators_on_sqlite(tmp_path):
    migrate = _manage(tmp_path, "migrate", "--noinput", "-v0")
    assert migrate.returncode == 0, migrate.stderr
    for _ in range(2):  # `make demo` seeds on every start
        seed = _manage(tmp_path, "seed_demo")
        assert seed.returncode == 0, seed.stderr[-3000:]
        assert "Demo data is loaded" in seed.stdout
        for login in ("expert1", "crowd1", "lead"):
            assert f"  {login} " in seed.stdout
    shell = _manage(tmp_path, "shell", "-c", SCRIPT)
    assert shell.returncode == 0, shell.stderr[-3000:]
    assert "SERVICES-OK crowd1 2" in shell.stdout
    assert "SERVICES-OK expert1 2" in shell.stdout
    assert "BROWSER-OK expert2" in shell.stdout
