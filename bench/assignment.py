"""The assignment engine under load: C annotators looping next → submit over HTTP.

    python bench/assignment.py [--units 10000] [--k 3] [--clients 1,8,32,64]
                               [--seconds 15] [--workers 2] [--threads 8]
                               [--no-baseline] [--keep-db]

Creates a scratch database, loads a single-output task of `--units` units (k = 3),
starts gunicorn (gthread, app preloaded and warm) on 127.0.0.1 with
config.settings.bench, and for each C runs C simulated annotators, each with its own
token and keep-alive requests.Session, doing POST /api/annotate/tasks/<id>/next/ then
POST /api/annotate/items/<handle>/submit/ for `--seconds`. Clients are spread over
several processes so the client's GIL is not the bottleneck. After each run it checks
in SQL: no unit over k, no duplicate (annotator, unit), and every submit answered 201
is stored (no lost submission). It prints the server CPU per annotation (gunicorn and
this database's PostgreSQL backends, from /proc) and the clients' own CPU.

Then the same loop runs against a bare-SQL baseline: one psycopg connection per
annotator, and per annotation one SELECT … FOR UPDATE SKIP LOCKED + UPDATE + INSERT
on plain slot/annotation tables, no HTTP and no Django. The ratio is printed.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ADMIN_URL = os.environ.get(
    "BENCH_ADMIN_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
DB_NAME = os.environ.get("BENCH_DB_NAME", "jb_bench_assignment")
DB_URL = ADMIN_URL.rsplit("/", 1)[0] + "/" + DB_NAME
ANSWERS = {"quality": {"A": 4}}


def sh_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(DJANGO_SETTINGS_MODULE="config.settings.bench", DATABASE_URL=DB_URL)
    return env


def create_database() -> None:
    import psycopg

    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')


def drop_database() -> None:
    import psycopg

    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


def migrate() -> None:
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env=sh_env(),
        check=True,
    )


def copy_rows(cursor: Any, model: Any, rows: Any) -> None:
    """COPY rows (dicts by attname) into `model`'s table; every other column gets the
    field's default, so a field added to the model later does not break the load."""
    import json

    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(f.column for f in fields)
    with cursor.cursor.copy(f"COPY {model._meta.db_table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            values = [row[f.attname] if f.attname in row else f.get_default() for f in fields]
            copy.write_row([json.dumps(v) if isinstance(v, dict | list) else v for v in values])


def load(units: int, k: int, annotators: int) -> dict[str, Any]:
    """Project, 10,000 prompts with one output each (COPY), a published guideline,
    a crowd pool of `annotators` acknowledged members with API tokens, the task, launch."""
    os.environ.update(sh_env())
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connection
    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    from annotation.models import AnnotatorPool, Output, PoolMembership, Prompt, System
    from annotation.services.tasks import task_create, task_launch, task_pool_add
    from common.models import Project, ProjectMembership, ProjectRole, User
    from guidelines.models import GuidelineAcknowledgement
    from guidelines.services import guideline_create, guideline_version_publish

    started = time.perf_counter()
    lead = User.objects.create_user("lead", password="x")
    project = Project.objects.create(slug="bench", name="Bench", created_by=lead)
    ProjectMembership.objects.create(project=project, user=lead, role=ProjectRole.LEAD)
    system = System.objects.create(project=project, name="bench-system")
    now = timezone.now()
    with connection.cursor() as cursor:
        copy_rows(
            cursor,
            Prompt,
            (
                {
                    "project_id": project.pk,
                    "external_id": f"p{n}",
                    "text": f"Bench question {n}?",
                    "created_at": now,
                    "updated_at": now,
                }
                for n in range(units)
            ),
        )
        prompt_ids = list(Prompt.objects.filter(project=project).values_list("pk", flat=True))
        copy_rows(
            cursor,
            Output,
            (
                {
                    "prompt_id": pk,
                    "system_id": system.pk,
                    "created_at": now,
                    "updated_at": now,
                    "text": f"An answer of moderate length to {pk}. " * 4,
                }
                for pk in prompt_ids
            ),
        )
    guideline = guideline_create(
        actor=lead,
        project=project,
        name="Bench",
        mode="single",
        prose="Rate it.",
        rubric=[{"key": "quality", "label": "Quality", "type": "likert", "min": 1, "max": 5}],
    )
    version = guideline_version_publish(actor=lead, version=guideline.versions.get())
    pool = AnnotatorPool.objects.create(project=project, name="crowd", kind="crowd")
    users = User.objects.bulk_create(
        [User(username=f"ann{n}", password="!") for n in range(annotators)]
    )
    ProjectMembership.objects.bulk_create(
        [ProjectMembership(project=project, user=u, role=ProjectRole.ANNOTATOR) for u in users]
    )
    PoolMembership.objects.bulk_create([PoolMembership(pool=pool, user=u) for u in users])
    GuidelineAcknowledgement.objects.bulk_create(
        [GuidelineAcknowledgement(version=version, user=u) for u in users]
    )
    tokens = [Token.objects.create(user=u).key for u in users]
    task = task_create(
        actor=lead,
        project=project,
        title="Bench task",
        guideline_version=version,
        mode="single",
        lease_seconds=600,
        seed=1,
    )
    task_pool = task_pool_add(actor=lead, task=task, pool=pool, redundancy=k)
    task_launch(actor=lead, task=task)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(
        f"loaded {units} units × k={k} ({units * k} slots), {annotators} annotators "
        f"in {time.perf_counter() - started:.1f} s"
    )
    connection.close()
    return {"public_id": task.public_id, "tokens": tokens, "task_pool_id": task_pool.pk}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def warm_wsgi_app() -> Any:
    """config.wsgi's application with the URLconf, and with it every view module,
    imported. Django imports the URLconf on a worker's first request; here gunicorn
    --preload builds the app once in the master, so the workers fork warm instead of
    spending their first seconds importing pandas, scipy and the rest, as a warmed-up
    production server would."""
    from django.db import connections
    from django.urls import get_resolver

    from config.wsgi import application

    get_resolver().url_patterns  # noqa: B018
    connections.close_all()  # nothing opened before the fork may be shared by workers
    return application


def start_gunicorn(port: int, workers: int, threads: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "bench.assignment:warm_wsgi_app()",
            "--preload",
            "-w",
            str(workers),
            "-k",
            "gthread",
            "--threads",
            str(threads),
            "-b",
            f"127.0.0.1:{port}",
            "--backlog",
            "2048",
            "--keep-alive",
            "75",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=sh_env(),
        start_new_session=True,
    )
    import requests

    for _ in range(100):
        try:
            requests.get(f"http://127.0.0.1:{port}/accounts/login/", timeout=1)
            return proc
        except requests.RequestException:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("gunicorn did not start")


def _client_process(
    base: str, public_id: str, tokens: list[str], seconds: float, start_at: float, out: Any
) -> None:
    import json

    import requests

    next_lat: list[float] = []
    submit_lat: list[float] = []
    stored: list[str] = []
    errors: list[str] = []
    lock = threading.Lock()

    def annotator(token: str) -> None:
        session = requests.Session()
        # No proxy or .netrc lookups from the environment on every request: the client
        # should cost the 2-core machine as little CPU as a real browser would.
        session.trust_env = False
        session.headers["Authorization"] = f"Token {token}"
        session.headers["Content-Type"] = "application/json"
        body = json.dumps({"answers": ANSWERS, "active_seconds": 1.0})
        next_url = f"{base}/api/annotate/tasks/{public_id}/next/"
        my_next, my_submit, my_handles = [], [], []
        while time.time() < start_at:
            time.sleep(0.001)
        end = start_at + seconds
        while time.time() < end:
            t0 = time.perf_counter()
            r = session.post(next_url)
            my_next.append(time.perf_counter() - t0)
            if r.status_code != 200:
                errors.append(f"next {r.status_code} {r.text[:200]}")
                break
            item = r.json()
            if item.get("done"):
                break
            t0 = time.perf_counter()
            r = session.post(f"{base}/api/annotate/items/{item['handle']}/submit/", data=body)
            my_submit.append(time.perf_counter() - t0)
            if r.status_code == 201:
                my_handles.append(item["handle"])
            else:
                errors.append(f"submit {r.status_code} {r.text[:200]}")
        with lock:
            next_lat.extend(my_next)
            submit_lat.extend(my_submit)
            stored.extend(my_handles)

    threads = [threading.Thread(target=annotator, args=(t,)) for t in tokens]
    for t in threads:
        t.start()
    while time.time() < start_at:
        time.sleep(0.001)
    cpu0 = time.process_time()
    for t in threads:
        t.join()
    out.put(
        {
            "next": next_lat,
            "submit": submit_lat,
            "stored": stored,
            "errors": errors,
            "client_cpu": time.process_time() - cpu0,
        }
    )


def server_cpu_seconds(master_pid: int) -> tuple[float, float]:
    """CPU time (user + system) used so far by the gunicorn workers and by this database's
    PostgreSQL backends: what an annotation costs the server, whatever else runs on the
    machine. Returns (gunicorn, PostgreSQL)."""
    tick = os.sysconf("SC_CLK_TCK")
    app = db = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        ppid = int(fields[1])
        # Only this database's backends count; other work on the machine is left out.
        used = (int(fields[11]) + int(fields[12])) / tick
        if ppid == master_pid:
            app += used
        elif cmd.startswith(b"postgres:") and DB_NAME.encode() in cmd:
            db += used
    return app, db


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, round(q / 100 * (len(values) - 1)))] * 1000


