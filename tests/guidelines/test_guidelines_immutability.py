"""A published version cannot change through the ORM, raw SQL, the API or the admin."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import ProtectedError
from django.test import Client

from guidelines.models import GuidelineVersion, PublishedVersionImmutable, VersionStatus
from guidelines.services import guideline_version_create_draft
from tests.conftest import api_as
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

CONTENT_CHANGES = [
    ("prose", "changed"),
    ("rubric", []),
    ("examples", [{"title": "x"}]),
    ("quiz", {"items": []}),
    ("changelog", "rewritten"),
    ("number", 99),
    ("status", VersionStatus.DRAFT),
]


def snapshot(version: GuidelineVersion) -> tuple:
    fresh = GuidelineVersion.objects.get(pk=version.pk)
    return (
        fresh.prose,
        fresh.rubric,
        fresh.examples,
        fresh.quiz,
        fresh.changelog,
        fresh.number,
        fresh.status,
        fresh.published_at,
    )


@pytest.mark.parametrize(("field", "value"), CONTENT_CHANGES)
def test_orm_save_is_refused_by_the_database(published, field, value):
    before = snapshot(published)
    setattr(published, field, value)
    with pytest.raises(IntegrityError, match="cannot be changed"), transaction.atomic():
        published.save()
    assert snapshot(published) == before


def test_queryset_update_and_delete_are_refused(published):
    before = snapshot(published)
    with pytest.raises(PublishedVersionImmutable):
        GuidelineVersion.objects.filter(pk=published.pk).update(prose="x")
    with pytest.raises(PublishedVersionImmutable):
        GuidelineVersion.objects.filter(pk=published.pk).delete()
    # Instance delete bypasses the queryset; the audit row's PROTECT and the trigger hold.
    with pytest.raises((ProtectedError, IntegrityError)), transaction.atomic():
        published.delete()
    assert snapshot(published) == before


def test_raw_sql_update_and_delete_hit_the_trigger(published):
    table = GuidelineVersion._meta.db_table
    changed, deleted = "cannot be changed", "cannot be deleted"
    for sql, message in (
        (f"UPDATE {table} SET rubric = '[]'::jsonb WHERE id = %s", changed),
        (f"UPDATE {table} SET status = 'draft' WHERE id = %s", changed),
        (f"UPDATE {table} SET published_by_id = NULL WHERE id = %s", changed),
        (f"DELETE FROM {table} WHERE id = %s", deleted),
    ):
        with (
            pytest.raises(IntegrityError, match=message),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [published.pk])
    assert GuidelineVersion.objects.get(pk=published.pk).rubric


def test_trigger_lets_drafts_change_and_published_bookkeeping_move(project_roles, published):
    table = GuidelineVersion._meta.db_table
    v2 = guideline_version_create_draft(actor=project_roles.lead, guideline=published.guideline)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET prose = 'edited' WHERE id = %s", [v2.pk])
        cursor.execute(f"UPDATE {table} SET updated_at = now() WHERE id = %s", [published.pk])
    assert GuidelineVersion.objects.get(pk=v2.pk).prose == "edited"
    GuidelineVersion.objects.filter(pk=v2.pk).delete()
    assert not GuidelineVersion.objects.filter(pk=v2.pk).exists()


def test_api_refuses_changes_to_published(project_roles, published):
    client = api_as(project_roles.lead)
    url = f"/api/projects/alpha/guidelines/{published.guideline_id}/versions/1/"
    before = snapshot(published)
    response = client.patch(url, {"prose": "changed"}, format="json")
    assert response.status_code == 400 and "published" in response.json()["detail"]
    assert client.put(url, {"prose": "changed"}, format="json").status_code == 405
    assert client.delete(url).status_code == 400
    rubric_url = url + "rubric/"
    response = client.put(rubric_url, {"fmt": "json", "text": "[]"}, format="json")
    assert response.status_code == 400
    assert client.post(url + "publish/", {}, format="json").status_code == 400
    assert snapshot(published) == before


def test_admin_shows_published_read_only_and_refuses_changes(published):
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin)
    url = f"/admin/guidelines/guidelineversion/{published.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200
    assert b'name="prose"' not in page.content  # rendered as text, not as an input
    before = snapshot(published)
    response = client.post(
        url, {"prose": "changed", "rubric": "[]", "examples": "[]", "quiz": "{}", "changelog": "x"}
    )
    assert response.status_code == 403
    delete = client.post(
        f"/admin/guidelines/guidelineversion/{published.pk}/delete/", {"post": "yes"}
    )
    assert delete.status_code == 403
    assert snapshot(published) == before


def test_admin_edits_drafts_through_the_service(project_roles, draft):
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin)
    url = f"/admin/guidelines/guidelineversion/{draft.pk}/change/"
    assert b'name="prose"' in client.get(url).content
    response = client.post(
        url,
        {
            "prose": "from admin",
            "rubric": '[{"key": "k", "label": "K", "type": "binary"}]',
            "examples": "[]",
            "quiz": "{}",
            "changelog": "",
        },
    )
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.prose == "from admin"
    assert draft.rubric[0]["level"] == "nominal"  # normalized by the service
