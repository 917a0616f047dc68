"""Production settings: refuse to start without their variables, `check --deploy` is
silent, TLS behind a proxy works; no process silently falls back to the demo settings.

Each case starts a fresh Python process, because settings are read once per process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STRONG_KEY = "k" + "3x9!QzR7#pL2@vN8^mT5&wB1*yH6%cF4(dJ0)sG" + "aZ" * 8

PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "SECRET_KEY": STRONG_KEY,
    "ALLOWED_HOSTS": "judgebench.example.org,testserver",
    "DATABASE_URL": os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/judgebench"),
}


def _run(args: list[str], env: dict[str, str], *, drop: tuple[str, ...] = ()):
    full = {
        key: value
        for key, value in os.environ.items()
        # The browser tests set DJANGO_ALLOW_ASYNC_UNSAFE in this process; a deployment
        # must not (check --deploy says so), and these processes play the deployment.
        if key
        not in (
            "DJANGO_SETTINGS_MODULE",
            "SECRET_KEY",
            "ALLOWED_HOSTS",
            "DJANGO_ALLOW_ASYNC_UNSAFE",
            *drop,
        )
    }
    full.update(env, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=full, capture_output=True, text=True, timeout=180
    )


def test_check_deploy_is_silent_under_production_settings(tmp_path):
    env = {**PRODUCTION, "STATIC_ROOT": str(tmp_path / "static")}
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "DEBUG"], env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNINGS" not in result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_refuses_to_start_without_its_variables():
    env = {"DJANGO_SETTINGS_MODULE": "config.settings.production"}
    result = _run(["manage.py", "check"], env, drop=("DATABASE_URL",))
    assert result.returncode != 0
    assert (
        "Production settings need these environment variables: "
        "SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL." in result.stderr
    )


SETTINGS_PROBE = textwrap.dedent(
    """
    import django
    django.setup()
    from django.conf import settings
    from django.test import Client
    from django.test.utils import setup_test_environment
    setup_test_environment()
    print("STATIC_ROOT", settings.STATIC_ROOT)
    plain = Client().get("/accounts/login/")
    print("PLAIN", plain.status_code, plain.get("Location"))
    tls = Client().get("/accounts/login/", HTTP_X_FORWARDED_PROTO="https")
    print("TLS", tls.status_code, tls.get("Strict-Transport-Security"))
    """
)


@pytest.mark.slow
def test_static_root_and_tls_behind_a_proxy(tmp_path):
    env = {**PRODUCTION, "STATIC_ROOT": str(tmp_path / "collected")}
    collected = _run(["manage.py", "collectstatic", "--noinput", "-v0"], env)
    assert collected.returncode == 0, collected.stderr
    assert (tmp_path / "collected" / "staticfiles.json").is_file()
    result = _run(["-c", SETTINGS_PROBE], env)
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines())
    assert lines["STATIC_ROOT"] == str(tmp_path / "collected")
    # Plain HTTP is sent to HTTPS; HTTPS as the proxy reports it gets HSTS.
    assert lines["PLAIN"] == "301 https://testserver/accounts/login/"
    assert lines["TLS"] == "200 max-age=31536000; includeSubDomains"


def test_celery_and_gunicorn_refuse_without_a_settings_module():
    for module in ("config.celery", "config.wsgi"):
        result = _run(["-c", f"import {module}"], {})
        assert result.returncode != 0, module
        assert "DJANGO_SETTINGS_MODULE is not set" in result.stderr, result.stderr


def test_manage_py_refuses_the_demo_settings_in_a_deployed_environment():
    result = _run(["manage.py", "check"], {"SECRET_KEY": STRONG_KEY})
    assert result.returncode != 0
    assert "SECRET_KEY is set but DJANGO_SETTINGS_MODULE is not" in result.stderr
