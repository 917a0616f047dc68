"""Bradley–Terry rankings of systems from pairwise votes (methods.md, section 5, C1–C2).

A vote says which of two shown outputs was better: 1 when the first-shown system (A)
won, 0.5 for a tie, 0 when B won. The primary model is Bradley–Terry,
P(i beats j) = sigma(xi_i - xi_j), fitted by maximum likelihood with ties as half a
win, on the Elo scale R = 1000 + 400 xi / ln 10 (mean 1000). Online Elo is computed
only as a diagnostic, as the mean and spread over many random orderings, because its
result depends on the order of the votes.

The fits are Newton steps on the votes aggregated per pair of systems, batched over
bootstrap replicates: the bootstrap, the perturbations of the stability report and
the votes-needed curve all refit hundreds of times, and a batched solve over a few
hundred pairs is what makes that cheap. ``evalica.bradley_terry`` is fitted once on
the full data as an independent cross-check of every leaderboard.

Nothing here knows about Django; the loader hands in plain arrays.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from analysis.metrics.say import say

ELO_PER_LOGIT = 400.0 / math.log(10.0)
ELO_CENTER = 1000.0
# The L2 penalty used when the maximum-likelihood estimate does not exist (a system that
# never lost or never won, or groups of systems that never met): small enough to leave
# well-determined differences alone, large enough to keep the others finite.
FALLBACK_L2 = 0.01
_NEWTON_TOL = 1e-10
_NEWTON_MAX_ITER = 100
_MAX_STEP = 2.0


class RankingError(ValueError):
    """The votes cannot be ranked; the message says why in the user's terms."""


# -- votes --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Battles:
    """Pairwise votes: system indices shown as A and B, the score of A, and a cluster."""

    systems: tuple[str, ...]
    a: np.ndarray
    b: np.ndarray
    score: np.ndarray
    cluster: np.ndarray | None = None
    annotator: np.ndarray | None = None
    covariates: pd.DataFrame | None = field(default=None, compare=False)

    @classmethod
    def from_arrays(
        cls,
        a: Sequence[str],
        b: Sequence[str],
        score: Sequence[float],
        cluster: Sequence[Hashable] | None = None,
        *,
        annotator: Sequence[Hashable] | None = None,
        covariates: pd.DataFrame | None = None,
    ) -> Battles:
        """Votes from parallel sequences; systems are sorted by name.

        Raises
        ------
        RankingError
            On mismatched lengths, a score other than 0, 0.5 or 1, or a system compared
            with itself.
        """
        a_names = np.asarray(a, dtype=object).astype(str)
        b_names = np.asarray(b, dtype=object).astype(str)
        scores = np.asarray(score, dtype=np.float64)
        if not len(a_names) == len(b_names) == len(scores):
            raise RankingError("a, b and score must have the same length.")
        bad = ~np.isin(scores, (0.0, 0.5, 1.0))
        if bad.any():
            raise RankingError(
                f"A vote's score must be 1 (A won), 0.5 (tie) or 0 (B won); vote "
                f"{int(np.flatnonzero(bad)[0]) + 1} has {say(scores[bad][0])}."
            )
        same = a_names == b_names
        if same.any():
            raise RankingError(
                f"Vote {int(np.flatnonzero(same)[0]) + 1} compares '{a_names[same][0]}' "
                "with itself."
            )
        systems = tuple(sorted({str(x) for x in a_names} | {str(x) for x in b_names}))
        index = {name: i for i, name in enumerate(systems)}
        codes = np.vectorize(index.__getitem__, otypes=[np.int64])
        return cls(
            systems=systems,
            a=codes(a_names) if len(a_names) else np.zeros(0, dtype=np.int64),
            b=codes(b_names) if len(b_names) else np.zeros(0, dtype=np.int64),
            score=scores,
            cluster=None if cluster is None else _cluster_codes(cluster),
            annotator=None if annotator is None else pd.factorize(np.asarray(annotator))[0],
            covariates=covariates,
        )

    def __len__(self) -> int:
        return len(self.score)

    def subset(self, mask: np.ndarray, *, systems: Sequence[str] | None = None) -> Battles:
        """The votes where `mask` holds, re-indexed on `systems` (default: those present)."""
        a = np.asarray(self.systems, dtype=object)[self.a[mask]]
        b = np.asarray(self.systems, dtype=object)[self.b[mask]]
        names = tuple(
            sorted({str(x) for x in a} | {str(x) for x in b}) if systems is None else systems
        )
        index = {name: i for i, name in enumerate(names)}
        return Battles(
            systems=names,
            a=np.fromiter((index[x] for x in a), dtype=np.int64, count=len(a)),
            b=np.fromiter((index[x] for x in b), dtype=np.int64, count=len(b)),
            score=self.score[mask],
            cluster=None if self.cluster is None else self.cluster[mask],
            annotator=None if self.annotator is None else self.annotator[mask],
            covariates=None
            if self.covariates is None
            else self.covariates[mask].reset_index(drop=True),
        )


