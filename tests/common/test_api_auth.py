"""The cached API token authentication: a hit costs no query, and revoking a token or
deactivating its user takes effect at once in the process that did it."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from common.api.auth import CachedTokenAuthentication, token_cache_clear
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
# SessionAuthentication comes first, so DRF answers a refused token with 403.
REFUSED = (401, 403)


@pytest.fixture(autouse=True)
def _empty_cache():
    token_cache_clear()
    yield
    token_cache_clear()


def client_with(token: Token) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def test_settings_use_the_cached_token_authentication_after_sessions():
    from rest_framework.settings import api_settings

    classes = api_settings.DEFAULT_AUTHENTICATION_CLASSES
    assert classes[0].__name__ == "SessionAuthentication"
    assert CachedTokenAuthentication in classes


def test_a_cached_token_costs_no_query(django_assert_num_queries):
    user = UserFactory()
    token = Token.objects.create(user=user)
    auth = CachedTokenAuthentication()
    with django_assert_num_queries(1):
        first, _ = auth.authenticate_credentials(token.key)
    with django_assert_num_queries(0):
        again, cached = auth.authenticate_credentials(token.key)
    assert first.pk == again.pk == user.pk and cached.key == token.key
    assert first is not again  # each request gets its own copy of the user


def test_deleting_a_token_revokes_it_at_once():
    token = Token.objects.create(user=UserFactory())
    client = client_with(token)
    url = reverse("api-annotate-tasks")
    assert client.get(url).status_code == 200
    assert client.get(url).status_code == 200  # served from the cache
    token.delete()
    assert client.get(url).status_code in REFUSED


def test_a_rotated_token_works_and_the_old_one_does_not():
    user = UserFactory()
    old = Token.objects.create(user=user)
    url = reverse("api-annotate-tasks")
    assert client_with(old).get(url).status_code == 200
    old.delete()
    new = Token.objects.create(user=user)
    assert client_with(old).get(url).status_code in REFUSED
    assert client_with(new).get(url).status_code == 200


def test_deactivating_the_user_revokes_the_cached_token():
    user = UserFactory()
    token = Token.objects.create(user=user)
    client = client_with(token)
    url = reverse("api-annotate-tasks")
    assert client.get(url).status_code == 200
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert client.get(url).status_code in REFUSED


def test_an_unknown_token_is_refused_and_not_cached():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    assert client.get(reverse("api-annotate-tasks")).status_code in REFUSED
    from common.api import auth

    assert "0" * 40 not in auth._cache