def run_http(port: int, public_id: str, tokens: list[str], seconds: float) -> dict[str, Any]:
    procs_n = min(len(tokens), 4)
    chunks = [tokens[i::procs_n] for i in range(procs_n)]
    out: Any = mp.Queue()
    start_at = time.time() + 1.0
    procs = [
        mp.Process(
            target=_client_process,
            args=(f"http://127.0.0.1:{port}", public_id, chunk, seconds, start_at, out),
        )
        for chunk in chunks
    ]
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    merged: dict[str, Any] = {"next": [], "submit": [], "stored": [], "errors": []}
    for r in results:
        for key in ("next", "submit", "stored", "errors"):
            merged[key].extend(r[key])
    merged["throughput"] = len(merged["stored"]) / seconds
    merged["client_cpu"] = sum(r["client_cpu"] for r in results)
    return merged


def verify(k: int, handles: list[str]) -> tuple[bool, str]:
    import psycopg

    with psycopg.connect(DB_URL) as conn:
        over = conn.execute(
            "SELECT count(*) FROM (SELECT unit_id, task_pool_id FROM annotation_annotation "
            "GROUP BY 1, 2 HAVING count(*) > %s) t",
            [k],
        ).fetchone()[0]
        dup = conn.execute(
            "SELECT count(*) FROM (SELECT unit_id, annotator_id FROM annotation_annotation "
            "GROUP BY 1, 2 HAVING count(*) > 1) t"
        ).fetchone()[0]
        found = conn.execute(
            "SELECT count(*) FROM annotation_annotation an JOIN annotation_assignment a "
            "ON a.id = an.assignment_id WHERE a.handle = ANY(%s)",
            [handles],
        ).fetchone()[0]
        slots_done = conn.execute(
            "SELECT count(*) FROM annotation_slot WHERE state = 'done'"
        ).fetchone()[0]
        total = conn.execute("SELECT count(*) FROM annotation_annotation").fetchone()[0]
    ok = over == 0 and dup == 0 and found == len(handles) and slots_done == total
    return ok, (
        f"units over k: {over}, duplicate (annotator, unit): {dup}, "
        f"lost submissions: {len(handles) - found}, done slots = annotations: "
        f"{slots_done == total}"
    )