def _cluster_codes(cluster: Sequence[Hashable]) -> np.ndarray:
    """Integer cluster codes; a vote with no cluster (None, NaN) is a cluster of its own."""
    codes = pd.factorize(np.asarray(cluster, dtype=object))[0]
    missing = codes < 0
    if missing.any():
        codes[missing] = codes.max(initial=-1) + 1 + np.arange(int(missing.sum()))
    return codes


@dataclass(frozen=True)
class PairTotals:
    """Votes aggregated per unordered pair (i < j): weight and wins of i (ties half)."""

    n_systems: int
    first: np.ndarray  # i of each pair
    second: np.ndarray  # j of each pair
    games: np.ndarray  # (..., n_pairs) weighted number of votes
    wins: np.ndarray  # (..., n_pairs) weighted wins of `first`, ties counting half

    @property
    def incidence(self) -> np.ndarray:
        """(n_pairs, n_systems): +1 at the pair's first system, -1 at its second."""
        matrix = np.zeros((len(self.first), self.n_systems))
        rows = np.arange(len(self.first))
        matrix[rows, self.first] = 1.0
        matrix[rows, self.second] = -1.0
        return matrix


def all_pairs(n_systems: int) -> tuple[np.ndarray, np.ndarray]:
    first, second = np.triu_indices(n_systems, k=1)
    return first.astype(np.int64), second.astype(np.int64)


def pair_index(a: np.ndarray, b: np.ndarray, n_systems: int) -> tuple[np.ndarray, np.ndarray]:
    """Index of each vote's pair among `all_pairs`, and whether A is the pair's first."""
    low, high = np.minimum(a, b), np.maximum(a, b)
    # Row-major position of (low, high) in the strict upper triangle.
    index = low * n_systems - low * (low + 1) // 2 + (high - low - 1)
    return index.astype(np.int64), a < b


