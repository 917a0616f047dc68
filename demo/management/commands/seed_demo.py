from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand

from demo.project import DEMO_PASSWORD
from demo.reports import forked_workers_available
from demo.seed import Progress, seed_demo


class Command(BaseCommand):
    help = (
        "Load the demo project, its simulated studies and their reports "
        "(idempotent: safe to run on every start)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        self.stdout.write("Seeding the demo:")
        # One worker computes the reports while the studies are seeded: on two cores
        # that overlaps the statistics with the simulated annotators' claims and submits.
        workers = 1 if forked_workers_available() else 0
        logins = seed_demo(progress=Progress(self._write), report_workers=workers)
        self.stdout.write(f"seeded in {time.perf_counter() - started:.1f} s")
        self.stdout.write(self.style.SUCCESS("Demo data is loaded. Log in at /accounts/login/ as:"))
        for login in logins:
            self.stdout.write(f"  {login.username:<12} password '{DEMO_PASSWORD}'   {login.role}")

    def _write(self, text: str) -> None:
        # A stage's line is written in two parts (its name, then its result), so a slow
        # stage shows what it is doing; flush so the first part appears at once.
        self.stdout.write(text, ending="")
        self.stdout.flush()