# -- the bare-SQL baseline --------------------------------------------------------------

BASELINE_SCHEMA = """
DROP TABLE IF EXISTS bl_annotation, bl_slot;
CREATE TABLE bl_slot (id bigserial PRIMARY KEY, unit_id int NOT NULL, ordinal int NOT NULL,
                      state text NOT NULL DEFAULT 'open');
CREATE INDEX bl_slot_open ON bl_slot (ordinal, id) WHERE state = 'open';
CREATE TABLE bl_annotation (id bigserial PRIMARY KEY, slot_id bigint UNIQUE NOT NULL,
                            unit_id int NOT NULL, annotator int NOT NULL, answers jsonb,
                            created_at timestamptz DEFAULT now(), UNIQUE (unit_id, annotator));
INSERT INTO bl_slot (unit_id, ordinal) SELECT u, o FROM generate_series(1, %(units)s) u,
       generate_series(0, %(k)s - 1) o ORDER BY o, u;
"""
BASELINE_CLAIM = """
SELECT s.id, s.unit_id FROM bl_slot s
WHERE s.state = 'open'
  AND NOT EXISTS (SELECT 1 FROM bl_annotation a WHERE a.unit_id = s.unit_id AND a.annotator = %s)
ORDER BY s.ordinal, s.id FOR UPDATE SKIP LOCKED LIMIT 1
"""


