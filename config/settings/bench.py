"""Benchmarks: PostgreSQL (DATABASE_URL), persistent connections, debug off.

Used by bench/assignment.py for the gunicorn it starts; never for production.
"""

from __future__ import annotations

import os

os.environ.setdefault("SECRET_KEY", "bench-only-insecure-key")
os.environ.setdefault("CELERY_BROKER_URL", "memory://localhost/")

from .base import *  # noqa: F403
from .base import DATABASES

if not DATABASES["default"]["ENGINE"].endswith("postgresql"):
    raise RuntimeError("The benchmark runs on PostgreSQL; set DATABASE_URL to a postgres:// URL.")

DEBUG = False
# Each gunicorn thread keeps its connection for the whole run, as in production.
DATABASES["default"]["CONN_MAX_AGE"] = 600
DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "ERROR"}}
