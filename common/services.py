"""Writes for users, projects, memberships and the audit log."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import models, transaction
from django.utils import timezone

from common.exceptions import ApplicationError, NotFound
from common.models import (
    AuditEvent,
    Project,
    ProjectInvitation,
    ProjectMembership,
    ProjectRole,
    User,
)


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


# -- invitations ------------------------------------------------------------------------


@transaction.atomic
def project_invitation_create(
    *, actor: User, project: Project, email: str, role: str, accept_url: Callable[[str], str]
) -> ProjectInvitation:
    """Invite `email` to join `project` as `role`; the mail with the link goes out
    after the commit. `accept_url(token)` builds the absolute link."""
    if role not in ProjectRole.values:
        raise ApplicationError(f"Unknown role '{role}'.")
    email = User.objects.normalize_email(email.strip())
    invitation = ProjectInvitation.objects.create(
        project=project,
        email=email,
        role=role,
        token=secrets.token_urlsafe(32),
        invited_by=actor,
        expires_at=timezone.now() + timedelta(days=settings.PROJECT_INVITATION_DAYS),
    )
    audit_record(
        actor=actor,
        project=project,
        action="invitation.create",
        target=invitation,
        details={"email": email, "role": role},
    )
    link = accept_url(invitation.token)
    transaction.on_commit(
        lambda: send_mail(
            subject=f"You are invited to {project.name} on JudgeBench",
            message=(
                f"{actor.get_username()} invites you to join the project "
                f"“{project.name}” as {ProjectRole(role).label.lower()}.\n\n"
                f"Accept here (the link works once, until "
                f"{invitation.expires_at:%Y-%m-%d}):\n{link}\n"
            ),
            from_email=None,
            recipient_list=[email],
        )
    )
    return invitation


@transaction.atomic
def project_invitation_accept(*, token: str, user: User) -> ProjectMembership:
    """Make `user` a member through an open invitation, and close the invitation."""
    invitation = (
        ProjectInvitation.objects.select_for_update().select_related("project").filter(token=token)
    ).first()
    if invitation is None or invitation.revoked_at is not None:
        raise NotFound("This invitation is not valid; ask the project's lead for a new one.")
    if invitation.accepted_at is not None:
        raise ApplicationError("This invitation has been used already.")
    if invitation.expires_at <= timezone.now():
        raise ApplicationError("This invitation has expired; ask the project's lead for a new one.")
    membership, _ = ProjectMembership.objects.get_or_create(
        project=invitation.project, user=user, role=invitation.role
    )
    invitation.accepted_by, invitation.accepted_at = user, timezone.now()
    invitation.save(update_fields=["accepted_by", "accepted_at", "updated_at"])
    audit_record(
        actor=user,
        project=invitation.project,
        action="invitation.accept",
        target=invitation,
        details={"user": user.username, "email": invitation.email, "role": invitation.role},
    )
    return membership


@transaction.atomic
def project_invitation_revoke(*, actor: User, invitation: ProjectInvitation) -> ProjectInvitation:
    if invitation.accepted_at is not None:
        raise ApplicationError("This invitation has been accepted; remove the member instead.")
    if invitation.revoked_at is None:
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at", "updated_at"])
        audit_record(
            actor=actor,
            project=invitation.project,
            action="invitation.revoke",
            target=invitation,
            details={"email": invitation.email, "role": invitation.role},
        )
    return invitation
