"""The annotator's workspace (issue 5): home, onboarding, the keyboard-driven annotate
page, the guideline side panel and earnings.

Function-based htmx views: annotation/workspace/task.html holds the `workspace`
partial, and every action (next, submit, skip, flag, acknowledge, quiz) answers an
htmx request with that partial for the new state, so the page never reloads. Without
htmx the same URLs redirect back to the page (post/redirect/get).

Annotator data comes only from annotation.selectors_annotator (blinded items) and
annotation.selectors_pay; templates get plain dicts, never model instances.
"""

from __future__ import annotations

import math
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_GET, require_POST

from annotation.models import Assignment, FlagReason, Task
from annotation.selectors_annotator import (
    annotator_completion,
    assignment_current_for_annotator,
    assignment_get_for_annotator,
    assignment_item,
    guideline_clearance_for_task,
    task_get_for_annotator,
)
from annotation.selectors_pay import (
    annotator_earnings,
    annotator_task_earned,
    annotator_task_overview,
    pay_currency,
)
from annotation.services.assignment import (
    GuidelineNotCleared,
    assignment_claim,
    task_pool_worker_complete,
)
from annotation.services.pay import annotation_submit_timed
from annotation.services.submission import (
    AnswersInvalid,
    LeaseLost,
    assignment_flag,
    assignment_skip,
)
from common.exceptions import AccessDenied, ApplicationError
from common.http import AuthenticatedHttpRequest
from guidelines.forms import answers_from_post
from guidelines.markdown import render_markdown
from guidelines.rubric import response_letters

PAGE = "annotation/workspace/task.html"
PREFIX = "q-"
N_OUTPUTS = {"single": 1, "pairwise": 2, "ranking": 3}
SKIP_REASONS = [
    ("cannot_judge", "I cannot judge this item"),
    ("expertise", "Outside my expertise"),
    ("unreadable", "Too long or unreadable for me"),
]
LEASE_LOST = (
    "Your time on the previous item ran out and it went back to the queue, so those "
    "answers were not saved. Here is your next item."
)

# ---- rubric questions as keyboard widgets ----------------------------------------


def _choice_keys(values: list[Any]) -> list[str]:
    """Keyboard keys for a scale: the value itself when every value is one digit,
    otherwise 1, 2, … 9, 0 by position (points past the tenth get no key)."""
    if all(isinstance(v, int) and 0 <= v <= 9 for v in values):
        return [str(v) for v in values]
    return [str((i + 1) % 10) if i < 10 else "" for i in range(len(values))]


def _choices(q: dict[str, Any]) -> list[dict[str, str]]:
    qtype = q["type"]
    if qtype == "likert":
        anchors = q.get("anchors") or {}
        values = list(range(q["min"], q["max"] + 1))
        return [
            {"value": str(v), "label": anchors.get(str(v), ""), "keys": k, "hint": k}
            for v, k in zip(values, _choice_keys(values), strict=True)
        ]
    if qtype == "binary":
        return [
            {"value": "true", "label": "Yes", "keys": "y 1", "hint": "Y"},
            {"value": "false", "label": "No", "keys": "n 2", "hint": "N"},
        ]
    if qtype in ("single_choice", "multi_choice"):
        options = q.get("options") or []
        keys = _choice_keys(list(range(1, len(options) + 1)))
        return [
            {"value": o["value"], "label": o["label"], "keys": k, "hint": k}
            for o, k in zip(options, keys, strict=True)
        ]
    if qtype == "pairwise":
        choices = [{"value": "A", "label": "A is better", "keys": "a", "hint": "A"}]
        if q.get("allow_tie"):
            choices.append({"value": "tie", "label": "Tie", "keys": "t", "hint": "T"})
        choices.append({"value": "B", "label": "B is better", "keys": "b", "hint": "B"})
        return choices
    return []


