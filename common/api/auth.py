"""API token authentication without a database read on every request.

DRF's ``TokenAuthentication`` looks the token and its user up on each request; on the
annotator hot path (next → submit, two requests per annotation) that lookup was a fair
share of the server's work. ``CachedTokenAuthentication`` keeps what the lookup found
in a small per-process cache for ``TOKEN_CACHE_SECONDS``.

Staleness is bounded, not eliminated: deleting a token (DRF's way to revoke or rotate
one) and saving or deleting a user drop the cached entries at once in the process that
did it, and every other process forgets them within ``TOKEN_CACHE_SECONDS``. A token
that is not in the database is never cached, so a new token works at once.
"""

from __future__ import annotations

import copy
import threading
import time
from typing import Any

from django.conf import settings
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

TOKEN_CACHE_SECONDS: float = settings.API_TOKEN_CACHE_SECONDS
TOKEN_CACHE_MAX = 10_000

# key -> (expires at (monotonic), user, token); the lock only guards eviction.
_cache: dict[str, tuple[float, Any, Token]] = {}
_lock = threading.Lock()


def token_cache_clear() -> None:
    _cache.clear()


def token_cache_forget(*, key: str | None = None, user_id: int | None = None) -> None:
    """Drop one token, or every cached token of one user."""
    if key is not None:
        _cache.pop(key, None)
    if user_id is not None:
        with _lock:
            for cached_key, entry in list(_cache.items()):
                if entry[1].pk == user_id:
                    _cache.pop(cached_key, None)


class CachedTokenAuthentication(TokenAuthentication):
    """``TokenAuthentication`` with a short in-process cache keyed by token."""

    def authenticate_credentials(self, key: str) -> tuple[Any, Token]:
        now = time.monotonic()
        hit = _cache.get(key)
        if hit is not None and hit[0] > now:
            user, token = hit[1], hit[2]
        else:
            user, token = super().authenticate_credentials(key)  # raises if unknown/inactive
            with _lock:
                if len(_cache) >= TOKEN_CACHE_MAX:
                    _cache.clear()
                _cache[key] = (now + TOKEN_CACHE_SECONDS, user, token)
        if not user.is_active:  # a cached user is checked like a fresh one
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        # Each request gets its own copy: concurrent threads must not share a User whose
        # attributes (permission caches, `backend`, …) a view may set.
        return copy.copy(user), token


@receiver(post_delete, sender=Token, dispatch_uid="common.api.auth.token_deleted")
def _token_deleted(sender: type[Token], instance: Token, **kwargs: Any) -> None:
    token_cache_forget(key=instance.key)


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="common.api.auth.user_saved")
@receiver(post_delete, sender=settings.AUTH_USER_MODEL, dispatch_uid="common.api.auth.user_deleted")
def _user_changed(sender: type[Any], instance: Any, **kwargs: Any) -> None:
    # Deactivation, deletion: the cached user must not outlive the change here.
    if _cache:
        token_cache_forget(user_id=instance.pk)
