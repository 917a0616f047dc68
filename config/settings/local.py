"""The embedded demo: SQLite, eager Celery, debug on. Never for production."""

from __future__ import annotations

import os

os.environ.setdefault("SECRET_KEY", "demo-only-insecure-key-do-not-deploy")
os.environ.setdefault("DATABASE_URL", "sqlite:///var/demo.sqlite3")
os.environ.setdefault("DEBUG", "true")
os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "true")
os.environ.setdefault("CELERY_BROKER_URL", "memory://")

from .base import *  # noqa: F403
from .base import BASE_DIR, DATABASES

if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    name = DATABASES["default"]["NAME"]
    if not os.path.isabs(name):
        DATABASES["default"]["NAME"] = str(BASE_DIR / name)
    (BASE_DIR / "var").mkdir(exist_ok=True)
    # SQLite serialises writers; a short wait beats "database is locked" in the demo.
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
