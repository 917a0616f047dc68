"""The claim path remembers that an annotator is cleared (acknowledged, quiz passed) for
a while; an admin deleting the acknowledgement takes the clearance away."""

from __future__ import annotations

import pytest
from django.db import connection

from annotation.services import assignment as assignment_service
from annotation.services.assignment import (
    GuidelineNotCleared,
    assignment_claim,
    clearance_cache_clear,
)
from annotation.services.submission import annotation_submit
from guidelines.models import GuidelineAcknowledgement
from tests.annotation.conftest import acknowledge, valid_answers

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_cache():
    clearance_cache_clear()
    yield
    clearance_cache_clear()


def _claim_and_submit(user, task):
    claimed = assignment_claim(actor=user, task=task)
    annotation_submit(
        actor=user, handle=claimed.handle, answers=valid_answers("single", len(claimed.shown_order))
    )


def test_deleting_the_acknowledgement_takes_clearance_away_at_once(scenario_factory):
    s = scenario_factory(n_prompts=4, n_systems=1, k=1, n_annotators=1)
    annotator = s.annotators[0]
    _claim_and_submit(annotator, s.task)  # cleared, and now remembered
    # What the admin's delete does (one row, or "delete selected"): post_delete fires.
    GuidelineAcknowledgement.objects.filter(user=annotator, version=s.version).delete()
    with pytest.raises(GuidelineNotCleared):
        assignment_claim(actor=annotator, task=s.task)


def _delete_acknowledgement_elsewhere(annotator) -> None:
    # A delete in another process sends no signal here: emulate it with plain SQL.
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM guidelines_guidelineacknowledgement WHERE user_id = %s",
            [annotator.pk],
        )


def test_another_process_forgets_when_the_entry_expires(scenario_factory, monkeypatch):
    s = scenario_factory(n_prompts=6, n_systems=1, k=1, n_annotators=1)
    annotator = s.annotators[0]
    _claim_and_submit(annotator, s.task)
    _delete_acknowledgement_elsewhere(annotator)
    # Within CLEARANCE_CACHE_SECONDS the remembered answer holds: staleness is bounded.
    _claim_and_submit(annotator, s.task)

    # Entries that expire at once: the database decides on every claim.
    acknowledge(annotator, s.version)
    clearance_cache_clear()
    monkeypatch.setattr(assignment_service, "CLEARANCE_CACHE_SECONDS", 0.0)
    _claim_and_submit(annotator, s.task)
    _delete_acknowledgement_elsewhere(annotator)
    with pytest.raises(GuidelineNotCleared):
        assignment_claim(actor=annotator, task=s.task)
