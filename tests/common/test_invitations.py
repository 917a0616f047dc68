"""Membership by invitation: leads add people from their other projects or invite an
e-mail address; typing a platform username proves nothing about who exists."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client

from common.models import AuditEvent, ProjectMembership, ProjectRole
from tests.conftest import api_as
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

MEMBERS = "/api/projects/alpha/members/"
INVITATIONS = "/api/projects/alpha/invitations/"


def test_a_username_from_outside_the_leads_projects_is_refused_the_same_way(project_roles):
    UserFactory(username="someone-real")
    lead = api_as(project_roles.lead)
    real = lead.post(MEMBERS, {"username": "someone-real", "role": "annotator"})
    made_up = lead.post(MEMBERS, {"username": "nobody-at-all", "role": "annotator"})
    assert real.status_code == made_up.status_code == 400
    assert real.json() == made_up.json()  # nothing tells which one exists
    assert not ProjectMembership.objects.filter(user__username="someone-real").exists()


def test_a_member_of_another_project_the_lead_leads_is_added(project_roles):
    beta_annotator = UserFactory(username="beta-annotator")
    MembershipFactory(project=project_roles.other_project, user=beta_annotator, role="annotator")
    MembershipFactory(project=project_roles.other_project, user=project_roles.lead, role="lead")
    response = api_as(project_roles.lead).post(
        MEMBERS, {"username": "beta-annotator", "role": "annotator"}
    )
    assert response.status_code == 200
    assert {"username": "beta-annotator", "role": "annotator"} in response.json()
    assert AuditEvent.objects.filter(
        action="membership.add", project=project_roles.project
    ).exists()


def test_an_invitation_by_email_is_accepted_once_with_a_new_account(
    project_roles, django_capture_on_commit_callbacks
):
    lead = api_as(project_roles.lead)
    with django_capture_on_commit_callbacks(execute=True):
        created = lead.post(INVITATIONS, {"email": "new.person@lab.org", "role": "annotator"})
    assert created.status_code == 201
    body = created.json()
    assert body["email"] == "new.person@lab.org" and body["role"] == "annotator"
    # The mail went out after the commit, with the link.
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["new.person@lab.org"]
    link = re.search(r"http://testserver(/invite/[^/\s]+/)", mail.outbox[0].body).group(1)
    assert body["accept_url"].endswith(link)
    assert [i["email"] for i in lead.get(INVITATIONS).json()] == ["new.person@lab.org"]

    visitor = Client()
    page = visitor.get(link)
    assert page.status_code == 200 and "Join" in page.content.decode()
    weak = visitor.post(
        link,
        {
            "action": "signup",
            "username": "newperson",
            "password1": "newperson1",
            "password2": "newperson1",
        },
    )
    assert weak.status_code == 400  # the password validators apply
    joined = visitor.post(
        link,
        {
            "action": "signup",
            "username": "newperson",
            "password1": "tidal-orbit-quince",
            "password2": "tidal-orbit-quince",
        },
    )
    assert joined.status_code == 302
    membership = ProjectMembership.objects.get(user__username="newperson")
    assert (membership.project, membership.role) == (project_roles.project, ProjectRole.ANNOTATOR)
    assert membership.user.email == "new.person@lab.org"
    assert AuditEvent.objects.filter(action="invitation.accept").count() == 1
    # Used once: a second visitor gets nothing.
    again = Client().post(
        link,
        {
            "action": "signup",
            "username": "other",
            "password1": "x-Qz81-kpw",
            "password2": "x-Qz81-kpw",
        },
    )
    assert (
        again.status_code == 200
        and not ProjectMembership.objects.filter(user__username="other").exists()
    )
    assert lead.get(INVITATIONS).json() == []


def test_a_signed_in_person_accepts_and_a_revoked_invitation_is_gone(project_roles):
    lead = api_as(project_roles.lead)
    first = lead.post(INVITATIONS, {"email": "b@lab.org", "role": "researcher"}).json()
    second = lead.post(INVITATIONS, {"email": "c@lab.org", "role": "researcher"}).json()
    person = UserFactory(username="carla")
    client = Client()
    client.force_login(person)
    link = first["accept_url"].replace("http://testserver", "")
    assert client.post(link, {"action": "accept"}).status_code == 302
    assert ProjectMembership.objects.filter(user=person, role="researcher").exists()

    assert lead.delete(f"{INVITATIONS}{second['id']}/").status_code == 204
    revoked = second["accept_url"].replace("http://testserver", "")
    assert client.get(revoked).status_code == 404
    assert AuditEvent.objects.filter(action="invitation.revoke").count() == 1


def test_the_members_page_invites_and_lists(project_roles):
    client = Client()
    client.force_login(project_roles.lead)
    page = client.get("/p/alpha/members/")
    assert page.status_code == 200 and "Invite by e-mail" in page.content.decode()
    sent = client.post(
        "/p/alpha/members/", {"action": "invite", "email": "d@lab.org", "role": "annotator"}
    )
    assert sent.status_code == 302
    assert "d@lab.org" in client.get("/p/alpha/members/").content.decode()
    other = Client()
    other.force_login(project_roles.researcher)
    assert other.get("/p/alpha/members/").status_code == 403
