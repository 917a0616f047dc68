from __future__ import annotations

from typing import Any


class ApplicationError(Exception):
    """A domain rule was violated; interfaces turn it into a 400/409 or a form error."""

    def __init__(self, message: str, *, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra or {}


class AccessDenied(ApplicationError):
    """The actor may not see or change this object; interfaces answer 403."""


class NotFound(ApplicationError):
    """The object does not exist in the actor's scope; interfaces answer 404."""


class ServiceUnavailable(Exception):
    """A service the request needs (the job queue) cannot be reached now; interfaces
    answer 503 and the work can be retried later.

    Not an ApplicationError: nothing the user did is wrong, so the views' form-error
    handling (`except ApplicationError`) must not turn it into a 400."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.extra: dict[str, Any] = {}
