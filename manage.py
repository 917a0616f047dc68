#!/usr/bin/env python
"""Django's command line. Without DJANGO_SETTINGS_MODULE it runs the demo settings
(config.settings.local), so `python manage.py …` works in a fresh checkout; but where
SECRET_KEY comes from the environment (a deployment: the demo and the tests never set
it there) it refuses to fall back, so a production command cannot run the demo
settings against the production database by accident."""

from __future__ import annotations

import os
import sys

DEMO_SETTINGS = "config.settings.local"


def main() -> None:
    if not os.environ.get("DJANGO_SETTINGS_MODULE"):
        if os.environ.get("SECRET_KEY"):
            sys.exit(
                "manage.py: SECRET_KEY is set but DJANGO_SETTINGS_MODULE is not. Set "
                "DJANGO_SETTINGS_MODULE=config.settings.production (or "
                f"{DEMO_SETTINGS} for the demo)."
            )
        os.environ["DJANGO_SETTINGS_MODULE"] = DEMO_SETTINGS
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
