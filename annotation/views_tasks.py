"""Server-rendered pages for tasks: the lead's task pages and the crowd entry link.

The annotator's pages live in annotation/views_workspace.py.
"""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.http import HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from annotation.models import FlagResolution, Pairing, PayMode, TaskMode, TaskPool
from annotation.selectors import (
    CROWD_LINK_QUERY,
    blinding_flag_get,
    guideline_version_for_task,
    pool_get,
    pool_list,
    prompt_pks_for_external_ids,
    task_blinding_flags,
    task_flagged_assignments,
    task_form_choices,
    task_get,
    task_list,
    task_progress,
)
from annotation.selectors_annotator import (
    crowd_link_worker_limit,
    crowd_link_workers_joined,
    crowd_worker_account,
    task_pool_by_entry_token,
)
from annotation.services.blinding import blinding_check_run, blinding_flag_resolve
from annotation.services.tasks import (
    crowd_worker_enter,
    crowd_worker_id_check,
    crowd_worker_username,
    task_close,
    task_create,
    task_launch,
    task_pause,
    task_pool_add,
    task_pool_max_workers_set,
)
from common.exceptions import AccessDenied, ApplicationError
from common.http import AuthenticatedHttpRequest, HtmxHttpRequest
from common.models import Project, ProjectRole
from common.ratelimit import client_address, rate_limit_allow
from common.views import project_view

# -- lead pages -----------------------------------------------------------------


class TaskCreateForm(forms.Form):
    title = forms.CharField(max_length=200)
    slug = forms.SlugField(
        max_length=80, required=False, help_text="How researchers and commands name it."
    )
    guideline_version = forms.TypedChoiceField(coerce=int, help_text="Published versions only.")
    mode = forms.ChoiceField(choices=TaskMode.choices)
    systems = forms.TypedMultipleChoiceField(
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked means every system.",
    )
    prompt_ids = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Prompt ids from the import file, one per line; empty means every prompt.",
    )
    pairing = forms.ChoiceField(choices=Pairing.choices, initial=Pairing.ALL_PAIRS)
    pairs_per_prompt = forms.IntegerField(required=False, min_value=1)
    pay_per_item = forms.DecimalField(max_digits=8, decimal_places=2, initial=0, min_value=0)
    pay_mode = forms.ChoiceField(choices=PayMode.choices)
    lease_seconds = forms.IntegerField(initial=900, min_value=30)


class TaskPoolForm(forms.Form):
    pool = forms.TypedChoiceField(coerce=int)
    redundancy = forms.IntegerField(min_value=1, max_value=50, initial=3)
    per_annotator_cap = forms.IntegerField(required=False, min_value=1)
    gold_share = forms.FloatField(min_value=0, max_value=1, initial=0)
    require_quiz = forms.BooleanField(required=False)
    max_workers = forms.IntegerField(
        required=False, min_value=1, help_text="Crowd link: most workers it signs up."
    )


def _task_form(project: Project, data: Any = None) -> TaskCreateForm:
    choices = task_form_choices(project=project)
    form = TaskCreateForm(data)
    cast(forms.ChoiceField, form.fields["guideline_version"]).choices = choices[
        "guideline_versions"
    ]
    cast(forms.ChoiceField, form.fields["systems"]).choices = choices["systems"]
    return form


def _pool_form(project: Project, data: Any = None) -> TaskPoolForm:
    form = TaskPoolForm(data)
    cast(forms.ChoiceField, form.fields["pool"]).choices = task_form_choices(project=project)[
        "pools"
    ]
    return form


@project_view([ProjectRole.LEAD, ProjectRole.RESEARCHER])
def tasks_page(request: AuthenticatedHttpRequest, project: Project) -> HttpResponse:
    form = _task_form(project, request.POST or None)
    if request.method == "POST" and form.is_valid():
        if ProjectRole.LEAD not in _roles(request, project):
            raise AccessDenied("Only leads create tasks.")
        data = dict(form.cleaned_data)
        try:
            version = guideline_version_for_task(
                project=project, version_id=data.pop("guideline_version")
            )
            external_ids = data.pop("prompt_ids").split()
            data["prompt_ids"] = prompt_pks_for_external_ids(
                project=project, external_ids=external_ids
            )
            data["system_ids"] = data.pop("systems") or None
            data["slug"] = data.pop("slug") or None
            task = task_create(
                actor=request.user, project=project, guideline_version=version, **data
            )
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            return redirect("task-detail", slug=project.slug, task_id=task.pk)
    context = {"project": project, "tasks": task_list(project=project), "form": form}
    return render(request, "annotation/task_list.html", context, status=400 if form.errors else 200)


def _roles(request: AuthenticatedHttpRequest, project: Project) -> frozenset[str]:
    from common.selectors import project_roles_for_user

    return project_roles_for_user(actor=request.user, project=project)


@project_view([ProjectRole.LEAD, ProjectRole.RESEARCHER])
def task_detail_page(
    request: AuthenticatedHttpRequest, project: Project, task_id: int
) -> HttpResponse:
    task = task_get(project=project, task_id=task_id)
    progress = task_progress(task=task)
    for row in progress:
        path = reverse("crowd-entry", args=[row["task_pool"].entry_token])
        row["crowd_link"] = request.build_absolute_uri(path) + CROWD_LINK_QUERY
        if row["kind"] == "crowd":
            row["workers_joined"] = crowd_link_workers_joined(task_pool=row["task_pool"])
            row["worker_limit"] = crowd_link_worker_limit(task_pool=row["task_pool"])
    context = {
        "project": project,
        "task": task,
        "progress": progress,
        "flags": task_blinding_flags(task=task),
        "flagged": task_flagged_assignments(task=task)[:100],
        "pools": pool_list(project=project),
        "pool_form": _pool_form(project),
        "is_lead": ProjectRole.LEAD in _roles(request, project),
    }
    template = "annotation/task_detail.html"
    if request.htmx:
        template += "#progress"
    return render(request, template, context)


