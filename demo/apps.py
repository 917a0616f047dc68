from __future__ import annotations

from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo project and its simulated studies: depends on every app, nothing on it."""

    name = "demo"
    verbose_name = "Demo data"
