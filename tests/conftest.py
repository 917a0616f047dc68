from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from common.models import Project, ProjectRole, User
from tests.factories import MembershipFactory, ProjectFactory, UserFactory


@dataclass
class ProjectWithRoles:
    """A project with one user per role, plus an outsider who leads another project."""

    project: Project
    lead: User
    researcher: User
    annotator: User
    outsider: User
    other_project: Project


@pytest.fixture
def project_roles(db) -> ProjectWithRoles:
    lead = UserFactory(username="lead-a")
    project = ProjectFactory(slug="alpha", created_by=lead)
    MembershipFactory(project=project, user=lead, role=ProjectRole.LEAD)
    researcher = UserFactory(username="researcher-a")
    MembershipFactory(project=project, user=researcher, role=ProjectRole.RESEARCHER)
    annotator = UserFactory(username="annotator-a")
    MembershipFactory(project=project, user=annotator, role=ProjectRole.ANNOTATOR)
    outsider = UserFactory(username="lead-b")
    other_project = ProjectFactory(slug="beta", created_by=outsider)
    for role in ProjectRole.values:
        MembershipFactory(project=other_project, user=outsider, role=role)
    return ProjectWithRoles(project, lead, researcher, annotator, outsider, other_project)


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


def api_as(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


pytest_plugins = ["tests.browser_support"]


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Which database and broker this run uses, and why (config/settings/test.py)."""
    return list(getattr(settings, "JUDGEBENCH_TEST_SERVICES", []))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = getattr(settings, "JUDGEBENCH_NO_BROKER", None)
    if not reason:
        return
    # Said in the header and, with -ra, in the summary: never a silent skip.
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        if item.get_closest_marker("celery_worker"):
            item.add_marker(skip)
