from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render

from common.http import AuthenticatedHttpRequest
from common.models import ProjectRole
from common.selectors import (
    audit_events_for_project,
    project_get_for_actor,
    project_list_for_actor,
    project_roles_for_user,
)

ProjectView = Callable[..., HttpResponseBase]


def project_view(roles: Iterable[str]) -> Callable[[ProjectView], ProjectView]:
    """Resolve `slug` to a project the user holds one of `roles` in, or answer 403.

    The view receives the project instead of the slug, so it cannot skip the check.
    """
    role_set = frozenset(roles)

    def decorate(view: ProjectView) -> ProjectView:
        @login_required
        @wraps(view)
        def wrapper(
            request: AuthenticatedHttpRequest, slug: str, *args: Any, **kwargs: Any
        ) -> HttpResponseBase:
            # AccessDenied becomes the 403 page in common.errors.DomainErrorMiddleware.
            project = project_get_for_actor(actor=request.user, slug=slug, roles=role_set)
            return view(request, project, *args, **kwargs)

        return wrapper

    return decorate


@login_required
def home(request: AuthenticatedHttpRequest) -> HttpResponse:
    projects = [
        (project, sorted(project_roles_for_user(actor=request.user, project=project)))
        for project in project_list_for_actor(actor=request.user)
    ]
    return render(request, "common/home.html", {"projects": projects})


@project_view([ProjectRole.LEAD])
def project_audit(request: AuthenticatedHttpRequest, project: Any) -> HttpResponse:
    events = audit_events_for_project(project=project)[:500]
    return render(request, "common/audit.html", {"project": project, "events": events})
