"""A small fixed-window rate limit on the shared cache, and the client's address.

Used where an anonymous request creates something (a crowd worker's account through
an entry link). The count lives in Django's cache: per process in the demo and tests,
shared by every web process when CACHE_URL names a Redis (docs/deploy.md).
"""

from __future__ import annotations

import time

from axes.helpers import get_client_ip_address
from django.core.cache import cache
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str:
    """The client's address as the log-in lockout sees it (TRUSTED_PROXY_COUNT)."""
    return get_client_ip_address(request) or "unknown"


def rate_limit_allow(*, key: str, limit: int, window_seconds: int) -> bool:
    """Count one event for `key`; False once more than `limit` fell in this window."""
    window = int(time.time() // window_seconds)
    cache_key = f"ratelimit:{key}:{window}"
    cache.add(cache_key, 0, timeout=window_seconds + 60)
    try:
        count = cache.incr(cache_key)
    except ValueError:  # evicted between add and incr
        cache.set(cache_key, 1, timeout=window_seconds + 60)
        count = 1
    return count <= limit
