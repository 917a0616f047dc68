"""The lead's task pages: create a task from choices, add pools, launch."""

from __future__ import annotations

from django.test import Client

from annotation.models import Task, TaskStatus
from tests.annotation.conftest import build_scenario


def test_a_lead_creates_configures_and_launches_a_task_in_the_browser(db):
    scenario = build_scenario(mode="single", n_prompts=5, n_systems=3, launch=False)
    client = Client()
    client.force_login(scenario.lead)
    page = client.get(f"/p/{scenario.project.slug}/tasks/").content.decode()
    # Published versions and systems are offered by name, not typed in as ids.
    assert "Guide v1 (single)" in page and scenario.systems[0].name in page

    response = client.post(
        f"/p/{scenario.project.slug}/tasks/",
        {
            "title": "Subset task",
            "slug": "subset-task",
            "guideline_version": scenario.version.pk,
            "mode": "single",
            "systems": [scenario.systems[0].pk, scenario.systems[2].pk],
            "prompt_ids": f"{scenario.prompts[1].external_id}\n{scenario.prompts[3].external_id}",
            "pairing": "all_pairs",
            "pay_per_item": "0.10",
            "pay_mode": "per_item",
            "lease_seconds": "600",
        },
    )
    task = Task.objects.get(slug="subset-task")
    assert response.status_code == 302
    assert task.units.count() == 2 * 2  # two prompts × two systems

    detail = f"/p/{scenario.project.slug}/tasks/{task.pk}/"
    client.post(detail + "add-pool/", {"pool": scenario.pool.pk, "redundancy": 2, "gold_share": 0})
    client.post(detail + "launch/")
    task.refresh_from_db()
    assert task.status == TaskStatus.LIVE


def test_unknown_prompt_ids_are_named_in_the_form(db):
    scenario = build_scenario(mode="single", n_prompts=2, n_systems=2, launch=False)
    client = Client()
    client.force_login(scenario.lead)
    response = client.post(
        f"/p/{scenario.project.slug}/tasks/",
        {
            "title": "Bad",
            "guideline_version": scenario.version.pk,
            "mode": "single",
            "prompt_ids": "no-such-prompt",
            "pairing": "all_pairs",
            "pay_per_item": "0",
            "pay_mode": "per_item",
            "lease_seconds": "600",
        },
    )
    assert response.status_code == 400
    assert "Unknown prompt ids: no-such-prompt" in response.content.decode()


def test_another_projects_task_id_is_refused_not_a_server_error(db):
    """Issue 15's probe: a lead of project A with a task id of project B on A's pages."""
    mine = build_scenario(n_prompts=1, n_systems=1, n_annotators=0)
    theirs = build_scenario(n_prompts=1, n_systems=1, n_annotators=0)
    client = Client()
    client.force_login(mine.lead)
    base = f"/p/{mine.project.slug}/tasks/{theirs.task.pk}/"
    for method, url in [
        ("get", base),
        ("post", base + "pause/"),
        ("post", base + "close/"),
        ("get", base + "payouts/"),
        ("get", base + "payouts.csv"),
    ]:
        response = getattr(client, method)(url)
        assert response.status_code in (403, 404), (url, response.status_code)
        assert "Not allowed" in response.content.decode() or response.status_code == 404
    theirs.task.refresh_from_db()
    assert theirs.task.status == TaskStatus.LIVE
