"""The portable (ORM) assignment engine, on PostgreSQL: the path the SQLite demo takes.

The functions of annotation.services.portable are called directly here, and checked
against the hand-written PostgreSQL path (same schedule, same item content). The
engine's own suites (test_services_assignment, test_hot_path) run a second time below
with ANNOTATION_HOT_SQL = False, with the hand-written statements made to fail if
anything still reaches them.
"""

from __future__ import annotations

import functools
from collections import Counter

import pytest
from django.db import connection

from annotation.models import (
    Annotation,
    Assignment,
    AssignmentStatus,
    Slot,
    SlotState,
    TaskPoolWorker,
    Unit,
    UnitOutput,
)
from annotation.selectors_annotator import (
    annotator_progress,
    assignment_get_for_annotator,
    assignment_item,
    task_get_for_annotator,
)
from annotation.services import assignment as hot_assignment
from annotation.services import portable
from annotation.services.assignment import ITEM_CONTENT_ATTR, clearance_cache_clear
from annotation.services.blinding import shown_order_for_slot
from annotation.services.pay import annotation_submit_timed
from annotation.services.submission import (
    LeaseLost,
    assignment_flag,
    assignment_interaction_record,
    assignment_skip,
)
from tests.annotation import test_hot_path as hot_path_suite
from tests.annotation import test_services_assignment as engine_suite
from tests.annotation.conftest import valid_answers

pytestmark = pytest.mark.django_db


def _submit(user, assignment, mode="single", **kwargs):
    return portable.annotation_submit(
        actor=user,
        handle=assignment.handle,
        answers=valid_answers(mode, len(assignment.shown_order)),
        **kwargs,
    )


def _drain(s, mode, claim):
    """Annotators take turns, one item each, until nothing is left for any of them."""
    served = []
    waiting = list(s.annotators)
    while waiting:
        for ann in list(waiting):
            a = claim(actor=ann, task=s.task)
            if a is None:
                waiting.remove(ann)
                continue
            served.append((ann, a))
            _submit(ann, a, mode)
    return served


def _base_order(unit_id):
    return list(
        UnitOutput.objects.filter(unit_id=unit_id)
        .order_by("position")
        .values_list("output_id", flat=True)
    )


def test_claim_resume_submit_and_double_submit(scenario_factory):
    s = scenario_factory(n_prompts=3, n_systems=2, k=2)
    ann = s.annotators[0]
    first = portable.assignment_claim(actor=ann, task=s.task)
    assert first.status == AssignmentStatus.LEASED and first.annotator_id == ann.pk
    assert Slot.objects.get(pk=first.slot_id).state == SlotState.LEASED
    # A live lease is resumed, not doubled.
    again = portable.assignment_claim(actor=ann, task=s.task)
    assert again.pk == first.pk
    assert Assignment.objects.filter(annotator=ann).count() == 1
    # What the claim attached is what the hand-written read gives for the same item.
    attached = assignment_item(actor=ann, assignment=first)
    fresh = assignment_item(
        actor=ann, assignment=assignment_get_for_annotator(actor=ann, handle=first.handle)
    )
    assert attached == fresh
    assert assignment_item(actor=ann, assignment=again) == fresh
    assert fresh["progress"] == {"submitted": 0, "cap": None}

    annotation, created = _submit(ann, first)
    assert created and annotation.assignment_id == first.pk
    assert annotation.shown_order == first.shown_order
    assert annotation.guideline_version_id == s.version.pk
    assert Slot.objects.get(pk=first.slot_id).state == SlotState.DONE
    assert Assignment.objects.get(pk=first.pk).status == AssignmentStatus.SUBMITTED
    repeat, created_again = _submit(ann, first)
    assert not created_again and repeat.pk == annotation.pk
    assert Annotation.objects.count() == 1
    worker = TaskPoolWorker.objects.get(user=ann)
    assert (worker.served_count, worker.submitted_count) == (1, 1)
    assert portable.assignment_claim(actor=ann, task=s.task).unit_id != first.unit_id


