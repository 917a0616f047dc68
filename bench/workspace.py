"""Server time of the annotator's workspace: the annotate page and the submit endpoint.

    python bench/workspace.py [--units 2000] [--page 400] [--submits 300]

Creates a scratch PostgreSQL database (BENCH_DB_NAME, default jb_bench_workspace,
dropped afterwards), loads a single-output task of `--units` units with k = 1 and one
acknowledged annotator through the real services, then times in-process with
Django's test client (no network, DEBUG off, persistent connection):

* **baseline:** a trivial login-required view returning "ok" (session, auth, CSRF
  and CSP middleware, no template, no query of its own);
* **annotate page:** GET /annotate/t/<id>/ as htmx (the workspace partial with the
  leased item, rubric widgets, Markdown, earnings);
* **submit:** POST /annotate/i/<handle>/submit/ as htmx — validate, store, clamp the
  active time, claim the next item and render it.

It prints median and p95 in milliseconds and each median as a ratio to the baseline's,
plus the number of SQL queries per request.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ADMIN_URL = os.environ.get(
    "BENCH_ADMIN_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
DB_NAME = os.environ.get("BENCH_DB_NAME", "jb_bench_workspace")
DB_URL = ADMIN_URL.rsplit("/", 1)[0] + "/" + DB_NAME
FORM = {"q-quality.A": "4", "q-has_error.A": "false", "active_seconds": "12.5"}
RUBRIC = [
    {
        "key": "quality",
        "label": "Quality",
        "type": "likert",
        "min": 1,
        "max": 5,
        "anchors": {"1": "Poor", "5": "Great"},
    },
    {"key": "has_error", "label": "Contains an error", "type": "binary"},
    {"key": "comment", "label": "Comment", "type": "text", "scope": "per_unit"},
]


def env() -> dict[str, str]:
    values = dict(os.environ)
    values.update(
        DJANGO_SETTINGS_MODULE="config.settings.bench",
        DATABASE_URL=DB_URL,
        ALLOWED_HOSTS="testserver,127.0.0.1,localhost",
    )
    return values


def database(action: str) -> None:
    import psycopg

    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        if action == "create":
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')


def load(units: int) -> dict[str, Any]:
    from annotation.models import AnnotatorPool, Output, Prompt, System
    from annotation.services.pools import pool_member_add
    from annotation.services.tasks import task_create, task_launch, task_pool_add
    from common.models import Project, ProjectMembership, ProjectRole, User
    from guidelines.services import (
        guideline_create,
        guideline_version_acknowledge,
        guideline_version_publish,
    )

    lead = User.objects.create_user("lead", password="x")
    project = Project.objects.create(slug="bench", name="Bench", created_by=lead)
    ProjectMembership.objects.create(project=project, user=lead, role=ProjectRole.LEAD)
    system = System.objects.create(project=project, name="bench-system")
    prompts = Prompt.objects.bulk_create(
        [
            Prompt(project=project, external_id=f"p{n}", text=f"Question {n}: why?")
            for n in range(units)
        ]
    )
    body = "An answer with **Markdown**, a list:\n\n- one\n- two\n\n```\ncode\n```\n" * 3
    Output.objects.bulk_create([Output(prompt=p, system=system, text=body) for p in prompts])
    guideline = guideline_create(
        actor=lead, project=project, name="Bench", mode="single", prose="Rate it.", rubric=RUBRIC
    )
    version = guideline_version_publish(actor=lead, version=guideline.versions.get())
    pool = AnnotatorPool.objects.create(project=project, name="crowd", kind="crowd")
    annotator = User.objects.create_user("annotator", password="x")
    pool_member_add(actor=lead, pool=pool, user=annotator)
    guideline_version_acknowledge(actor=annotator, version=version)
    task = task_create(
        actor=lead,
        project=project,
        title="Bench task",
        guideline_version=version,
        mode="single",
        lease_seconds=3600,
        seed=1,
    )
    task_pool_add(actor=lead, task=task, pool=pool, redundancy=1)
    task_launch(actor=lead, task=task)
    return {"annotator": annotator, "task": task}


def timed(run: Callable[[], Any], n: int) -> tuple[list[float], int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    run()  # warm up caches, templates and the connection
    samples = []
    with CaptureQueriesContext(connection) as ctx:
        run()
    queries = len(ctx.captured_queries)
    for _ in range(n):
        t0 = time.perf_counter()
        run()
        samples.append((time.perf_counter() - t0) * 1000)
    return samples, queries


def report(name: str, samples: list[float], queries: int, baseline: float | None) -> float:
    median = statistics.median(samples)
    p95 = statistics.quantiles(samples, n=20)[-1]
    ratio = f"{median / baseline:6.1f}×" if baseline else "   1.0×"
    print(
        f"{name:<28} median {median:7.2f} ms   p95 {p95:7.2f} ms   {ratio}   {queries:3d} queries"
    )
    return median


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--units", type=int, default=2000)
    parser.add_argument("--page", type=int, default=400)
    parser.add_argument("--submits", type=int, default=300)
    args = parser.parse_args()
    if args.submits + 3 > args.units:
        parser.error("--units must exceed --submits")

    database("create")
    try:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
            cwd=ROOT,
            env=env(),
            check=True,
        )
        os.environ.update(env())
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        run_bench(args)
    finally:
        from django.db import connections

        connections.close_all()
        database("drop")


def run_bench(args: argparse.Namespace) -> None:
    from django.contrib.auth.decorators import login_required
    from django.http import HttpResponse
    from django.test import Client, override_settings
    from django.urls import include, path

    from annotation.models import Assignment

    world = load(args.units)
    client = Client()
    client.force_login(world["annotator"])
    task = world["task"]

    @login_required
    def trivial(request: Any) -> HttpResponse:
        return HttpResponse("ok")

    urlconf = type(sys)("bench_workspace_urls")
    urlconf.urlpatterns = [path("bench/trivial/", trivial), path("", include("config.urls"))]
    sys.modules["bench_workspace_urls"] = urlconf
    hx = {"HTTP_HX_REQUEST": "true"}
    page_url = f"/annotate/t/{task.public_id}/"

    with override_settings(ROOT_URLCONF="bench_workspace_urls"):
        client.post(f"/annotate/t/{task.public_id}/next/", **hx)

        def page() -> None:
            assert client.get(page_url, **hx).status_code == 200

        def baseline() -> None:
            assert client.get("/bench/trivial/").status_code == 200

        def submit() -> None:
            handle = Assignment.objects.filter(status="leased").values_list("handle", flat=True)[0]
            t0 = time.perf_counter()
            response = client.post(f"/annotate/i/{handle}/submit/", FORM, **hx)
            submit.elapsed = time.perf_counter() - t0  # type: ignore[attr-defined]
            assert response.status_code == 200, response.content[:300]

        print(f"task of {args.units} units, k = 1; Django test client in-process, PostgreSQL")
        base_samples, base_q = timed(baseline, args.page)
        base = report("baseline (trivial view)", base_samples, base_q, None)
        page_samples, page_q = timed(page, args.page)
        report("annotate page (htmx GET)", page_samples, page_q, base)
        # The handle lookup is bench bookkeeping, not the endpoint: time the POST alone.
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        submit()
        with CaptureQueriesContext(connection) as ctx:
            handle = Assignment.objects.filter(status="leased").values_list("handle", flat=True)[0]
            start = len(ctx.captured_queries)
            client.post(f"/annotate/i/{handle}/submit/", FORM, **hx)
            submit_q = len(ctx.captured_queries) - start
        samples = []
        for _ in range(args.submits):
            submit()
            samples.append(submit.elapsed * 1000)  # type: ignore[attr-defined]
        report("submit + next item (htmx)", samples, submit_q, base)


if __name__ == "__main__":
    main()
