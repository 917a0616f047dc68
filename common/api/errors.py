from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from common.exceptions import AccessDenied, ApplicationError, NotFound, ServiceUnavailable


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Domain errors become API errors: AccessDenied → 403, NotFound → 404,
    ServiceUnavailable → 503 (with Retry-After), other domain errors → 400.
    HTML views get the same mapping from common.errors.DomainErrorMiddleware."""
    if isinstance(exc, AccessDenied):
        exc = exceptions.PermissionDenied(exc.message)
    elif isinstance(exc, NotFound):
        exc = exceptions.NotFound(exc.message)
    elif isinstance(exc, ServiceUnavailable):
        return Response(
            {"detail": exc.message, **exc.extra}, status=503, headers={"Retry-After": "30"}
        )
    elif isinstance(exc, ApplicationError):
        return Response({"detail": exc.message, **exc.extra}, status=400)
    return drf_exception_handler(exc, context)
