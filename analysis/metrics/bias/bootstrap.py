"""The two-way (prompt x annotator) cluster bootstrap every bias check draws its
intervals from (methods.md A1).

The default combines prompt, annotator and rating bootstraps as V_p + V_a - V_r (the
bootstrap form of Cameron, Gelbach & Miller 2011); Owen's (2007) pigeonhole bootstrap with
percentile intervals is available as ``two_way="pigeonhole"`` (see :func:`_cluster_ci`
for why it is not the default). A prompt-cluster bootstrap is used when annotators rate
fewer than two items each.

References
----------
Owen, A. B. (2007). The pigeonhole bootstrap. Annals of Applied Statistics 1(2):386-411.
Cameron, A. C., Gelbach, J. B. & Miller, D. L. (2011). Robust inference with multiway
    clustering. Journal of Business & Economic Statistics 29(2):238-249.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse, stats

from analysis.metrics.bias.common import (
    FEW_ANNOTATORS,
    MAX_INVALID_REPLICATES,
    TWO_WAY_METHODS,
    say,
)


class _Clusters:
    """Integer cluster codes per row and the resampling mode."""

    def __init__(self, df: pd.DataFrame, prompt_col: str = "prompt_id") -> None:
        self.prompt_codes, self.prompts = pd.factorize(df[prompt_col].astype(str), sort=True)
        self.annot_codes, self.annotators = pd.factorize(df["annotator_id"].astype(str), sort=True)
        self.n_prompts = len(self.prompts)
        self.n_annotators = len(self.annotators)
        per_annot = np.bincount(self.annot_codes, minlength=self.n_annotators)
        self.warnings: list[str] = []
        if self.n_prompts < 2 and self.n_annotators < 2:
            self.mode = "none"
        elif self.n_annotators < 2 or np.median(per_annot) < 2:
            # methods.md A1 fallback: annotators with ~1 rating carry no annotator cluster.
            self.mode = "prompt"
            self.warnings.append(
                "annotators rate fewer than 2 items each (or only one annotator): "
                "prompt-cluster bootstrap only, annotator clustering ignored"
            )
        elif self.n_prompts < 2:
            self.mode = "annotator"
            self.warnings.append("a single prompt: annotator-cluster bootstrap only")
        else:
            self.mode = "two-way"
        if 2 <= self.n_annotators < FEW_ANNOTATORS and self.mode == "two-way":
            self.warnings.append(
                f"only {self.n_annotators} annotators: the annotator dimension of the "
                "bootstrap is coarse and intervals may be unstable"
            )

    def method(self, n_boot: int, two_way: str = "pigeonhole") -> str:
        if self.mode == "two-way" and two_way == "cgm":
            return (
                "two-way (prompt x annotator) cluster bootstrap, variance "
                "V_prompt + V_annotator - V_rating (Cameron-Gelbach-Miller form), "
                f"t(G-1) interval, B={n_boot} per scheme"
            )
        name = {
            "two-way": "two-way (prompt x annotator) pigeonhole bootstrap (Owen 2007)",
            "prompt": "prompt-cluster bootstrap",
            "annotator": "annotator-cluster bootstrap",
            "none": "no bootstrap (a single cluster)",
        }[self.mode]
        return f"{name}, percentile, B={n_boot}"


def _bootstrap_counts(rng: np.random.Generator, n: int, n_boot: int) -> np.ndarray:
    """How often each of ``n`` clusters is drawn in each of ``n_boot`` resamples of size
    ``n`` (b x n, Multinomial(n, 1/n) rows): the weights of a cluster bootstrap."""
    return rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot).astype(float)


@dataclass(frozen=True)
class LinearStat:
    """A bootstrap statistic that sees the row weights only through ``W @ matrix``.

    ``finish(sums, mp)`` turns the b x k weighted column sums (and the prompt
    multiplicities) into the b x m statistics. Knowing this lets a one-way cluster
    bootstrap sum the rows of each cluster once and weight those sums (``mp @ (P^T M)``)
    instead of building a b x rows weight matrix per replicate: the replicates are the
    same draws, and with whole-number matrices (counts, yes/no flags, Likert answers) the
    same numbers to the last bit, since every partial sum is an exact integer.
    """

    matrix: sparse.csr_matrix | np.ndarray
    finish: Callable[[np.ndarray, np.ndarray], np.ndarray]

    def __call__(self, w: np.ndarray, mp: np.ndarray) -> np.ndarray:
        return self.finish(_wsum(w, self.matrix), mp)

    def whole(self) -> bool:
        """Whether every entry is a whole number small enough for exact float sums."""
        values = self.matrix.data if sparse.issparse(self.matrix) else self.matrix
        values = np.asarray(values, dtype=float)
        return bool(
            np.all(np.isfinite(values))
            and np.all(values == np.round(values))
            and (values.size == 0 or np.abs(values).max() < 2.0**31)
        )


# Cells (replicates x columns) per block of a bootstrap's weighted sums: bounds the
# memory of one block to ~32 MB of float64 whatever the study's size.
_BLOCK_CELLS = 4_000_000


def _multiplicities(rng: np.random.Generator, n: int, n_boot: int, active: bool) -> np.ndarray:
    if not active:
        return np.ones((n_boot, n))
    return _bootstrap_counts(rng, n, n_boot)


def _replicates(
    stat: Callable[[np.ndarray, np.ndarray], np.ndarray],
    clusters: _Clusters,
    rng: np.random.Generator,
    n_boot: int,
    scheme: str,
) -> np.ndarray:
    """Bootstrap replicates (B x statistics) of ``stat(W, mp)`` under one weighting scheme.

    ``W`` (b x rows) are row weights; ``mp`` (b x prompts) the prompt multiplicities, for
    statistics that also weight prompt-level summaries. Schemes: ``"pigeonhole"`` weights a
    row by its prompt's times its annotator's multiplicity (Owen 2007); ``"prompt"`` and
    ``"annotator"`` resample one dimension; ``"rating"`` resamples rows i.i.d.
    """
    n_rows = len(clusters.prompt_codes)
    chunk = max(1, 2_000_000 // max(n_rows, 1))
    parts = []
    if scheme == "rating":
        # One probability vector for every block: the draws do not depend on the blocks.
        uniform = np.full(n_rows, 1.0 / n_rows)
        for s in range(0, n_boot, chunk):
            b = min(chunk, n_boot - s)
            w = rng.multinomial(n_rows, uniform, size=b).astype(float)
            with np.errstate(divide="ignore", invalid="ignore"):
                parts.append(np.atleast_2d(stat(w, np.ones((b, clusters.n_prompts)))))
        return np.vstack(parts)
    mp = _multiplicities(rng, clusters.n_prompts, n_boot, scheme in ("pigeonhole", "prompt"))
    ma = _multiplicities(rng, clusters.n_annotators, n_boot, scheme in ("pigeonhole", "annotator"))
    if scheme in ("prompt", "annotator") and isinstance(stat, LinearStat) and stat.whole():
        return _one_way_sums(stat, clusters, mp, ma, scheme)
    for s in range(0, n_boot, chunk):
        w = mp[s : s + chunk][:, clusters.prompt_codes] * ma[s : s + chunk][:, clusters.annot_codes]
        with np.errstate(divide="ignore", invalid="ignore"):
            parts.append(np.atleast_2d(stat(w, mp[s : s + chunk])))
    return np.vstack(parts)


def _one_way_sums(
    stat: LinearStat, clusters: _Clusters, mp: np.ndarray, ma: np.ndarray, scheme: str
) -> np.ndarray:
    """Replicates of a one-way cluster bootstrap of a :class:`LinearStat`: the rows of each
    cluster are summed once, then weighted by the clusters' multiplicities, block by block
    (the same numbers as weighting every row, see :class:`LinearStat`)."""
    codes, n, mult = (
        (clusters.prompt_codes, clusters.n_prompts, mp)
        if scheme == "prompt"
        else (clusters.annot_codes, clusters.n_annotators, ma)
    )
    members = _group_sum_matrix(codes, np.ones(len(codes)), n)
    per_cluster = members.T @ stat.matrix
    if sparse.issparse(per_cluster):
        per_cluster = sparse.csr_matrix(per_cluster)
    else:
        per_cluster = np.asarray(per_cluster)
    block = max(1, _BLOCK_CELLS // max(per_cluster.shape[1], n, 1))
    parts = []
    for s in range(0, len(mult), block):
        with np.errstate(divide="ignore", invalid="ignore"):
            sums = _wsum(mult[s : s + block], per_cluster)
            parts.append(np.atleast_2d(stat.finish(sums, mp[s : s + block])))
    return np.vstack(parts)


def _bootstrap(
    stat: Callable[[np.ndarray, np.ndarray], np.ndarray],
    clusters: _Clusters,
    rng: np.random.Generator,
    n_boot: int,
) -> np.ndarray:
    """Pigeonhole replicates (or one-way ones when the design has one cluster dimension)."""
    if clusters.mode == "none" or n_boot < 1:
        return np.empty((0, 0))
    scheme = "pigeonhole" if clusters.mode == "two-way" else clusters.mode
    return _replicates(stat, clusters, rng, n_boot, scheme)


@dataclass
class _CI:
    """Per-statistic interval bounds, bootstrap SEs and the method used.

    ``df`` is the t reference's degrees of freedom of the CGM interval (None: normal).
    """

    low: list[float | None]
    high: list[float | None]
    se: list[float | None]
    invalid: float
    method: str
    df: float | None = None

    def pair(self, j: int) -> tuple[float | None, float | None]:
        return self.low[j], self.high[j]

    def wald_p(self, j: int, estimate: float | None, null: float = 0.0) -> float | None:
        """Two-sided p of ``estimate - null`` over the bootstrap SE, on the same t (or
        normal) reference as the interval; None without an SE."""
        se = self.se[j]
        if se is None or estimate is None or not math.isfinite(estimate) or se <= 0:
            return None
        t = abs(estimate - null) / se
        return float(2 * (stats.t.sf(t, self.df) if self.df else stats.norm.sf(t)))


def _cluster_ci(
    stat: Callable[[np.ndarray, np.ndarray], np.ndarray],
    obs: np.ndarray,
    clusters: _Clusters,
    rng: np.random.Generator,
    n_boot: int,
    level: float,
    two_way: str = "cgm",
    bounds: Sequence[tuple[float, float] | None] | None = None,
) -> _CI:
    """Confidence intervals for each statistic of ``stat`` under the clustered design.

    Two-way designs (methods.md A1):

    * ``two_way="cgm"`` (default): Var = V_prompt + V_annotator - V_rating from three
      bootstraps (prompt clusters, annotator clusters, i.i.d. ratings) -- the bootstrap form
      of the Cameron, Gelbach & Miller (2011) two-way variance -- floored at
      max(V_prompt, V_annotator) as CGM advise, with a t(G - 1) interval (G = the smaller
      number of clusters). The pigeonhole
      bootstrap counts the rating-level noise three times (Owen 2007, s3): with rating
      noise dominating, its intervals were ~1.6x too wide in our simulations (100%
      coverage, little power), so it is kept only as an option.
    * ``two_way="pigeonhole"``: Owen's (2007) product-weight bootstrap, percentile interval
      (the literal methods.md recipe; conservative).

    One-way designs (few ratings per annotator, or one prompt) use the percentile interval
    of the one-way cluster bootstrap.
    """
    obs = np.atleast_1d(np.asarray(obs, dtype=float))
    m = obs.size
    empty = _CI([None] * m, [None] * m, [None] * m, 1.0, clusters.method(n_boot, two_way))
    if clusters.mode == "none" or n_boot < 1:
        return empty
    df = None
    if clusters.mode == "two-way" and two_way == "cgm":
        reps = {
            s: _replicates(stat, clusters, rng, n_boot, s)
            for s in ("prompt", "annotator", "rating")
        }
        lows, highs, ses, worst = _cgm_bounds(reps, obs, clusters, level)
        df = float(max(min(clusters.n_prompts, clusters.n_annotators) - 1, 1))
    else:
        if two_way not in TWO_WAY_METHODS:
            raise ValueError(f"two_way must be one of {say(TWO_WAY_METHODS)}")
        lows, highs, ses, worst = _percentile_bounds(_bootstrap(stat, clusters, rng, n_boot), level)
    if bounds is not None:
        for j, bd in enumerate(bounds):
            if bd is not None and lows[j] is not None:
                lows[j] = max(lows[j], bd[0])
                highs[j] = min(highs[j], bd[1])
    return _CI(lows, highs, ses, worst, clusters.method(n_boot, two_way), df)


_Intervals = tuple[list[float | None], list[float | None], list[float | None], float]


def _cgm_bounds(
    reps: dict[str, np.ndarray], obs: np.ndarray, clusters: _Clusters, level: float
) -> _Intervals:
    """t intervals from V_prompt + V_annotator - V_rating of the three one-way bootstraps
    (see :func:`_cluster_ci`): lows, highs, SEs and the worst share of undefined
    replicates."""
    a = (1.0 - level) / 2.0
    lows: list[float | None] = []
    highs: list[float | None] = []
    ses: list[float | None] = []
    worst = 0.0
    # Few-cluster correction (Cameron, Gelbach & Miller 2008/2011): t quantile with
    # G - 1 degrees of freedom, G = the smaller cluster count.
    g = min(clusters.n_prompts, clusters.n_annotators)
    z = stats.t.ppf(1.0 - a, df=max(g - 1, 1))
    for j in range(obs.size):
        var = {}
        bad = 0.0
        for s, r in reps.items():
            col = r[:, j]
            fin = col[np.isfinite(col)]
            bad = max(bad, 1.0 - fin.size / col.size)
            var[s] = float(fin.var(ddof=1)) if fin.size >= 20 else float("nan")
        worst = max(worst, bad)
        v = var["prompt"] + var["annotator"] - var["rating"]
        v = max(v, var["prompt"], var["annotator"])
        if bad > MAX_INVALID_REPLICATES or not math.isfinite(v) or not math.isfinite(obs[j]):
            lows.append(None)
            highs.append(None)
            ses.append(None)
            continue
        se = math.sqrt(v)
        lows.append(float(obs[j] - z * se))
        highs.append(float(obs[j] + z * se))
        ses.append(se)
    return lows, highs, ses, worst


def _percentile_bounds(reps: np.ndarray, level: float) -> _Intervals:
    """Percentile intervals of each statistic's pigeonhole (or one-way) replicates."""
    lows: list[float | None] = []
    highs: list[float | None] = []
    ses: list[float | None] = []
    worst = 0.0
    for j in range(reps.shape[1]):
        lo, hi, inv = _percentile_ci(reps[:, j], level)
        worst = max(worst, inv)
        fin = reps[:, j][np.isfinite(reps[:, j])]
        lows.append(lo)
        highs.append(hi)
        ses.append(float(fin.std(ddof=1)) if lo is not None else None)
    return lows, highs, ses, worst


