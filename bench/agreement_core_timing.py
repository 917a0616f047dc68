"""Time the full agreement report on synthetic 1,000,000-row studies.

Run: ``PYTHONPATH=. .venv/bin/python bench/agreement_core_timing.py [scenario ...]``.

Scenarios (20,000 units, 50 ratings per unit = 1,000,000 rows each, 1,000 bootstrap
resamples per alpha, breakdowns by pool, guideline version and system, 200 gold units):

* ``dense-ordinal``: 50 annotators rate every unit on a 5-point ordinal scale;
* ``sparse-nominal``: 200 annotators, each unit rated by 50 of them, 4 nominal labels
  (19,900 annotator pairs for Cohen's kappa);
* ``slider-interval``: 50 annotators, answers 0-100 (101 distinct values) at interval level;
* ``pairwise``: 50 annotators, "A"/"B"/"tie" votes with counterbalanced display order;
* ``expert-vs-crowd``: the dense-ordinal study's expert-vs-crowd section alone (10 experts,
  40 crowd workers; agreement within and across the pools, the reference's reliability,
  leniency with its two-way cluster bootstrap), the part of ``bench/agreement.py``'s
  report that is not the agreement report, without the database.

Prints wall time and peak resident memory (``ru_maxrss``) of each report.
"""

from __future__ import annotations

import resource
import sys
import time

import numpy as np
import pandas as pd

from analysis.metrics.expert_vs_crowd import expert_vs_crowd_report
from analysis.metrics.report import agreement_report

N_UNITS = 20_000
PER_UNIT = 50


def _frame(
    unit: np.ndarray, annotator: np.ndarray, n_annotators: int, rng: np.random.Generator
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "unit_id": pd.Categorical.from_codes(unit, [f"u{i}" for i in range(N_UNITS)]),
            "annotator_id": pd.Categorical.from_codes(
                annotator, [f"a{i}" for i in range(n_annotators)]
            ),
            "question": "q",
            "pool": pd.Categorical.from_codes(
                (annotator < n_annotators // 5).astype(int), ["crowd", "expert"]
            ),
            "guideline_version": 1 + (unit % 2),
            "system": pd.Categorical.from_codes(unit % 4, ["sys0", "sys1", "sys2", "sys3"]),
            "active_seconds": rng.gamma(2.0, 20.0, size=len(unit)),
            "is_gold": unit < 200,
        }
    )


def scenario(name: str, seed: int = 0) -> tuple[pd.DataFrame, dict]:
    rng = np.random.default_rng(seed)
    if name == "sparse-nominal":
        n_annotators = 200
        annotator = np.argsort(rng.random((N_UNITS, n_annotators)), axis=1)[:, :PER_UNIT].ravel()
    else:
        n_annotators = PER_UNIT
        annotator = np.tile(np.arange(n_annotators), N_UNITS)
    unit = np.repeat(np.arange(N_UNITS), PER_UNIT)
    table = _frame(unit, annotator, n_annotators, rng)
    careful = rng.random(len(unit)) < 0.7
    if name == "dense-ordinal":
        truth = rng.integers(1, 6, size=N_UNITS)
        noise = rng.integers(-1, 2, size=len(unit)) * ~careful
        table["value"] = np.clip(truth[unit] + noise, 1, 5).astype(float)
        spec = {"level": "ordinal", "type": "likert"}
    elif name == "sparse-nominal":
        truth = rng.integers(0, 4, size=N_UNITS)
        labels = np.array(["w", "x", "y", "z"], dtype=object)
        table["value"] = labels[np.where(careful, truth[unit], rng.integers(0, 4, len(unit)))]
        spec = {"level": "nominal", "type": "choice"}
    elif name == "slider-interval":
        truth = rng.uniform(10, 90, size=N_UNITS)
        table["value"] = np.clip(np.round(truth[unit] + rng.normal(0, 12, len(unit))), 0, 100)
        spec = {"level": "interval", "type": "numeric"}
    elif name == "pairwise":
        better_first = rng.random(N_UNITS) < 0.5
        swapped = rng.random(len(unit)) < 0.5
        orders = np.empty(2, dtype=object)
        orders[0], orders[1] = ("s1", "s2"), ("s2", "s1")
        table["shown_order"] = orders[swapped.astype(int)]
        wins_s1 = np.where(careful, better_first[unit], rng.random(len(unit)) < 0.5)
        letter = np.where(wins_s1 != swapped, "A", "B").astype(object)
        letter[rng.random(len(unit)) < 0.1] = "tie"
        table["value"] = letter
        spec = {"level": "nominal", "type": "pairwise"}
    else:
        raise ValueError(f"unknown scenario {name!r}")
    table.loc[~table["is_gold"], "is_gold"] = False
    table["gold_value"] = np.where(table["is_gold"], table["value"], None)
    table["value"] = table["value"].where(rng.random(len(unit)) > 0.02, None)
    return table, {"q": spec}


def expert_vs_crowd() -> None:
    table, questions = scenario("dense-ordinal")
    table = table.rename(columns={"q": "quality"}).assign(question="quality")
    start = time.perf_counter()
    section = expert_vs_crowd_report(
        table, {"quality": "quality"}, specs={"quality": questions["q"]}, n_bootstrap=1000
    )
    elapsed = time.perf_counter() - start
    leniency = section["bias_indices"]["pools"]["crowd"]["leniency_msd"]
    print(
        f"{'expert-vs-crowd':16s} rows={len(table):,} section {elapsed:5.1f} s, peak RSS "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB; leniency "
        f"{leniency['estimate']:+.4f} [{leniency['ci_low']:+.4f}, {leniency['ci_high']:+.4f}]",
        flush=True,
    )


def main() -> None:
    names = sys.argv[1:] or ["dense-ordinal", "sparse-nominal", "slider-interval", "pairwise"]
    for name in names:
        if name == "expert-vs-crowd":
            expert_vs_crowd()
            continue
        table, questions = scenario(name)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start = time.perf_counter()
        report = agreement_report(table, questions, n_bootstrap=1000, seed=0)
        elapsed = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        overall = report["questions"]["q"]["overall"]
        alpha = overall["krippendorff_alpha"]
        print(
            f"{name:16s} rows={len(table):,} report {elapsed:5.1f} s, peak RSS "
            f"{peak / 1024:.0f} MB (before {before / 1024:.0f} MB); alpha={alpha['value']:.3f} "
            f"[{alpha['ci_low']:.3f}, {alpha['ci_high']:.3f}], "
            f"kappa pairs={overall['cohen_kappa_pairs']['n_pairs']}",
            flush=True,
        )


if __name__ == "__main__":
    main()
