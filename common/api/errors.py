from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from common.exceptions import AccessDenied, ApplicationError


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Domain errors become API errors: AccessDenied → 403, other domain errors → 400."""
    if isinstance(exc, AccessDenied):
        exc = exceptions.PermissionDenied(exc.message)
    elif isinstance(exc, ApplicationError):
        return Response({"detail": exc.message, **exc.extra}, status=400)
    return drf_exception_handler(exc, context)
