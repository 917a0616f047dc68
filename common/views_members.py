"""A project's members: invitations by e-mail, people from the lead's other projects,
and the page an invited person accepts on (signing up if they have no account)."""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.forms import UserCreationForm
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from common.exceptions import ApplicationError, NotFound
from common.http import AuthenticatedHttpRequest, HtmxHttpRequest
from common.models import Project, ProjectRole, User
from common.selectors import (
    project_invitation_by_token,
    project_invitation_get,
    project_invitations_open,
    project_member_candidates,
    project_members,
)
from common.services import (
    project_invitation_accept,
    project_invitation_create,
    project_invitation_revoke,
    project_membership_add,
    project_membership_remove,
)
from common.views import project_view


class InviteForm(forms.Form):
    email = forms.EmailField()
    role = forms.ChoiceField(choices=ProjectRole.choices, initial=ProjectRole.ANNOTATOR)


class SignUpForm(UserCreationForm):
    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username",)


def _accept_url(request: HttpRequest) -> Callable[[str], str]:
    return lambda token: request.build_absolute_uri(reverse("invite-accept", args=[token]))


@require_http_methods(["GET", "POST"])
@project_view([ProjectRole.LEAD])
def project_members_page(request: AuthenticatedHttpRequest, project: Project) -> HttpResponse:
    invite_form = InviteForm(request.POST if request.POST.get("action") == "invite" else None)
    if request.method == "POST":
        action = request.POST.get("action")
        role = request.POST.get("role", "")
        try:
            if action == "invite" and invite_form.is_valid():
                project_invitation_create(
                    actor=request.user,
                    project=project,
                    accept_url=_accept_url(request),
                    **invite_form.cleaned_data,
                )
                messages.success(
                    request, f"Invitation sent to {invite_form.cleaned_data['email']}."
                )
            elif action == "add":
                candidates = project_member_candidates(actor=request.user, project=project)
                user = candidates.filter(pk=int(request.POST.get("user", 0))).first()
                if user is None:
                    raise ApplicationError("Choose someone from your other projects.")
                project_membership_add(actor=request.user, project=project, user=user, role=role)
            elif action == "remove":
                member = project_members(project=project).filter(
                    user_id=int(request.POST.get("user", 0)), role=role
                )
                if (membership := member.first()) is not None:
                    project_membership_remove(
                        actor=request.user, project=project, user=membership.user, role=role
                    )
            elif action == "revoke":
                invitation = project_invitation_get(
                    project=project, invitation_id=int(request.POST.get("invitation", 0))
                )
                project_invitation_revoke(actor=request.user, invitation=invitation)
        except (ApplicationError, ValueError) as exc:
            messages.error(request, getattr(exc, "message", "Check the form."))
        if not invite_form.errors:
            return redirect("project-members", slug=project.slug)
    context = {
        "project": project,
        "members": project_members(project=project),
        "candidates": project_member_candidates(actor=request.user, project=project),
        "invitations": project_invitations_open(project=project),
        "invite_form": invite_form,
        "roles": ProjectRole.choices,
    }
    return render(
        request, "common/members.html", context, status=400 if invite_form.errors else 200
    )


@require_http_methods(["GET", "POST"])
def invitation_accept_page(request: HtmxHttpRequest, token: str) -> HttpResponse:
    """Accept an invitation: signed in, with one click; otherwise log in or sign up."""
    invitation = project_invitation_by_token(token=token)
    if invitation is None or invitation.revoked_at is not None:
        raise NotFound("This invitation is not valid; ask the project's lead for a new one.")
    signup = SignUpForm(request.POST if request.POST.get("action") == "signup" else None)
    if request.method == "POST":
        try:
            if request.user.is_authenticated:
                project_invitation_accept(token=token, user=request.user)
            elif signup.is_valid():
                with transaction.atomic():
                    user = signup.save(commit=False)
                    user.email = invitation.email
                    user.save()
                    project_invitation_accept(token=token, user=user)
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            else:
                raise ApplicationError("Choose a username and a password.")
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"You joined {invitation.project.name}.")
            return redirect("home")
    context = {"invitation": invitation, "signup": signup, "token": token}
    return render(request, "common/invitation.html", context, status=400 if signup.errors else 200)
