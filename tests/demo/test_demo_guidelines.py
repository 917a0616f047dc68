from __future__ import annotations

import pytest

from demo.guidelines import FACTUAL_NAME, PAIRWISE_NAME, seed_demo_guidelines
from guidelines.models import Guideline, VersionStatus
from guidelines.rubric import validate_rubric
from guidelines.selectors import guideline_version_diff

pytestmark = pytest.mark.django_db


def test_demo_seed_is_idempotent_and_has_a_real_diff_and_quiz(project_roles):
    project, lead = project_roles.project, project_roles.lead
    factual = seed_demo_guidelines(project=project, lead=lead)
    assert seed_demo_guidelines(project=project, lead=lead).pk == factual.pk
    assert Guideline.objects.filter(project=project).count() == 2
    v1, v2 = factual.versions.order_by("number")
    assert {v1.status, v2.status} == {VersionStatus.PUBLISHED}
    assert factual.versions.count() == 2
    diff = guideline_version_diff(old=v1, new=v2)
    assert diff["prose_changed"]
    assert [q["key"] for q in diff["rubric"]["added"]] == ["assertiveness"]
    error_kind = next(c for c in diff["rubric"]["changed"] if c["key"] == "error_kind")
    assert error_kind["options_added"] and error_kind["options_changed"]
    assert v2.has_quiz and not v1.has_quiz
    keys = [q["key"] for q in v2.rubric]
    assert {"quality", "has_factual_error", "assertiveness", "error_note"} <= set(keys)
    pairwise = Guideline.objects.get(project=project, name=PAIRWISE_NAME)
    [pv1] = pairwise.versions.all()
    assert pv1.status == VersionStatus.PUBLISHED and pairwise.mode == "pairwise"
    assert validate_rubric(pv1.rubric, mode="pairwise") == []
    assert factual.name == FACTUAL_NAME