def _cell_value(q: dict[str, Any], value: Any) -> Any:
    """An answer as the template compares it: strings (lists for multi-choice)."""
    if value is None:
        return None if q["type"] not in ("multi_choice",) else []
    if q["type"] == "binary" and isinstance(value, bool):
        return "true" if value else "false"
    if q["type"] == "multi_choice":
        return [str(v) for v in value] if isinstance(value, list) else []
    if q["type"] == "pairwise":
        return value if isinstance(value, dict) else {}
    if q["type"] == "ranking":
        return value if isinstance(value, list) else []
    return str(value)


def question_cells(
    questions: list[dict[str, Any]],
    *,
    prefix: str,
    n_outputs: int,
    answers: dict[str, Any] | None = None,
    errors: dict[str, list[str]] | None = None,
    enforce_required: bool = True,
) -> tuple[list[dict[str, Any]], list[str]]:
    """Each question with its input cells (one per shown response for a per-output
    question), the keys that answer it, its current value and its errors.

    Returns (widgets, errors that belong to no cell). Input names are those
    guidelines.forms.answers_from_post reads back: "<prefix><key>" or "<prefix><key>.<A>".
    """
    answers = answers or {}
    errors = dict(errors or {})
    letters = response_letters(n_outputs)
    positions = [str(p) for p in range(1, n_outputs + 1)]
    widgets = []
    for q in questions:
        if q["type"] in ("pairwise",) and n_outputs != 2:
            continue
        if q["type"] == "ranking" and n_outputs < 2:
            continue
        targets: list[str | None] = [None] if q["scope"] == "per_unit" else list(letters)
        given = answers.get(q["key"])
        cells = []
        for letter in targets:
            field = q["key"] + (f".{letter}" if letter else "")
            raw = given.get(letter) if letter and isinstance(given, dict) else given
            value = _cell_value(q, raw)
            cell = {
                "letter": letter,
                "name": prefix + field,
                "id": "cell-" + prefix + field.replace(".", "-"),
                "value": value,
                "errors": errors.pop(field, []),
            }
            if q["type"] == "ranking":
                order = [x for x in value if x in letters] + [x for x in letters if x not in value]
                cell["rank_items"] = [
                    {
                        "letter": x,
                        "position": str(value.index(x) + 1) if x in value else "",
                    }
                    for x in order
                ]
            cells.append(cell)
        widgets.append(
            {
                "q": q,
                "required": bool(q.get("required")) and enforce_required,
                "cells": cells,
                "choices": _choices(q),
                "strength": [
                    {"value": s, "keys": str(i + 1), "hint": str(i + 1)}
                    for i, s in enumerate(q.get("strength_levels") or [])
                ]
                if q["type"] == "pairwise" and q.get("strength")
                else [],
                "positions": positions,
            }
        )
    leftover = [
        f"{field}: {' '.join(msgs)}" if field != "__all__" else " ".join(msgs)
        for field, msgs in errors.items()
    ]
    return widgets, leftover


# ---- states of the workspace -----------------------------------------------------


# Domain errors (AccessDenied, NotFound) that views let through become the 403/404
# pages in common.errors.DomainErrorMiddleware.


def _task(request: AuthenticatedHttpRequest, public_id: str) -> Task:
    return task_get_for_annotator(actor=request.user, public_id=public_id)


def _assignment(request: AuthenticatedHttpRequest, handle: str) -> Assignment:
    return assignment_get_for_annotator(actor=request.user, handle=handle)


def _ms(moment: Any) -> int:
    return int(moment.timestamp() * 1000)