def _percentile_ci(reps: np.ndarray, level: float) -> tuple[float | None, float | None, float]:
    """Percentile interval of the finite replicates, and the share that were undefined."""
    if reps.size == 0:
        return None, None, 1.0
    finite = reps[np.isfinite(reps)]
    invalid = 1.0 - finite.size / reps.size
    if invalid > MAX_INVALID_REPLICATES or finite.size < 20:
        return None, None, invalid
    a = (1.0 - level) / 2.0
    lo, hi = np.quantile(finite, [a, 1.0 - a])
    return float(lo), float(hi), invalid


def _invalid_warning(invalid: float, what: str) -> list[str]:
    if invalid > 0.1:
        return [f"{100 * invalid:.0f}% of bootstrap replicates of {what} were undefined"]
    return []


def _group_sum_matrix(codes: np.ndarray, values: np.ndarray, n_groups: int) -> sparse.csr_matrix:
    """Sparse (rows x groups) matrix with ``values`` at (row, code)."""
    n = len(codes)
    return sparse.csr_matrix((values, (np.arange(n), codes)), shape=(n, n_groups))


def _wsum(w: np.ndarray, m: sparse.csr_matrix | np.ndarray) -> np.ndarray:
    """W @ M for dense W (b x rows) and sparse or dense M (rows x g)."""
    if sparse.issparse(m):
        return np.asarray((m.T @ w.T).T)
    return w @ m
