"""WSGI entry point (`gunicorn config.wsgi`). DJANGO_SETTINGS_MODULE must be set
(config/celery.py refuses to guess; docs/deploy.md)."""

from __future__ import annotations

from django.core.wsgi import get_wsgi_application

application = get_wsgi_application()