def item_state(
    request: AuthenticatedHttpRequest,
    assignment: Assignment,
    *,
    answers: dict[str, Any] | None = None,
    errors: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    item = assignment_item(actor=request.user, assignment=assignment)
    n = len(item["responses"])
    widgets, form_errors = question_cells(
        item["rubric"], prefix=PREFIX, n_outputs=n, answers=answers, errors=errors
    )
    return {
        "state": "item",
        "item": item,
        "prompt_html": render_markdown(item["prompt"]),
        "responses": [
            {"label": r["label"], "html": render_markdown(r["text"])} for r in item["responses"]
        ],
        "questions": widgets,
        "form_errors": form_errors,
        "skip_reasons": SKIP_REASONS,
        "flag_reasons": FlagReason.choices,
        "lease_expires_ms": _ms(item["lease_expires_at"]),
        "server_now_ms": _ms(timezone.now()),
        "earned": annotator_task_earned(actor=request.user, task=assignment.task_pool.task),
    }


def onboarding_state(
    request: AuthenticatedHttpRequest, task: Task, **extra: Any
) -> dict[str, Any] | None:
    """The guideline, acknowledgement and quiz steps, or None when the annotator is cleared."""
    from guidelines.selectors import guideline_version_annotator_view

    clearance = guideline_clearance_for_task(actor=request.user, task=task)
    if clearance.cleared:
        return None
    view = guideline_version_annotator_view(actor=request.user, version=task.guideline_version)
    quiz_items = []
    if clearance.quiz_required and view.acknowledged_at and not view.quiz_passed:
        quiz_errors = extra.get("quiz_errors") or {}
        for item in view.quiz.get("items", []):
            widgets, _ = question_cells(
                view.rubric,
                prefix=f"quiz-{item['id']}-",
                n_outputs=len(item["outputs"]),
                enforce_required=False,  # a quiz grades only some questions
                errors={
                    k.split(".", 1)[1]: v
                    for k, v in quiz_errors.items()
                    if k.startswith(f"{item['id']}.")
                },
            )
            quiz_items.append(
                {
                    "prompt_html": render_markdown(item["prompt"]),
                    "outputs": _lettered(item["outputs"]),
                    "questions": widgets,
                }
            )
    preview, _ = question_cells(
        view.rubric,
        prefix="preview-",
        n_outputs=N_OUTPUTS.get(view.mode, 1),
        enforce_required=False,
    )
    return {
        "state": "onboarding",
        "clearance": clearance,
        "view": view,
        "examples": _examples(view.examples),
        "preview": preview,
        "quiz_items": quiz_items,
        **extra,
    }


def _lettered(outputs: list[str]) -> list[dict[str, str]]:
    return (
        [
            {"label": letter, "html": render_markdown(text)}
            for letter, text in zip(response_letters(len(outputs)), outputs, strict=True)
        ]
        if outputs
        else []
    )


def _examples(examples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "title": ex.get("title", ""),
            "prompt_html": ex.get("prompt_html") or render_markdown(ex.get("prompt", "")),
            "outputs": _lettered(ex.get("outputs", [])),
            "answers": ex.get("answers", {}),
            "explanation": ex.get("explanation", ""),
        }
        for ex in examples
    ]


def idle_state(request: AuthenticatedHttpRequest, task: Task) -> dict[str, Any]:
    """No live lease: onboarding if needed, else ready to start (or done)."""
    onboarding = onboarding_state(request, task)
    if onboarding is not None:
        return onboarding
    completion = annotator_completion(actor=request.user, task=task)
    if completion["done"]:
        return {"state": "done", "completion": completion}
    return {"state": "ready", "progress": completion["progress"]}


def next_state(request: AuthenticatedHttpRequest, task: Task) -> dict[str, Any]:
    """Claim the next item (or keep the live one) and describe what to show."""
    try:
        assignment = assignment_claim(actor=request.user, task=task)
    except GuidelineNotCleared:
        return onboarding_state(request, task) or {"state": "ready"}
    except AccessDenied:
        raise  # the 403 page, not a "paused" notice
    except ApplicationError as exc:
        return {"state": "paused", "message": exc.message}
    if assignment is None:
        task_pool_worker_complete(actor=request.user, task=task)
        completion = annotator_completion(actor=request.user, task=task)
        return {"state": "done" if completion["done"] else "empty", "completion": completion}
    return item_state(request, assignment)