def test_timed_submit_credits_active_time_clamped_to_the_lease(scenario_factory, settings):
    settings.ANNOTATION_HOT_SQL = False
    s = scenario_factory(n_prompts=1, n_systems=1, k=1)
    ann = s.annotators[0]
    leased = portable.assignment_claim(actor=ann, task=s.task)
    assignment_interaction_record(actor=ann, handle=leased.handle)
    annotation, created = annotation_submit_timed(
        actor=ann,
        handle=leased.handle,
        answers=valid_answers("single", 1),
        client_active_seconds=3600.0,
    )
    stored = Annotation.objects.get(pk=annotation.pk)
    wall = (stored.submitted_at - stored.served_at).total_seconds()
    assert created and stored.client_active_seconds == 3600.0
    assert stored.active_seconds == pytest.approx(wall) and stored.active_seconds < 3600
    assert stored.first_interaction_at is not None


def test_shown_orders_are_the_slot_rotations_and_k_is_never_exceeded(scenario_factory):
    s = scenario_factory(
        mode="ranking", n_prompts=3, n_systems=4, k=5, n_annotators=6, ranking_size=3
    )
    served = _drain(s, "ranking", portable.assignment_claim)
    assert len(served) == 3 * 5
    for _, a in served:
        slot = Slot.objects.get(pk=a.slot_id)
        assert a.shown_order == shown_order_for_slot(
            base_order=_base_order(a.unit_id), slot_ordinal=slot.ordinal
        )
    per_unit = Counter(a.unit_id for _, a in served)
    assert set(per_unit.values()) == {5}  # k, never more
    pairs = [(ann.pk, a.unit_id) for ann, a in served]
    assert len(pairs) == len(set(pairs))  # nobody is served a unit twice
    assert not Slot.objects.filter(task_pool=s.task_pool).exclude(state=SlotState.DONE).exists()


def test_breadth_first_and_the_same_schedule_as_the_hand_written_claim(scenario_factory):
    def schedule(claim):
        s = scenario_factory(mode="pairwise", n_prompts=4, n_systems=2, k=3, n_annotators=4)
        ordinal = dict(Unit.objects.filter(task=s.task).values_list("pk", "ordinal"))
        rows = []
        for ann, a in _drain(s, "pairwise", claim):
            base = _base_order(a.unit_id)
            rows.append(
                (
                    s.annotators.index(ann),
                    ordinal[a.unit_id],
                    Slot.objects.get(pk=a.slot_id).ordinal,
                    [base.index(pk) for pk in a.shown_order],
                )
            )
        return rows

    ported = schedule(portable.assignment_claim)
    # Every unit's first slot is served before any unit's second one.
    assert [(slot, unit) for _, unit, slot, _ in ported[:4]] == [(0, u) for u in range(4)]
    assert Counter(unit for _, unit, _, _ in ported) == {u: 3 for u in range(4)}
    assert ported == schedule(hot_assignment.assignment_claim)


def test_skip_and_flag_release_the_slot_to_others_only(scenario_factory):
    s = scenario_factory(n_prompts=2, n_systems=1, k=1, n_annotators=2)
    a, b = s.annotators
    leased = portable.assignment_claim(actor=a, task=s.task)
    skipped = assignment_skip(actor=a, handle=leased.handle, reason="Not my topic")
    assert skipped.status == AssignmentStatus.SKIPPED
    assert Slot.objects.get(pk=leased.slot_id).state == SlotState.OPEN
    with pytest.raises(LeaseLost):
        _submit(a, leased)
    nxt = portable.assignment_claim(actor=a, task=s.task)
    assert nxt.unit_id != leased.unit_id  # never the skipped unit again
    flagged = assignment_flag(actor=a, handle=nxt.handle, reason="broken", note="empty")
    assert (flagged.status, flagged.flag_reason) == (AssignmentStatus.FLAGGED, "broken")
    assert portable.assignment_claim(actor=a, task=s.task) is None
    # b gets both released units, one after the other.
    units = []
    while (other := portable.assignment_claim(actor=b, task=s.task)) is not None:
        units.append(other.unit_id)
        _submit(b, other)
    assert sorted(units) == sorted([leased.unit_id, nxt.unit_id])


