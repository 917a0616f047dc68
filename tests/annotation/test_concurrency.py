"""The engine's guarantees under real concurrency: real PostgreSQL, real threads, one
database connection per thread."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import close_old_connections, connection
from django.utils import timezone

from annotation.models import Annotation, Assignment, AssignmentStatus, Slot, SlotState, Unit
from annotation.services.assignment import assignment_claim
from annotation.services.submission import LeaseLost, annotation_submit
from tests.annotation.conftest import build_scenario, valid_answers

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def run_threads(n: int, target: Callable[[int], Any]) -> tuple[list[Any], list[BaseException]]:
    """Run target(i) in n threads released together; each thread closes its connection."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n
    errors: list[BaseException] = []

    def body(i: int) -> None:
        try:
            barrier.wait()
            results[i] = target(i)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=body, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    close_old_connections()
    return results, errors


def test_32_threads_racing_for_the_last_slots_never_exceed_k():
    s = build_scenario(n_prompts=1, n_systems=1, k=3, n_annotators=32)
    task = s.task

    def work(i: int) -> bool:
        ann = s.annotators[i]
        assignment = assignment_claim(actor=ann, task=task)
        if assignment is None:
            return False
        annotation_submit(actor=ann, handle=assignment.handle, answers=valid_answers("single", 1))
        return True

    results, errors = run_threads(32, work)
    assert not errors, errors
    assert sum(results) == 3
    assert Annotation.objects.count() == 3
    assert Annotation.objects.values("annotator").distinct().count() == 3
    assert Slot.objects.filter(state=SlotState.DONE).count() == 3


def test_many_annotators_draining_a_task_keep_every_guarantee():
    s = build_scenario(n_prompts=15, n_systems=2, k=3, n_annotators=16)
    task = s.task

    def work(i: int) -> int:
        ann, done = s.annotators[i], 0
        while (assignment := assignment_claim(actor=ann, task=task)) is not None:
            annotation_submit(
                actor=ann, handle=assignment.handle, answers=valid_answers("single", 1)
            )
            done += 1
        return done

    results, errors = run_threads(16, work)
    assert not errors, errors
    units = Unit.objects.filter(task=task).count()
    assert sum(results) == Annotation.objects.count() == units * 3  # nothing lost, all filled
    per_unit = Counter(Annotation.objects.values_list("unit_id", flat=True))
    assert set(per_unit.values()) == {3}
    pairs = list(Annotation.objects.values_list("unit_id", "annotator_id"))
    assert len(pairs) == len(set(pairs))


def test_one_annotator_with_many_tabs_holds_one_lease():
    s = build_scenario(n_prompts=10, n_systems=1, k=1, n_annotators=1)
    ann = s.annotators[0]
    results, errors = run_threads(8, lambda i: assignment_claim(actor=ann, task=s.task).pk)
    assert not errors, errors
    assert len(set(results)) == 1
    assert Assignment.objects.filter(status=AssignmentStatus.LEASED).count() == 1


def test_double_submits_store_one_annotation():
    s = build_scenario(n_prompts=1, n_systems=1, k=1, n_annotators=1)
    ann = s.annotators[0]
    assignment = assignment_claim(actor=ann, task=s.task)

    def work(i: int) -> tuple[int, bool]:
        annotation, created = annotation_submit(
            actor=ann, handle=assignment.handle, answers=valid_answers("single", 1)
        )
        return annotation.pk, created

    results, errors = run_threads(12, work)
    assert not errors, errors
    assert Annotation.objects.count() == 1
    assert len({pk for pk, _ in results}) == 1
    assert sum(created for _, created in results) == 1


def test_expired_leases_are_re_served_under_contention():
    s = build_scenario(n_prompts=4, n_systems=1, k=1, n_annotators=10, lease_seconds=30)
    first = s.annotators[:4]
    leases = [assignment_claim(actor=ann, task=s.task) for ann in first]
    assert all(leases)
    past = timezone.now() - timedelta(seconds=1)
    Slot.objects.filter(task_pool=s.task_pool).update(lease_expires_at=past)
    Assignment.objects.filter(pk__in=[a.pk for a in leases]).update(lease_expires_at=past)
    others = s.annotators[4:]

    def claim_and_submit(i: int) -> str:
        # Late submitters and new claimers race for the same four slots.
        if i < 4:
            try:
                annotation_submit(
                    actor=first[i], handle=leases[i].handle, answers=valid_answers("single", 1)
                )
                return "late-ok"
            except LeaseLost:
                return "late-lost"
        assignment = assignment_claim(actor=others[i - 4], task=s.task)
        if assignment is None:
            return "none"
        try:
            annotation_submit(
                actor=others[i - 4], handle=assignment.handle, answers=valid_answers("single", 1)
            )
        except LeaseLost:
            return "new-lost"
        return "new-ok"

    results, errors = run_threads(10, claim_and_submit)
    assert not errors, errors
    tally = Counter(results)
    assert tally["late-ok"] + tally["new-ok"] == 4 == Annotation.objects.count()
    assert tally["new-lost"] == 0
    per_unit = Counter(Annotation.objects.values_list("unit_id", flat=True))
    assert set(per_unit.values()) == {1}


def test_one_annotator_in_two_pools_racing_first_claims_holds_one_lease():
    from annotation.models import AnnotatorPool, PoolKind, TaskPoolWorker
    from annotation.services.pools import pool_member_add
    from annotation.services.tasks import task_launch, task_pool_add

    s = build_scenario(n_prompts=6, n_systems=1, k=1, n_annotators=1, launch=False)
    ann = s.annotators[0]
    other = AnnotatorPool.objects.create(project=s.project, name="second", kind=PoolKind.EXPERT)
    pool_member_add(actor=s.lead, pool=other, user=ann)
    task_pool_add(actor=s.lead, task=s.task, pool=other, redundancy=1)
    task = task_launch(actor=s.lead, task=s.task)
    results, errors = run_threads(8, lambda i: assignment_claim(actor=ann, task=task).pk)
    assert not errors, errors
    assert len(set(results)) == 1
    assert Assignment.objects.filter(status=AssignmentStatus.LEASED).count() == 1
    assert TaskPoolWorker.objects.filter(user=ann).count() == 2
