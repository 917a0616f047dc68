"""The Celery app (`celery -A config worker|beat`).

No default settings module: a worker or beat started without DJANGO_SETTINGS_MODULE
used to run the demo settings (DEBUG on, an insecure key) against whatever database
the environment named. Importing `config` (which gunicorn's `config.wsgi` does too)
now refuses instead, naming the variable.
"""

from __future__ import annotations

import os

from celery import Celery
from django.core.exceptions import ImproperlyConfigured

if not os.environ.get("DJANGO_SETTINGS_MODULE"):
    raise ImproperlyConfigured(
        "DJANGO_SETTINGS_MODULE is not set. Production processes (gunicorn, celery worker, "
        "celery beat) need DJANGO_SETTINGS_MODULE=config.settings.production; the demo uses "
        "config.settings.local (see docs/deploy.md)."
    )

app = Celery("judgebench")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
