"""ASGI entry point. DJANGO_SETTINGS_MODULE must be set (config/celery.py refuses to
guess; docs/deploy.md)."""

from __future__ import annotations

from django.core.asgi import get_asgi_application

application = get_asgi_application()
