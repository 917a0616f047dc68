"""Platform-wide conventions: demo seed, login page, OpenAPI schema, CSP, admin."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.test import Client

from annotation.models import AnnotatorPool, Output, PoolMembership, Prompt, System
from common.models import AuditEvent, User


@pytest.mark.slow
def test_seed_demo_is_idempotent_and_creates_every_role(db):
    call_command("seed_demo", stdout=io.StringIO())
    counts = (
        Output.objects.count(),
        Prompt.objects.count(),
        System.objects.count(),
        AuditEvent.objects.count(),
    )
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    assert (Output.objects.count(), Prompt.objects.count(), System.objects.count()) == counts[:3]
    # A second run records only its no-op import, nothing else.
    assert AuditEvent.objects.count() <= counts[3] + 1
    usernames = set(User.objects.values_list("username", flat=True))
    assert {"lead", "researcher", "expert1", "expert2", "crowd1", "crowd5"} <= usernames
    assert counts[0] >= 1000 and counts[1] >= 200 and counts[2] >= 3
    assert set(AnnotatorPool.objects.values_list("kind", flat=True)) == {"expert", "crowd"}
    assert PoolMembership.objects.filter(pool__name="Crowd pool").count() == 5
    # The simulated tone study brings its own pools and annotators.
    assert AnnotatorPool.objects.filter(name__endswith="(simulated)").count() == 2
    for username in ("lead", "researcher", "expert1", "crowd3"):
        assert Client().login(username=username, password="demo"), username
    assert "crowd5" in out.getvalue() and "password 'demo'" in out.getvalue()


def test_login_page_is_served_at_the_standard_url(db):
    response = Client().get("/accounts/login/")
    assert response.status_code == 200 and b'name="password"' in response.content


def test_pages_send_a_content_security_policy(db):
    policy = Client().get("/accounts/login/")["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "object-src 'none'" in policy
    assert "unsafe-inline" not in policy


def test_openapi_schema_and_docs_are_served_locally(db):
    client = Client()
    schema = client.get("/api/schema/")
    assert schema.status_code == 200 and b"openapi" in schema.content
    assert b"/api/projects/{slug}/outputs/import/" in schema.content
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "http://" not in html.replace("http://testserver", "") and "https://" not in html


def test_schema_generation_has_no_warnings(db):
    out, err = io.StringIO(), io.StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out, stderr=err)
    assert "openapi" in out.getvalue()


def test_admin_is_available_to_superusers(db, django_user_model):
    admin = django_user_model.objects.create_superuser("root", password="x")
    client = Client()
    client.force_login(admin)
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/annotation/output/").status_code == 200