def render_workspace(
    request: AuthenticatedHttpRequest, task: Task, state: dict[str, Any], *, status: int = 200
) -> HttpResponse:
    context = {
        "task": {
            "public_id": task.public_id,
            "title": task.title,
            "description": task.description,
            "mode": task.mode,
            "status": task.status,
        },
        "currency": pay_currency(),
        **state,
    }
    template = f"{PAGE}#workspace" if request.htmx else PAGE
    return render(request, template, context, status=status)


def _finish(
    request: AuthenticatedHttpRequest,
    task: Task,
    *,
    notice: str = "",
    dropped: str = "",
    status: int = 200,
) -> HttpResponse:
    """After an item is finished: claim the next one and show it in place (htmx), or
    redirect to the page, which shows the lease just claimed (or the done page)."""
    state = next_state(request, task)
    if not request.htmx:
        if notice:
            messages.warning(request, notice)
        return redirect("annotate-task", public_id=task.public_id)
    return render_workspace(
        request, task, {**state, "notice": notice, "dropped": dropped}, status=status
    )


# ---- pages -----------------------------------------------------------------------


@require_GET
@login_required
def annotate_home(request: AuthenticatedHttpRequest) -> HttpResponse:
    tasks = annotator_task_overview(actor=request.user)
    return render(
        request, "annotation/workspace/home.html", {"tasks": tasks, "currency": pay_currency()}
    )


@require_GET
@login_required
def annotate_earnings(request: AuthenticatedHttpRequest) -> HttpResponse:
    earnings = annotator_earnings(actor=request.user)
    return render(request, "annotation/workspace/earnings.html", {"earnings": earnings})


@require_GET
@login_required
def annotate_task_page(request: AuthenticatedHttpRequest, public_id: str) -> HttpResponse:
    task = _task(request, public_id)
    current = assignment_current_for_annotator(actor=request.user, task=task)
    state = item_state(request, current) if current else idle_state(request, task)
    return render_workspace(request, task, state)


@require_GET
@login_required
def annotate_guide(request: AuthenticatedHttpRequest, public_id: str) -> HttpResponse:
    """The task's guideline and worked examples; htmx loads it into the side panel."""
    from guidelines.selectors import guideline_version_annotator_view

    task = _task(request, public_id)
    view = guideline_version_annotator_view(actor=request.user, version=task.guideline_version)
    context = {
        "task": {"public_id": task.public_id, "title": task.title},
        "view": view,
        "examples": _examples(view.examples),
    }
    template = "annotation/workspace/guide.html"
    return render(request, f"{template}#guide" if request.htmx else template, context)


# ---- actions ---------------------------------------------------------------------


@require_POST
@login_required
def annotate_next(request: AuthenticatedHttpRequest, public_id: str) -> HttpResponse:
    task = _task(request, public_id)
    if not request.htmx:
        state = next_state(request, task)
        if state["state"] == "paused":
            messages.error(request, state["message"])
        return redirect("annotate-task", public_id=public_id)
    return render_workspace(request, task, next_state(request, task))


@require_POST
@login_required
def annotate_acknowledge(request: AuthenticatedHttpRequest, public_id: str) -> HttpResponse:
    from guidelines.services import guideline_version_acknowledge

    task = _task(request, public_id)
    guideline_version_acknowledge(actor=request.user, version=task.guideline_version)
    if not request.htmx:
        return redirect("annotate-task", public_id=public_id)
    return render_workspace(request, task, idle_state(request, task))


@require_POST
@login_required
def annotate_quiz(request: AuthenticatedHttpRequest, public_id: str) -> HttpResponse:
    from guidelines.services import quiz_attempt_submit

    task = _task(request, public_id)
    version = task.guideline_version
    answers = {
        item["id"]: answers_from_post(
            version.rubric,
            request.POST,
            prefix=f"quiz-{item['id']}-",
            n_outputs=len(item["outputs"]),
        )
        for item in (version.quiz or {}).get("items", [])
    }
    try:
        attempt = quiz_attempt_submit(actor=request.user, version=version, answers=answers)
    except AccessDenied:
        raise  # the 403 page, not a quiz error
    except ApplicationError as exc:
        state = onboarding_state(
            request, task, quiz_error=exc.message, quiz_errors=exc.extra.get("errors", {})
        ) or idle_state(request, task)
        return render_workspace(request, task, state, status=400)
    result = {"score": attempt.score, "passed": attempt.passed, "attempt": attempt.attempt}
    onboarding = onboarding_state(request, task, quiz_result=result)
    state = onboarding or {**idle_state(request, task), "quiz_result": result}
    return render_workspace(request, task, state)


