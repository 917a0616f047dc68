"""The crowd entry link end to end, and the probes of issue 15 against it.

A GET only shows a landing page; the worker starts with a POST carrying the page's
CSRF token. A browser signed in to another account is told so, never switched. A link
signs up at most its limit of new workers, and one address at most a few per hour.
Each worker gets a completion code of their own, in an alphabet without look-alikes.
"""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from annotation.codes import ALPHABET, CODE_LENGTH
from annotation.models import Annotation, PoolKind, PoolMembership, TaskPoolWorker
from annotation.services.tasks import task_close, task_pool_max_workers_set
from common.models import AuditEvent, ProjectMembership, User

pytestmark = pytest.mark.django_db

PROLIFIC = {"PROLIFIC_PID": "5f8a9c", "STUDY_ID": "st-1", "SESSION_ID": "se-1"}


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


def _csrf(body: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1)


def _enter(link: str, params: dict[str, str], *, address: str = "198.51.100.7") -> Client:
    """What a worker's browser does: open the link, then press Start (with CSRF)."""
    client = Client(enforce_csrf_checks=True, REMOTE_ADDR=address)
    page = client.get(link, params)
    assert page.status_code == 200, page.content[:500]
    form = page.content.decode()
    response = client.post(
        link,
        {
            "csrfmiddlewaretoken": _csrf(form),
            "worker_id": re.search(r'name="worker_id" value="([^"]*)"', form).group(1),
            "study_id": re.search(r'name="study_id" value="([^"]*)"', form).group(1),
            "session_id": re.search(r'name="session_id" value="([^"]*)"', form).group(1),
        },
    )
    client.last_response = response  # type: ignore[attr-defined]
    return client


def _crowd(scenario_factory, **kwargs):
    defaults = {"n_prompts": 3, "n_systems": 1, "k": 2, "cap": 2, "n_annotators": 0}
    return scenario_factory(pool_kind=PoolKind.CROWD, **(defaults | kwargs))


def test_crowd_link_end_to_end_with_a_code_of_ones_own(scenario_factory):
    s = _crowd(scenario_factory)
    link = reverse("crowd-entry", args=[s.task_pool.entry_token])

    # Opening the link signs nobody in and creates nothing.
    client = Client(enforce_csrf_checks=True)
    landing = client.get(link, PROLIFIC)
    body = landing.content.decode()
    assert landing.status_code == 200 and "Start the study" in body and s.task.title in body
    assert "_auth_user_id" not in client.session
    assert not User.objects.filter(pool_memberships__pool=s.pool).exists()

    # Start, without the page's CSRF token: refused.
    assert client.post(link, {"worker_id": "5f8a9c"}).status_code == 403
    assert not User.objects.filter(pool_memberships__pool=s.pool).exists()

    client = _enter(link, PROLIFIC)
    page = reverse("annotate-task", args=[s.task.public_id])
    assert client.last_response.status_code == 302 and client.last_response.url == page
    user = User.objects.get(pool_memberships__pool=s.pool)
    assert not user.has_usable_password()
    assert PoolMembership.objects.get(pool=s.pool, user=user).external_worker_id == "5f8a9c"
    assert ProjectMembership.objects.filter(project=s.project, user=user, role="annotator").exists()
    worker = TaskPoolWorker.objects.get(task_pool=s.task_pool, user=user)
    assert (worker.study_id, worker.session_id) == ("st-1", "se-1")
    assert AuditEvent.objects.filter(action="crowd.enter", project=s.project).count() == 1

    body = client.get(page).content.decode()
    assert "I have read the guidelines" in body and "Judge carefully." in body
    client.post(
        reverse("annotate-acknowledge", args=[s.task.public_id]),
        {"csrfmiddlewaretoken": _csrf(body)},
    )
    for _ in range(2):
        token = _csrf(client.get(page).content.decode())
        client.post(
            reverse("annotate-next", args=[s.task.public_id]), {"csrfmiddlewaretoken": token}
        )
        body = client.get(page).content.decode()
        assert "Response A" in body
        handle = user.assignments.filter(status="leased").get().handle
        ok = client.post(
            reverse("annotate-submit", args=[handle]),
            {"q-quality.A": "4", "q-has_error.A": "false", "csrfmiddlewaretoken": _csrf(body)},
        )
        assert ok.status_code == 302
    body = client.get(page).content.decode()
    code = s.task_pool.worker_completion_code(user.pk)
    assert code in body and "you are done" in body
    # The pool's secret is never shown; the worker's code is theirs alone.
    assert s.task_pool.completion_code not in body
    assert len(code) == CODE_LENGTH and set(code) <= set(ALPHABET)
    assert not set(code) & set("IO01")
    api = client.get(reverse("api-annotate-task-progress", args=[s.task.public_id])).json()
    assert api == {"done": True, "completion_code": code, "progress": {"submitted": 2, "cap": 2}}
    assert Annotation.objects.filter(annotator=user).count() == 2

    # The same worker coming back is the same account; a new session id is recorded.
    again = _enter(link, {"worker_id": "5f8a9c", "session_id": "se-2"})
    assert again.last_response.status_code == 302
    assert User.objects.filter(pool_memberships__pool=s.pool).count() == 1
    worker.refresh_from_db()
    assert worker.session_id == "se-2"

    # The lead matches codes to workers in the payouts.
    lead = Client()
    lead.force_login(s.lead)
    csv_text = lead.get(reverse("task-payouts-csv", args=[s.project.slug, s.task.pk])).content
    assert code in csv_text.decode() and "5f8a9c" in csv_text.decode()


