"""Export 1,000,000 annotations from PostgreSQL to CSV, JSONL and Parquet; compare each
with a bare ``COPY (SELECT …) TO STDOUT`` of the same rows in the same run.

Run: .venv/bin/python bench/export.py [--annotations 1000000] [--keep]

Creates a scratch database (jb_bench_export, dropped afterwards unless --keep), migrates
it, loads a pairwise task with COPY (100,000 prompts × 4 systems, 200,000 units, k = 5,
2,000 annotators, 1,000,000 submitted annotations), then times in fresh child processes
(so each peak memory, ru_maxrss, is its own):

* **baseline:** psycopg ``COPY (<the export's SELECT>) TO STDOUT (FORMAT csv)`` written
  to a file — the export query itself, with no parsing or formatting in Python;
* **csv / jsonl / parquet:** `exports.services.annotations_write`, the code path of
  jobs and the command line (COPY → Arrow batches → renderer → fsynced file).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ADMIN_URL = os.environ.get(
    "BENCH_ADMIN_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
DB_NAME = "jb_bench_export"
DB_URL = ADMIN_URL.rsplit("/", 1)[0] + "/" + DB_NAME
K = 5
SYSTEMS = 4
ANNOTATORS = 2000


def _django() -> None:
    os.environ["DATABASE_URL"] = DB_URL
    os.environ.setdefault("SECRET_KEY", "bench-only")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    import django

    django.setup()


def _copy_rows(cursor: object, table: str, columns: list[str], rows: object) -> None:
    """COPY rows into `table`; NOT NULL columns the bench does not name get a neutral
    value of their type, so the script survives columns added later."""
    cursor.execute(  # type: ignore[attr-defined]
        "SELECT column_name, is_nullable, data_type FROM information_schema.columns "
        "WHERE table_name = %s AND column_name <> 'id'",
        [table],
    )
    neutral = {
        "boolean": False,
        "integer": 0,
        "bigint": 0,
        "smallint": 0,
        "double precision": 0.0,
        "numeric": 0,
        "jsonb": "{}",
        "text": "",
        "character varying": "",
        "timestamp with time zone": "2024-01-01T00:00:00Z",
    }
    extra = [
        (name, neutral.get(kind, ""))
        for name, nullable, kind in cursor.fetchall()  # type: ignore[attr-defined]
        if nullable == "NO" and name not in columns
    ]
    names = columns + [name for name, _ in extra]
    fill = tuple(value for _, value in extra)
    with cursor.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
        for row in rows:  # type: ignore[attr-defined]
            copy.write_row(tuple(row) + fill)


def load(annotations: int) -> str:
    """Create the task and its annotations; returns the task slug."""
    from django.db import connection

    from annotation.models import AnnotatorPool, System, Task, TaskPool
    from common.models import Project, ProjectMembership, User
    from guidelines.models import Guideline, GuidelineVersion

    units = annotations // K
    prompts = units // 2
    lead = User.objects.create_superuser("lead", password="x")
    project = Project.objects.create(slug="bench", name="Bench", created_by=lead)
    ProjectMembership.objects.create(project=project, user=lead, role="lead")
    systems = [System.objects.create(project=project, name=f"system-{i}") for i in range(SYSTEMS)]
    guideline = Guideline.objects.create(project=project, name="Guide", mode="pairwise")
    rubric = [
        {
            "key": "preference",
            "label": "Which is better?",
            "type": "pairwise",
            "level": "nominal",
            "scope": "per_unit",
            "required": True,
            "help": "",
            "allow_tie": True,
            "strength": False,
            "strength_levels": [],
        },
        {
            "key": "quality",
            "label": "Quality",
            "type": "likert",
            "level": "ordinal",
            "scope": "per_output",
            "required": True,
            "help": "",
            "min": 1,
            "max": 5,
            "anchors": {},
        },
        {
            "key": "has_error",
            "label": "Factual error",
            "type": "binary",
            "level": "nominal",
            "scope": "per_output",
            "required": True,
            "help": "",
        },
        {
            "key": "comment",
            "label": "Comment",
            "type": "text",
            "level": None,
            "scope": "per_unit",
            "required": False,
            "help": "",
            "max_length": 2000,
        },
    ]
    from django.utils import timezone

    now = timezone.now()
    version = GuidelineVersion.objects.create(
        guideline=guideline,
        number=1,
        status="published",
        prose="Judge.",
        rubric=rubric,
        published_at=now,
        published_by=lead,
    )
    task = Task.objects.create(
        project=project,
        public_id="benchtask",
        slug="bench-task",
        title="Bench task",
        guideline_version=version,
        mode="pairwise",
        status="live",
        created_by=lead,
        launched_at=now,
    )
    pool = AnnotatorPool.objects.create(project=project, name="crowd", kind="crowd")
    task_pool = TaskPool.objects.create(
        task=task,
        pool=pool,
        redundancy=K,
        entry_token="bench",
        completion_code="C",
        slots_created=True,
    )
    text = (
        "Explain, step by step and with one worked example, why the tides rise and fall "
        "twice a day, and what role the Sun plays. Keep it under 200 words, please."
    )
    with connection.cursor() as django_cursor:
        cursor = django_cursor.cursor
        max_user = User.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        user_ids = list(range(max_user + 1, max_user + 1 + ANNOTATORS))
        _copy_rows(
            cursor,
            "common_user",
            [
                "id",
                "password",
                "is_superuser",
                "username",
                "first_name",
                "last_name",
                "email",
                "is_staff",
                "is_active",
                "date_joined",
                "pseudonym",
            ],
            (
                (u, "!", False, f"annotator{u}", "", "", "", False, True, now, f"ann-{u:06d}")
                for u in user_ids
            ),
        )
        _copy_rows(
            cursor,
            "annotation_prompt",
            [
                "id",
                "project_id",
                "external_id",
                "text",
                "reference",
                "metadata",
                "created_at",
                "updated_at",
            ],
            (
                (p + 1, project.pk, f"q{p}", f"{text} (#{p})", "", "{}", now, now)
                for p in range(prompts)
            ),
        )
        _copy_rows(
            cursor,
            "annotation_output",
            [
                "id",
                "prompt_id",
                "system_id",
                "text",
                "metadata",
                "tone_condition",
                "created_at",
                "updated_at",
            ],
            (
                (p * SYSTEMS + s + 1, p + 1, systems[s].pk, f"Answer {p}-{s}.", "{}", "", now, now)
                for p in range(prompts)
                for s in range(SYSTEMS)
            ),
        )
        _copy_rows(
            cursor,
            "annotation_unit",
            ["id", "task_id", "prompt_id", "ordinal", "is_gold", "excluded"],
            ((u + 1, task.pk, u // 2 + 1, u, False, False) for u in range(units)),
        )

        def outputs_of(u: int) -> tuple[int, int]:
            first = (u // 2) * SYSTEMS + (u % 2) * 2 + 1
            return first, first + 1

        _copy_rows(
            cursor,
            "annotation_unitoutput",
            ["unit_id", "output_id", "position"],
            ((u + 1, o, i) for u in range(units) for i, o in enumerate(outputs_of(u))),
        )
        _copy_rows(
            cursor,
            "annotation_slot",
            ["id", "task_pool_id", "unit_id", "ordinal", "is_gold", "state"],
            (
                (u * K + j + 1, task_pool.pk, u + 1, j, False, "done")
                for u in range(units)
                for j in range(K)
            ),
        )

        def served(n: int) -> str:
            return f"2024-05-{1 + n % 28:02d}T{n % 24:02d}:{n % 60:02d}:{(n * 7) % 60:02d}.{n % 1000:03d}Z"

        def assignment_rows() -> object:
            for u in range(units):
                a, b = outputs_of(u)
                for j in range(K):
                    n = u * K + j
                    order = [a, b] if j % 2 == 0 else [b, a]
                    yield (
                        n + 1,
                        f"h{n}",
                        task_pool.pk,
                        u + 1,
                        n + 1,
                        user_ids[(u * K + j) % ANNOTATORS],
                        version.pk,
                        "submitted",
                        json.dumps(order),
                        served(n),
                        served(n),
                        served(n),
                    )

        _copy_rows(
            cursor,
            "annotation_assignment",
            [
                "id",
                "handle",
                "task_pool_id",
                "unit_id",
                "slot_id",
                "annotator_id",
                "guideline_version_id",
                "status",
                "shown_order",
                "served_at",
                "lease_expires_at",
                "closed_at",
            ],
            assignment_rows(),
        )

        def annotation_rows() -> object:
            for u in range(units):
                a, b = outputs_of(u)
                for j in range(K):
                    n = u * K + j
                    order = [a, b] if j % 2 == 0 else [b, a]
                    answers = {
                        "preference": {"choice": "AB"[n % 2] if n % 7 else "tie"},
                        "quality": {"A": 1 + n % 5, "B": 1 + (n // 5) % 5},
                        "has_error": {"A": n % 3 == 0, "B": n % 4 == 0},
                    }
                    if n % 10 == 0:
                        answers["comment"] = 'B "hedges" a lot,\nbut A is wrong.'
                    yield (
                        n + 1,
                        n + 1,
                        n + 1,
                        u + 1,
                        task_pool.pk,
                        user_ids[n % ANNOTATORS],
                        version.pk,
                        json.dumps(answers),
                        json.dumps(order),
                        served(n),
                        served(n),
                        served(n),
                        20.0 + (n % 97) / 3,
                        "",
                    )

        _copy_rows(
            cursor,
            "annotation_annotation",
            [
                "id",
                "assignment_id",
                "slot_id",
                "unit_id",
                "task_pool_id",
                "annotator_id",
                "guideline_version_id",
                "answers",
                "shown_order",
                "served_at",
                "first_interaction_at",
                "submitted_at",
                "client_active_seconds",
                "submission_token",
            ],
            annotation_rows(),
        )
        cursor.execute("ANALYZE")
    return task.slug


def measure(mode: str, slug: str, out: Path) -> dict[str, object]:
    from django.db import connection

    from exports import selectors
    from exports.services import annotations_write

    task = selectors.task_get_by_slug(project=None, slug=slug)
    # Resident memory once everything is imported: what the export itself adds is the
    # peak minus this.
    before = (
        int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    )
    started = time.perf_counter()
    if mode == "copy":
        query = selectors.task_export_query(task=task)
        connection.ensure_connection()
        size = 0
        with connection.connection.cursor() as cursor, open(out, "wb") as handle:
            with cursor.copy(query.copy_sql(), query.params) as copy:
                for data in copy:
                    handle.write(data)
                    size += len(data)
            rows = cursor.rowcount
            handle.flush()
            os.fsync(handle.fileno())
    else:
        rows = annotations_write(path=out, fmt=mode, project=task.project, actor=None, task=task)
        size = out.stat().st_size
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "mode": mode,
        "seconds": seconds,
        "rows": rows,
        "bytes": size,
        "peak_mb": peak,
        "base_mb": before,
    }


def child(mode: str, slug: str, folder: Path) -> dict[str, object]:
    out = folder / f"export.{mode}"
    result = subprocess.run(
        [sys.executable, __file__, "--measure", mode, "--slug", slug, "--out", str(out)],
        check=True,
        capture_output=True,
        text=True,
    )
    out.unlink(missing_ok=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--annotations", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="Keep the scratch database.")
    parser.add_argument("--reuse", action="store_true", help="Reuse a kept database.")
    parser.add_argument("--measure")
    parser.add_argument("--slug", default="bench-task")
    parser.add_argument("--out")
    args = parser.parse_args()
    if args.measure:
        _django()
        print(json.dumps(measure(args.measure, args.slug, Path(args.out))))
        return

    import psycopg

    if not args.reuse:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {DB_NAME}")
            admin.execute(f"CREATE DATABASE {DB_NAME}")
    try:
        if not args.reuse:
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
                cwd=ROOT,
                check=True,
                env={
                    **os.environ,
                    "DATABASE_URL": DB_URL,
                    "SECRET_KEY": "bench-only",
                    "DJANGO_SETTINGS_MODULE": "config.settings.base",
                },
            )
            _django()
            slug = load(args.annotations)
            print(
                f"loaded {args.annotations:,} annotations in {time.perf_counter() - started:.1f} s"
            )
        else:
            slug = args.slug
        with tempfile.TemporaryDirectory(prefix="jb-bench-export-") as folder:
            child("copy", slug, Path(folder))  # warm the caches once
            results = [
                child(mode, slug, Path(folder)) for mode in ("copy", "csv", "jsonl", "parquet")
            ]
        base = results[0]["seconds"]
        print(
            f"\n{'run':<26}{'rows':>11}{'seconds':>9}{'× COPY':>8}{'file MB':>9}{'peak MB':>9}"
            f"{'of which export':>16}"
        )
        for r in results:
            label = "COPY (SELECT …) TO STDOUT" if r["mode"] == "copy" else str(r["mode"])
            print(
                f"{label:<26}{r['rows']:>11,}{r['seconds']:>9.2f}{r['seconds'] / base:>7.2f}×"
                f"{r['bytes'] / 1e6:>9.1f}{r['peak_mb']:>9.0f}{r['peak_mb'] - r['base_mb']:>16.0f}"
            )
        ratios = {r["mode"]: r["seconds"] / base for r in results}
        peak = max(r["peak_mb"] for r in results[1:])
        print(
            f"\ntargets: CSV ≤ 2× COPY ({'✓' if ratios['csv'] <= 2 else '✗'} {ratios['csv']:.2f}×), "
            f"Parquet ≤ 3× ({'✓' if ratios['parquet'] <= 3 else '✗'} {ratios['parquet']:.2f}×), "
            f"peak < 300 MB ({'✓' if peak < 300 else '✗'} {peak:.0f} MB)"
        )
    finally:
        if not args.keep:
            with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
                admin.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


if __name__ == "__main__":
    main()
