"""Fixtures of the demo's tests: the demo project up to its guidelines, without the
simulated studies (which the full seed test runs)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from common.models import Project, User
from demo.guidelines import seed_demo_guidelines
from demo.project import DEMO_PROJECT_SLUG, seed_demo_outputs, seed_demo_project
from demo.seed import project_description


@dataclass
class DemoProject:
    project: Project
    lead: User
    researcher: User


@pytest.fixture
def demo_project(db) -> DemoProject:
    seed_demo_project(description=project_description())
    project = Project.objects.get(slug=DEMO_PROJECT_SLUG)
    lead = User.objects.get(username="lead")
    seed_demo_outputs(project=project, lead=lead)
    seed_demo_guidelines(project=project, lead=lead)
    return DemoProject(project, lead, User.objects.get(username="researcher"))
