"""Rankings: our Bradley–Terry fit, bootstrap and full sections against evalica.

Run: .venv/bin/python bench/rankings.py [--votes 100000] [--systems 20] [--bootstrap 1000]

Pure computation on simulated votes (no database: the loader's cost is the agreement
benchmark's). Times, each the median of several runs in this process:

* **fit:** ``fit_bradley_terry`` against one bare ``evalica.bradley_terry`` call (Rust
  core) on the same votes;
* **bootstrap:** our batched refit of B replicates (``Resampler`` + ``bootstrap_xi``)
  against ``evalica.bootstrap(method=evalica.bradley_terry, n_resamples=B,
  bootstrap_method="percentile")``;
* **sections:** the report's whole ``rankings`` + ``rank_stability`` (overall and two
  pools; Elo over 100 orderings x 3 K values, leave-one-out, weak competitor, votes-needed
  curve of 10 x 200 refits) against the bare evalica fit.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import evalica  # noqa: E402

from analysis.metrics.ranking_report import ranking_sections  # noqa: E402
from analysis.metrics.rankings import (  # noqa: E402
    Battles,
    Resampler,
    bootstrap_xi,
    fit_bradley_terry,
)


def _timed(function, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--votes", type=int, default=100_000)
    parser.add_argument("--systems", type=int, default=20)
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--prompts", type=int, default=2000)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    m, n = args.systems, args.votes
    strength = rng.normal(0, 0.6, m)
    names = [f"system-{i:02d}" for i in range(m)]
    first = rng.integers(0, m, n)
    second = (first + rng.integers(1, m, n)) % m
    p = 1 / (1 + np.exp(-(strength[first] - strength[second])))
    tie = rng.random(n) < 0.08
    score = np.where(tie, 0.5, (rng.random(n) < p).astype(float))
    a = [names[i] for i in first]
    b = [names[j] for j in second]
    prompts = rng.integers(0, args.prompts, n)
    battles = Battles.from_arrays(a, b, score, prompts)
    winners = [
        evalica.Winner.X if s == 1 else evalica.Winner.Y if s == 0 else evalica.Winner.Draw
        for s in score
    ]
    print(f"{n:,} votes, {m} systems, {args.prompts:,} prompts, B = {args.bootstrap}")

    base, theirs = _timed(
        lambda: evalica.bradley_terry(a, b, winners, tie_weight=0.5, tolerance=1e-8), 5
    )
    ours_fit, fit = _timed(lambda: fit_bradley_terry(battles), 5)
    scores = theirs.scores.reindex(list(battles.systems)).to_numpy()
    log = np.log(scores)
    elo = 1000 + 400 / np.log(10) * (log - log.mean())
    print(f"bare evalica.bradley_terry       {base * 1000:9.1f} ms")
    print(
        f"fit_bradley_terry                {ours_fit * 1000:9.1f} ms   "
        f"{ours_fit / base:6.2f}x   max |diff| {np.abs(elo - fit.ratings).max():.4f} Elo"
    )

    def ours_bootstrap():
        resampler = Resampler.draw(battles, n_bootstrap=args.bootstrap, seed=0)
        return bootstrap_xi(resampler.totals(battles), l2=0.0)

    ours_boot, _ = _timed(ours_bootstrap, 3)
    their_boot, _ = _timed(
        lambda: evalica.bootstrap(
            evalica.bradley_terry,
            a,
            b,
            winners,
            n_resamples=args.bootstrap,
            bootstrap_method="percentile",
            random_state=0,
            tolerance=1e-8,
        ),
        1,
    )
    print(f"evalica.bootstrap (B={args.bootstrap})      {their_boot:9.2f} s")
    print(
        f"our batched bootstrap            {ours_boot:9.2f} s   "
        f"{ours_boot / their_boot:6.3f}x evalica's bootstrap"
    )

    table = pd.DataFrame(
        {
            "unit_id": np.arange(n).astype(str),
            "annotator_id": (np.arange(n) % 300).astype(str),
            "question": "preference",
            "value": np.where(score == 1, "A", np.where(score == 0, "B", "tie")),
            "pool_kind": np.where(np.arange(n) % 4 == 0, "expert", "crowd"),
            "shown_order": list(zip(a, b, strict=True)),
            "prompt_id": prompts.astype(str),
        }
    )
    sections_time, _ = _timed(
        lambda: ranking_sections(
            table,
            "preference",
            pool_column="pool_kind",
            n_bootstrap=args.bootstrap,
            seed=0,
            alpha=0.05,
        ),
        1,
    )
    print(
        f"rankings + rank_stability        {sections_time:9.2f} s   "
        f"{sections_time / base:8.0f}x one bare evalica fit"
    )


if __name__ == "__main__":
    main()
