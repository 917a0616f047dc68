"""Brute force on the log-in page and the token endpoint: the probe of issue 15 again.

Fifty wrong passwords then the right one used to be answered normally every time. Now
the failures are counted per username and address (django-axes, in PostgreSQL); the
attempt after AXES_FAILURE_LIMIT failures and every one after it gets 429 with a
message saying why and for how long, and the right password does not get in either.
"""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from axes.utils import reset
from django.conf import settings
from django.test import Client
from rest_framework.test import APIClient

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def victim():
    user = UserFactory(username="victim")
    user.set_password("the right one")
    user.save()
    return user


def _login(client: Client, password: str, username: str = "victim"):
    return client.post("/accounts/login/", {"username": username, "password": password})


def test_the_login_page_locks_out_after_the_failure_limit(victim):
    limit = settings.AXES_FAILURE_LIMIT
    assert limit < 50
    client = Client()
    statuses = [_login(client, f"wrong-{n}").status_code for n in range(50)]
    # The failures before the limit are ordinary wrong passwords; from the limit on,
    # the lockout page answers.
    assert statuses[: limit - 1] == [200] * (limit - 1)
    assert statuses[limit - 1 :] == [429] * (50 - limit + 1)

    right = _login(client, "the right one")  # the 51st attempt
    body = right.content.decode()
    assert right.status_code == 429
    assert "Too many failed log-in attempts" in body and "15 minutes" in body
    assert int(right["Retry-After"]) == 15 * 60
    assert "_auth_user_id" not in client.session

    # Counted in the database, so every web process sees the same lockout.
    attempt = AccessAttempt.objects.get(username="victim")
    assert attempt.failures_since_start >= limit


def test_the_lockout_is_per_username_and_address(victim):
    other = UserFactory(username="bystander")
    other.set_password("bystander pass")
    other.save()
    client = Client()
    for n in range(settings.AXES_FAILURE_LIMIT):
        _login(client, f"wrong-{n}")
    # The same address may still log in as someone else…
    ok = _login(client, "bystander pass", username="bystander")
    assert ok.status_code == 302
    # …and the victim from another address.
    elsewhere = Client(REMOTE_ADDR="10.1.2.3")
    assert _login(elsewhere, "the right one").status_code == 302


def test_an_administrator_reset_lifts_the_lockout(victim):
    client = Client()
    for n in range(settings.AXES_FAILURE_LIMIT):
        _login(client, f"wrong-{n}")
    assert _login(client, "the right one").status_code == 429
    reset(username="victim")
    assert _login(client, "the right one").status_code == 302


def test_the_token_endpoint_locks_out_with_json(victim):
    client = APIClient()
    url = "/api/auth/token/"
    statuses = [
        client.post(url, {"username": "victim", "password": f"wrong-{n}"}).status_code
        for n in range(50)
    ]
    limit = settings.AXES_FAILURE_LIMIT
    assert statuses[: limit - 1] == [400] * (limit - 1)
    assert statuses[limit - 1 :] == [429] * (50 - limit + 1)
    response = client.post(url, {"username": "victim", "password": "the right one"})
    assert response.status_code == 429
    assert "Too many failed log-in attempts" in response.json()["detail"]
    assert "token" not in response.json()
    assert response["Cache-Control"] == "no-store"


def test_a_token_response_is_never_cached(victim):
    response = APIClient().post(
        "/api/auth/token/", {"username": "victim", "password": "the right one"}
    )
    assert response.status_code == 200 and response.json()["token"]
    assert response["Cache-Control"] == "no-store"
    wrong = APIClient().post("/api/auth/token/", {"username": "victim", "password": "nope"})
    assert wrong.status_code == 400 and wrong["Cache-Control"] == "no-store"


def test_logging_in_without_a_request_is_not_throttled(victim):
    # The test client's login(), the shell and commands authenticate without a request.
    assert Client().login(username="victim", password="the right one")