def vote_cells(battles: Battles, *, drop_ties: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Per vote: its pair index and the win credited to the pair's first system."""
    pairs, a_first = pair_index(battles.a, battles.b, len(battles.systems))
    wins_first = np.where(a_first, battles.score, 1.0 - battles.score)
    if drop_ties:
        keep = battles.score != 0.5
        return pairs[keep], wins_first[keep]
    return pairs, wins_first


def pair_totals(
    battles: Battles, *, weights: np.ndarray | None = None, drop_ties: bool = False
) -> PairTotals:
    """All votes summed per pair (weights multiply a vote, as duplicating it would)."""
    m = len(battles.systems)
    first, second = all_pairs(m)
    pairs, wins_first = vote_cells(battles, drop_ties=drop_ties)
    w = np.ones(len(battles)) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (len(battles),):
        raise RankingError(f"Give one weight per vote ({len(battles)}), not {w.size}.")
    if not np.all(np.isfinite(w)) or (w < 0).any():
        raise RankingError("Vote weights must be finite and not negative.")
    if drop_ties:
        w = w[battles.score != 0.5]
    games = np.bincount(pairs, weights=w, minlength=len(first))
    wins = np.bincount(pairs, weights=w * wins_first, minlength=len(first))
    return PairTotals(m, first, second, games, wins)


# -- the Bradley–Terry fit ------------------------------------------------------------------


def _newton_batch(
    totals: PairTotals, *, l2: float | np.ndarray = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centred log-strengths maximising the (penalised) BT likelihood, batched.

    `totals.games`/`wins` are (B, P). Returns xi (B, m), the Fisher information
    (B, m, m) at the estimate, and whether each fit converged. The Hessian of the
    log-likelihood is minus a weighted graph Laplacian, singular along the all-ones
    direction; adding the projector onto that direction (J/m) makes the system
    solvable and keeps every step centred.
    """
    games = np.atleast_2d(totals.games).astype(np.float64)
    wins = np.atleast_2d(totals.wins).astype(np.float64)
    n_rep, m = games.shape[0], totals.n_systems
    penalty = np.broadcast_to(np.asarray(l2, dtype=np.float64), (n_rep,))
    incidence = totals.incidence
    # Row p is the flattened outer product of pair p's incidence vector, so the Fisher
    # information (a weighted Laplacian) of all replicates is one matrix product.
    outer = (incidence[:, :, None] * incidence[:, None, :]).reshape(len(incidence), m * m)
    centre = np.full((m, m), 1.0 / m)
    xi = np.zeros((n_rep, m))
    converged = np.zeros(n_rep, dtype=bool)
    information = np.zeros((n_rep, m, m))
    active = np.arange(n_rep)
    for _ in range(_NEWTON_MAX_ITER):
        if not len(active):
            break
        x = xi[active]
        diff = x @ incidence.T
        p = 1.0 / (1.0 + np.exp(-diff))
        g = (wins[active] - games[active] * p) @ incidence - penalty[active, None] * x
        w = games[active] * p * (1.0 - p)
        info = (w @ outer).reshape(len(active), m, m)
        info += penalty[active, None, None] * np.eye(m)
        step = np.linalg.solve(info + centre, g[..., None])[..., 0]
        step -= step.mean(axis=1, keepdims=True)
        largest = np.abs(step).max(axis=1)
        # A damped step keeps the iteration inside the region where the quadratic model
        # holds; near a non-existent MLE a full step would overshoot wildly.
        scale = np.minimum(1.0, _MAX_STEP / np.maximum(largest, 1e-300))
        xi[active] = x + step * scale[:, None]
        information[active] = info
        done = largest < _NEWTON_TOL
        converged[active[done]] = True
        active = active[~done]
    return xi, information, converged


def _win_graph(totals: PairTotals) -> tuple[int, np.ndarray, int, np.ndarray]:
    """(number, labels) of the comparison graph's groups and of its win graph's
    strongly connected components. The MLE exists iff the latter is one component."""
    m = totals.n_systems
    games, wins = np.asarray(totals.games), np.asarray(totals.wins)
    met = games > 0
    undirected = csr_matrix(
        (np.ones(met.sum()), (totals.first[met], totals.second[met])), shape=(m, m)
    )
    n_groups, groups = connected_components(undirected, directed=False)
    beat = wins > 0  # first beat second at least once (a tie counts both ways)
    lost = (games - wins) > 0
    rows = np.concatenate([totals.first[beat], totals.second[lost]])
    cols = np.concatenate([totals.second[beat], totals.first[lost]])
    directed = csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(m, m))
    n_strong, strong = connected_components(directed, directed=True, connection="strong")
    return n_groups, groups, n_strong, strong


def mle_exists(totals: PairTotals) -> bool:
    """Whether every group of systems both beat and lost to the rest (Zermelo/Ford)."""
    return totals.n_systems < 2 or _win_graph(totals)[2] == 1


@dataclass(frozen=True)
class BradleyTerryFit:
    systems: tuple[str, ...]
    xi: np.ndarray
    ratings: np.ndarray
    connected: bool
    warnings: tuple[str, ...]
    information: np.ndarray
    l2: float
    n_votes: float

    def standard_errors(self) -> np.ndarray:
        """Model-based SEs of the centred log-strengths (inverse Fisher information)."""
        m = len(self.systems)
        covariance = np.linalg.pinv(self.information + np.full((m, m), 1.0 / m))
        covariance -= np.full((m, m), 1.0 / m)
        return np.sqrt(np.clip(np.diag(covariance), 0.0, None))


def _existence_warnings(totals: PairTotals, systems: Sequence[str]) -> list[str]:
    n_groups, groups, n_strong, _strong = _win_graph(totals)
    if n_strong == 1:
        return []
    if n_groups > 1:
        parts = [
            "{" + ", ".join(systems[i] for i in np.flatnonzero(groups == g)) + "}"
            for g in range(n_groups)
        ]
        return [
            f"The comparisons fall into {n_groups} groups that never met: "
            f"{'; '.join(parts)}. Ratings across groups are not comparable; they are "
            f"held together by a small L2 penalty ({FALLBACK_L2}). Add votes between "
            "the groups."
        ]
    notes = []
    games, wins = np.asarray(totals.games), np.asarray(totals.wins)
    m = totals.n_systems
    won = np.bincount(totals.first, wins, m) + np.bincount(totals.second, games - wins, m)
    played = np.bincount(totals.first, games, m) + np.bincount(totals.second, games, m)
    for i in range(m):
        if played[i] > 0 and won[i] == played[i]:
            notes.append(f"'{systems[i]}' won every comparison")
        elif played[i] > 0 and won[i] == 0:
            notes.append(f"'{systems[i]}' lost every comparison")
    detail = "; ".join(notes) if notes else "one group of systems beat all the others"
    return [
        f"The maximum-likelihood ratings do not exist ({detail}), so the ratings are "
        f"finite only through a small L2 penalty ({FALLBACK_L2}); treat the extremes as "
        "'at least this far apart'."
    ]


def fit_bradley_terry(
    battles: Battles,
    *,
    weights: np.ndarray | None = None,
    l2: float = 0.0,
    drop_ties: bool = False,
) -> BradleyTerryFit:
    """Bradley–Terry maximum likelihood, ties as half a win (or dropped).

    When the MLE does not exist the fit adds `FALLBACK_L2` and says why in `warnings`.

    Raises
    ------
    RankingError
        When there are no votes (after dropping ties, if asked) or fewer than two systems.
    """
    if not (np.isfinite(l2) and l2 >= 0):
        raise RankingError("The L2 penalty must be a finite number of at least 0.")
    totals = pair_totals(battles, weights=weights, drop_ties=drop_ties)
    if len(battles.systems) < 2 or totals.games.sum() <= 0:
        raise RankingError(
            "Ranking needs votes between at least two systems"
            + (" that are not ties." if drop_ties else ".")
        )
    warnings = _existence_warnings(totals, battles.systems)
    penalty = max(l2, FALLBACK_L2) if warnings else l2
    xi, information, converged = _newton_batch(totals, l2=penalty)
    if not converged[0]:
        warnings.append("The Bradley–Terry fit did not converge; treat the ratings as rough.")
    return BradleyTerryFit(
        systems=battles.systems,
        xi=xi[0],
        ratings=to_elo(xi[0]),
        connected=not warnings,
        warnings=tuple(warnings),
        information=information[0],
        l2=penalty,
        n_votes=float(totals.games.sum()),
    )


def to_elo(xi: np.ndarray) -> np.ndarray:
    """Log-strengths to the Elo scale, centred on 1000."""
    centred = xi - np.mean(xi, axis=-1, keepdims=True)
    return ELO_CENTER + ELO_PER_LOGIT * centred


def win_probability(rating_gap: float) -> float:
    """P(win) for an Elo-scale gap."""
    return 1.0 / (1.0 + 10.0 ** (-rating_gap / 400.0))


# -- online Elo (diagnostic only) --------------------------------------------------------


def online_elo_in_order(
    battles: Battles, *, order: np.ndarray, k: float = 4.0, initial: float = 1000.0
) -> np.ndarray:
    """Online Elo over the votes in `order` (one ordering)."""
    return _online_elo(battles, np.asarray(order)[None, :], k=k, initial=initial)[0]


def _online_elo(
    battles: Battles, orders: np.ndarray, *, k: float | np.ndarray, initial: float
) -> np.ndarray:
    """Ratings after each ordering (row of `orders`); `k` per row or one for all."""
    n_orders, m = orders.shape[0], len(battles.systems)
    flat = np.full(n_orders * m, float(initial))
    offsets = np.arange(n_orders) * m
    k_rows = np.broadcast_to(np.asarray(k, dtype=np.float64), (n_orders,))
    # Indices into the flattened ratings, precomputed so each step is a few array ops.
    a_all = battles.a[orders] + offsets[:, None]
    b_all = battles.b[orders] + offsets[:, None]
    s_all = battles.score[orders]
    for t in range(orders.shape[1]):
        a, b = a_all[:, t], b_all[:, t]
        expected = 1.0 / (1.0 + np.power(10.0, (flat[b] - flat[a]) / 400.0))
        delta = k_rows * (s_all[:, t] - expected)
        flat[a] += delta
        flat[b] -= delta
    return flat.reshape(n_orders, m)


def online_elo(
    battles: Battles,
    *,
    k: float = 4.0,
    initial: float = 1000.0,
    n_orderings: int = 100,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and SD per system of online-Elo ratings over random orderings of the votes."""
    return online_elo_by_k(
        battles, k_values=(k,), initial=initial, n_orderings=n_orderings, seed=seed
    )[k]


def online_elo_by_k(
    battles: Battles,
    *,
    k_values: Sequence[float],
    initial: float = 1000.0,
    n_orderings: int = 100,
    seed: int = 0,
) -> dict[float, tuple[np.ndarray, np.ndarray]]:
    """`online_elo` for several K at once, on the same orderings (one pass over the votes)."""
    if len(battles) == 0:
        raise RankingError("Online Elo needs at least one vote.")
    rng = np.random.default_rng(seed)
    orders = np.argsort(rng.random((n_orderings, len(battles))), axis=1)
    k_column = np.repeat(np.asarray(k_values, dtype=np.float64), n_orderings)
    ratings = _online_elo(battles, np.tile(orders, (len(k_values), 1)), k=k_column, initial=initial)
    result = {}
    for position, k in enumerate(k_values):
        block = ratings[position * n_orderings : (position + 1) * n_orderings]
        sd = block.std(axis=0, ddof=1) if n_orderings > 1 else np.zeros(block.shape[1])
        result[k] = (block.mean(axis=0), sd)
    return result


# -- covariate ("style/tone") control ------------------------------------------------------


@dataclass(frozen=True)
class CovariateFit:
    systems: tuple[str, ...]
    xi: np.ndarray
    xi_se: np.ndarray
    names: tuple[str, ...]
    gamma: np.ndarray
    gamma_se: np.ndarray
    converged: bool


def fit_bradley_terry_covariates(
    battles: Battles, covariates: pd.DataFrame, *, l2: float = 0.0
) -> CovariateFit:
    """BT with per-vote covariates: logit P(A wins) = xi_a - xi_b + z'gamma.

    Newton on the full vote-level likelihood (ties as y = 1/2), then cluster-robust
    (sandwich) standard errors by the votes' cluster -- prompts, when known -- because
    votes on one prompt share its content.
    """
    m = len(battles.systems)
    n = len(battles)
    z = covariates.to_numpy(dtype=np.float64)

    # The first system is the reference (xi_0 = 0); the result is re-centred after.
    x_sys = np.zeros((n, m))
    x_sys[np.arange(n), battles.a] += 1.0
    x_sys[np.arange(n), battles.b] -= 1.0
    design = np.hstack([x_sys[:, 1:], z])
    y = battles.score
    beta = np.zeros(design.shape[1])
    ridge = np.full(design.shape[1], l2)
    ridge[m - 1 :] = 0.0
    converged = False
    for _ in range(_NEWTON_MAX_ITER):
        eta = design @ beta
        p = 1.0 / (1.0 + np.exp(-eta))
        gradient = design.T @ (y - p) - ridge * beta
        information = (design * (p * (1 - p))[:, None]).T @ design + np.diag(ridge)
        step = np.linalg.lstsq(information, gradient, rcond=None)[0]
        largest = np.abs(step).max() if len(step) else 0.0
        beta += step * min(1.0, _MAX_STEP / max(largest, 1e-300))
        if largest < _NEWTON_TOL:
            converged = True
            break
    p = 1.0 / (1.0 + np.exp(-(design @ beta)))
    bread = np.linalg.pinv((design * (p * (1 - p))[:, None]).T @ design + np.diag(ridge))
    scores = design * (y - p)[:, None]
    clusters = battles.cluster if battles.cluster is not None else np.arange(n)
    summed = pd.DataFrame(scores).groupby(clusters).sum().to_numpy()
    g = len(summed)
    meat = summed.T @ summed * (g / max(g - 1, 1))
    covariance = bread @ meat @ bread
    # Back to all m systems, centred: xi = C beta_sys with C the centring of [0, beta].
    lift = np.vstack([np.zeros(m - 1), np.eye(m - 1)])
    lift -= lift.mean(axis=0, keepdims=True)
    xi = lift @ beta[: m - 1]
    xi_cov = lift @ covariance[: m - 1, : m - 1] @ lift.T
    return CovariateFit(
        systems=battles.systems,
        xi=xi,
        xi_se=np.sqrt(np.clip(np.diag(xi_cov), 0, None)),
        names=tuple(covariates.columns),
        gamma=beta[m - 1 :],
        gamma_se=np.sqrt(np.clip(np.diag(covariance)[m - 1 :], 0, None)),
        converged=converged,
    )


# -- bootstrap ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Resampler:
    """Bootstrap replicates shared by every leaderboard of one report.

    By prompt (clusters) when prompts are known: votes on one prompt are not
    independent. The cluster draws come from one seed, so the overall and per-pool
    leaderboards see the same resampled prompts and their rankings can be compared
    replicate by replicate. They are regenerated in chunks rather than stored, so
    memory stays at a chunk of replicates x prompts however many prompts there are.

    By vote, a replicate's counts per (pair, outcome) cell are multinomial, which is
    the same distribution as drawing votes with replacement at a fraction of the cost:
    B x 3P numbers instead of B x n votes.
    """

    n_bootstrap: int
    seed: int
    n_clusters: int | None  # None: resample votes

    _CHUNK = 100

    @property
    def by_cluster(self) -> bool:
        return self.n_clusters is not None

    @classmethod
    def draw(
        cls, battles: Battles, *, n_bootstrap: int, seed: int, unit: str = "prompt"
    ) -> Resampler:
        """`unit` "prompt" resamples clusters when the votes have them (else votes),
        "vote" always resamples votes."""
        if unit not in ("prompt", "vote"):
            raise RankingError(f"The bootstrap resamples 'prompt' or 'vote', not {say(unit)}.")
        if n_bootstrap < 1:
            raise RankingError("The bootstrap needs at least one replicate.")
        clustered = battles.cluster is not None and battles.cluster.max(initial=-1) >= 1
        n_clusters = int(battles.cluster.max()) + 1 if unit == "prompt" and clustered else None
        return cls(n_bootstrap=n_bootstrap, seed=seed, n_clusters=n_clusters)

    def cluster_counts(self) -> Iterator[np.ndarray]:
        """The replicates' prompt multiplicities, (chunk, n_clusters) at a time."""
        assert self.n_clusters is not None
        rng = np.random.default_rng(self.seed)
        uniform = np.full(self.n_clusters, 1.0 / self.n_clusters)
        for start in range(0, self.n_bootstrap, self._CHUNK):
            size = min(self._CHUNK, self.n_bootstrap - start)
            yield rng.multinomial(self.n_clusters, uniform, size=size).astype(np.float64)

    def totals(self, battles: Battles) -> PairTotals:
        """(B, P) pair totals of the replicates of `battles`' votes."""
        m = len(battles.systems)
        first, second = all_pairs(m)
        n_pairs = len(first)
        pairs, wins_first = vote_cells(battles)
        if self.n_clusters is None:
            outcome = np.select([wins_first == 1.0, wins_first == 0.5], [0, 1], default=2)
            observed = np.bincount(pairs * 3 + outcome, minlength=3 * n_pairs)
            # Each board's votes get their own stream (keyed by its cell counts), so two
            # pools' replicates are independent, and the same board always redraws alike.
            key = zlib.crc32(observed.astype(np.int64).tobytes())
            rng = np.random.default_rng([self.seed, key])
            draws = rng.multinomial(len(battles), observed / observed.sum(), size=self.n_bootstrap)
            draws = draws.reshape(self.n_bootstrap, n_pairs, 3).astype(np.float64)
            games = draws.sum(axis=2)
            wins = draws[:, :, 0] + 0.5 * draws[:, :, 1]
            return PairTotals(m, first, second, games, wins)
        key = battles.cluster * n_pairs + pairs
        size = self.n_clusters * n_pairs
        per_cluster_games = np.bincount(key, minlength=size).reshape(self.n_clusters, n_pairs)
        per_cluster_wins = np.bincount(key, weights=wins_first, minlength=size).reshape(
            self.n_clusters, n_pairs
        )
        chunks = list(self.cluster_counts())
        games = np.vstack([counts @ per_cluster_games for counts in chunks])
        wins = np.vstack([counts @ per_cluster_wins for counts in chunks])
        return PairTotals(m, first, second, games, wins)


def bootstrap_xi(totals: PairTotals, *, l2: float) -> tuple[np.ndarray, int]:
    """Refit every replicate; replicates whose MLE does not exist get the small penalty.

    Returns the (B, m) centred log-strengths and how many replicates needed the penalty.
    """
    n_rep = totals.games.shape[0]
    penalty = np.full(n_rep, l2)
    if l2 < FALLBACK_L2:
        for r in range(n_rep):
            replicate = PairTotals(
                totals.n_systems, totals.first, totals.second, totals.games[r], totals.wins[r]
            )
            if not mle_exists(replicate):
                penalty[r] = FALLBACK_L2
    xi, _, _ = _newton_batch(totals, l2=penalty)
    return xi, int((penalty > l2).sum())


def ranks_of(xi: np.ndarray) -> np.ndarray:
    """Rank of each system per row, 1 = best (exact ties, of probability zero, by order)."""
    matrix = np.atleast_2d(xi)
    order = np.argsort(-matrix, axis=1, kind="stable")
    ranks = np.empty_like(order)
    ranks[np.arange(matrix.shape[0])[:, None], order] = np.arange(1, matrix.shape[1] + 1)
    return ranks if np.ndim(xi) == 2 else ranks[0]


def kendall_tau(reference: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Kendall's tau-b between `reference` (m,) and each row of `others` (B, m)."""
    others = np.atleast_2d(others)
    i, j = np.triu_indices(reference.shape[-1], k=1)
    ref = np.sign(reference[i] - reference[j])
    oth = np.sign(others[:, i] - others[:, j])
    n_ref = np.count_nonzero(ref)
    n_oth = np.count_nonzero(oth, axis=1)
    denominator = np.sqrt(n_ref * n_oth.astype(np.float64))
    with np.errstate(invalid="ignore", divide="ignore"):
        tau = (oth * ref).sum(axis=1) / denominator
    return np.where(denominator > 0, tau, np.nan)
