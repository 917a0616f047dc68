"""Time and pay: clamping, per-item and per-hour amounts, the annotator's earnings, the
lead's payout table and CSV and the minimum-rate warning."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from annotation.models import Annotation, PayMode, PoolMembership
from annotation.selectors_pay import annotator_earnings, task_payouts
from annotation.services.assignment import assignment_claim
from annotation.services.pay import (
    active_seconds_clamp,
    annotation_submit_timed,
    task_min_hourly_rate_set,
)
from annotation.services.submission import annotation_submit
from common.models import AuditEvent
from tests.annotation.conftest import valid_answers

pytestmark = pytest.mark.django_db


def test_clamp_to_server_time():
    t0 = timezone.now()
    t1 = t0 + timedelta(seconds=30)
    assert active_seconds_clamp(client_seconds=12.0, served_at=t0, submitted_at=t1) == 12.0
    assert active_seconds_clamp(client_seconds=500.0, served_at=t0, submitted_at=t1) == 30.0
    assert active_seconds_clamp(client_seconds=-3.0, served_at=t0, submitted_at=t1) == 0.0
    assert active_seconds_clamp(client_seconds=None, served_at=t0, submitted_at=t1) == 30.0
    assert active_seconds_clamp(client_seconds=float("nan"), served_at=t0, submitted_at=t1) == 30.0


def _submit(s, user, *, seconds, served_ago):
    a = assignment_claim(actor=user, task=s.task)
    from annotation.models import Assignment

    Assignment.objects.filter(pk=a.pk).update(
        served_at=timezone.now() - timedelta(seconds=served_ago)
    )
    annotation, _ = annotation_submit_timed(
        actor=user,
        handle=a.handle,
        answers=valid_answers("single", 1),
        client_active_seconds=seconds,
    )
    return annotation


def test_per_item_pay_and_effective_rate(scenario_factory):
    s = scenario_factory(
        n_prompts=4, n_systems=1, k=1, n_annotators=1, pay_per_item=Decimal("0.50")
    )
    me = s.annotators[0]
    first = _submit(s, me, seconds=60.0, served_ago=100)
    second = _submit(s, me, seconds=9999.0, served_ago=120)  # clamped to ~120 s
    assert first.active_seconds == 60.0 and second.client_active_seconds == 9999.0
    assert second.active_seconds == pytest.approx(120, abs=2)
    earnings = annotator_earnings(actor=me)
    assert earnings["total"]["items"] == 2 and earnings["total"]["amount"] == Decimal("1.00")
    # $1.00 for ~180 s of active time = ~$20/h
    assert Decimal("19.5") <= earnings["total"]["effective_rate"] <= Decimal("20.5")
    assert [r["amount"] for r in earnings["recent"]] == [Decimal("0.50"), Decimal("0.50")]


def test_per_hour_pay_uses_member_rate_over_task_rate(scenario_factory):
    s = scenario_factory(
        n_prompts=4,
        n_systems=1,
        k=1,
        n_annotators=2,
        pay_per_item=Decimal("18.00"),
        pay_mode=PayMode.PER_HOUR,
    )
    me, other = s.annotators
    PoolMembership.objects.filter(pool=s.pool, user=other).update(
        pay_rate_per_hour=Decimal("36.00")
    )
    _submit(s, me, seconds=1800.0, served_ago=3600)
    _submit(s, other, seconds=1800.0, served_ago=3600)
    payouts = task_payouts(task=s.task)
    by_user = {line.username: line for line in payouts.lines}
    assert by_user[me.username].amount == Decimal("9.00")
    assert by_user[other.username].amount == Decimal("18.00")
    assert by_user[other.username].effective_rate == Decimal("36.00")
    assert payouts.amount == Decimal("27.00") and payouts.effective_rate == Decimal("27.00")


def test_api_submits_without_stored_credit_fall_back_to_clamped_client_time(scenario_factory):
    s = scenario_factory(
        n_prompts=2,
        n_systems=1,
        k=1,
        n_annotators=1,
        pay_per_item=Decimal("60"),
        pay_mode=PayMode.PER_HOUR,
    )
    me = s.annotators[0]
    a = assignment_claim(actor=me, task=s.task)
    from annotation.models import Assignment

    Assignment.objects.filter(pk=a.pk).update(served_at=timezone.now() - timedelta(seconds=60))
    annotation_submit(
        actor=me,
        handle=a.handle,
        answers=valid_answers("single", 1),
        client_active_seconds=10_000.0,
    )  # the API path: nothing clamped yet
    assert Annotation.objects.get().active_seconds is None
    line = task_payouts(task=s.task).lines[0]
    assert line.seconds == pytest.approx(60, abs=2)  # clamped in SQL to served → submitted
    assert line.amount == pytest.approx(Decimal("1.00"), abs=Decimal("0.04"))


def test_minimum_rate_warning_on_payout_page_and_csv(scenario_factory):
    s = scenario_factory(
        n_prompts=3, n_systems=1, k=1, n_annotators=1, pay_per_item=Decimal("0.10")
    )
    me = s.annotators[0]
    me_pool = PoolMembership.objects.get(pool=s.pool, user=me)
    me_pool.external_worker_id = "=HYPERLINK(1)"
    me_pool.save(update_fields=["external_worker_id"])
    _submit(s, me, seconds=60.0, served_ago=90)  # $0.10 a minute = $6/h
    client = Client()
    client.force_login(s.lead)
    url = reverse("task-payouts", args=[s.project.slug, s.task.pk])
    body = client.get(url).content.decode()
    assert me.username in body and "$0.10" in body and "Below the minimum" not in body
    response = client.post(url, {"min_hourly_rate": "12.00"})
    assert response.status_code == 302
    s.task.refresh_from_db()
    assert s.task.min_hourly_rate == Decimal("12.00")
    assert AuditEvent.objects.filter(action="task.min_hourly_rate_set").count() == 1
    body = client.get(url).content.decode()
    assert "Below the minimum" in body and "$6.00/h" in body
    csv_response = client.get(reverse("task-payouts-csv", args=[s.project.slug, s.task.pk]))
    assert csv_response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(csv_response.content.decode())))
    assert len(rows) == 1
    row = rows[0]
    assert row["annotator"] == me.username and row["items"] == "1" and row["amount"] == "0.10"
    assert row["effective_hourly_rate"] == "6.00" and row["below_minimum"] == "yes"
    assert row["worker_id"] == "'=HYPERLINK(1)"  # no formula injection in spreadsheets
    assert float(row["active_hours"]) == pytest.approx(60 / 3600, abs=1e-3)
    task_min_hourly_rate_set(actor=s.lead, task=s.task, rate=None)
    s.task.refresh_from_db()
    assert s.task.min_hourly_rate is None


@pytest.mark.parametrize(
    "who,status", [("annotator", 403), ("researcher", 403), ("anonymous", 302)]
)
def test_payouts_are_for_leads_only(scenario_factory, who, status):
    from common.models import ProjectRole
    from tests.factories import MembershipFactory, UserFactory

    s = scenario_factory(n_prompts=1, n_systems=1, n_annotators=1)
    client = Client()
    if who == "annotator":
        client.force_login(s.annotators[0])
    elif who == "researcher":
        user = UserFactory(username=f"res-{s.task.pk}")
        MembershipFactory(project=s.project, user=user, role=ProjectRole.RESEARCHER)
        client.force_login(user)
    for name in ("task-payouts", "task-payouts-csv"):
        assert client.get(reverse(name, args=[s.project.slug, s.task.pk])).status_code == status


def test_payout_queries_do_not_grow_with_annotations(
    scenario_factory, django_assert_max_num_queries
):
    s = scenario_factory(n_prompts=30, n_systems=1, k=2, n_annotators=3)
    for user in s.annotators:
        for _ in range(10):
            _submit(s, user, seconds=30.0, served_ago=40)
    with django_assert_max_num_queries(2):
        payouts = task_payouts(task=s.task)
    assert payouts.items == 30 and len(payouts.lines) == 3
