from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework.views import APIView

from common.http import AuthenticatedRequest
from common.models import Project, ProjectRole
from common.selectors import project_get_for_actor

LEAD = (ProjectRole.LEAD,)
READERS = (ProjectRole.LEAD, ProjectRole.RESEARCHER)


class ProjectAPIView(APIView):
    """An endpoint under /api/projects/<slug>/: reads open to `allowed_roles`,
    writes (POST, PUT, PATCH, DELETE) to `write_roles`.

    The project is resolved once per request through the access selector, so an
    endpoint cannot forget the membership check.
    """

    allowed_roles: ClassVar[Iterable[str]] = READERS
    write_roles: ClassVar[Iterable[str]] = LEAD
    project: Project
    # IsAuthenticated (the default permission class) has run before any handler reads it.
    request: AuthenticatedRequest

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        roles = self.allowed_roles if request.method in SAFE_METHODS else self.write_roles
        self.project = project_get_for_actor(
            actor=self.request.user, slug=kwargs["slug"], roles=roles
        )
