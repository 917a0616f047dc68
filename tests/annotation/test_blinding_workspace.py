"""The blinding crawler over the workspace's own pages and htmx fragments: home,
earnings, the guideline panel, onboarding, and every state the item partial can be
in (item, refused answers, lease lost, skip, flag, done) — none identifies a system,
shows gold or another annotator's answers, or carries a design field."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from annotation.models import Assignment, Slot
from annotation.services.assignment import slot_leases_expire
from tests.annotation.test_blinding import Crawler, build_blinding_world

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


def form_for(mode: str) -> dict[str, str]:
    if mode == "pairwise":
        return {"q-preference": "B", "q-quality.A": "2", "q-quality.B": "5", "active_seconds": "3"}
    return {"q-quality.A": "4", "q-has_error.A": "true", "q-comment": "ok", "active_seconds": "3"}


def test_workspace_fragments_reveal_nothing(scenario_factory):
    # The pairwise guideline is left unacknowledged so onboarding is crawled too.
    world = build_blinding_world(
        scenario_factory,
        pairwise_prompts=4,
        single_prompts=6,
        gold_units=4,
        pairwise_acknowledged=False,
        single_cap=5,
    )
    pairwise, single, me = world.pairwise, world.single, world.me
    forbidden, ids = world.forbidden, world.ids
    client = Client()
    client.force_login(me)
    crawler = Crawler(client, forbidden, ids)

    def post(url: str, data: dict | None = None, **headers: str):
        response = client.post(url, data or {}, **headers)
        crawler.check("POST", url, response)
        return response

    # Onboarding (pairwise is not acknowledged yet), as a page and as fragments.
    pid = pairwise.task.public_id
    crawler.get(reverse("annotate-task", args=[pid]))
    crawler.get(reverse("annotate-task", args=[pid]), **HX)
    crawler.get(reverse("annotate-guide", args=[pid]), **HX)
    post(reverse("annotate-next", args=[pid]), **HX)  # refused: onboarding again
    post(reverse("annotate-acknowledge", args=[pid]), **HX)

    for s, mode in ((pairwise, "pairwise"), (single, "single")):
        pid = s.task.public_id
        post(reverse("annotate-next", args=[pid]), **HX)
        for step in range(6):
            handle = (
                Assignment.objects.filter(annotator=me, task_pool__task=s.task, status="leased")
                .values_list("handle", flat=True)
                .first()
            )
            if handle is None:
                break
            crawler.get(reverse("annotate-task", args=[pid]) + f"?step={step}")
            crawler.get(reverse("annotate-task", args=[pid]) + f"?step={step}", **HX)
            assert (
                post(reverse("annotate-submit", args=[handle]), {"q-bogus": "1"}, **HX).status_code
                == 400
            )
            if step == 1:
                post(reverse("annotate-skip", args=[handle]), {"reason": "other"}, **HX)  # refused
                post(reverse("annotate-skip", args=[handle]), {"reason": "cannot_judge"}, **HX)
            elif step == 2:
                post(
                    reverse("annotate-flag", args=[handle]), {"reason": "other", "note": "?"}, **HX
                )
            elif step == 3:
                mine = Assignment.objects.get(handle=handle)
                past = timezone.now() - timedelta(seconds=1)
                Assignment.objects.filter(pk=mine.pk).update(lease_expires_at=past)
                Slot.objects.filter(pk=mine.slot_id).update(lease_expires_at=past)
                slot_leases_expire()
                assert (
                    post(
                        reverse("annotate-submit", args=[handle]), form_for(mode), **HX
                    ).status_code
                    == 409
                )
            else:
                post(reverse("annotate-submit", args=[handle]), form_for(mode), **HX)
                post(reverse("annotate-submit", args=[handle]), form_for(mode), **HX)  # repeat
        crawler.get(reverse("annotate-guide", args=[pid]))
        crawler.get(reverse("annotate-task", args=[pid]))
    crawler.get(reverse("annotate-home"))
    crawler.get(reverse("annotate-earnings"))
    assert crawler.responses > 40
    # The lead's payout page is not reachable for an annotator, whatever they guess.
    assert (
        client.get(reverse("task-payouts", args=[single.project.slug, single.task.pk])).status_code
        == 403
    )
