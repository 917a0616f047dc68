"""The project's own error pages, one translation of domain errors, quiet logs.

Views let `AccessDenied`, `NotFound` and other domain errors through;
`common.errors.DomainErrorMiddleware` answers 403/404/400 with the project's page (or
JSON under /api/), in DEBUG as well, and a refused request is logged in one line.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.test import Client

ROOT = Path(__file__).resolve().parents[2]


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("debug", [False, True])
def test_an_unknown_url_gets_the_project_404_page_even_in_debug(db, settings, debug):
    settings.DEBUG = debug
    response = Client().get("/no/such/page/")
    body = response.content.decode()
    assert response.status_code == 404
    assert "There is nothing here." in body and "JudgeBench" in body
    # Django's debug page lists the URL patterns; ours names none.
    assert "URLconf" not in body and "api/schema/" not in body


def test_an_unknown_api_url_gets_json(db, settings):
    settings.DEBUG = True
    response = Client().get("/api/no-such-endpoint/")
    assert response.status_code == 404
    assert response.json() == {"detail": "There is nothing here."}


def test_a_missing_slash_still_redirects(project_roles):
    response = _client(project_roles.lead).get("/p/alpha")
    assert response.status_code == 301 and response["Location"] == "/p/alpha/"


def test_a_domain_not_found_shows_its_message(project_roles, settings):
    settings.DEBUG = True
    response = _client(project_roles.lead).get("/p/alpha/analysis/reports/987654/")
    assert response.status_code == 404
    assert "No such report in this project." in response.content.decode()


def test_access_denied_is_the_403_page_with_its_message(project_roles):
    response = _client(project_roles.outsider).get("/p/alpha/")
    body = response.content.decode()
    assert response.status_code == 403
    assert "Not allowed" in body and "Traceback" not in body


def test_a_guideline_of_another_project_is_not_found(project_roles):
    response = _client(project_roles.lead).get("/p/alpha/guidelines/987654/")
    assert response.status_code == 404


def test_a_server_error_gets_the_standalone_500_page(db, rf):
    from common.errors import server_error

    response = server_error(rf.get("/p/alpha/"))
    assert response.status_code == 500
    assert b"Something went wrong on our side" in response.content
    assert server_error(rf.get("/api/projects/")).status_code == 500


LOG_PROBE = textwrap.dedent(
    """
    import django
    django.setup()
    import logging
    from django.test import Client
    from django.test.utils import setup_test_environment
    setup_test_environment()
    logging.getLogger("django.request").warning("probe-line-once")
    # What Django logs when a view raises PermissionDenied.
    from django.core.exceptions import PermissionDenied
    from django.http import HttpRequest
    from django.utils.log import log_response
    from django.http import HttpResponseForbidden
    request = HttpRequest()
    request.path = "/p/x/"
    try:
        raise PermissionDenied("refused")
    except PermissionDenied as exc:
        log_response("Forbidden (Permission denied): %s", request.path,
                     response=HttpResponseForbidden(), request=request, exception=exc)
    """
)


def test_each_log_line_is_printed_once_and_a_403_has_no_traceback():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DEBUG": "true",
        "PYTHONPATH": str(ROOT),
    }
    result = subprocess.run(
        [sys.executable, "-c", LOG_PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert result.stderr.count("probe-line-once") == 1, result.stderr
    assert result.stderr.count("Forbidden (Permission denied): /p/x/") == 1, result.stderr
    assert "Traceback" not in result.stderr