def test_cap_ends_the_quota(scenario_factory):
    s = scenario_factory(n_prompts=5, n_systems=1, k=1, cap=2)
    ann = s.annotators[0]
    for _ in range(2):
        leased = portable.assignment_claim(actor=ann, task=s.task)
        assert getattr(leased, ITEM_CONTENT_ATTR).progress["cap"] == 2
        _submit(ann, leased)
    assert portable.assignment_claim(actor=ann, task=s.task) is None
    assert annotator_progress(actor=ann, task=s.task) == {"submitted": 2, "cap": 2}
    assert Assignment.objects.filter(annotator=ann).count() == 2


def test_a_database_other_than_postgresql_never_reaches_the_hand_written_sql(
    scenario_factory, monkeypatch
):
    """The public functions dispatch on the connection's vendor; hot_cursor then is a
    plain cursor and leaves psycopg's prepare_threshold alone."""
    s = scenario_factory(mode="pairwise", n_prompts=2, n_systems=2, k=1)
    ann = s.annotators[0]
    connection.ensure_connection()
    threshold = connection.connection.prepare_threshold
    monkeypatch.setattr(connection, "vendor", "sqlite")
    assert not hot_assignment.hot_sql()
    with hot_assignment.hot_cursor() as cursor:
        assert not isinstance(cursor.cursor, hot_assignment._preparing_cursor_class())
    task = task_get_for_annotator(actor=ann, public_id=s.task.public_id)
    leased = hot_assignment.assignment_claim(actor=ann, task=task)
    item = assignment_item(
        actor=ann, assignment=assignment_get_for_annotator(actor=ann, handle=leased.handle)
    )
    assert [r["label"] for r in item["responses"]] == ["A", "B"]
    annotation, created = annotation_submit_timed(
        actor=ann, handle=leased.handle, answers=valid_answers("pairwise", 2)
    )
    assert created and Annotation.objects.get(pk=annotation.pk).active_seconds is not None
    assert connection.connection.prepare_threshold == threshold


# -- the engine's suites again, on the portable path ----------------------------------


def _hot_sql_forbidden(*args, **kwargs):
    raise AssertionError("the hand-written PostgreSQL path ran with ANNOTATION_HOT_SQL off")


@pytest.fixture
def portable_engine(settings, monkeypatch):
    settings.ANNOTATION_HOT_SQL = False
    for module in ("assignment", "submission"):
        monkeypatch.setattr(f"annotation.services.{module}.hot_cursor", _hot_sql_forbidden)
    monkeypatch.setattr("annotation.selectors_annotator.hot_cursor", _hot_sql_forbidden)
    clearance_cache_clear()
    yield
    clearance_cache_clear()


# Query counts are the hand-written path's promise, and prepared statements its option.
_NOT_PORTABLE = {
    "test_next_and_submit_take_few_queries",
    "test_the_hot_path_works_without_prepared_statements",
}


def _portable_copy(test):
    # A wrapper, so the mark goes on the copy and the original test stays as it is.
    @functools.wraps(test)
    def run(*args, **kwargs):
        return test(*args, **kwargs)

    return pytest.mark.usefixtures("portable_engine")(run)


def _rerun(suite):
    for name, test in vars(suite).items():
        if name.startswith("test_") and callable(test) and name not in _NOT_PORTABLE:
            globals()[f"{name}__portable"] = _portable_copy(test)


_rerun(engine_suite)
_rerun(hot_path_suite)
