"""The assignment engine's services: claim, resume, breadth-first, caps, skip, flag,
submit validation and idempotency, gold mixing, task lifecycle and its audit trail."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from annotation.models import (
    Annotation,
    Assignment,
    AssignmentStatus,
    FlagResolution,
    PoolKind,
    Slot,
    SlotState,
    TaskStatus,
    Unit,
)
from annotation.selectors_annotator import annotator_completion, assignment_item
from annotation.services.assignment import (
    GuidelineNotCleared,
    assignment_claim,
    assignment_claim_any,
    slot_leases_expire,
    task_pool_worker_complete,
)
from annotation.services.blinding import blinding_flag_resolve
from annotation.services.submission import (
    AnswersInvalid,
    LeaseLost,
    annotation_submit,
    assignment_flag,
    assignment_interaction_record,
    assignment_skip,
)
from annotation.services.tasks import (
    task_close,
    task_create,
    task_launch,
    task_pause,
    unit_mark_gold,
)
from common.exceptions import AccessDenied, ApplicationError
from common.models import AuditEvent
from tests.annotation.conftest import acknowledge, valid_answers
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def submit(user, assignment, mode="single"):
    return annotation_submit(
        actor=user,
        handle=assignment.handle,
        answers=valid_answers(mode, len(assignment.shown_order)),
    )


def test_claim_then_resume_then_submit(scenario_factory):
    s = scenario_factory(n_prompts=3, n_systems=2, k=2)
    ann = s.annotators[0]
    first = assignment_claim(actor=ann, task=s.task)
    assert first is not None and first.status == AssignmentStatus.LEASED
    # Asking again while holding a live lease returns the same item, not a second one.
    assert assignment_claim(actor=ann, task=s.task).pk == first.pk
    annotation, created = submit(ann, first)
    assert created
    assert annotation.guideline_version_id == s.version.pk
    assert annotation.shown_order == first.shown_order
    assert annotation.served_at == first.served_at and annotation.submitted_at >= first.served_at
    slot = Slot.objects.get(pk=first.slot_id)
    assert slot.state == SlotState.DONE
    second = assignment_claim(actor=ann, task=s.task)
    assert second.unit_id != first.unit_id


def test_units_are_served_breadth_first(scenario_factory):
    s = scenario_factory(n_prompts=5, n_systems=1, k=3, n_annotators=3)
    served = []
    for ann in s.annotators:
        for _ in range(5):
            a = assignment_claim(actor=ann, task=s.task)
            served.append(a.unit_id)
            submit(ann, a)
    # Every unit got its first annotation before any got a second: the first five
    # served are five distinct units.
    assert len(set(served[:5])) == 5
    counts = Counter(served)
    assert set(counts.values()) == {3}


def test_annotator_never_gets_a_unit_twice_and_runs_out(scenario_factory):
    s = scenario_factory(n_prompts=4, n_systems=2, k=3, n_annotators=1)
    ann = s.annotators[0]
    seen = []
    while (a := assignment_claim(actor=ann, task=s.task)) is not None:
        seen.append(a.unit_id)
        submit(ann, a)
    assert len(seen) == len(set(seen)) == Unit.objects.filter(task=s.task).count() == 8


def test_cap_ends_the_quota_and_gives_the_completion_code(scenario_factory):
    s = scenario_factory(n_prompts=4, cap=2, pool_kind=PoolKind.CROWD)
    ann = s.annotators[0]
    for _ in range(2):
        submit(ann, assignment_claim(actor=ann, task=s.task))
    assert assignment_claim(actor=ann, task=s.task) is None
    assert annotator_completion(actor=ann, task=s.task)["completion_code"] is None
    assert task_pool_worker_complete(actor=ann, task=s.task)
    done = annotator_completion(actor=ann, task=s.task)
    assert done["done"] and done["completion_code"] == s.task_pool.worker_completion_code(ann.pk)
    assert done["progress"] == {"submitted": 2, "cap": 2}


def test_expert_pool_gets_no_completion_code(scenario_factory):
    s = scenario_factory(n_prompts=1, n_systems=1, k=1, cap=1, pool_kind=PoolKind.EXPERT)
    ann = s.annotators[0]
    submit(ann, assignment_claim(actor=ann, task=s.task))
    assert assignment_claim(actor=ann, task=s.task) is None
    task_pool_worker_complete(actor=ann, task=s.task)
    assert annotator_completion(actor=ann, task=s.task) == {
        "done": True,
        "completion_code": None,
        "progress": {"submitted": 1, "cap": 1},
    }


def test_skip_returns_the_slot_to_others_only(scenario_factory):
    s = scenario_factory(n_prompts=1, n_systems=1, k=1, n_annotators=2)
    a, b = s.annotators
    leased = assignment_claim(actor=a, task=s.task)
    with pytest.raises(ApplicationError):
        assignment_skip(actor=a, handle=leased.handle, reason="  ")
    skipped = assignment_skip(actor=a, handle=leased.handle, reason="I do not know this topic")
    assert skipped.status == AssignmentStatus.SKIPPED and skipped.skip_reason
    assert assignment_claim(actor=a, task=s.task) is None  # never the same unit again
    other = assignment_claim(actor=b, task=s.task)
    assert other.unit_id == leased.unit_id and other.slot_id == leased.slot_id
    with pytest.raises(LeaseLost):
        submit(a, leased)


def test_flag_is_recorded_with_reason_and_note(scenario_factory):
    s = scenario_factory(n_prompts=1, n_systems=1, k=1)
    ann = s.annotators[0]
    leased = assignment_claim(actor=ann, task=s.task)
    with pytest.raises(ApplicationError):
        assignment_flag(actor=ann, handle=leased.handle, reason="boring")
    flagged = assignment_flag(actor=ann, handle=leased.handle, reason="unsafe", note="graphic")
    assert (flagged.status, flagged.flag_reason, flagged.flag_note) == (
        "flagged",
        "unsafe",
        "graphic",
    )
    assert Slot.objects.get(pk=leased.slot_id).state == SlotState.OPEN


def test_submission_is_validated_with_field_errors(scenario_factory):
    s = scenario_factory(mode="pairwise", n_prompts=1, n_systems=2, k=1)
    ann = s.annotators[0]
    leased = assignment_claim(actor=ann, task=s.task)
    with pytest.raises(AnswersInvalid) as caught:
        annotation_submit(
            actor=ann,
            handle=leased.handle,
            answers={"preference": {"choice": "C"}, "quality": {"A": 9}},
        )
    errors = caught.value.extra["errors"]
    assert "preference" in errors and "quality.A" in errors and "quality.B" in errors
    assert not Annotation.objects.exists()
    _, created = submit(ann, leased, mode="pairwise")
    assert created


def test_repeated_submit_stores_one_annotation(scenario_factory):
    s = scenario_factory(n_prompts=1, n_systems=1, k=1)
    ann = s.annotators[0]
    leased = assignment_claim(actor=ann, task=s.task)
    first, created = submit(ann, leased)
    again, created_again = submit(ann, leased)
    assert created and not created_again and first.pk == again.pk
    assert Annotation.objects.count() == 1


def test_timings_are_recorded_server_side(scenario_factory):
    s = scenario_factory(n_prompts=1, n_systems=1, k=1)
    ann = s.annotators[0]
    leased = assignment_claim(actor=ann, task=s.task)
    touched = assignment_interaction_record(actor=ann, handle=leased.handle)
    assert touched.first_interaction_at is not None
    again = assignment_interaction_record(actor=ann, handle=leased.handle)
    assert again.first_interaction_at == touched.first_interaction_at  # only the first counts
    annotation, _ = annotation_submit(
        actor=ann,
        handle=leased.handle,
        answers=valid_answers("single", 1),
        client_active_seconds=12.5,
        client_first_interaction_at=timezone.now() - timedelta(days=1),
    )
    assert annotation.first_interaction_at == touched.first_interaction_at
    assert annotation.client_active_seconds == 12.5
    # A client clock far in the past is clamped to the serving time.
    assert annotation.client_first_interaction_at == annotation.served_at


def test_someone_elses_handle_is_unknown(scenario_factory):
    s = scenario_factory(n_prompts=1, n_systems=1, k=2, n_annotators=2)
    a, b = s.annotators
    leased = assignment_claim(actor=a, task=s.task)
    with pytest.raises(AccessDenied):
        submit(b, leased)
    with pytest.raises(AccessDenied):
        assignment_item(actor=b, assignment=leased)


def test_guideline_must_be_acknowledged(scenario_factory):
    s = scenario_factory(n_prompts=1, acknowledged=False)
    ann = s.annotators[0]
    with pytest.raises(GuidelineNotCleared) as caught:
        assignment_claim(actor=ann, task=s.task)
    assert caught.value.extra["reason"] == "not_acknowledged"
    with pytest.raises(GuidelineNotCleared):
        assignment_claim_any(actor=ann)
    acknowledge(ann, s.version)
    assert assignment_claim(actor=ann, task=s.task) is not None


def test_outsider_cannot_claim(scenario_factory):
    s = scenario_factory(n_prompts=1)
    with pytest.raises(AccessDenied):
        assignment_claim(actor=UserFactory(), task=s.task)


def test_pause_stops_serving_but_honours_leases_and_close_stops_all(scenario_factory):
    s = scenario_factory(n_prompts=2, n_systems=1, k=1, n_annotators=2)
    a, b = s.annotators
    leased = assignment_claim(actor=a, task=s.task)
    task_pause(actor=s.lead, task=s.task)
    s.task.refresh_from_db()
    with pytest.raises(ApplicationError):
        assignment_claim(actor=b, task=s.task)
    submit(a, leased)
    task_launch(actor=s.lead, task=s.task)
    s.task.refresh_from_db()
    leased_b = assignment_claim(actor=b, task=s.task)
    task_close(actor=s.lead, task=s.task)
    with pytest.raises(ApplicationError):
        submit(b, leased_b)
    actions = list(AuditEvent.objects.filter(project=s.project).values_list("action", flat=True))
    for action in (
        "task.create",
        "task.pool_add",
        "task.launch",
        "task.pause",
        "task.resume",
        "task.close",
    ):
        assert action in actions
    assert AuditEvent.objects.filter(action="task.launch", guideline_version=s.version).exists()


def test_expired_lease_goes_back_to_the_queue(scenario_factory):
    s = scenario_factory(n_prompts=1, n_systems=1, k=1, n_annotators=2)
    a, b = s.annotators
    leased = assignment_claim(actor=a, task=s.task)
    assert assignment_claim(actor=b, task=s.task) is None  # the only slot is leased
    Slot.objects.filter(pk=leased.slot_id).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    Assignment.objects.filter(pk=leased.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    taken = assignment_claim(actor=b, task=s.task)
    assert taken.slot_id == leased.slot_id
    leased.refresh_from_db()
    assert leased.status == AssignmentStatus.EXPIRED
    with pytest.raises(LeaseLost):
        submit(a, leased)
    submit(b, taken)
    assert Annotation.objects.count() == 1


def test_late_submit_is_accepted_while_nobody_took_the_slot(scenario_factory):
    s = scenario_factory(n_prompts=1, n_systems=1, k=1)
    a = s.annotators[0]
    leased = assignment_claim(actor=a, task=s.task)
    Slot.objects.filter(pk=leased.slot_id).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    _, created = submit(a, leased)
    assert created


def test_sweep_expires_leases(scenario_factory):
    s = scenario_factory(n_prompts=2, n_systems=1, k=1)
    a = s.annotators[0]
    leased = assignment_claim(actor=a, task=s.task)
    assert slot_leases_expire() == 0
    Slot.objects.filter(pk=leased.slot_id).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert slot_leases_expire() == 1
    assert Slot.objects.get(pk=leased.slot_id).state == SlotState.OPEN
    leased.refresh_from_db()
    assert leased.status == AssignmentStatus.EXPIRED


def test_gold_units_are_mixed_in_at_the_share_and_look_the_same(scenario_factory):
    s = scenario_factory(
        n_prompts=20, n_systems=1, k=1, gold_share=0.25, launch=False, n_annotators=1
    )
    units = list(Unit.objects.filter(task=s.task).order_by("ordinal"))
    for unit in units[:5]:
        unit_mark_gold(actor=s.lead, unit=unit, answers=valid_answers("single", 1))
    task_launch(actor=s.lead, task=s.task)
    s.task.refresh_from_db()
    ann = s.annotators[0]
    gold_seen, keys = [], set()
    for _ in range(12):
        a = assignment_claim(actor=ann, task=s.task)
        gold_seen.append(a.unit.is_gold)
        keys.add(frozenset(assignment_item(actor=ann, assignment=a)))
        submit(ann, a)
    assert sum(gold_seen) == 3  # a quarter of 12
    assert len(keys) == 1  # gold and ordinary items carry exactly the same fields


def test_gold_answers_must_fit_the_rubric(scenario_factory):
    s = scenario_factory(n_prompts=1, n_systems=1, launch=False)
    unit = Unit.objects.get(task=s.task)
    with pytest.raises(ApplicationError):
        unit_mark_gold(actor=s.lead, unit=unit, answers={"quality": {"A": 42}})


def test_task_needs_a_published_guideline_of_its_mode(scenario_factory):
    from guidelines.services import guideline_create

    s = scenario_factory(n_prompts=1, launch=False)
    draft = guideline_create(
        actor=s.lead, project=s.project, name="Draft", mode="single"
    ).versions.get()
    with pytest.raises(ApplicationError):
        task_create(
            actor=s.lead, project=s.project, title="x", guideline_version=draft, mode="single"
        )
    with pytest.raises(ApplicationError):
        task_create(
            actor=s.lead, project=s.project, title="x", guideline_version=s.version, mode="pairwise"
        )


def test_launch_refuses_open_blinding_flags_until_resolved(scenario_factory):
    def text(i, j):
        return (
            "As an AI developed by OpenAI, I think tides." if (i, j) == (0, 0) else f"Tides {i}{j}."
        )

    s = scenario_factory(n_prompts=2, n_systems=2, launch=False, output_text=text)
    flags = list(s.task.blinding_flags.all())
    assert flags and all(f.resolution == FlagResolution.OPEN for f in flags)
    with pytest.raises(ApplicationError):
        task_launch(actor=s.lead, task=s.task)
    for flag in flags:
        blinding_flag_resolve(actor=s.lead, flag=flag, resolution=FlagResolution.MASKED)
    task = task_launch(actor=s.lead, task=s.task)
    assert task.status == TaskStatus.LIVE
    # Whoever is served the unit reads the masked text.
    for ann in s.annotators:
        while (a := assignment_claim(actor=ann, task=task)) is not None:
            for response in assignment_item(actor=ann, assignment=a)["responses"]:
                assert "OpenAI" not in response["text"]
            submit(ann, a)


def test_exclude_removes_the_outputs_units(scenario_factory):
    def text(i, j):
        return "Claude here: tides." if i == 1 else "Tides."

    s = scenario_factory(n_prompts=3, n_systems=2, launch=False, output_text=text)
    flags = list(s.task.blinding_flags.all())
    assert len(flags) == 3
    for flag in flags:
        flag.refresh_from_db()
        if flag.resolution == FlagResolution.OPEN:
            blinding_flag_resolve(actor=s.lead, flag=flag, resolution=FlagResolution.EXCLUDED)
    task_launch(actor=s.lead, task=s.task)
    live = Slot.objects.filter(task_pool=s.task_pool).values_list("unit_id", flat=True).distinct()
    assert Unit.objects.filter(pk__in=live).count() == 3  # only system 0's units remain


def test_balanced_pair_schedule_spreads_system_pairs(scenario_factory):
    s = scenario_factory(
        mode="pairwise",
        n_prompts=30,
        n_systems=4,
        launch=False,
        pairing="balanced",
        pairs_per_prompt=2,
    )
    meetings: Counter = Counter()
    for unit in Unit.objects.filter(task=s.task).prefetch_related("unit_outputs__output"):
        systems = tuple(sorted(uo.output.system_id for uo in unit.unit_outputs.all()))
        meetings[systems] += 1
    assert sum(meetings.values()) == 60
    assert len(meetings) == 6 and max(meetings.values()) - min(meetings.values()) <= 1


def test_all_pairs_and_ranking_units(scenario_factory):
    pairs = scenario_factory(mode="pairwise", n_prompts=2, n_systems=3, launch=False)
    assert Unit.objects.filter(task=pairs.task).count() == 6
    ranking = scenario_factory(
        mode="ranking", n_prompts=2, n_systems=4, launch=False, ranking_size=3
    )
    assert Unit.objects.filter(task=ranking.task).count() == 2
    assert all(u.unit_outputs.count() == 3 for u in Unit.objects.filter(task=ranking.task))
