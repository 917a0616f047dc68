"""Platform-wide conventions: login page, OpenAPI schema, CSP, admin."""

from __future__ import annotations

import io

from django.core.management import call_command
from django.test import Client


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
