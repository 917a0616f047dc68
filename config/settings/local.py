"""The demo and local development: PostgreSQL, eager Celery, debug on. Never for production.

Without DATABASE_URL, the database is the embedded PostgreSQL of common.devdb (data in
var/pg, started on first use and reused by every later process; `make demo-stop` or
`python -m common.devdb stop` stops it).
"""

from __future__ import annotations

import os

os.environ.setdefault("SECRET_KEY", "demo-only-insecure-key-do-not-deploy")
os.environ.setdefault("DEBUG", "true")
os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "true")
# Eager tasks never reach a broker, but Celery still builds a connection from the URL;
# naming the host keeps kombu from warning "No hostname was supplied".
os.environ.setdefault("CELERY_BROKER_URL", "memory://localhost/")
if not os.environ.get("DATABASE_URL"):
    from common.devdb import EmbeddedPostgres

    os.environ["DATABASE_URL"] = EmbeddedPostgres.default().ensure()

from .base import *  # noqa: F403
