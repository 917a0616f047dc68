"""The full agreement report on 1,000,000 annotations loaded from PostgreSQL.

Run: .venv/bin/python bench/agreement.py [--units 20000] [--annotators 50] [--bootstrap 1000]
(``BENCH_DB_NAME`` names the scratch database, default ``jb_bench_agreement``)

Creates (and drops) its own database, writes 20,000 units x 50 annotators x one
ordinal question (1-5) through the platform's import service (COPY), with an annotators
file that gives the two pools their kinds (10 experts, 40 crowd workers), then, in a
fresh child process so its peak memory is its own, times:

* **baseline:** one bare ``krippendorff.alpha(reliability_data=..., level_of_measurement=
  "ordinal")`` call on the same annotators x units reliability matrix;
* **report:** ``agreement_report_compute`` -- load with the streamed query, canonical
  sort and data hash, then the whole report (alpha + 1,000-resample bootstrap CI, pool
  and version breakdowns, per-annotator agreement and flags, Fleiss' kappa, Gwet's AC1,
  pairwise Cohen's kappas, contested units; expert vs crowd: agreement within and across
  the pools, the reference's reliability, leniency with its two-way cluster bootstrap,
  annotator leniency), stored -- with the seconds of each section.
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
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ADMIN_URL = os.environ.get(
    "BENCH_ADMIN_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
# A scratch database of its own (dropped afterwards); BENCH_DB_NAME lets two runs on one
# server keep out of each other's way.
DB_NAME = os.environ.get("BENCH_DB_NAME", "jb_bench_agreement")
DB_URL = ADMIN_URL.rsplit("/", 1)[0] + "/" + DB_NAME


def _django() -> None:
    os.environ["DATABASE_URL"] = DB_URL
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django

    django.setup()


POOLS = {"expert": "Expert panel", "crowd": "Crowd workers"}


def annotators_csv(annotators: int) -> bytes:
    """The annotators file: each annotator's pool and the pool's kind."""
    kinds = ["expert" if a < annotators // 5 else "crowd" for a in range(annotators)]
    lines = ["annotator,pool,pool_kind"]
    lines += [f"a{a},{POOLS[kind]},{kind}" for a, kind in enumerate(kinds)]
    return ("\n".join(lines) + "\n").encode()


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
            "pool": np.where(annotator < annotators // 5, POOLS["expert"], POOLS["crowd"]),
            "guideline_version": np.where(unit % 2 == 0, "v1", "v2"),
        }
    )
    return b"# level quality=ordinal\n" + frame.to_csv(index=False).encode()


def phase_load(args: argparse.Namespace) -> dict[str, float]:
    _django()
    from analysis.services import BundleFile, dataset_import
    from common.models import User
    from common.services import project_create

    lead, _ = User.objects.get_or_create(username="bench-lead")
    project = project_create(actor=lead, slug="bench", name="bench")
    data = synthetic_csv(args.units, args.annotators)
    people = BundleFile(io.BytesIO(annotators_csv(args.annotators)), "csv", "annotators.csv")
    started = time.perf_counter()
    dataset = dataset_import(
        actor=lead,
        project=project,
        name="bench",
        stream=io.BytesIO(data),
        fmt="csv",
        annotators=people,
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
    import pandas as pd

    matrix = np.full((args.annotators, args.units), np.nan)
    annotators = pd.factorize(table["annotator_id"])[0]
    units = pd.factorize(table["unit_id"])[0]
    matrix[annotators, units] = table["value"].astype(float)
    del table
    started = time.perf_counter()
    alpha = krippendorff.alpha(reliability_data=matrix, level_of_measurement="ordinal")
    return {"seconds": time.perf_counter() - started, "alpha": float(alpha)}


# The functions the report's computation calls, in its order, and what they make.
SECTIONS = (
    ("dataset_table", "load"),
    ("table_hash", "hash"),
    ("agreement_report", "agreement"),
    ("bias_report", "bias"),
    ("expert_vs_crowd_report", "expert vs crowd"),
    ("ranking_sections", "rankings"),
    ("canonical_json", "serialise"),
)


def _time_sections(seconds: dict[str, float]) -> None:
    """Wrap each function of SECTIONS in analysis.services so it adds its wall time to
    ``seconds`` (the services look them up at call time)."""
    import functools

    from analysis import services

    for name, label in SECTIONS:
        original = getattr(services, name)

        @functools.wraps(original)
        def timed(*a: Any, _original: Any = original, _label: str = label, **k: Any) -> Any:
            started = time.perf_counter()
            try:
                return _original(*a, **k)
            finally:
                seconds[_label] = seconds.get(_label, 0.0) + time.perf_counter() - started

        setattr(services, name, timed)


def phase_report(args: argparse.Namespace) -> dict[str, Any]:
    _django()
    from analysis.models import AnnotationDataset, ReportStatus
    from analysis.services import agreement_report_compute, agreement_report_request
    from common.models import Project, User

    sections: dict[str, float] = {}
    _time_sections(sections)

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
    evc = result["expert_vs_crowd"]
    if not evc.get("defined"):
        raise SystemExit(f"expert vs crowd was not computed: {evc.get('reason')}")
    leniency = evc["bias_indices"]["pools"]["crowd"]["leniency_msd"]
    return {
        "seconds": elapsed,
        "sections": sections,
        "alpha": alpha["value"],
        "ci_low": alpha["ci_low"],
        "ci_high": alpha["ci_high"],
        "leniency": [leniency["estimate"], leniency["ci_low"], leniency["ci_high"]],
        "result_mb": len(report.result_json) / 1e6,
    }


PHASES = {"load": phase_load, "baseline": phase_baseline, "report": phase_report}


def run_child(phase: str, args: argparse.Namespace) -> dict[str, Any]:
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
    for _, label in SECTIONS:
        seconds = report["sections"].get(label)
        shown = "not run (not applicable)" if seconds is None else f"{seconds:7.2f} s"
        print(f"  {label:30s}: {shown}")
    low, estimate, high = (report["leniency"][i] for i in (1, 0, 2))
    print(f"  crowd leniency vs experts {estimate:+.4f} [{low:+.4f}, {high:+.4f}]")
    print(
        f"ratio report / bare alpha       : {report['seconds'] / baseline['seconds']:7.1f}x   "
        "(target: report < 60 s and < 2048 MB)"
    )
    print(f"load average (1, 5, 15 min)     : {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