def _baseline_worker(annotator: int, seconds: float, start_at: float, out: Any) -> None:
    import psycopg
    from psycopg.types.json import Jsonb

    lat: list[float] = []
    done = 0
    with psycopg.connect(DB_URL) as conn:
        while time.time() < start_at:
            time.sleep(0.001)
        end = start_at + seconds
        while time.time() < end:
            t0 = time.perf_counter()
            with conn.transaction():
                row = conn.execute(BASELINE_CLAIM, [annotator]).fetchone()
                if row is None:
                    break
                conn.execute("UPDATE bl_slot SET state = 'done' WHERE id = %s", [row[0]])
                conn.execute(
                    "INSERT INTO bl_annotation (slot_id, unit_id, annotator, answers) "
                    "VALUES (%s, %s, %s, %s)",
                    [row[0], row[1], annotator, Jsonb(ANSWERS)],
                )
            lat.append(time.perf_counter() - t0)
            done += 1
    out.put((done, lat))


def run_baseline(clients: int, units: int, k: int, seconds: float) -> dict[str, Any]:
    import psycopg

    with psycopg.connect(DB_URL, autocommit=True) as conn:
        conn.execute(BASELINE_SCHEMA % {"units": units, "k": k})
        conn.execute("VACUUM ANALYZE bl_slot")
    out: Any = mp.Queue()
    start_at = time.time() + 0.5
    procs = [
        mp.Process(target=_baseline_worker, args=(i + 1, seconds, start_at, out))
        for i in range(clients)
    ]
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    lat = [x for _, ls in results for x in ls]
    return {"throughput": sum(d for d, _ in results) / seconds, "p99": pct(lat, 99)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, default=10_000)
    parser.add_argument("--k", type=int, default=3)
    parser.add_argument("--clients", default="1,8,32,64")
    parser.add_argument("--seconds", type=float, default=15.0)
    # Two processes (one per core) of eight threads measured best on the 2-core machine:
    # more processes add context switches, more threads add GIL contention.
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args()
    counts = [int(c) for c in args.clients.split(",")]

    create_database()
    proc = None
    try:
        migrate()
        ctx = mp.get_context("spawn")
        with ctx.Pool(1) as pool:  # Django set up in a child so the parent stays clean
            data = pool.apply(load, (args.units, args.k, sum(counts)))
        port = free_port()
        proc = start_gunicorn(port, args.workers, args.threads)
        print(
            f"gunicorn: {args.workers} workers × {args.threads} threads (gthread), "
            f"{os.cpu_count()} CPUs; each run {args.seconds:.0f} s\n"
        )
        header = (
            f"{'C':>4} {'ann/s':>8} {'next p50':>9} {'p95':>7} {'p99':>7} "
            f"{'submit p50':>11} {'p95':>7} {'p99':>7} {'errors':>6} {'cpu/ann':>8} "
            f"{'(app':>6} {'db)':>5} {'client':>7} {'load':>9} guarantees"
        )
        print(header)
        print("-" * len(header))
        tokens, offset, rows = data["tokens"], 0, {}
        for c in counts:
            mine = tokens[offset : offset + c]
            offset += c
            with open("/proc/loadavg") as f:
                load_before = float(f.read().split()[0])
            app0, db0 = server_cpu_seconds(proc.pid)
            r = run_http(port, data["public_id"], mine, args.seconds)
            app1, db1 = server_cpu_seconds(proc.pid)
            n = max(1, len(r["stored"]))
            r["app_ms"], r["db_ms"] = 1000 * (app1 - app0) / n, 1000 * (db1 - db0) / n
            r["cpu_ms"] = r["app_ms"] + r["db_ms"]
            r["client_ms"] = 1000 * r["client_cpu"] / n
            with open("/proc/loadavg") as f:
                r["load"] = float(f.read().split()[0])
            ok, detail = verify(args.k, r["stored"])
            rows[c] = r
            print(
                f"{c:>4} {r['throughput']:>8.1f} {pct(r['next'], 50):>8.1f}ms "
                f"{pct(r['next'], 95):>6.1f} {pct(r['next'], 99):>7.1f} "
                f"{pct(r['submit'], 50):>10.1f}ms {pct(r['submit'], 95):>6.1f} "
                f"{pct(r['submit'], 99):>7.1f} {len(r['errors']):>6} {r['cpu_ms']:>6.1f}ms "
                f"{r['app_ms']:>6.1f} {r['db_ms']:>5.1f} {r['client_ms']:>5.1f}ms "
                f"{load_before:>4.1f}/{r['load']:<4.1f} {'OK' if ok else 'FAILED'} ({detail})"
            )
            for e in r["errors"][:3]:
                print("   error:", e)
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
        proc = None
        print("\nbare-SQL baseline (psycopg, SELECT … FOR UPDATE SKIP LOCKED + UPDATE + INSERT):")
        for c in [] if args.no_baseline else counts:
            b = run_baseline(c, args.units, args.k, min(args.seconds, 10.0))
            ratio = rows[c]["throughput"] / b["throughput"] if b["throughput"] else float("nan")
            print(
                f"{c:>4} {b['throughput']:>8.1f} ann/s  p99 {b['p99']:.1f} ms   "
                f"platform/baseline = {ratio:.2f}"
            )
        with open("/proc/loadavg") as f:
            print(
                f"\nload average at the end: {f.read().split()[:3]} on {os.cpu_count()} CPUs; "
                "cpu/ann = server CPU (gunicorn app + PostgreSQL db) per stored annotation; "
                "client = the simulated annotators' own CPU; load = 1-min load average "
                "before/after the run (after includes the bench's own processes); so "
                f"{os.cpu_count()} idle CPUs would serve about "
                f"{os.cpu_count() * 1000 / rows[counts[-1]]['cpu_ms']:.0f} ann/s at C={counts[-1]}"
            )
        summary = rows.get(32)
        if summary:
            target = summary["throughput"] >= 200 and pct(summary["next"], 99) < 150
            print(
                f"\nC=32 targets (≥200 ann/s, next p99 < 150 ms): "
                f"{'met' if target else 'NOT met'} "
                f"({summary['throughput']:.0f} ann/s, p99 {pct(summary['next'], 99):.0f} ms); "
                f"median of next p50 across C: "
                f"{statistics.median(pct(r['next'], 50) for r in rows.values()):.1f} ms"
            )
    finally:
        if proc is not None:
            os.killpg(proc.pid, signal.SIGTERM)
        if not args.keep_db:
            drop_database()


if __name__ == "__main__":
    main()
