"""Shared by the analysis commands: pick the project and the user the audit log names."""

from __future__ import annotations

from django.core.management.base import CommandError

from common.models import Project, User


def project_for_command(slug: str | None) -> Project:
    """The project `slug`, or the only project when there is exactly one."""
    if slug:
        project = Project.objects.filter(slug=slug).first()
        if project is None:
            raise CommandError(f"No project with slug '{slug}'.")
        return project
    projects = list(Project.objects.order_by("slug")[:2])
    if len(projects) == 1:
        return projects[0]
    if not projects:
        raise CommandError("There is no project yet.")
    raise CommandError("There are several projects; name one with --project SLUG.")


def actor_for_command(username: str | None) -> User | None:
    if username:
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user '{username}'.")
        return user
    return User.objects.filter(is_superuser=True).order_by("pk").first()