def _timing(post: QueryDict) -> dict[str, Any]:
    """The browser's timing fields; anything malformed is dropped, not an error."""
    try:
        seconds: float | None = float(post.get("active_seconds", ""))
    except ValueError:
        seconds = None
    if seconds is not None and not (math.isfinite(seconds) and seconds >= 0):
        seconds = None
    first = (
        parse_datetime(post.get("first_interaction_at", "") or "")
        if post.get("first_interaction_at")
        else None
    )
    if first is not None and timezone.is_naive(first):
        first = None
    return {
        "client_active_seconds": seconds,
        "client_first_interaction_at": first,
        "submission_token": post.get("submission_token", "")[:64],
    }


@require_POST
@login_required
def annotate_submit(request: AuthenticatedHttpRequest, handle: str) -> HttpResponse:
    assignment = _assignment(request, handle)
    task = assignment.task_pool.task
    if task.guideline_version_id == assignment.guideline_version_id:
        task.guideline_version = assignment.guideline_version  # already loaded: no query
    answers = answers_from_post(
        assignment.guideline_version.rubric,
        request.POST,
        prefix=PREFIX,
        n_outputs=len(assignment.shown_order),
    )
    try:
        annotation_submit_timed(
            actor=request.user, handle=handle, answers=answers, **_timing(request.POST)
        )
    except AnswersInvalid as exc:
        state = item_state(request, assignment, answers=answers, errors=exc.extra.get("errors"))
        return render_workspace(request, task, state, status=400)
    except LeaseLost:
        return _finish(request, task, notice=LEASE_LOST, dropped=handle, status=409)
    except ApplicationError as exc:
        return _finish(request, task, notice=exc.message, dropped=handle, status=409)
    return _finish(request, task, dropped=handle)


@require_POST
@login_required
def annotate_skip(request: AuthenticatedHttpRequest, handle: str) -> HttpResponse:
    assignment = _assignment(request, handle)
    reasons = dict(SKIP_REASONS)
    choice = request.POST.get("reason", "")
    reason = (
        request.POST.get("reason_other", "").strip()
        if choice == "other"
        else reasons.get(choice, choice)
    )
    try:
        assignment_skip(actor=request.user, handle=handle, reason=reason)
    except LeaseLost:
        return _finish(
            request, assignment.task_pool.task, notice=LEASE_LOST, dropped=handle, status=409
        )
    except ApplicationError as exc:
        return _refused(request, assignment, exc)
    return _finish(request, assignment.task_pool.task, dropped=handle)


@require_POST
@login_required
def annotate_flag(request: AuthenticatedHttpRequest, handle: str) -> HttpResponse:
    assignment = _assignment(request, handle)
    try:
        assignment_flag(
            actor=request.user,
            handle=handle,
            reason=request.POST.get("reason", ""),
            note=request.POST.get("note", ""),
        )
    except LeaseLost:
        return _finish(
            request, assignment.task_pool.task, notice=LEASE_LOST, dropped=handle, status=409
        )
    except ApplicationError as exc:
        return _refused(request, assignment, exc)
    return _finish(request, assignment.task_pool.task, dropped=handle)


def _refused(
    request: AuthenticatedHttpRequest, assignment: Assignment, exc: ApplicationError
) -> HttpResponse:
    """A skip or flag without a valid reason: the same item again, with the message."""
    task = assignment.task_pool.task
    if not request.htmx:
        messages.error(request, exc.message)
        return redirect("annotate-task", public_id=task.public_id)
    state = item_state(request, assignment)
    return render_workspace(request, task, {**state, "notice": exc.message}, status=400)
