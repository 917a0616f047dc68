"""Reads about projects and roles; every access decision in the platform starts here."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet

from common.exceptions import AccessDenied, NotFound
from common.models import (
    AuditEvent,
    Project,
    ProjectInvitation,
    ProjectMembership,
    ProjectRole,
    User,
)

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


def project_member_candidates(*, actor: User, project: Project) -> QuerySet[User]:
    """People a lead may add to `project` directly: members of another project the
    lead leads. Anyone else is invited by e-mail, so no username can be probed."""
    led = ProjectMembership.objects.filter(user=actor, role=ProjectRole.LEAD).exclude(
        project=project
    )
    return (
        User.objects.filter(project_memberships__project__in=led.values("project"))
        .distinct()
        .order_by("username")
    )


def project_invitations_open(*, project: Project) -> QuerySet[ProjectInvitation]:
    return ProjectInvitation.objects.filter(
        project=project, accepted_at__isnull=True, revoked_at__isnull=True
    ).order_by("-created_at")


def project_invitation_get(*, project: Project, invitation_id: int) -> ProjectInvitation:
    invitation = ProjectInvitation.objects.filter(project=project, pk=invitation_id).first()
    if invitation is None:
        raise NotFound("No such invitation in this project.")
    return invitation


def project_invitation_by_token(*, token: str) -> ProjectInvitation | None:
    return ProjectInvitation.objects.select_related("project").filter(token=token).first()