def test_every_worker_gets_a_different_code(scenario_factory):
    s = _crowd(scenario_factory, n_prompts=4, cap=1)
    codes = {s.task_pool.worker_completion_code(user_id) for user_id in range(1, 2001)}
    assert len(codes) == 2000  # no collisions among 2,000 workers
    # Stable: the same worker sees the same code on every visit, in every process.
    assert s.task_pool.worker_completion_code(7) == s.task_pool.worker_completion_code(7)


def test_a_signed_in_lead_opening_the_link_is_told_not_switched(scenario_factory):
    s = _crowd(scenario_factory)
    link = reverse("crowd-entry", args=[s.task_pool.entry_token])
    client = Client()
    client.force_login(s.lead)
    landing = client.get(link, PROLIFIC)
    assert landing.status_code == 409
    assert f"signed in as <strong>{s.lead.username}</strong>" in landing.content.decode()
    start = client.post(link, {"worker_id": "5f8a9c"})
    assert start.status_code == 409
    assert client.session["_auth_user_id"] == str(s.lead.pk)
    assert not User.objects.filter(pool_memberships__pool=s.pool).exists()


def test_a_link_signs_up_at_most_its_limit_of_new_workers(scenario_factory):
    s = _crowd(scenario_factory)  # 3 units × k 2 = 6 slots at a cap of 2: 3 workers
    link = reverse("crowd-entry", args=[s.task_pool.entry_token])
    for n in range(3):
        entered = _enter(link, {"worker_id": f"w{n}"}, address=f"198.51.100.{n}")
        assert entered.last_response.status_code == 302
    refused = _enter(link, {"worker_id": "w3"}, address="198.51.100.3").last_response
    assert refused.status_code == 400
    assert "all the workers it needs" in refused.content.decode()
    # A worker who joined may always come back.
    assert _enter(link, {"worker_id": "w0"}, address="203.0.113.9").last_response.status_code == 302

    # The lead raises the limit to replace a dropout; the change is audited.
    task_pool_max_workers_set(actor=s.lead, task_pool=s.task_pool, max_workers=4)
    assert (
        _enter(link, {"worker_id": "w3"}, address="198.51.100.3").last_response.status_code == 302
    )
    assert TaskPoolWorker.objects.filter(task_pool=s.task_pool).count() == 4
    assert AuditEvent.objects.filter(action="task.pool_max_workers").exists()


def test_one_address_signs_up_only_a_few_workers_an_hour(scenario_factory, settings):
    s = _crowd(scenario_factory, n_prompts=6, cap=1)  # 12 slots: the link allows 12
    link = reverse("crowd-entry", args=[s.task_pool.entry_token])
    per_hour = settings.CROWD_ENTRY_NEW_WORKERS_PER_ADDRESS_PER_HOUR
    statuses = [
        _enter(link, {"worker_id": f"invented-{n}"}).last_response.status_code for n in range(6)
    ]
    assert statuses == [302] * per_hour + [429] * (6 - per_hour)
    assert TaskPoolWorker.objects.filter(task_pool=s.task_pool).count() == per_hour
    # Returning workers are not new; other addresses have their own count.
    assert _enter(link, {"worker_id": "invented-0"}).last_response.status_code == 302
    other = _enter(link, {"worker_id": "someone-else"}, address="192.0.2.44")
    assert other.last_response.status_code == 302


def test_the_rate_limit_counts_the_address_the_trusted_proxy_saw(rf, settings):
    from common.ratelimit import client_address

    # TRUSTED_PROXY_COUNT=1: one proxy in front of gunicorn, appending what it saw.
    settings.AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")
    settings.AXES_IPWARE_PROXY_COUNT = 0
    plain = rf.get("/", HTTP_X_FORWARDED_FOR="81.2.69.160", REMOTE_ADDR="10.0.0.2")
    assert client_address(plain) == "81.2.69.160"
    # A client that sends its own X-Forwarded-For does not choose its address: the
    # chain no longer fits the proxy count, and the proxy's own address is used.
    forged = rf.get("/", HTTP_X_FORWARDED_FOR="6.6.6.6, 81.2.69.160", REMOTE_ADDR="10.0.0.2")
    assert client_address(forged) == "10.0.0.2"


def test_crowd_link_refuses_bad_input(scenario_factory):
    s = _crowd(scenario_factory, n_prompts=1)
    client = Client()
    assert client.get(reverse("crowd-entry", args=["nope"]), {"worker_id": "w"}).status_code == 404
    link = reverse("crowd-entry", args=[s.task_pool.entry_token])
    assert client.get(link).status_code == 400
    assert client.get(link, {"worker_id": "<script>"}).status_code == 400
    assert client.post(link, {"worker_id": "<script>"}).status_code == 400
    task_close(actor=s.lead, task=s.task)
    closed = client.post(link, {"worker_id": "w1"})
    assert closed.status_code == 400 and "not open" in closed.content.decode()


def test_expert_pool_has_no_crowd_link(scenario_factory):
    s = scenario_factory(n_prompts=1, n_systems=1, n_annotators=0, pool_kind=PoolKind.EXPERT)
    link = reverse("crowd-entry", args=[s.task_pool.entry_token])
    assert Client().post(link, {"worker_id": "w1"}).status_code == 400
