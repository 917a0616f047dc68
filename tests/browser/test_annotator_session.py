"""A whole annotator session in real headless Chromium, keyboard only: log in, read and
acknowledge the guideline, pass the quiz, annotate five single items and five pairwise
items, skip one, flag one, reload mid-item and find the draft, see earnings change."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from annotation.models import (
    Annotation,
    AnnotatorPool,
    Assignment,
    AssignmentStatus,
    Output,
    PoolKind,
    Prompt,
    System,
)
from annotation.services.pools import pool_member_add
from annotation.services.tasks import task_create, task_launch, task_pool_add
from common.models import ProjectRole
from tests.browser_support import log_in, screenshot
from tests.factories import MembershipFactory, ProjectFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SINGLE_RUBRIC = [
    {
        "key": "quality",
        "label": "Overall quality",
        "type": "likert",
        "min": 1,
        "max": 5,
        "required": True,
        "anchors": {"1": "Useless", "3": "Partly right", "5": "Perfect"},
    },
    {"key": "has_error", "label": "Contains a factual error?", "type": "binary", "required": True},
    {
        "key": "register",
        "label": "Register",
        "type": "single_choice",
        "required": True,
        "scope": "per_unit",
        "options": [{"value": "formal", "label": "Formal"}, {"value": "casual", "label": "Casual"}],
    },
    {
        "key": "issues",
        "label": "Issues",
        "type": "multi_choice",
        "scope": "per_unit",
        "required": False,
        "options": [{"value": "long", "label": "Too long"}, {"value": "vague", "label": "Vague"}],
    },
    {
        "key": "confidence",
        "label": "Your confidence (0-100)",
        "type": "numeric",
        "min": 0,
        "max": 100,
        "scope": "per_unit",
        "level": "ratio",
        "required": False,
    },
    {
        "key": "note",
        "label": "Anything else?",
        "type": "text",
        "scope": "per_unit",
        "max_length": 300,
    },
]
PAIRWISE_RUBRIC = [
    {
        "key": "preference",
        "label": "Which response is better?",
        "type": "pairwise",
        "required": True,
        "allow_tie": True,
        "strength": True,
        "strength_levels": ["slightly", "clearly"],
        "level": "ordinal",
    },
    {
        "key": "quality",
        "label": "Overall quality",
        "type": "likert",
        "min": 1,
        "max": 5,
        "required": True,
    },
]
QUIZ = {
    "pass_threshold": 1.0,
    "max_attempts": 3,
    "items": [
        {
            "id": "sky",
            "prompt": "What colour is the sky on a clear day?",
            "outputs": ["Green."],
            "answers": {"has_error": {"A": True}},
            "explanation": "It is blue.",
        },
    ],
}


def _guideline(
    project: Any, lead: Any, *, mode: str, rubric: list, quiz: dict | None = None
) -> Any:
    from guidelines.services import (
        guideline_create,
        guideline_version_publish,
        guideline_version_update_draft,
    )

    guideline = guideline_create(
        actor=lead,
        project=project,
        name=f"Guide {mode}",
        mode=mode,
        prose=f"# How to judge ({mode})\n\nCheck every claim. **Be calm.**",
        rubric=rubric,
    )
    version = guideline.versions.get()
    if quiz:
        version = guideline_version_update_draft(actor=lead, version=version, quiz=quiz)
    return guideline_version_publish(actor=lead, version=version)


def build_world(*, n_prompts: int = 10, output_text: Any = None) -> dict[str, Any]:
    lead = UserFactory(username="ws-lead")
    project = ProjectFactory(slug="ws", created_by=lead)
    MembershipFactory(project=project, user=lead, role=ProjectRole.LEAD)
    systems = [System.objects.create(project=project, name=f"ws-sys-{i}") for i in range(2)]
    for j in range(n_prompts):
        prompt = Prompt.objects.create(
            project=project, external_id=f"ws-p{j}", text=f"Question {j}: why is the sea salty?"
        )
        for i, system in enumerate(systems):
            text = (
                output_text(i, j)
                if output_text
                else (
                    f"Answer {j}{'AB'[i]}: rivers carry **minerals** to the sea.\n\n"
                    "- evaporation\n- rock weathering\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
                )
            )
            Output.objects.create(prompt=prompt, system=system, text=text)
    single_v = _guideline(project, lead, mode="single", rubric=SINGLE_RUBRIC, quiz=QUIZ)
    pair_v = _guideline(project, lead, mode="pairwise", rubric=PAIRWISE_RUBRIC)
    pool = AnnotatorPool.objects.create(project=project, name="experts", kind=PoolKind.EXPERT)
    me = UserFactory(username="ws-annotator")
    pool_member_add(actor=lead, pool=pool, user=me)
    single = task_create(
        actor=lead,
        project=project,
        title="Rate single answers",
        guideline_version=single_v,
        mode="single",
        system_ids=[systems[0].pk],
        pay_per_item=Decimal("0.50"),
        seed=1,
    )
    task_pool_add(actor=lead, task=single, pool=pool, redundancy=1, require_quiz=True)
    single = task_launch(actor=lead, task=single)
    pairwise = task_create(
        actor=lead,
        project=project,
        title="Compare two answers",
        guideline_version=pair_v,
        mode="pairwise",
        pay_mode="per_hour",
        pay_per_item=Decimal("120.00"),
        seed=2,
    )
    task_pool_add(actor=lead, task=pairwise, pool=pool, redundancy=1)
    pairwise = task_launch(actor=lead, task=pairwise)
    return {"lead": lead, "me": me, "single": single, "pairwise": pairwise}


def handle_on_screen(page: Any) -> str:
    return page.get_attribute("#workspace", "data-handle") or ""


def wait_for_next_item(page: Any, previous: str) -> str:
    page.wait_for_function(
        "prev => { const ws = document.getElementById('workspace');"
        " return ws && ws.dataset.handle && ws.dataset.handle !== prev"
        " && document.activeElement && document.activeElement.closest('.ws-cell'); }",
        arg=previous,
    )
    return handle_on_screen(page)


def earned_total(page: Any) -> str:
    page.goto("/annotate/earnings/")
    return page.inner_text("[data-ws-total]")


def test_keyboard_only_session(page, live_server):
    world = build_world()
    me = world["me"]
    page.set_default_timeout(10_000)
    log_in(page, "ws-annotator")
    assert earned_total(page) == "$0.00"

    # Home: the first task's Start button has the focus; Enter opens the workspace.
    page.goto("/annotate/")
    assert "Rate single answers" in page.inner_text("main")
    page.wait_for_function(
        "() => document.activeElement && document.activeElement.tagName === 'BUTTON'"
    )
    page.keyboard.press("Enter")
    page.wait_for_selector("text=I have read the guidelines")
    assert "How to judge (single)" in page.inner_text("#workspace")

    # Acknowledge, then the quiz: wrong first (the result says so), then right.
    page.wait_for_function(
        "() => document.activeElement && document.activeElement.dataset.wsAutofocus !== undefined"
    )
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-ws-quiz]")
    page.wait_for_function(
        "() => document.activeElement && document.activeElement.id === 'cell-quiz-sky-quality-A'"
    )
    page.keyboard.press("Tab")  # from the quality scale to the factual-error question
    page.keyboard.press("n")  # "no error" is wrong for this item
    page.keyboard.press("Enter")
    page.wait_for_selector("text=not passed yet")
    page.wait_for_function(
        "() => document.activeElement && document.activeElement.id === 'cell-quiz-sky-quality-A'"
    )
    page.keyboard.press("Tab")
    page.keyboard.press("y")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=You are cleared for this task")
    page.wait_for_function(
        "() => document.activeElement && document.activeElement.dataset.wsAutofocus !== undefined"
    )
    page.keyboard.press("Enter")
    page.wait_for_selector("#ws-form")
    page.wait_for_function(
        "() => document.activeElement && document.activeElement.closest('.ws-cell')"
    )
    handle = handle_on_screen(page)

    # The shortcut sheet and the guideline panel open and close from the keyboard.
    page.keyboard.press("?")
    assert page.is_visible("#ws-keys")
    page.keyboard.press("Escape")
    assert not page.is_visible("#ws-keys")
    page.keyboard.press("g")
    page.wait_for_selector("#ws-guide-body >> text=Check every claim")
    page.keyboard.press("Escape")
    assert page.is_hidden("#ws-guide")

    # Enter with nothing answered: inline messages, nothing sent.
    page.keyboard.press("Enter")
    page.wait_for_selector("#ws-summary:not([hidden])")
    assert "3 questions need an answer" in page.inner_text("#ws-summary")
    assert "This question is required." in page.inner_text("#cell-q-quality-A")
    assert not Annotation.objects.exists()
    screenshot(page, "annotate-required-messages")

    # Reload mid-item: the draft comes back.
    page.keyboard.press("3")
    page.keyboard.press("y")
    page.wait_for_timeout(300)
    page.reload()
    page.wait_for_selector("#ws-draft-note:not([hidden])")
    assert page.is_checked("input[name='q-quality.A'][value='3']")
    assert page.is_checked("input[name='q-has_error.A'][value='true']")
    assert handle_on_screen(page) == handle
    page.keyboard.press("Tab")  # focus returns to the first open question (register)
    page.keyboard.press("Shift+Tab")

    # Five single items by keyboard (the first one already half done).
    for n in range(5):
        if n:
            page.keyboard.press(str(1 + n % 5))  # quality
            page.keyboard.press("n" if n % 2 else "y")  # factual error
        page.wait_for_function(
            "() => document.activeElement && document.activeElement.id === 'cell-q-register'"
        )
        page.keyboard.press("2")  # register: casual
        page.keyboard.press("1")  # issues: too long (multi-choice toggles, stays)
        page.keyboard.press("Tab")  # to confidence
        page.keyboard.type("80")
        page.keyboard.press("Tab")  # to the note
        page.keyboard.type("fine")
        if n == 0:
            page.evaluate("window.scrollTo(0, 0)")
            screenshot(page, "annotate-single-wide")
        page.keyboard.press("Control+Enter")
        handle = wait_for_next_item(page, handle)
    assert Annotation.objects.filter(annotator=me).count() == 5
    first = Annotation.objects.filter(annotator=me).order_by("submitted_at").first()
    assert first.answers["quality"] == {"A": 3} and first.answers["has_error"] == {"A": True}
    assert first.answers["issues"] == ["long"] and first.answers["confidence"] == 80
    assert first.answers["note"] == "fine" and first.answers["register"] == "casual"
    for annotation in Annotation.objects.filter(annotator=me):
        wall = (annotation.submitted_at - annotation.served_at).total_seconds()
        assert 0 < annotation.active_seconds <= wall + 1e-6
        assert annotation.client_active_seconds is not None

    # Skip one (S, reason 2, Enter) and flag one (F, reason 1, Enter).
    page.keyboard.press("s")
    page.wait_for_selector("#ws-skip[open]")
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    skipped = handle
    handle = wait_for_next_item(page, handle)
    page.keyboard.press("f")
    page.wait_for_selector("#ws-flag[open]")
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    flagged = handle
    handle = wait_for_next_item(page, handle)
    assert Assignment.objects.get(handle=skipped).status == AssignmentStatus.SKIPPED
    assert Assignment.objects.get(handle=flagged).status == AssignmentStatus.FLAGGED
    assert Assignment.objects.get(handle=flagged).flag_reason == "broken"

    after_single = earned_total(page)
    assert after_single == "$2.50"

    # Five pairwise items: A/B/T, then strength, then each response's quality.
    page.goto(f"/annotate/t/{world['pairwise'].public_id}/")
    page.wait_for_selector("text=I have read the guidelines")
    page.wait_for_function(
        "() => document.activeElement && document.activeElement.dataset.wsAutofocus !== undefined"
    )
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Start annotating")
    page.wait_for_function(
        "() => document.activeElement && document.activeElement.dataset.wsAutofocus !== undefined"
    )
    page.keyboard.press("Enter")
    page.wait_for_selector("#ws-form")
    page.wait_for_function(
        "() => document.activeElement && document.activeElement.closest('.ws-cell')"
    )
    handle = handle_on_screen(page)
    choices = ["a", "b", "t", "a", "b"]
    for n, key in enumerate(choices):
        page.keyboard.press(key)
        if key != "t":
            page.keyboard.press("2")  # clearly
        page.keyboard.press("4")  # quality A
        page.keyboard.press("3")  # quality B
        if n == 0:
            page.wait_for_timeout(2200)  # some active time, so per-hour pay shows
            assert page.inner_text("[data-ws-timer]") != "0:00"  # the visible-tab clock runs
            page.evaluate("window.scrollTo(0, 0)")
            screenshot(page, "annotate-pairwise-wide")
            page.set_viewport_size({"width": 390, "height": 844})
            page.evaluate("window.scrollTo(0, 0)")
            screenshot(page, "annotate-pairwise-narrow")
            columns = page.eval_on_selector(
                ".ws-responses", "el => getComputedStyle(el).gridTemplateColumns.split(' ').length"
            )
            assert columns == 1  # stacked on a phone
            page.set_viewport_size({"width": 1280, "height": 900})
            columns = page.eval_on_selector(
                ".ws-responses", "el => getComputedStyle(el).gridTemplateColumns.split(' ').length"
            )
            assert columns == 2  # side by side
        page.keyboard.press("Enter")
        handle = wait_for_next_item(page, handle)
    pairwise = Annotation.objects.filter(annotator=me, task_pool__task=world["pairwise"])
    assert pairwise.count() == 5
    prefs = sorted(
        (a.answers["preference"]["choice"], a.answers["preference"]["strength"]) for a in pairwise
    )
    assert prefs == sorted(
        [("A", "clearly"), ("B", "clearly"), ("tie", None), ("A", "clearly"), ("B", "clearly")]
    )
    assert all(a.answers["quality"] == {"A": 4, "B": 3} for a in pairwise)

    after_pairwise = earned_total(page)
    assert after_pairwise != after_single  # per-hour pay for active time was added
    assert Annotation.objects.filter(annotator=me).count() == 10
    assert not [e for e in page.console_errors if "status of 4" not in e]
