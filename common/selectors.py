"""Reads about projects and roles; every access decision in the platform starts here."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet

from common.exceptions import AccessDenied
from common.models import AuditEvent, Project, ProjectMembership, ProjectRole, User

ALL_ROLES = frozenset(ProjectRole.values)


def project_roles_for_user(*, actor: User, project: Project) -> frozenset[str]:
    """The roles `actor` holds in `project`; Django superusers hold every role."""
    if not actor.is_authenticated or not actor.is_active:
        return frozenset()
    if actor.is_superuser:
        return ALL_ROLES
    return frozenset(
        ProjectMembership.objects.filter(project=project, user=actor).values_list("role", flat=True)
    )


def project_get_for_actor(*, actor: User, slug: str, roles: Iterable[str] = ALL_ROLES) -> Project:
    """The project with `slug` if `actor` holds one of `roles` in it, else AccessDenied.

    Unknown slugs and projects the actor cannot see raise the same error, so the
    answer never tells an outsider which projects exist.
    """
    project = Project.objects.filter(slug=slug).first()
    if project is None or not (project_roles_for_user(actor=actor, project=project) & set(roles)):
        raise AccessDenied("You do not have access to this project.")
    return project


def project_list_for_actor(*, actor: User, roles: Iterable[str] = ALL_ROLES) -> QuerySet[Project]:
    if not actor.is_authenticated:
        return Project.objects.none()
    if actor.is_superuser:
        return Project.objects.order_by("name")
    return (
        Project.objects.filter(memberships__user=actor, memberships__role__in=list(roles))
        .distinct()
        .order_by("name")
    )


def project_members(*, project: Project) -> QuerySet[ProjectMembership]:
    return (
        ProjectMembership.objects.filter(project=project)
        .select_related("user")
        .order_by("role", "user__username")
    )


def audit_events_for_project(*, project: Project) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(project=project).select_related("actor")
