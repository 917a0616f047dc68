"""The project page: the project's systems, counts and pools, for its leads and researchers."""

from __future__ import annotations

from django.test import Client

from common.models import ProjectRole
from tests.annotation.conftest import build_scenario
from tests.factories import MembershipFactory, UserFactory


def test_leads_and_researchers_see_the_project_page_and_annotators_do_not(db):
    scenario = build_scenario(n_prompts=3, n_systems=2)
    researcher, annotator = UserFactory(), scenario.annotators[0]
    MembershipFactory(project=scenario.project, user=researcher, role=ProjectRole.RESEARCHER)
    url = f"/p/{scenario.project.slug}/"
    for user in (scenario.lead, researcher):
        client = Client()
        client.force_login(user)
        page = client.get(url).content.decode()
        assert all(system.name in page for system in scenario.systems)
        assert scenario.pool.name in page
        # Only leads get the lead's links.
        assert ("Audit log" in page) == (user == scenario.lead)
    client = Client()
    client.force_login(annotator)
    assert client.get(url).status_code == 403
    assert Client().get(url).status_code == 302  # anonymous: to the login page
