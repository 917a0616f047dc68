"""The demo's live tasks: ready for a demo expert and a demo crowd worker to log in and
work, through the pages, and seeded once."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse

from annotation.models import TaskPoolWorker
from demo.guidelines import QUIZ_V2
from demo.live_tasks import FACTUAL_SLUG, PAIRWISE_SLUG, seed_demo_tasks
from demo.project import prompt_external_id


def test_demo_logins_reach_a_ready_task_for_an_expert_and_a_crowd_annotator(demo_project):
    project, lead = demo_project.project, demo_project.lead
    tasks = seed_demo_tasks(project=project, lead=lead)
    again = seed_demo_tasks(project=project, lead=lead)  # idempotent
    assert {t.pk for t in tasks.values()} == {t.pk for t in again.values()}
    factual, pairwise = tasks[FACTUAL_SLUG], tasks[PAIRWISE_SLUG]
    assert factual.status == pairwise.status == "live"
    assert factual.units.count() == 120 and factual.units.filter(is_gold=True).count() == 6
    assert pairwise.units.count() == 120
    assert factual.pay_per_item > 0 and pairwise.pay_per_item > 0
    # The tasks ask the first 90 questions; the guideline's quiz and examples ask the last.
    asked = {unit.prompt.external_id for task in (factual, pairwise) for unit in task.units.all()}
    assert asked == {prompt_external_id(index) for index in range(90)}

    for username in ("expert1", "crowd1"):
        client = Client()
        assert client.login(username=username, password="demo")
        home = client.get(reverse("annotate-home")).content.decode()
        assert factual.title in home and pairwise.title in home
        page = reverse("annotate-task", args=[factual.public_id])
        assert "I have read the guidelines" in client.get(page).content.decode()
        client.post(reverse("annotate-acknowledge", args=[factual.public_id]))
        if username.startswith("crowd"):  # the crowd pool must pass the v2 quiz first
            assert "Qualification quiz" in client.get(page).content.decode()
            form = {}
            for item in QUIZ_V2["items"]:
                for key, per_letter in item["answers"].items():
                    for letter, value in per_letter.items():
                        form[f"quiz-{item['id']}-{key}.{letter}"] = (
                            str(value).lower() if isinstance(value, bool) else str(value)
                        )
            client.post(reverse("annotate-quiz", args=[factual.public_id]), form)
        client.post(reverse("annotate-next", args=[factual.public_id]))
        body = client.get(page).content.decode()
        assert "Response A" in body and 'name="q-quality.A"' in body, username
    assert TaskPoolWorker.objects.filter(user__username__in=["expert1", "crowd1"]).count() == 2