TRANSITIONS = {"launch": task_launch, "pause": task_pause, "close": task_close}


@require_POST
@project_view([ProjectRole.LEAD])
def task_action(
    request: AuthenticatedHttpRequest, project: Project, task_id: int, action: str
) -> HttpResponse:
    task = task_get(project=project, task_id=task_id)
    try:
        if action in TRANSITIONS:
            TRANSITIONS[action](actor=request.user, task=task)
        elif action == "blinding-check":
            blinding_check_run(actor=request.user, task=task)
        elif action == "add-pool":
            form = _pool_form(project, request.POST)
            if not form.is_valid():
                raise ApplicationError("Check the pool settings: " + form.errors.as_text())
            data = dict(form.cleaned_data)
            pool = pool_get(project=project, pool_id=data.pop("pool"))
            task_pool_add(actor=request.user, task=task, pool=pool, **data)
        elif action == "crowd-limit":
            task_pool = task.task_pools.filter(pk=int(request.POST.get("task_pool", 0))).first()
            if task_pool is None:
                raise ApplicationError("No such pool on this task.")
            raw = request.POST.get("max_workers", "").strip()
            task_pool_max_workers_set(
                actor=request.user, task_pool=task_pool, max_workers=int(raw) if raw else None
            )
        elif action == "resolve-flag":
            flag = blinding_flag_get(task=task, flag_id=int(request.POST.get("flag", 0)))
            resolution = request.POST.get("resolution", "")
            if resolution not in FlagResolution.values:
                raise ApplicationError("Choose how to resolve the flag.")
            blinding_flag_resolve(actor=request.user, flag=flag, resolution=resolution)
        else:
            raise ApplicationError("Unknown action.")
    except (ApplicationError, ValueError) as exc:
        messages.error(request, getattr(exc, "message", str(exc)))
    return redirect("task-detail", slug=project.slug, task_id=task.pk)


# -- crowd entry ------------------------------------------------------------------

# Parameter names used by crowd platforms (Prolific, MTurk) and our own.
WORKER_PARAMS = ("worker_id", "PROLIFIC_PID", "workerId")
STUDY_PARAMS = ("study_id", "STUDY_ID", "hitId")
SESSION_PARAMS = ("session_id", "SESSION_ID", "assignmentId")
CROWD_TEMPLATE = "annotation/crowd_entry.html"


def _first_param(params: QueryDict, names: tuple[str, ...]) -> str:
    return next((value for name in names if (value := params.get(name))), "")


def _crowd_page(
    request: HtmxHttpRequest, task_pool: TaskPool | None, status: int = 200, **context: Any
) -> HttpResponse:
    task = task_pool.task if task_pool is not None else None
    context = {"task": task, **context}
    return render(request, CROWD_TEMPLATE, context, status=status)


@require_http_methods(["GET", "POST"])
def crowd_entry(request: HtmxHttpRequest, token: str) -> HttpResponse:
    """A crowd worker arrives from the platform.

    GET only shows a landing page: a link must not log anyone in (a page elsewhere
    could otherwise sign its visitors into an account of its choosing). The worker
    starts with a POST carrying the page's CSRF token. A browser already signed in to
    another account is told so and never switched.
    """
    try:
        task_pool = task_pool_by_entry_token(token=token)
    except AccessDenied:
        return _crowd_page(request, None, status=404, message="This link is not valid.")
    params = request.POST if request.method == "POST" else request.GET
    ids = {
        "worker_id": _first_param(params, WORKER_PARAMS).strip(),
        "study_id": _first_param(params, STUDY_PARAMS)[:128],
        "session_id": _first_param(params, SESSION_PARAMS)[:128],
    }
    try:
        worker_id = crowd_worker_id_check(ids["worker_id"])
    except ApplicationError as exc:
        return _crowd_page(request, task_pool, status=400, message=exc.message)
    username = crowd_worker_username(task_pool=task_pool, worker_id=worker_id)
    signed_in = request.user if request.user.is_authenticated else None
    if signed_in is not None and signed_in.get_username() != username:
        # Never switch a session: a lead testing the link stays who they are.
        return _crowd_page(
            request, task_pool, status=409, signed_in_as=signed_in.get_username(), ids=ids
        )
    if request.method == "GET":
        return _crowd_page(request, task_pool, ids=ids, returning=signed_in is not None)
    known = crowd_worker_account(task_pool=task_pool, username=username) is not None
    if not known and not rate_limit_allow(
        key=f"crowd-new:{task_pool.pk}:{client_address(request)}",
        limit=settings.CROWD_ENTRY_NEW_WORKERS_PER_ADDRESS_PER_HOUR,
        window_seconds=3600,
    ):
        message = "Too many new workers from your address through this link; try again later."
        return _crowd_page(request, task_pool, status=429, message=message)
    try:
        user = crowd_worker_enter(task_pool=task_pool, **{**ids, "worker_id": worker_id})
    except ApplicationError as exc:
        return _crowd_page(request, task_pool, status=400, message=exc.message)
    if signed_in is None:
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    return redirect("annotate-task", public_id=task_pool.task.public_id)
