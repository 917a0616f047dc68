"""Writes for users, projects, memberships and the audit log."""

from __future__ import annotations

from typing import Any

from django.db import models, transaction

from common.exceptions import ApplicationError
from common.models import AuditEvent, Project, ProjectMembership, ProjectRole, User


def audit_record(
    *,
    actor: User | None,
    project: Project | None,
    action: str,
    target: models.Model | None = None,
    details: dict[str, Any] | None = None,
    guideline_version: Any = None,
) -> AuditEvent:
    """Append an audit row; callers invoke it inside the transaction of the change itself."""
    return AuditEvent.objects.create(
        actor=actor if actor is not None and actor.is_authenticated else None,
        project=project,
        action=action,
        object_type=target._meta.label if target is not None else "",
        object_id=str(target.pk) if target is not None else "",
        guideline_version=guideline_version,
        details=details or {},
    )


@transaction.atomic
def project_create(*, actor: User, slug: str, name: str, description: str = "") -> Project:
    if Project.objects.filter(slug=slug).exists():
        raise ApplicationError(f"A project with the slug '{slug}' already exists.")
    project = Project.objects.create(
        slug=slug, name=name, description=description, created_by=actor
    )
    ProjectMembership.objects.create(project=project, user=actor, role=ProjectRole.LEAD)
    audit_record(actor=actor, project=project, action="project.create", target=project)
    return project


@transaction.atomic
def project_membership_add(
    *, actor: User, project: Project, user: User, role: str
) -> ProjectMembership:
    if role not in ProjectRole.values:
        raise ApplicationError(f"Unknown role '{role}'.")
    membership, created = ProjectMembership.objects.get_or_create(
        project=project, user=user, role=role
    )
    if created:
        audit_record(
            actor=actor,
            project=project,
            action="membership.add",
            target=membership,
            details={"user": user.username, "role": role},
        )
    return membership


@transaction.atomic
def project_membership_remove(*, actor: User, project: Project, user: User, role: str) -> None:
    deleted, _ = ProjectMembership.objects.filter(project=project, user=user, role=role).delete()
    if deleted:
        audit_record(
            actor=actor,
            project=project,
            action="membership.remove",
            details={"user": user.username, "role": role},
        )


def user_ensure_pseudonym(*, user: User) -> str:
    """A stable pseudonymous id for exports and analysis, created on first need."""
    if not user.pseudonym:
        user.pseudonym = f"ann-{user.pk:06d}"
        user.save(update_fields=["pseudonym"])
    return user.pseudonym
