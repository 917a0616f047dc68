"""The crowd entry link end to end: first visit makes an account in the pool, the
worker reads the guidelines, annotates up to the quota and gets the completion code."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from annotation.models import Annotation, PoolKind, PoolMembership, TaskPoolWorker
from annotation.services.tasks import task_close
from common.models import AuditEvent, ProjectMembership, User

pytestmark = pytest.mark.django_db


def test_crowd_link_end_to_end_with_completion_code(scenario_factory):
    s = scenario_factory(
        n_prompts=3, n_systems=1, k=2, cap=2, n_annotators=0, pool_kind=PoolKind.CROWD
    )
    link = reverse("crowd-entry", args=[s.task_pool.entry_token])
    client = Client()
    response = client.get(
        link, {"PROLIFIC_PID": "5f8a9c", "STUDY_ID": "st-1", "SESSION_ID": "se-1"}
    )
    page = reverse("annotate-task", args=[s.task.public_id])
    assert response.status_code == 302 and response.url == page

    user = User.objects.get(pool_memberships__pool=s.pool)
    assert not user.has_usable_password()
    assert PoolMembership.objects.get(pool=s.pool, user=user).external_worker_id == "5f8a9c"
    assert ProjectMembership.objects.filter(project=s.project, user=user, role="annotator").exists()
    worker = TaskPoolWorker.objects.get(task_pool=s.task_pool, user=user)
    assert (worker.study_id, worker.session_id) == ("st-1", "se-1")
    assert AuditEvent.objects.filter(action="crowd.enter", project=s.project).count() == 1

    # Guidelines first.
    body = client.get(page).content.decode()
    assert "I have read the guidelines" in body and "Judge carefully." in body
    client.post(reverse("annotate-acknowledge", args=[s.task.public_id]))
    for _ in range(2):
        client.post(reverse("annotate-next", args=[s.task.public_id]))
        body = client.get(page).content.decode()
        assert "Response A" in body
        handle = user.assignments.filter(status="leased").get().handle
        bad = client.post(reverse("annotate-submit", args=[handle]), {})
        assert bad.status_code == 400 and "required" in bad.content.decode()
        # The workspace posts one form field per question cell (see docs/workspace.md).
        ok = client.post(
            reverse("annotate-submit", args=[handle]),
            {"q-quality.A": "4", "q-has_error.A": "false"},
        )
        assert ok.status_code == 302
    body = client.get(page).content.decode()
    assert s.task_pool.completion_code in body and "you are done" in body
    api = client.get(reverse("api-annotate-task-progress", args=[s.task.public_id])).json()
    assert api == {
        "done": True,
        "completion_code": s.task_pool.completion_code,
        "progress": {"submitted": 2, "cap": 2},
    }
    assert Annotation.objects.filter(annotator=user).count() == 2

    # The same worker coming back is the same account; a new session id is recorded.
    again = Client().get(link, {"worker_id": "5f8a9c", "session_id": "se-2"})
    assert again.status_code == 302
    assert User.objects.filter(pool_memberships__pool=s.pool).count() == 1
    worker.refresh_from_db()
    assert worker.session_id == "se-2"


def test_crowd_link_refuses_bad_input(scenario_factory):
    s = scenario_factory(n_prompts=1, n_systems=1, n_annotators=0)
    client = Client()
    assert client.get(reverse("crowd-entry", args=["nope"]), {"worker_id": "w"}).status_code == 404
    link = reverse("crowd-entry", args=[s.task_pool.entry_token])
    assert client.get(link).status_code == 400
    assert client.get(link, {"worker_id": "<script>"}).status_code == 400
    task_close(actor=s.lead, task=s.task)
    assert client.get(link, {"worker_id": "w1"}).status_code == 400


def test_expert_pool_has_no_crowd_link(scenario_factory):
    s = scenario_factory(n_prompts=1, n_systems=1, n_annotators=0, pool_kind=PoolKind.EXPERT)
    link = reverse("crowd-entry", args=[s.task_pool.entry_token])
    assert Client().get(link, {"worker_id": "w1"}).status_code == 400
