from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from common.demo import DEMO_PASSWORD, seed_demo


class Command(BaseCommand):
    help = "Load the demo project and its users (idempotent: safe to run on every start)."

    def handle(self, *args: Any, **options: Any) -> None:
        logins = seed_demo()
        self.stdout.write(self.style.SUCCESS("Demo data is loaded. Log in at /accounts/login/ as:"))
        for login in logins:
            self.stdout.write(f"  {login.username:<12} password '{DEMO_PASSWORD}'   {login.role}")
