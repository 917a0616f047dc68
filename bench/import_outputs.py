"""Import 100,000 outputs from JSONL into PostgreSQL; compare with a bare psycopg COPY.

Run: .venv/bin/python bench/import_outputs.py [--rows 100000] [--repeat 3]

Each measurement runs in a fresh child process so its peak memory (ru_maxrss) is
its own. The baseline parses the same JSONL and COPYs the rows into a plain
table in the same database: the cheapest way to get those rows into PostgreSQL.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
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
DB_NAME = "jb_bench_import"
DB_URL = ADMIN_URL.rsplit("/", 1)[0] + "/" + DB_NAME


def write_file(path: Path, rows: int) -> None:
    rng = random.Random(1)
    words = [
        "the",
        "of",
        "and",
        "a",
        "to",
        "in",
        "is",
        "was",
        "answer",
        "model",
        "because",
        "however",
        "therefore",
        "data",
        "result",
    ]
    systems = ["atlas-7b", "borealis-13b", "cirrus-70b", "dune-chat"]
    with path.open("w", encoding="utf-8") as handle:
        for n in range(rows):
            prompt_number = n // len(systems)
            text = " ".join(rng.choice(words) for _ in range(rng.randint(40, 160)))
            handle.write(
                json.dumps(
                    {
                        "prompt_id": f"q{prompt_number}",
                        "prompt": f"Question {prompt_number}: explain item {prompt_number} — café 漢字",
                        "system": systems[n % len(systems)],
                        "output": text,
                        "reference": "",
                        "metadata": {
                            "tone": rng.choice(["assertive", "hedged"]),
                            "known_errors": rng.randint(0, 2),
                        },
                    },
                    ensure_ascii=False,
                )
                + "\n"
            )


def phase_copy(path: Path) -> float:
    import psycopg

    with psycopg.connect(DB_URL) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS bench_copy (prompt_id text, prompt text, system text, "
            "output text, reference text, metadata jsonb)"
        )
        conn.execute("TRUNCATE bench_copy")
        conn.commit()
        started = time.perf_counter()
        with (
            conn.cursor() as cursor,
            cursor.copy(
                "COPY bench_copy (prompt_id, prompt, system, output, reference, metadata) FROM STDIN"
            ) as copy,
            path.open("rb") as handle,
        ):
            for line in handle:
                row = json.loads(line)
                copy.write_row(
                    (
                        row["prompt_id"],
                        row["prompt"],
                        row["system"],
                        row["output"],
                        row.get("reference", ""),
                        json.dumps(row.get("metadata", {})),
                    )
                )
        conn.commit()
        return time.perf_counter() - started


def phase_import(path: Path, slug: str) -> float:
    os.environ["DATABASE_URL"] = DB_URL
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django

    django.setup()
    from annotation.services.outputs import outputs_import
    from common.models import User
    from common.services import project_create

    lead, _ = User.objects.get_or_create(username="bench-lead")
    project = project_create(actor=lead, slug=slug, name=slug)
    started = time.perf_counter()
    with path.open("rb") as stream:
        result = outputs_import(actor=lead, project=project, stream=stream, fmt="jsonl")
    elapsed = time.perf_counter() - started
    assert result.outputs_created == sum(1 for _ in path.open("rb"))
    return elapsed


def child(args: argparse.Namespace) -> None:
    path = Path(args.file)
    seconds = phase_copy(path) if args.phase == "copy" else phase_import(path, args.slug)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb}))


def run_child(phase: str, path: Path, slug: str = "") -> dict[str, float]:
    completed = subprocess.run(
        [sys.executable, __file__, "--child", phase, "--file", str(path), "--slug", slug],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", dest="phase")
    parser.add_argument("--file")
    parser.add_argument("--slug", default="")
    args = parser.parse_args()
    if args.phase:
        child(args)
        return

    import psycopg

    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME}")
        conn.execute(f"CREATE DATABASE {DB_NAME}")
    env = {**os.environ, "DATABASE_URL": DB_URL, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], check=True, cwd=ROOT, env=env)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "outputs.jsonl"
        write_file(path, args.rows)
        size_mb = path.stat().st_size / 1e6
        copies, imports = [], []
        for attempt in range(args.repeat):
            copies.append(run_child("copy", path))
            imports.append(run_child("import", path, slug=f"bench-{attempt}"))
    copy_s = statistics.median(r["seconds"] for r in copies)
    import_s = statistics.median(r["seconds"] for r in imports)
    print(f"rows: {args.rows:,}  file: {size_mb:.1f} MB  repeats: {args.repeat} (medians)")
    print(f"bare psycopg COPY : {copy_s:6.2f} s   peak {max(r['peak_mb'] for r in copies):6.0f} MB")
    print(
        f"outputs_import    : {import_s:6.2f} s   peak {max(r['peak_mb'] for r in imports):6.0f} MB"
    )
    print(f"ratio import/COPY : {import_s / copy_s:6.2f}x   (target ≤ 3x, peak < 500 MB)")
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME}")


if __name__ == "__main__":
    main()
