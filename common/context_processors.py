from __future__ import annotations

from typing import Any

from django.http import HttpRequest


def navigation(request: HttpRequest) -> dict[str, Any]:
    """Which top-level areas to link in the header, decided from memberships."""
    user = request.user
    if not user.is_authenticated:
        return {"nav_roles": frozenset()}
    if user.is_superuser:
        return {"nav_roles": frozenset({"lead", "researcher", "annotator", "admin"})}
    roles = frozenset(user.project_memberships.values_list("role", flat=True).distinct())
    return {"nav_roles": roles}
