from __future__ import annotations

from dataclasses import dataclass

import pytest
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
