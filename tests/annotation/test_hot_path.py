"""The annotator hot path (next item → submit) in hand-written SQL: it must give exactly
what the ORM version gave (shown orders, texts, progress, JSON), in few queries, with
and without prepared statements, across several pools."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse
from rest_framework.renderers import JSONRenderer

from annotation.api.annotator_apis import AnnotatorSubmitApi, ItemSerializer
from annotation.models import (
    AnnotatorPool,
    Assignment,
    FlagResolution,
    PoolKind,
    TaskPoolWorker,
    UnitOutput,
)
from annotation.selectors_annotator import (
    annotator_progress,
    assignment_get_for_annotator,
    assignment_item,
    task_get_for_annotator,
)
from annotation.services.assignment import assignment_claim
from annotation.services.blinding import blinding_flag_resolve, shown_order_for_slot
from annotation.services.pools import pool_member_add
from annotation.services.submission import annotation_submit
from annotation.services.tasks import task_launch, task_pool_add
from tests.annotation.conftest import valid_answers
from tests.conftest import api_as

pytestmark = pytest.mark.django_db


def drain(s, mode):
    served = []
    for ann in s.annotators:
        while (a := assignment_claim(actor=ann, task=s.task)) is not None:
            served.append((ann, a))
            annotation_submit(
                actor=ann, handle=a.handle, answers=valid_answers(mode, len(a.shown_order))
            )
    return served


def test_claimed_shown_orders_are_the_slot_rotations(scenario_factory):
    s = scenario_factory(
        mode="ranking", n_prompts=3, n_systems=4, k=5, n_annotators=5, ranking_size=3
    )
    served = drain(s, "ranking")
    assert len(served) == 3 * 5
    for _, a in served:
        base = list(
            UnitOutput.objects.filter(unit_id=a.unit_id)
            .order_by("position")
            .values_list("output_id", flat=True)
        )
        assert a.shown_order == shown_order_for_slot(base_order=base, slot_ordinal=a.slot.ordinal)
        assert Assignment.objects.get(pk=a.pk).shown_order == a.shown_order


def test_the_item_read_by_the_claim_equals_a_fresh_read(scenario_factory):
    def text(i, j):
        return "Claude says tides." if (i, j) == (1, 0) else f"Tides {i}{j}."

    s = scenario_factory(
        mode="pairwise", n_prompts=2, n_systems=2, k=2, launch=False, output_text=text
    )
    for flag in s.task.blinding_flags.all():
        blinding_flag_resolve(actor=s.lead, flag=flag, resolution=FlagResolution.MASKED)
    task_launch(actor=s.lead, task=s.task)
    s.task.refresh_from_db()
    for ann in s.annotators:
        task = task_get_for_annotator(actor=ann, public_id=s.task.public_id)
        claimed = assignment_claim(actor=ann, task=task)
        from_claim = assignment_item(actor=ann, assignment=claimed)
        fresh = assignment_item(
            actor=ann, assignment=assignment_get_for_annotator(actor=ann, handle=claimed.handle)
        )
        assert from_claim == fresh
        texts = {
            uo.output_id: uo.masked_text if uo.masked_text is not None else uo.output.text
            for uo in UnitOutput.objects.filter(unit_id=claimed.unit_id).select_related("output")
        }
        assert [r["text"] for r in from_claim["responses"]] == [
            texts[o] for o in claimed.shown_order
        ]
        assert [r["label"] for r in from_claim["responses"]] == ["A", "B"]
        assert from_claim["prompt"] == claimed.unit.prompt.text
        assert from_claim["progress"] == annotator_progress(actor=ann, task=s.task)
        # The live lease comes back, with the same item.
        again = assignment_claim(actor=ann, task=task)
        assert again.pk == claimed.pk
        assert assignment_item(actor=ann, assignment=again) == from_claim
        annotation_submit(actor=ann, handle=claimed.handle, answers=valid_answers("pairwise", 2))


def test_api_bodies_are_what_the_serializers_would_render(scenario_factory):
    s = scenario_factory(mode="single", n_prompts=2, n_systems=1, k=1, n_annotators=1, cap=2)
    ann = s.annotators[0]
    client = api_as(ann)
    body = client.post(reverse("api-annotate-task-next", args=[s.task.public_id])).json()
    assignment = assignment_get_for_annotator(actor=ann, handle=body["handle"])
    item = assignment_item(actor=ann, assignment=assignment)
    assert body == json.loads(JSONRenderer().render(ItemSerializer(item).data))
    submitted = client.post(
        reverse("api-annotate-submit", args=[body["handle"]]),
        {"answers": valid_answers("single", 1)},
        format="json",
    )
    assert submitted.status_code == 201
    annotation = assignment.annotation
    expected = AnnotatorSubmitApi.OutputSerializer(
        {"handle": body["handle"], "submitted_at": annotation.submitted_at, "duplicate": False}
    ).data
    assert submitted.json() == json.loads(JSONRenderer().render(expected))


def test_next_and_submit_take_few_queries(scenario_factory, django_assert_max_num_queries):
    s = scenario_factory(mode="single", n_prompts=5, n_systems=1, k=1, n_annotators=1)
    ann = s.annotators[0]
    client = api_as(ann)
    url = reverse("api-annotate-task-next", args=[s.task.public_id])
    first = client.post(url).json()  # warms the clearance and rubric caches
    client.post(
        reverse("api-annotate-submit", args=[first["handle"]]),
        {"answers": valid_answers("single", 1)},
        format="json",
    )
    # Inside the test's transaction each service's atomic block adds a SAVEPOINT and its
    # RELEASE to the count.
    for _ in range(3):
        # task; lock pools and workers; claim (lease, insert, item texts)
        with django_assert_max_num_queries(3 + 2):
            item = client.post(url).json()
        # lock slot and assignment; store annotation and close slot, assignment, count
        with django_assert_max_num_queries(2 + 2):
            response = client.post(
                reverse("api-annotate-submit", args=[item["handle"]]),
                {"answers": valid_answers("single", 1)},
                format="json",
            )
        assert response.status_code == 201


def test_the_hot_path_works_without_prepared_statements(scenario_factory, settings):
    settings.ANNOTATION_PREPARED_STATEMENTS = False
    s = scenario_factory(mode="single", n_prompts=3, n_systems=1, k=2, n_annotators=2)
    assert len(drain(s, "single")) == 6


def test_claims_move_to_the_next_pool_when_a_cap_is_reached(scenario_factory):
    s = scenario_factory(
        mode="single", n_prompts=4, n_systems=1, k=1, n_annotators=1, cap=1, launch=False
    )
    ann = s.annotators[0]
    other = AnnotatorPool.objects.create(project=s.project, name="second", kind=PoolKind.EXPERT)
    pool_member_add(actor=s.lead, pool=other, user=ann)
    second = task_pool_add(actor=s.lead, task=s.task, pool=other, redundancy=1, per_annotator_cap=2)
    task_launch(actor=s.lead, task=s.task)
    s.task.refresh_from_db()
    pools = []
    while (a := assignment_claim(actor=ann, task=s.task)) is not None:
        pools.append(a.task_pool_id)
        item = assignment_item(actor=ann, assignment=a)
        assert item["progress"]["cap"] == 3
        annotation_submit(actor=ann, handle=a.handle, answers=valid_answers("single", 1))
    assert pools == [s.task_pool.pk, second.pk, second.pk]
    workers = TaskPoolWorker.objects.filter(user=ann).order_by("task_pool_id")
    assert [(w.served_count, w.submitted_count) for w in workers] == [(1, 1), (2, 2)]
    assert annotator_progress(actor=ann, task=s.task) == {"submitted": 3, "cap": 3}
