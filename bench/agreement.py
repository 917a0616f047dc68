"""The full agreement report on 1,000,000 annotations loaded from PostgreSQL.

Run: .venv/bin/python bench/agreement.py [--units 20000] [--annotators 50] [--bootstrap 1000]

Creates (and drops) its own database, writes 20,000 units x 50 annotators x one
ordinal question (1-5) through the platform's import service (COPY), then, in a
fresh child process so its peak memory is its own, times:

* **baseline:** one bare ``krippendorff.alpha(reliability_data=..., level_of_measurement=
  "ordinal")`` call on the same annotators x units reliability matrix;
* **report:** ``agreement_report_compute`` -- load with the streamed query, canonical
  sort and data hash, then the whole report (alpha + 1,000-resample bootstrap CI, pool
  and version breakdowns, per-annotator agreement and flags, Fleiss' kappa, Gwet's AC1,
  pairwise Cohen's kappas, contested units), stored.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ADMIN_URL = os.environ.get(
    "BENCH_ADMIN_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
DB_NAME = "jb_bench_agreement"
DB_URL = ADMIN_URL.rsplit("/", 1)[0] + "/" + DB_NAME


def _django() -> None:
    os.environ["DATABASE_URL"] = DB_URL
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django

    django.setup()


def synthetic_csv(units: int, annotators: int, seed: int = 0) -> bytes:
    """Every annotator rates every unit (a dense 50 x 20,000 matrix, stored sparse/long)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    truth = rng.integers(1, 6, size=units)
    unit = np.repeat(np.arange(units), annotators)
    annotator = np.tile(np.arange(annotators), units)
    noise = rng.integers(-1, 2, size=len(unit)) * (rng.random(len(unit)) < 0.4)
    value = np.clip(truth[unit] + noise, 1, 5)
    frame = pd.DataFrame(
        {
            "unit": np.char.add("u", unit.astype(str)),
            "annotator": np.char.add("a", annotator.astype(str)),
            "question": "quality",
            "value": value,
            "pool": np.where(annotator < annotators // 5, "expert", "crowd"),
            "guideline_version": np.where(unit % 2 == 0, "v1", "v2"),
        }
    )
    return b"# level quality=ordinal\n" + frame.to_csv(index=False).encode()


def phase_load(args: argparse.Namespace) -> dict[str, float]:
    _django()
    from analysis.services import dataset_import
    from common.models import User
    from common.services import project_create

    lead, _ = User.objects.get_or_create(username="bench-lead")
    project = project_create(actor=lead, slug="bench", name="bench")
    data = synthetic_csv(args.units, args.annotators)
    started = time.perf_counter()
    dataset = dataset_import(
        actor=lead, project=project, name="bench", stream=io.BytesIO(data), fmt="csv"
    )
    return {"seconds": time.perf_counter() - started, "rows": dataset.row_count}


def phase_baseline(args: argparse.Namespace) -> dict[str, float]:
    """One bare krippendorff.alpha on the reliability matrix read from the same table."""
    _django()
    import krippendorff
    import numpy as np

    from analysis.loaders import dataset_table
    from analysis.models import AnnotationDataset

    table, _ = dataset_table(dataset=AnnotationDataset.objects.get(name="bench"))
    matrix = np.full((args.annotators, args.units), np.nan)
    matrix[table["annotator_id"].cat.codes, table["unit_id"].cat.codes] = table["value"]
    del table
    started = time.perf_counter()
    alpha = krippendorff.alpha(reliability_data=matrix, level_of_measurement="ordinal")
    return {"seconds": time.perf_counter() - started, "alpha": float(alpha)}


def phase_report(args: argparse.Namespace) -> dict[str, float]:
    _django()
    from analysis.models import AnnotationDataset, ReportStatus
    from analysis.services import agreement_report_compute, agreement_report_request
    from common.models import Project, User

    dataset = AnnotationDataset.objects.get(name="bench")
    report = agreement_report_request(
        actor=User.objects.get(username="bench-lead"),
        project=Project.objects.get(slug="bench"),
        dataset=dataset,
        parameters={"n_bootstrap": args.bootstrap, "seed": 0},
        enqueue=False,
    )
    started = time.perf_counter()
    report = agreement_report_compute(report_id=report.pk)
    elapsed = time.perf_counter() - started
    if report.status != ReportStatus.DONE:
        raise SystemExit(f"report failed: {report.error}")
    result = json.loads(report.result_json)
    alpha = result["questions"]["quality"]["overall"]["krippendorff_alpha"]
    return {
        "seconds": elapsed,
        "alpha": alpha["value"],
        "ci_low": alpha["ci_low"],
        "ci_high": alpha["ci_high"],
        "result_mb": len(report.result_json) / 1e6,
    }


PHASES = {"load": phase_load, "baseline": phase_baseline, "report": phase_report}


def run_child(phase: str, args: argparse.Namespace) -> dict[str, float]:
    completed = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            phase,
            "--units",
            str(args.units),
            "--annotators",
            str(args.annotators),
            "--bootstrap",
            str(args.bootstrap),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    if completed.returncode:
        raise SystemExit(f"{phase} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--units", type=int, default=20_000)
    parser.add_argument("--annotators", type=int, default=50)
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--child")
    args = parser.parse_args()
    if args.child:
        result = PHASES[args.child](args)
        result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return

    import psycopg

    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME}")
        conn.execute(f"CREATE DATABASE {DB_NAME}")
    try:
        env = {
            **os.environ,
            "DATABASE_URL": DB_URL,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
        }
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "-v0"], check=True, cwd=ROOT, env=env
        )
        load = run_child("load", args)
        baseline = run_child("baseline", args)
        report = run_child("report", args)
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME}")
    rows = int(load["rows"])
    print(
        f"annotations: {rows:,} ({args.units:,} units x {args.annotators} annotators, "
        f"1 ordinal question); bootstrap {args.bootstrap}"
    )
    print(
        f"import (parse + validate + COPY): {load['seconds']:7.2f} s   peak {load['peak_mb']:6.0f} MB"
    )
    print(
        f"bare krippendorff.alpha         : {baseline['seconds']:7.2f} s   "
        f"peak {baseline['peak_mb']:6.0f} MB   alpha {baseline['alpha']:.4f}"
    )
    print(
        f"full report (load + compute)    : {report['seconds']:7.2f} s   "
        f"peak {report['peak_mb']:6.0f} MB   alpha {report['alpha']:.4f} "
        f"[{report['ci_low']:.4f}, {report['ci_high']:.4f}]   result {report['result_mb']:.1f} MB"
    )
    print(
        f"ratio report / bare alpha       : {report['seconds'] / baseline['seconds']:7.1f}x   "
        "(target: report < 60 s and < 2048 MB)"
    )


if __name__ == "__main__":
    main()
