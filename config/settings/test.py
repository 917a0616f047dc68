"""Tests run on real PostgreSQL and a real Redis broker.

DATABASE_URL and CELERY_BROKER_URL win when set. Otherwise the run uses the server that
answers on the default address (JUDGEBENCH_DEFAULT_PG, default 127.0.0.1:5432;
JUDGEBENCH_DEFAULT_REDIS, default 127.0.0.1:6379), and when nothing answers there it
starts an embedded one from a wheel (common.devdb, common.devbroker) for the run. With
no broker to be had, the tests that need a Celery worker are skipped with the reason
(tests/conftest.py); nothing else needs one. pytest's header says what the run uses.
"""

from __future__ import annotations

import os

from common.devbroker import EmbeddedRedis
from common.devdb import DevDBError, EmbeddedPostgres, answers

os.environ.setdefault("SECRET_KEY", "test-only-key")

# What this run uses and why, for pytest's header.
JUDGEBENCH_TEST_SERVICES: list[str] = []
# Why the Celery worker tests cannot run here (None: they can).
JUDGEBENCH_NO_BROKER: str | None = None

if os.environ.get("DATABASE_URL"):
    JUDGEBENCH_TEST_SERVICES.append("database: DATABASE_URL")
else:
    default_pg = os.environ.get("JUDGEBENCH_DEFAULT_PG", "127.0.0.1:5432")
    if answers(default_pg):
        os.environ["DATABASE_URL"] = f"postgres://postgres@{default_pg}/judgebench"
        JUDGEBENCH_TEST_SERVICES.append(f"database: the PostgreSQL at {default_pg}")
    else:
        embedded = EmbeddedPostgres.default()
        os.environ["DATABASE_URL"] = embedded.ensure(transient=True)
        JUDGEBENCH_TEST_SERVICES.append(
            f"database: nothing answers at {default_pg}; embedded PostgreSQL at "
            f"{embedded.address} (data in {embedded.data_dir})"
        )

if os.environ.get("CELERY_BROKER_URL"):
    JUDGEBENCH_TEST_SERVICES.append("broker: CELERY_BROKER_URL")
else:
    default_redis = os.environ.get("JUDGEBENCH_DEFAULT_REDIS", "127.0.0.1:6379")
    default_amqp = os.environ.get("JUDGEBENCH_DEFAULT_AMQP", "127.0.0.1:5672")
    broker = f"redis://{default_redis}/15"
    if answers(default_redis):
        JUDGEBENCH_TEST_SERVICES.append(f"broker: the Redis at {default_redis}")
    else:
        try:
            redis = EmbeddedRedis.default()
            broker = redis.ensure(transient=True).rsplit("/", 1)[0] + "/15"
            JUDGEBENCH_TEST_SERVICES.append(
                f"broker: nothing answers at {default_redis}; embedded Redis at {redis.address}"
            )
        except DevDBError as exc:
            if answers(default_amqp):
                broker = f"amqp://guest:guest@{default_amqp}//"
                JUDGEBENCH_TEST_SERVICES.append(f"broker: the RabbitMQ at {default_amqp}")
            else:
                JUDGEBENCH_NO_BROKER = (
                    f"no Celery broker: nothing answers at {default_redis} or {default_amqp}, "
                    f"and {exc} Set CELERY_BROKER_URL to run the Celery worker tests."
                )
                JUDGEBENCH_TEST_SERVICES.append(f"broker: none ({JUDGEBENCH_NO_BROKER})")
    os.environ["CELERY_BROKER_URL"] = broker

from .base import *  # noqa: E402, F403
from .base import DATABASES  # noqa: E402

if not DATABASES["default"]["ENGINE"].endswith("postgresql"):
    raise RuntimeError("The test suite runs on PostgreSQL; set DATABASE_URL to a postgres:// URL.")

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
DATABASES["default"]["CONN_MAX_AGE"] = 0
CELERY_TASK_ALWAYS_EAGER = False
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
