"""The annotator's workspace over HTTP: states, htmx swaps, validation next to the
question, lease loss, skip/flag, the role matrix, and bounded query counts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from annotation.models import Annotation, Assignment, AssignmentStatus, PoolKind
from annotation.services.assignment import assignment_claim, slot_leases_expire

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


def single_form(quality: int = 4, has_error: str = "false", **extra: str) -> dict[str, str]:
    return {
        "q-quality.A": str(quality),
        "q-has_error.A": has_error,
        "active_seconds": "12.5",
        **extra,
    }


def pairwise_form() -> dict[str, str]:
    return {"q-preference": "A", "q-quality.A": "3", "q-quality.B": "4", "active_seconds": "7"}


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_page_shows_onboarding_then_ready_then_item(scenario_factory):
    s = scenario_factory(n_prompts=3, n_systems=1, k=1, n_annotators=1, acknowledged=False)
    me = s.annotators[0]
    client = client_for(me)
    page = reverse("annotate-task", args=[s.task.public_id])
    body = client.get(page).content.decode()
    assert "I have read the guidelines" in body and "Judge carefully." in body
    assert "ws-onboarding" in body

    response = client.post(reverse("annotate-acknowledge", args=[s.task.public_id]), **HX)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Start annotating" in body and "<html" not in body  # a partial, not a page

    response = client.post(reverse("annotate-next", args=[s.task.public_id]), **HX)
    body = response.content.decode()
    assert "Response A" in body and 'name="q-quality.A"' in body
    handle = Assignment.objects.get(annotator=me, status=AssignmentStatus.LEASED).handle
    assert f'data-handle="{handle}"' in body
    # The full page shows the same live lease without claiming anything new.
    assert f'data-handle="{handle}"' in client.get(page).content.decode()
    assert Assignment.objects.filter(annotator=me).count() == 1


def test_submit_swaps_in_the_next_item_and_stores_clamped_time(scenario_factory):
    s = scenario_factory(n_prompts=3, n_systems=1, k=1, n_annotators=1)
    me = s.annotators[0]
    client = client_for(me)
    first = assignment_claim(actor=me, task=s.task)
    response = client.post(
        reverse("annotate-submit", args=[first.handle]),
        single_form(active_seconds="99999", first_interaction_at=timezone.now().isoformat()),
        **HX,
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert f'data-drop-draft="{first.handle}"' in body
    second = Assignment.objects.get(annotator=me, status=AssignmentStatus.LEASED)
    assert second.handle != first.handle and f'data-handle="{second.handle}"' in body
    annotation = Annotation.objects.get(assignment=first)
    assert annotation.answers == {"quality": {"A": 4}, "has_error": {"A": False}}
    assert annotation.client_active_seconds == 99999
    wall = (annotation.submitted_at - annotation.served_at).total_seconds()
    assert annotation.active_seconds == pytest.approx(wall)  # clamped to the server's time
    # Submitting the same item again stores nothing twice and still serves the next item.
    again = client.post(reverse("annotate-submit", args=[first.handle]), single_form(), **HX)
    assert again.status_code == 200
    assert Annotation.objects.filter(annotator=me).count() == 1


def test_missing_required_answers_come_back_next_to_their_question(scenario_factory):
    s = scenario_factory(n_prompts=2, n_systems=2, k=1, n_annotators=1, mode="pairwise")
    me = s.annotators[0]
    client = client_for(me)
    a = assignment_claim(actor=me, task=s.task)
    response = client.post(
        reverse("annotate-submit", args=[a.handle]),
        {"q-quality.A": "3", "q-quality.B": "9"},
        **HX,
    )
    assert response.status_code == 400
    body = response.content.decode()
    # The preference cell and response B's quality cell carry their own messages.
    assert 'id="cell-q-preference"' in body and 'id="cell-q-quality-B"' in body
    pref = body.split('id="cell-q-preference"')[1].split("</fieldset>")[0]
    assert "This question is required." in pref and "ws-invalid" in body
    qual_b = body.split('id="cell-q-quality-B"')[1].split("</fieldset>")[0]
    assert "Choose a whole number from 1 to 5." in qual_b
    # What was typed stays on screen.
    qual_a = body.split('id="cell-q-quality-A"')[1].split('id="cell-q-quality-B"')[0]
    assert 'value="3" data-keys="3" checked' in qual_a
    assert not Annotation.objects.exists()
    ok = client.post(reverse("annotate-submit", args=[a.handle]), pairwise_form(), **HX)
    assert ok.status_code == 200
    assert Annotation.objects.get().answers["preference"] == {"choice": "A", "strength": None}


def test_expired_lease_taken_by_someone_else_says_so_and_serves_the_next_item(scenario_factory):
    s = scenario_factory(n_prompts=3, n_systems=1, k=1, n_annotators=2)
    me, other = s.annotators
    client = client_for(me)
    mine = assignment_claim(actor=me, task=s.task)
    Assignment.objects.filter(pk=mine.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    from annotation.models import Slot

    Slot.objects.filter(pk=mine.slot_id).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    slot_leases_expire()
    theirs = assignment_claim(actor=other, task=s.task)
    assert theirs.unit_id == mine.unit_id  # the expired slot went to the other annotator
    response = client.post(reverse("annotate-submit", args=[mine.handle]), single_form(), **HX)
    assert response.status_code == 409
    body = response.content.decode()
    assert "ran out" in body and "were not saved" in body
    assert Assignment.objects.filter(annotator=me, status=AssignmentStatus.LEASED).exists()
    assert not Annotation.objects.filter(annotator=me).exists()


def test_skip_and_flag_need_a_reason_and_serve_the_next_item(scenario_factory):
    s = scenario_factory(n_prompts=4, n_systems=1, k=1, n_annotators=1)
    me = s.annotators[0]
    client = client_for(me)
    a = assignment_claim(actor=me, task=s.task)
    refused = client.post(reverse("annotate-skip", args=[a.handle]), {"reason": "other"}, **HX)
    assert refused.status_code == 400 and "Say why" in refused.content.decode()
    ok = client.post(reverse("annotate-skip", args=[a.handle]), {"reason": "expertise"}, **HX)
    assert ok.status_code == 200
    a.refresh_from_db()
    assert a.status == AssignmentStatus.SKIPPED and a.skip_reason == "Outside my expertise"
    b = Assignment.objects.get(annotator=me, status=AssignmentStatus.LEASED)
    ok = client.post(
        reverse("annotate-flag", args=[b.handle]), {"reason": "unsafe", "note": "x"}, **HX
    )
    assert ok.status_code == 200
    b.refresh_from_db()
    assert (b.status, b.flag_reason, b.flag_note) == (AssignmentStatus.FLAGGED, "unsafe", "x")


def test_no_more_work_page_with_crowd_completion_code(scenario_factory):
    s = scenario_factory(
        n_prompts=2, n_systems=1, k=1, cap=1, n_annotators=1, pool_kind=PoolKind.CROWD
    )
    me = s.annotators[0]
    client = client_for(me)
    a = assignment_claim(actor=me, task=s.task)
    body = client.post(
        reverse("annotate-submit", args=[a.handle]), single_form(), **HX
    ).content.decode()
    code = s.task_pool.worker_completion_code(me.pk)
    assert "you are done" in body and code in body
    page = client.get(reverse("annotate-task", args=[s.task.public_id])).content.decode()
    assert code in page and s.task_pool.completion_code not in page


def test_expert_pool_gets_no_completion_code(scenario_factory):
    s = scenario_factory(
        n_prompts=2, n_systems=1, k=1, cap=1, n_annotators=1, pool_kind=PoolKind.EXPERT
    )
    me = s.annotators[0]
    client = client_for(me)
    a = assignment_claim(actor=me, task=s.task)
    body = client.post(
        reverse("annotate-submit", args=[a.handle]), single_form(), **HX
    ).content.decode()
    assert "you are done" in body and s.task_pool.completion_code not in body


def test_quiz_onboarding_shows_the_result(scenario_factory):
    s = scenario_factory(n_prompts=2, n_systems=1, k=1, n_annotators=1, acknowledged=False)
    from guidelines.services import (
        guideline_version_create_draft,
        guideline_version_publish,
        guideline_version_update_draft,
    )

    draft = guideline_version_create_draft(actor=s.lead, guideline=s.version.guideline)
    quiz = {
        "pass_threshold": 1.0,
        "max_attempts": 2,
        "items": [
            {
                "id": "q1",
                "prompt": "Is water wet?",
                "outputs": ["Yes."],
                "answers": {"has_error": {"A": False}},
                "explanation": "Fine.",
            }
        ],
    }
    v2 = guideline_version_publish(
        actor=s.lead,
        version=guideline_version_update_draft(
            actor=s.lead, version=draft, quiz=quiz, changelog="Quiz."
        ),
    )
    s.task.guideline_version = v2
    s.task.save(update_fields=["guideline_version"])
    s.task_pool.require_quiz = True
    s.task_pool.save(update_fields=["require_quiz"])
    me = s.annotators[0]
    client = client_for(me)
    client.post(reverse("annotate-acknowledge", args=[s.task.public_id]), **HX)
    body = client.get(reverse("annotate-task", args=[s.task.public_id])).content.decode()
    assert "Qualification quiz" in body and 'name="quiz-q1-has_error.A"' in body
    failed = client.post(
        reverse("annotate-quiz", args=[s.task.public_id]), {"quiz-q1-has_error.A": "true"}, **HX
    ).content.decode()
    assert "not passed yet" in failed and "Fine." not in failed  # no key, no explanation
    passed = client.post(
        reverse("annotate-quiz", args=[s.task.public_id]), {"quiz-q1-has_error.A": "false"}, **HX
    ).content.decode()
    assert "passed. You are cleared" in passed and "Start annotating" in passed


@pytest.mark.parametrize("who", ["assignee", "other_annotator", "lead", "anonymous"])
def test_role_matrix_for_item_actions(scenario_factory, who):
    s = scenario_factory(n_prompts=4, n_systems=1, k=1, n_annotators=2)
    a = assignment_claim(actor=s.annotators[0], task=s.task)
    users = {
        "assignee": s.annotators[0],
        "other_annotator": s.annotators[1],
        "lead": s.lead,
        "anonymous": None,
    }
    client = Client()
    if users[who] is not None:
        client.force_login(users[who])
    expected = {"assignee": 200, "other_annotator": 403, "lead": 403, "anonymous": 302}[who]
    page = client.get(reverse("annotate-task", args=[s.task.public_id]))
    assert page.status_code == (200 if who in ("assignee", "other_annotator") else expected)
    for name, data in (
        ("annotate-submit", single_form()),
        ("annotate-skip", {"reason": "expertise"}),
        ("annotate-flag", {"reason": "broken"}),
    ):
        response = client.post(reverse(name, args=[a.handle]), data, **HX)
        if who == "assignee":
            assert response.status_code == 200
            a = Assignment.objects.get(annotator=s.annotators[0], status="leased")
        else:
            assert response.status_code == expected
    if who != "assignee":
        assert not Annotation.objects.exists()


def test_home_lists_tasks_with_progress_left_and_earnings(scenario_factory):
    from decimal import Decimal

    s = scenario_factory(
        n_prompts=5, n_systems=1, k=1, cap=3, n_annotators=1, pay_per_item=Decimal("0.25")
    )
    me = s.annotators[0]
    client = client_for(me)
    a = assignment_claim(actor=me, task=s.task)
    client.post(reverse("annotate-submit", args=[a.handle]), single_form(), **HX)
    body = client.get(reverse("annotate-home")).content.decode()
    assert s.task.title in body
    assert "<strong>1</strong> done" in body and "<strong>2</strong> left" in body
    assert "$0.25" in body and "Continue" in body
    response = client.post(reverse("annotate-next", args=[s.task.public_id]))
    assert response.status_code == 302 and response.url == reverse(
        "annotate-task", args=[s.task.public_id]
    )
    earnings = client.get(reverse("annotate-earnings")).content.decode()
    assert "$0.25" in earnings and s.task.title in earnings


def test_guide_panel_partial_and_page(scenario_factory):
    s = scenario_factory(n_prompts=1, n_systems=1, n_annotators=1)
    client = client_for(s.annotators[0])
    url = reverse("annotate-guide", args=[s.task.public_id])
    partial = client.get(url, **HX).content.decode()
    assert "Judge carefully." in partial and "<html" not in partial
    assert "<html" in client.get(url).content.decode()


def _count(client, method, url, data=None):
    with CaptureQueriesContext(connection) as ctx:
        response = getattr(client, method)(url, data or {}, **HX)
    assert response.status_code == 200, response.content[:500]
    return len(ctx.captured_queries)


@pytest.mark.parametrize("mode", ["single", "pairwise"])
def test_annotate_page_and_submit_run_a_constant_number_of_queries(scenario_factory, mode):
    counts = {}
    for size in (10, 500):
        s = scenario_factory(
            mode=mode, n_prompts=size, n_systems=2 if mode == "pairwise" else 1, k=2, n_annotators=2
        )
        me = s.annotators[0]
        client = client_for(me)
        form = pairwise_form() if mode == "pairwise" else single_form()
        # Warm up: a few items done so counters and earnings rows exist.
        for _ in range(2):
            a = assignment_claim(actor=me, task=s.task)
            client.post(reverse("annotate-submit", args=[a.handle]), form, **HX)
        a = Assignment.objects.get(annotator=me, status="leased")
        page = _count(client, "get", reverse("annotate-task", args=[s.task.public_id]))
        submit = _count(client, "post", reverse("annotate-submit", args=[a.handle]), form)
        counts[size] = (page, submit)
    print(f"\n{mode}: queries (page, submit) for 10 and 500 units: {counts}")
    assert counts[10] == counts[500]
    page, submit = counts[500]
    assert page <= 15 and submit <= 30
