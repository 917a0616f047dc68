"""Request types for the type checker: what middleware and guards have established about a request.

Django's `HttpRequest.user` is `User | AnonymousUser`, and `request.htmx` is set by
django-htmx's middleware, so neither is visible on the plain types. A view behind
`login_required` (or `project_view`) annotates its request as `AuthenticatedHttpRequest`;
a DRF endpoint behind `IsAuthenticated` (the default permission class) as
`AuthenticatedRequest`. These are annotations only: no request object is ever of these
classes at run time.
"""

from __future__ import annotations

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails
from rest_framework.request import Request

from common.models import User

__all__ = ["AuthenticatedHttpRequest", "AuthenticatedRequest", "HtmxDetails", "HtmxHttpRequest"]


class HtmxHttpRequest(HttpRequest):
    """Any page request: django-htmx's middleware has set `request.htmx` (django-htmx docs, tips)."""

    htmx: HtmxDetails


class AuthenticatedHttpRequest(HtmxHttpRequest):
    """A page request past `login_required`: the user is a signed-in `User`."""

    user: User


class AuthenticatedRequest(Request):
    """An API request past `IsAuthenticated`: the user is a signed-in `User`."""

    user: User
