"""The one place where HTML views' errors become pages (the API's is common/api/errors.py).

Services raise domain errors (`AccessDenied`, `NotFound`, `ServiceUnavailable`, other
`ApplicationError`s); views let them through, and `DomainErrorMiddleware` answers
403, 404, 503 or 400 with the project's own page and the error's message (domain
messages are written for users). The same pages answer Django's own 400/403/404/500,
and a 404 is the project's page in DEBUG too: Django's debug 404 lists every URL
pattern, which a demo visitor should not see.

A request under /api/ that no endpoint matched gets JSON, like the API's own errors.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template import loader

from common.exceptions import AccessDenied, ApplicationError, NotFound, ServiceUnavailable

TITLES = {
    400: "Request not understood",
    403: "Not allowed",
    404: "Not found",
    503: "Try again in a moment",
}
DEFAULT_MESSAGES = {
    400: "The request could not be handled.",
    403: "You do not have access to this page.",
    404: "There is nothing here.",
    503: "A service this page needs is not reachable right now.",
}


def error_page(request: HttpRequest, *, status: int, message: str = "") -> HttpResponse:
    """The project's error page (or JSON under /api/) for `status`."""
    message = message or DEFAULT_MESSAGES[status]
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": message}, status=status)
    context = {"title": TITLES[status], "message": message, "status": status}
    template = "error.html#message" if getattr(request, "htmx", False) else "error.html"
    return render(request, template, context, status=status)


def _message(exception: Exception | None) -> str:
    # Only domain errors carry a message meant for users; Http404("No Task matches the
    # given query.") and the like name internals, so those pages use the default text.
    domain = getattr(exception, "__cause__", None) or exception
    return domain.message if isinstance(domain, ApplicationError) else ""


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return error_page(request, status=400)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return error_page(request, status=403, message=_message(exception))


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return error_page(request, status=404, message=_message(exception))


def server_error(request: HttpRequest) -> HttpResponse:
    # No context processors and no database: whatever broke may be what they need.
    body = loader.get_template("500.html").render()
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Server error; it has been logged."}, status=500)
    return HttpResponse(body, status=500)


class DomainErrorMiddleware:
    """Turns domain errors a view let through into the project's error pages."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            settings.DEBUG
            and response.status_code == 404
            and getattr(request, "resolver_match", None) is None
        ):
            # No URL pattern matched: Django's debug page would list them all.
            return page_not_found(request)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, AccessDenied | PermissionDenied):
            return permission_denied(request, exception)
        if isinstance(exception, NotFound | Http404):
            return page_not_found(request, exception)
        if isinstance(exception, ServiceUnavailable):
            response = error_page(request, status=503, message=exception.message)
            response["Retry-After"] = "30"
            return response
        if isinstance(exception, ApplicationError):
            return error_page(request, status=400, message=exception.message)
        return None


class ClientErrorsWithoutTraceback(logging.Filter):
    """Keeps the one-line log of a 4xx response but drops its traceback: a refused
    request is an ordinary event, not a failure of the server."""

    def filter(self, record: logging.LogRecord) -> bool:
        status: Any = getattr(record, "status_code", None)
        if isinstance(status, int) and 400 <= status < 500:
            record.exc_info = None
            record.exc_text = None
        return True
