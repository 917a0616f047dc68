"""The lead's payout table for a task: per annotator items, active hours, amount and
effective hourly rate, as a page and as CSV, with the task's minimum hourly rate."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render

from annotation.selectors import task_get
from annotation.selectors_pay import task_payouts
from annotation.services.pay import task_min_hourly_rate_set
from common.csv_writer import rows_csv
from common.exceptions import ApplicationError
from common.http import AuthenticatedHttpRequest
from common.models import Project, ProjectRole
from common.views import project_view


class MinRateForm(forms.Form):
    min_hourly_rate = forms.DecimalField(
        max_digits=8,
        decimal_places=2,
        min_value=Decimal("0"),
        required=False,
        label="Minimum effective hourly rate",
    )


@project_view([ProjectRole.LEAD])
def task_payouts_page(
    request: AuthenticatedHttpRequest, project: Project, task_id: int
) -> HttpResponse:
    task = task_get(project=project, task_id=task_id)
    form = MinRateForm(request.POST or None, initial={"min_hourly_rate": task.min_hourly_rate})
    if request.method == "POST" and form.is_valid():
        try:
            task_min_hourly_rate_set(
                actor=request.user, task=task, rate=form.cleaned_data["min_hourly_rate"]
            )
        except ApplicationError as exc:
            messages.error(request, exc.message)
        return redirect("task-payouts", slug=project.slug, task_id=task.pk)
    context = {"project": project, "task": task, "payouts": task_payouts(task=task), "form": form}
    return render(
        request, "annotation/workspace/payouts.html", context, status=400 if form.errors else 200
    )


PAYOUT_COLUMNS = [
    "annotator",
    "pool",
    "pool_kind",
    "worker_id",
    "completion_code",
    "items",
    "active_hours",
    "pay_mode",
    "rate",
    "amount",
    "effective_hourly_rate",
    "below_minimum",
]


@project_view([ProjectRole.LEAD])
def task_payouts_csv(
    request: AuthenticatedHttpRequest, project: Project, task_id: int
) -> HttpResponse:
    task = task_get(project=project, task_id=task_id)
    payouts = task_payouts(task=task)
    rows = [
        [
            line.username,
            line.pool,
            line.pool_kind,
            line.worker_id,
            line.completion_code,
            line.items,
            f"{line.hours:.4f}",
            line.pay_mode,
            line.rate,
            line.amount,
            line.effective_rate,
            "yes" if line.username in payouts.annotators_below else "no",
        ]
        for line in payouts.lines
    ]
    # The platform's one CSV writer: usernames and worker ids are typed by people.
    response = HttpResponse(rows_csv(PAYOUT_COLUMNS, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="payouts-{task.slug}.csv"'
    return response
