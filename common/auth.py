"""Log-in protection: throttling wrong passwords (django-axes) and password rules.

Both ways in take a password: the log-in page (`/accounts/login/`) and the API's token
endpoint (`/api/auth/token/`). Each goes through `django.contrib.auth.authenticate`
with the request, so `LoginThrottleBackend` (first in AUTHENTICATION_BACKENDS) refuses a
username + client address that failed AXES_FAILURE_LIMIT times before any password is
checked, and axes counts every failure in PostgreSQL, shared by all web processes. The
next attempt gets `lockout_response`: a page saying why and for how long, or JSON
under /api/, both with status 429 and Retry-After.
"""

from __future__ import annotations

import re
from typing import Any

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render


class LoginThrottleBackend(AxesStandaloneBackend):
    """Axes' check, for requests only: an `authenticate()` without a request (the shell,
    management commands, the test client's `login`) has no client address to lock out."""

    def authenticate(self, request: HttpRequest | None, *args: Any, **kwargs: Any) -> None:
        if request is None:
            return None
        return super().authenticate(request, *args, **kwargs)


def lockout_minutes() -> int:
    return max(1, int(settings.AXES_COOLOFF_TIME.total_seconds() // 60))


def lockout_message() -> str:
    minutes = lockout_minutes()
    return (
        f"Too many failed log-in attempts for this username from your address. "
        f"Log-in is blocked for {minutes} minutes; after that you can try again, "
        f"or ask an administrator to unlock it now."
    )


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    """What a locked-out attempt gets (AXES_LOCKOUT_CALLABLE)."""
    message = lockout_message()
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse({"detail": message}, status=429)
        response["Cache-Control"] = "no-store"
    else:
        response = render(
            request,
            "registration/lockout.html",
            {"message": message, "minutes": lockout_minutes()},
            status=429,
        )
    response["Retry-After"] = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    return response


class PasswordNotDerivedValidator:
    """Refuses passwords built from the account's own names or from a repeated piece.

    Django's similarity validator compares whole strings, so "crowd5crowd5" for user
    "crowd5" (ratio 0.67) passes it; a password that contains the username, the
    e-mail's local part or a name (3+ characters), or that is one piece repeated
    ("abcabcabc"), is guessed first by any attacker who knows the username.
    """

    REPEATED = re.compile(r"^(.+?)\1+$", re.DOTALL)

    def validate(self, password: str, user: Any = None) -> None:
        lowered = password.lower()
        if self.REPEATED.match(lowered):
            raise ValidationError(
                "This password is one piece repeated; choose one that is not.",
                code="password_repeated",
            )
        for part in self._user_parts(user):
            if part in lowered:
                raise ValidationError(
                    "This password contains your username, e-mail or name.",
                    code="password_contains_user_attribute",
                )

    @staticmethod
    def _user_parts(user: Any) -> list[str]:
        if user is None:
            return []
        values = [
            getattr(user, "username", "") or "",
            (getattr(user, "email", "") or "").partition("@")[0],
            getattr(user, "first_name", "") or "",
            getattr(user, "last_name", "") or "",
        ]
        return [v.lower() for v in values if len(v) >= 3]

    def get_help_text(self) -> str:
        return "Your password can't contain your username, e-mail or name, or repeat one piece."
