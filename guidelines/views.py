"""The lead's guideline pages and the annotator's reading page (htmx, function-based)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from common.exceptions import AccessDenied, ApplicationError
from common.http import AuthenticatedHttpRequest
from common.models import Project, ProjectRole
from common.selectors import project_roles_for_user
from common.views import project_view
from guidelines.forms import (
    GuidelineCreateForm,
    VersionEditForm,
    answers_from_post,
    question_widgets,
)
from guidelines.markdown import render_markdown
from guidelines.models import GuidelineVersion
from guidelines.rubric import response_letters, rubric_normalize, rubric_to_json, rubric_to_yaml
from guidelines.selectors import (
    guideline_get,
    guideline_list,
    guideline_version_annotator_view,
    guideline_version_diff,
    guideline_version_for_actor,
    guideline_version_get,
    guideline_version_latest_published,
    guideline_versions,
    guideline_versions_for_annotator,
)
from guidelines.services import (
    guideline_create,
    guideline_version_acknowledge,
    guideline_version_create_draft,
    guideline_version_errors,
    guideline_version_publish,
    guideline_version_update_draft,
    quiz_attempt_submit,
)

AUTHORS = [ProjectRole.LEAD, ProjectRole.RESEARCHER]
LEAD = [ProjectRole.LEAD]
EVERYONE = ProjectRole.values
N_OUTPUTS = {"single": 1, "pairwise": 2, "ranking": 3}
SNIPPETS = [
    "likert",
    "binary",
    "single_choice",
    "multi_choice",
    "numeric",
    "pairwise",
    "ranking",
    "text",
]


def _template(request: AuthenticatedHttpRequest, page: str, partial: str) -> str:
    return f"{page}#{partial}" if request.htmx else page


def _version(project: Project, guideline_id: int, number: int) -> GuidelineVersion:
    return guideline_version_get(
        guideline=guideline_get(project=project, guideline_id=guideline_id), number=number
    )


def _preview(version: GuidelineVersion, prose: str, rubric: Any, errors: list) -> dict[str, Any]:
    """Context for the editor's preview: prose as annotators see it, each question's
    input as it will look, and every validation problem."""
    n = N_OUTPUTS[version.guideline.mode]
    widgets = question_widgets(rubric, prefix="preview-", n_outputs=n) if not errors else []
    return {"prose_html": render_markdown(prose), "widgets": widgets, "errors": errors}


@project_view(EVERYONE)
def guideline_list_page(request: AuthenticatedHttpRequest, project: Project) -> HttpResponse:
    roles = project_roles_for_user(actor=request.user, project=project)
    is_lead = ProjectRole.LEAD in roles
    form = GuidelineCreateForm(request.POST or None)
    if request.method == "POST":
        if not is_lead:
            raise AccessDenied("Only leads create guidelines.")
        if form.is_valid():
            try:
                guideline = guideline_create(
                    actor=request.user, project=project, **form.cleaned_data
                )
            except ApplicationError as exc:
                form.add_error("name", exc.message)
            else:
                return redirect("guideline-edit", project.slug, guideline.pk, 1)
    context: dict[str, Any] = {"project": project, "form": form, "is_lead": is_lead}
    if roles & set(AUTHORS):
        context["guidelines"] = guideline_list(project=project)
    else:
        context["readable"] = guideline_versions_for_annotator(actor=request.user, project=project)
    return render(request, "guidelines/list.html", context)


@project_view(AUTHORS)
def guideline_detail_page(
    request: AuthenticatedHttpRequest, project: Project, guideline_id: int
) -> HttpResponse:
    guideline = guideline_get(project=project, guideline_id=guideline_id)
    versions = list(guideline_versions(guideline=guideline))
    context = {
        "project": project,
        "guideline": guideline,
        "versions": versions,
        "draft": next((v for v in versions if v.status == "draft"), None),
        "is_lead": ProjectRole.LEAD in project_roles_for_user(actor=request.user, project=project),
    }
    return render(request, "guidelines/detail.html", context)


@require_POST
@project_view(LEAD)
def guideline_revise(
    request: AuthenticatedHttpRequest, project: Project, guideline_id: int
) -> HttpResponse:
    guideline = guideline_get(project=project, guideline_id=guideline_id)
    draft = guideline_version_create_draft(actor=request.user, guideline=guideline)
    return redirect("guideline-edit", project.slug, guideline.pk, draft.number)


@project_view(AUTHORS)
def guideline_version_page(
    request: AuthenticatedHttpRequest, project: Project, guideline_id: int, number: int
) -> HttpResponse:
    version = _version(project, guideline_id, number)
    context = {
        "project": project,
        "version": version,
        "guideline": version.guideline,
        **_preview(version, version.prose, version.rubric, []),
    }
    return render(request, "guidelines/version.html", context)


@project_view(AUTHORS)
def guideline_rubric_export(
    request: AuthenticatedHttpRequest, project: Project, guideline_id: int, number: int, fmt: str
) -> HttpResponse:
    if fmt not in ("yaml", "json"):
        raise Http404("Export as .yaml or .json.")
    version = _version(project, guideline_id, number)
    text = rubric_to_json(version.rubric) if fmt == "json" else rubric_to_yaml(version.rubric)
    response = HttpResponse(text, content_type=f"application/{fmt}; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="rubric-v{number}.{fmt}"'
    return response


def _preview_errors(version: GuidelineVersion, form: VersionEditForm) -> tuple[list, list]:
    """The normalized rubric and every problem with the posted content, without saving."""
    if not form.is_valid():
        # Parse errors go in the preview too: htmx does not swap error responses.
        problems = [
            {"section": name.removesuffix("_text"), "field": name, "message": message}
            for name, messages_ in form.errors.items()
            for message in messages_
        ]
        return [], problems
    data = form.cleaned_data
    rubric = rubric_normalize(data["rubric"])
    errors = guideline_version_errors(
        mode=version.guideline.mode, rubric=rubric, examples=data["examples"], quiz=data["quiz"]
    )
    return rubric, errors


@project_view(LEAD)
def guideline_edit_page(
    request: AuthenticatedHttpRequest, project: Project, guideline_id: int, number: int
) -> HttpResponse:
    """GET the editor; POST saves; an htmx POST with `preview` only renders the preview."""
    version = _version(project, guideline_id, number)
    if version.is_published:
        messages.info(request, f"Version {number} is published; revise to edit a new draft.")
        return redirect("guideline-detail", project.slug, guideline_id)
    form = VersionEditForm(request.POST or None, initial=VersionEditForm.initial_for(version))
    context: dict[str, Any] = {"project": project, "version": version, "form": form}
    context["snippet_types"] = SNIPPETS
    if request.method == "POST" and request.htmx and "preview" in request.POST:
        rubric, errors = _preview_errors(version, form)
        context.update(_preview(version, request.POST.get("prose", ""), rubric, errors))
        return render(request, "guidelines/edit.html#preview", context)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        fields = ("prose", "rubric", "examples", "quiz", "changelog")
        try:
            guideline_version_update_draft(
                actor=request.user, version=version, **{name: data[name] for name in fields}
            )
        except ApplicationError as exc:
            context.update(_preview(version, data["prose"], [], exc.extra.get("errors", [])))
            context["save_error"] = exc.message
            return render(request, "guidelines/edit.html", context, status=400)
        messages.success(request, f"Draft v{number} saved.")
        return redirect("guideline-edit", project.slug, guideline_id, number)
    context.update(_preview(version, version.prose, version.rubric, []))
    return render(request, "guidelines/edit.html", context, status=400 if form.errors else 200)


@project_view(LEAD)
def guideline_publish_page(
    request: AuthenticatedHttpRequest, project: Project, guideline_id: int, number: int
) -> HttpResponse:
    """GET asks for confirmation, showing the diff against the last published version."""
    version = _version(project, guideline_id, number)
    context: dict[str, Any] = {"project": project, "version": version}
    if request.method == "POST":
        try:
            guideline_version_publish(
                actor=request.user, version=version, changelog=request.POST.get("changelog")
            )
        except ApplicationError as exc:
            context["error"] = exc.message
            context["errors"] = exc.extra.get("errors", [])
        else:
            messages.success(request, f"Version {number} published.")
            return redirect("guideline-detail", project.slug, guideline_id)
    previous = guideline_version_latest_published(guideline=version.guideline)
    if previous is not None and previous.pk != version.pk:
        context["diff"] = guideline_version_diff(old=previous, new=version)
    status = 400 if "error" in context else 200
    return render(request, "guidelines/publish.html", context, status=status)


@project_view(AUTHORS)
def guideline_diff_page(
    request: AuthenticatedHttpRequest, project: Project, guideline_id: int
) -> HttpResponse:
    guideline = guideline_get(project=project, guideline_id=guideline_id)
    numbers = list(guideline_versions(guideline=guideline).values_list("number", flat=True))
    try:
        a = int(request.GET.get("a") or (numbers[1] if len(numbers) > 1 else numbers[0]))
        b = int(request.GET.get("b") or numbers[0])
    except (ValueError, IndexError):
        return HttpResponse("Choose two versions.", status=400)
    diff = guideline_version_diff(
        old=guideline_version_get(guideline=guideline, number=a),
        new=guideline_version_get(guideline=guideline, number=b),
    )
    context = {
        "project": project,
        "guideline": guideline,
        "numbers": numbers,
        "a": a,
        "b": b,
        "diff": diff,
    }
    return render(request, _template(request, "guidelines/diff.html", "diff"), context)


# ---- annotators ---------------------------------------------------------------------


def _lettered(outputs: list[str]) -> list[tuple[str, str]]:
    return list(zip(response_letters(len(outputs)), map(render_markdown, outputs), strict=True))


def _read_context(
    request: AuthenticatedHttpRequest, project: Project, version: GuidelineVersion
) -> dict:
    view = guideline_version_annotator_view(actor=request.user, version=version)
    n = N_OUTPUTS[version.guideline.mode]
    quiz_items = [
        {
            **item,
            "prompt_html": render_markdown(item["prompt"]),
            "outputs_html": _lettered(item["outputs"]),
            "widgets": question_widgets(
                view.rubric, prefix=f"quiz-{item['id']}-", n_outputs=len(item["outputs"])
            ),
        }
        for item in view.quiz.get("items", [])
    ]
    examples = [{**ex, "outputs_html": _lettered(ex.get("outputs", []))} for ex in view.examples]
    return {
        "project": project,
        "version": version,
        "view": view,
        "examples": examples,
        "quiz_items": quiz_items,
        "widgets": question_widgets(view.rubric, prefix="preview-", n_outputs=n),
    }


def _readable_version(
    request: AuthenticatedHttpRequest, project: Project, gid: int, n: int
) -> GuidelineVersion:
    # AccessDenied becomes the 403 page in common.errors.DomainErrorMiddleware.
    return guideline_version_for_actor(
        actor=request.user, project=project, guideline_id=gid, number=n
    )


@project_view(EVERYONE)
def guideline_read_page(
    request: AuthenticatedHttpRequest, project: Project, guideline_id: int, number: int
) -> HttpResponse:
    version = _readable_version(request, project, guideline_id, number)
    context = _read_context(request, project, version)
    return render(request, "guidelines/read.html", context)


@require_POST
@project_view(EVERYONE)
def guideline_acknowledge(
    request: AuthenticatedHttpRequest, project: Project, guideline_id: int, number: int
) -> HttpResponse:
    version = _readable_version(request, project, guideline_id, number)
    guideline_version_acknowledge(actor=request.user, version=version)
    context = _read_context(request, project, version)
    if not request.htmx:
        return redirect("guideline-read", project.slug, guideline_id, number)
    return render(request, "guidelines/read.html#ack", context)


@require_POST
@project_view(EVERYONE)
def guideline_quiz(
    request: AuthenticatedHttpRequest, project: Project, guideline_id: int, number: int
) -> HttpResponse:
    version = _readable_version(request, project, guideline_id, number)
    context = _read_context(request, project, version)
    answers = {
        item["id"]: answers_from_post(
            version.rubric,
            request.POST,
            prefix=f"quiz-{item['id']}-",
            n_outputs=len(item["outputs"]),
        )
        for item in context["quiz_items"]
    }
    status = 200
    try:
        context["attempt"] = quiz_attempt_submit(
            actor=request.user, version=version, answers=answers
        )
        context.update(_read_context(request, project, version))
    except AccessDenied:
        raise  # the 403 page, not a quiz error
    except ApplicationError as exc:
        context["quiz_error"] = exc.message
        context["quiz_errors"] = exc.extra.get("errors", {})
        # htmx swaps only successful responses; the full-page form gets a real 400.
        status = 200 if request.htmx else 400
    return render(
        request, _template(request, "guidelines/read.html", "quiz"), context, status=status
    )
