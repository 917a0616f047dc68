"""Every page and endpoint refuses anonymous users and members of other projects.

The URL list is read from the resolver, so an endpoint added later is covered
without anyone remembering to add it here.
"""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from tests.conftest import api_as

# Public by design: authentication itself, the API's own documentation, the admin
# (which has its own login), the crowd entry link and project invitations (their tokens
# are the key).
PUBLIC_PREFIXES = (
    "accounts/",
    "api/schema/",
    "api/docs/",
    "api/auth/token/",
    "admin/",
    "static/",
    "media/",
)
PUBLIC_NAMES = {"crowd-entry", "invite-accept"}

PLACEHOLDERS = {
    "slug": "alpha",
    "int": "1",
    "str": "x",
    "uuid": "00000000-0000-0000-0000-000000000000",
    "path": "x",
}


def _walk(patterns, prefix=""):
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield route, pattern.name


def _concrete(route: str, slug: str) -> str:
    def fill(match: re.Match[str]) -> str:
        converter, name = match.group(1) or "str", match.group(2)
        return slug if name == "slug" else PLACEHOLDERS.get(converter, "x")

    path = re.sub(r"<(?:(\w+):)?(\w+)>", fill, route)
    return "/" + path.lstrip("^").rstrip("$")


def all_routes():
    routes = []
    for route, name in _walk(get_resolver().url_patterns):
        if route.startswith(PUBLIC_PREFIXES) or name in PUBLIC_NAMES or "(?P" in route:
            continue
        routes.append((route, name))
    return routes


ROUTES = all_routes()
PROJECT_ROUTES = [(route, name) for route, name in ROUTES if "<slug:slug>" in route]


def test_the_route_list_is_not_empty():
    assert len(PROJECT_ROUTES) >= 5
    assert any(route.startswith("api/") for route, _ in PROJECT_ROUTES)


@pytest.mark.parametrize(("route", "name"), ROUTES, ids=[r for r, _ in ROUTES])
@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_users_get_no_data(db, project_roles, route, name, method):
    response = getattr(Client(), method)(_concrete(route, "alpha"))
    if route.startswith("api/"):
        assert response.status_code in (401, 403, 405), response.content[:300]
    else:
        assert response.status_code in (302, 403, 405), response.content[:300]
        if response.status_code == 302:
            assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize(("route", "name"), PROJECT_ROUTES, ids=[r for r, _ in PROJECT_ROUTES])
@pytest.mark.parametrize("method", ["get", "post"])
def test_members_of_other_projects_are_refused(db, project_roles, route, name, method):
    """The outsider holds every role in project beta, none in alpha."""
    url = _concrete(route, "alpha")
    if route.startswith("api/"):
        response = getattr(api_as(project_roles.outsider), method)(url)
    else:
        client = Client()
        client.force_login(project_roles.outsider)
        response = getattr(client, method)(url)
    assert response.status_code in (403, 405), (url, response.status_code, response.content[:300])


LEAD_ONLY_API = ["/api/projects/alpha/members/", "/api/projects/alpha/audit/"]


@pytest.mark.parametrize("url", LEAD_ONLY_API)
def test_lead_only_endpoints_refuse_researchers_and_annotators(project_roles, url):
    assert api_as(project_roles.lead).get(url).status_code == 200
    assert api_as(project_roles.researcher).get(url).status_code == 403
    assert api_as(project_roles.annotator).get(url).status_code == 403


def test_researchers_read_but_cannot_import(project_roles):
    client = api_as(project_roles.researcher)
    assert client.get("/api/projects/alpha/outputs/").status_code == 200
    response = client.post("/api/projects/alpha/outputs/import/", {}, format="multipart")
    assert response.status_code == 403


def test_annotators_cannot_read_systems_or_outputs(project_roles):
    client = api_as(project_roles.annotator)
    for url in [
        "/api/projects/alpha/systems/",
        "/api/projects/alpha/outputs/",
        "/api/projects/alpha/prompts/",
    ]:
        assert client.get(url).status_code == 403, url


def test_project_list_shows_only_own_projects(project_roles):
    slugs = [p["slug"] for p in api_as(project_roles.researcher).get("/api/projects/").json()]
    assert slugs == ["alpha"]


def test_superusers_see_every_project(project_roles, django_user_model):
    admin = django_user_model.objects.create_superuser("root", password="x")
    slugs = {p["slug"] for p in api_as(admin).get("/api/projects/").json()}
    assert slugs == {"alpha", "beta"}
