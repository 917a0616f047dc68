"""Task and annotator APIs: the lead's flow, the annotator's flow, and who may call what."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotation.models import Annotation, PoolKind
from common.models import ProjectRole
from tests.annotation.conftest import valid_answers
from tests.conftest import api_as
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_lead_creates_configures_launches_and_watches_a_task(scenario_factory):
    base = scenario_factory(mode="pairwise", n_prompts=3, n_systems=3, launch=False)
    lead = api_as(base.lead)
    slug = base.project.slug
    created = lead.post(
        reverse("api-tasks", args=[slug]),
        {
            "title": "Pairs",
            "guideline_version": base.version.pk,
            "mode": "pairwise",
            "prompts": [p.external_id for p in base.prompts[:2]],
            "systems": [sys.name for sys in base.systems],
            "pairing": "balanced",
            "pairs_per_prompt": 2,
            "pay_per_item": "0.15",
            "lease_seconds": 300,
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    task_id = created.json()["id"]
    assert lead.post(reverse("api-task-launch", args=[slug, task_id])).status_code == 400  # no pool
    added = lead.post(
        reverse("api-task-pools", args=[slug, task_id]),
        {"pool": base.pool.pk, "redundancy": 2, "per_annotator_cap": 3, "gold_share": 0.0},
        format="json",
    )
    assert added.status_code == 201, added.content
    assert lead.post(reverse("api-task-launch", args=[slug, task_id])).json()["status"] == "live"
    units = lead.get(reverse("api-task-units", args=[slug, task_id])).json()
    assert units["count"] == 4
    detail = lead.get(reverse("api-task", args=[slug, task_id])).json()
    pool = detail["pools"][0]
    assert (pool["slots"], pool["done"], pool["redundancy"]) == (8, 0, 2)
    assert "/crowd/" in pool["crowd_link"] and "completion_code" not in pool
    # 4 units × k 2 = 8 slots at a cap of 3: the link signs up at most ceil(8 / 3) workers.
    assert (pool["workers_joined"], pool["worker_limit"], pool["max_workers"]) == (0, 3, None)

    ann = api_as(base.annotators[0])
    public_id = detail["public_id"]
    item = ann.post(reverse("api-annotate-task-next", args=[public_id])).json()
    assert [r["label"] for r in item["responses"]] == ["A", "B"]
    submitted = ann.post(
        reverse("api-annotate-submit", args=[item["handle"]]),
        {"answers": valid_answers("pairwise", 2), "active_seconds": 7.5},
        format="json",
    )
    assert submitted.status_code == 201 and not submitted.json()["duplicate"]
    again = ann.post(
        reverse("api-annotate-submit", args=[item["handle"]]),
        {"answers": valid_answers("pairwise", 2)},
        format="json",
    )
    assert again.status_code == 200 and again.json()["duplicate"]
    assert Annotation.objects.count() == 1
    detail = lead.get(reverse("api-task", args=[slug, task_id])).json()
    assert detail["pools"][0]["done"] == 1
    assert lead.post(reverse("api-task-pause", args=[slug, task_id])).json()["status"] == "paused"
    assert lead.post(reverse("api-task-close", args=[slug, task_id])).json()["status"] == "closed"


def test_submit_errors_are_per_field(scenario_factory):
    s = scenario_factory(n_prompts=1, n_systems=1)
    ann = api_as(s.annotators[0])
    item = ann.post(reverse("api-annotate-next")).json()
    bad = ann.post(
        reverse("api-annotate-submit", args=[item["handle"]]),
        {"answers": {"quality": {"A": 7}}},
        format="json",
    )
    assert bad.status_code == 400
    assert set(bad.json()["errors"]) >= {"quality.A", "has_error.A"}


def test_not_acknowledged_is_a_clear_400(scenario_factory):
    s = scenario_factory(n_prompts=1, n_systems=1, acknowledged=False)
    response = api_as(s.annotators[0]).post(
        reverse("api-annotate-task-next", args=[s.task.public_id])
    )
    assert response.status_code == 400
    assert response.json()["code"] == "guideline_not_cleared"


def test_role_matrix_for_lead_endpoints(scenario_factory):
    s = scenario_factory(n_prompts=1, n_systems=1)
    researcher, outsider = UserFactory(), UserFactory()
    MembershipFactory(project=s.project, user=researcher, role=ProjectRole.RESEARCHER)
    slug, tid = s.project.slug, s.task.pk
    read = reverse("api-task", args=[slug, tid])
    write = reverse("api-task-pause", args=[slug, tid])
    expected = {
        s.lead: (200, 200),
        researcher: (200, 403),
        s.annotators[0]: (403, 403),
        outsider: (403, 403),
        None: (403, 403),
    }
    for user, (read_status, write_status) in expected.items():
        client = api_as(user)
        assert client.get(read).status_code == read_status, user
        if user is not s.lead:
            assert client.post(write).status_code == write_status, user
    assert api_as(s.lead).post(write).status_code == 200


def test_role_matrix_for_annotator_endpoints(scenario_factory):
    s = scenario_factory(n_prompts=2, n_systems=1, k=2, n_annotators=2)
    assignee, other = s.annotators
    expert = UserFactory()
    MembershipFactory(project=s.project, user=expert, role=ProjectRole.ANNOTATOR)  # not in the pool
    item = api_as(assignee).post(reverse("api-annotate-task-next", args=[s.task.public_id])).json()
    url = reverse("api-annotate-item", args=[item["handle"]])
    assert api_as(assignee).get(url).status_code == 200
    for user in (other, expert, s.lead, None):
        assert api_as(user).get(url).status_code == 403
        assert (
            api_as(user)
            .post(
                reverse("api-annotate-submit", args=[item["handle"]]),
                {"answers": valid_answers("single", 1)},
                format="json",
            )
            .status_code
            == 403
        )
    assert (
        api_as(expert).post(reverse("api-annotate-task-next", args=[s.task.public_id])).status_code
        == 403
    )
    assert api_as(expert).get(reverse("api-annotate-tasks")).json() == []


def test_pool_members_api(scenario_factory):
    s = scenario_factory(n_prompts=1, n_systems=1, n_annotators=0, pool_kind=PoolKind.EXPERT)
    newcomer = UserFactory(username="newcomer")
    url = reverse("api-pool-members", args=[s.project.slug, s.pool.pk])
    lead = api_as(s.lead)
    added = lead.post(
        url,
        {
            "username": "newcomer",
            "expertise_tags": ["medicine"],
            "languages": ["en", "de"],
            "external_worker_id": "",
            "pay_rate_per_hour": "25.00",
        },
        format="json",
    )
    assert added.status_code == 200
    assert added.json() == [
        {
            "username": "newcomer",
            "expertise_tags": ["medicine"],
            "languages": ["en", "de"],
            "external_worker_id": "",
            "pay_rate_per_hour": "25.00",
        }
    ]
    assert lead.post(url, {"username": "newcomer", "remove": True}, format="json").json() == []
    assert api_as(newcomer).post(url, {"username": "newcomer"}, format="json").status_code == 403


def test_blinding_flags_api(scenario_factory):
    s = scenario_factory(
        n_prompts=1,
        n_systems=2,
        launch=False,
        output_text=lambda i, j: "I am ChatGPT." if i == 0 else "Tides.",
    )
    lead = api_as(s.lead)
    flags = lead.get(reverse("api-task-blinding", args=[s.project.slug, s.task.pk])).json()
    assert len(flags) == 1 and flags[0]["term"] == "ChatGPT"
    resolved = lead.post(
        reverse("api-task-blinding-resolve", args=[s.project.slug, s.task.pk, flags[0]["id"]]),
        {"resolution": "masked"},
        format="json",
    )
    assert resolved.json()["resolution"] == "masked"
    assert (
        lead.post(reverse("api-task-launch", args=[s.project.slug, s.task.pk])).status_code == 200
    )


def test_lead_pages_render(scenario_factory):
    from django.test import Client

    s = scenario_factory(n_prompts=1, n_systems=1)
    client = Client()
    client.force_login(s.lead)
    assert client.get(reverse("tasks", args=[s.project.slug])).status_code == 200
    page = client.get(reverse("task-detail", args=[s.project.slug, s.task.pk]))
    body = page.content.decode()
    # The pool's secret is never shown; workers get codes of their own.
    assert page.status_code == 200 and s.task_pool.completion_code not in body
    assert "/crowd/" in body and "workers joined" in body
    paused = client.post(reverse("task-action", args=[s.project.slug, s.task.pk, "pause"]))
    assert paused.status_code == 302
    s.task.refresh_from_db()
    assert s.task.status == "paused"
    client.force_login(s.annotators[0])
    assert client.get(reverse("task-detail", args=[s.project.slug, s.task.pk])).status_code == 403
