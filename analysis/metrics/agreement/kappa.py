"""Cohen's kappa for two annotators, and for every annotator pair of a question.

References
----------
.. [C1960] Cohen, J. (1960). A coefficient of agreement for nominal scales. *Educational
   and Psychological Measurement*, 20(1), 37-46.
.. [C1968] Cohen, J. (1968). Weighted kappa. *Psychological Bulletin*, 70(4), 213-220.
.. [L1971] Light, R. J. (1971). Measures of response agreement for qualitative data.
   *Psychological Bulletin*, 76(5), 365-377.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse

from analysis.metrics.agreement.coefficient import Coefficient
from analysis.metrics.agreement.data import ReliabilityData
from analysis.metrics.say import say

_KAPPA_WEIGHTS = ("linear", "quadratic")
_KAPPA_UNDEFINED = "no chance disagreement: both annotators used one identical category"
# Upper bound, in cells, of one block of the co-rating product in cohen_kappa_pairs. Each
# non-zero cell costs ~100 bytes of temporaries (COO indices, divmods, masks), so this
# keeps a block's working set in the low hundreds of MB even when most cells are filled.
_CO_RATING_BLOCK_CELLS = 2_000_000
_DENSE_PAIR_LOOKUP_MAX = 25_000_000


def _disagreement_weights(n_values: int, weights: str | None) -> np.ndarray:
    """Cohen's disagreement weights on category indices: ``[i != j]``, ``|i - j|`` or
    ``(i - j)^2`` ([C1968]_; the convention of ``sklearn.metrics.cohen_kappa_score``)."""
    index = np.arange(n_values, dtype=np.float64)
    if weights is None:
        return 1.0 - np.eye(n_values)
    if weights == "linear":
        return np.abs(index[:, None] - index[None, :])
    if weights == "quadratic":
        return (index[:, None] - index[None, :]) ** 2
    raise ValueError(f"weights must be None, 'linear' or 'quadratic', got {say(weights)}")


@dataclass
class _PairStatistics:
    """Sufficient statistics of Cohen's kappa for many annotator pairs at once.

    For pair ``p``: ``n`` co-rated units, the first annotator's category counts ``rows``
    and the second's ``cols`` on those units, and ``observed[w] = sum_ij w_ij O_pij`` for
    each weighting ``w``. Kappa needs nothing else:
    ``kappa_w = 1 - observed_w / (rows_p^T W cols_p / n_p)`` ([C1968]_).
    """

    n: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    observed: dict[str | None, np.ndarray]

    @classmethod
    def empty(
        cls, n_pairs: int, n_values: int, weightings: Sequence[str | None]
    ) -> _PairStatistics:
        return cls(
            n=np.zeros(n_pairs),
            rows=np.zeros((n_pairs, n_values)),
            cols=np.zeros((n_pairs, n_values)),
            observed={w: np.zeros(n_pairs) for w in weightings},
        )

    def add(
        self, pair: np.ndarray, value_a: np.ndarray, value_b: np.ndarray, count: np.ndarray
    ) -> None:
        """Add co-rating cells: ``count`` units where pair ``pair`` rated ``(value_a, value_b)``."""
        n_pairs, n_values = self.rows.shape
        self.n += np.bincount(pair, count, minlength=n_pairs)
        flat = n_pairs * n_values
        self.rows += np.bincount(pair * n_values + value_a, count, minlength=flat).reshape(
            n_pairs, n_values
        )
        self.cols += np.bincount(pair * n_values + value_b, count, minlength=flat).reshape(
            n_pairs, n_values
        )
        difference = (value_a - value_b).astype(np.float64)
        for weights in self.observed:
            if weights is None:
                cell_weight = (difference != 0).astype(np.float64)
            elif weights == "linear":
                cell_weight = np.abs(difference)
            else:
                cell_weight = difference**2
            self.observed[weights] += np.bincount(pair, count * cell_weight, minlength=n_pairs)

    def kappa(self, weights: str | None) -> np.ndarray:
        """Kappa per pair; NaN where chance disagreement is zero (or no unit is shared)."""
        n_values = self.rows.shape[1]
        if weights is None:
            # sum_{i != j} r_i c_j without a V x V matrix.
            expected_sum = self.n**2 - (self.rows * self.cols).sum(axis=1)
        else:
            expected_sum = ((self.rows @ _disagreement_weights(n_values, weights)) * self.cols).sum(
                axis=1
            )
        with np.errstate(divide="ignore", invalid="ignore"):
            expected = expected_sum / self.n
            kappa = 1.0 - self.observed[weights] / expected
        usable = (self.n > 0) & (expected > 1e-12 * np.maximum(self.n, 1.0))
        return np.where(usable, kappa, np.nan)


def cohen_kappa(
    codes_a: Any, codes_b: Any, *, n_categories: int, weights: str | None = None
) -> Coefficient:
    """Cohen's kappa between two annotators.

    Parameters
    ----------
    codes_a, codes_b : array_like
        Category codes ``0..n_categories-1`` per unit; NaN/negative = not rated. Only
        units rated by both enter.
    n_categories : int
        Number of categories (fixes the weight matrix).
    weights : {None, "linear", "quadratic"}
        Disagreement weights on category indices ([C1968]_).

    Returns
    -------
    Coefficient
        ``kappa = 1 - sum(w * O) / sum(w * E)`` with observed table ``O`` and chance
        table ``E = outer(rows, cols) / n`` ([C1960]_, [C1968]_). Undefined when no unit is
        shared or chance disagreement is zero (both used the same single category).

    Raises
    ------
    ValueError
        On codes outside ``0..n_categories-1``, mismatched lengths or unknown weights.
    """
    _disagreement_weights(1, weights)
    a = np.asarray(codes_a, dtype=np.float64)
    b = np.asarray(codes_b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError("codes_a and codes_b must be 1-D arrays of equal length")
    both = np.isfinite(a) & np.isfinite(b) & (a >= 0) & (b >= 0)
    a_codes, b_codes = a[both].astype(np.int64), b[both].astype(np.int64)
    if ((a_codes >= n_categories) | (b_codes >= n_categories)).any():
        raise ValueError("codes must lie in 0..n_categories-1")
    name = "cohen_kappa" if weights is None else f"cohen_kappa_{weights}"
    n_shared = int(both.sum())
    context = {
        "n_units": n_shared,
        "n_pairable_units": n_shared,
        "n_ratings": 2 * n_shared,
        "n_annotators": 2,
    }
    if not n_shared:
        return Coefficient.undefined(name, "the two annotators share no unit", **context)
    statistics = _PairStatistics.empty(1, n_categories, [weights])
    statistics.add(np.zeros(n_shared, dtype=np.int64), a_codes, b_codes, np.ones(n_shared))
    value = statistics.kappa(weights)[0]
    if np.isnan(value):
        return Coefficient.undefined(name, _KAPPA_UNDEFINED, **context)
    return Coefficient(name=name, value=float(value), method=f"weights={weights}", **context)


def _eligible_pairs(data: ReliabilityData, min_shared_units: int) -> tuple[np.ndarray, np.ndarray]:
    presence = sparse.csr_matrix(
        (np.ones(len(data.codes)), (data.unit_index, data.annotator_index)),
        shape=(data.n_units, data.n_annotators),
    )
    shared = sparse.triu(presence.T @ presence, k=1).tocoo()
    keep = shared.data >= min_shared_units
    pair_a, pair_b = shared.row[keep].astype(np.int64), shared.col[keep].astype(np.int64)
    order = np.lexsort((pair_b, pair_a))
    return pair_a[order], pair_b[order]


def cohen_kappa_pairs(data: ReliabilityData, *, min_shared_units: int = 10) -> dict[str, Any]:
    """Cohen's kappa for every pair of annotators sharing enough units.

    Parameters
    ----------
    data : ReliabilityData
        Ratings of one question.
    min_shared_units : int, default 10
        Pairs with fewer units rated by both are left out.

    Returns
    -------
    dict
        ``min_shared_units``, ``weighted`` (whether linear/quadratic weights apply, i.e.
        the categories are ordered), ``n_pairs``, ``mean_kappa`` (Light's kappa, the
        mean of the defined pairwise kappas, [L1971]_), and ``pairs``: a list of
        ``{a, b, n, kappa, kappa_linear, kappa_quadratic, reason}`` sorted by ids.

    Notes
    -----
    With ``X`` the sparse ``units x (annotators * V)`` one-hot rating matrix, ``X^T X``
    holds every pair's confusion matrix. It is computed in blocks of annotators and each
    block is reduced at once to the per-pair sufficient statistics of
    ``_PairStatistics``, so memory stays bounded for many annotators or categories, and
    the cost is the number of co-rated rating pairs -- no loop over pairs or units.
    """
    if min_shared_units < 1:
        raise ValueError("min_shared_units must be at least 1")
    n_annotators, n_values = data.n_annotators, data.n_categories
    result: dict[str, Any] = {
        "min_shared_units": int(min_shared_units),
        "weighted": bool(data.ordered),
        "weights_reason": None if data.ordered else "weighted kappa needs ordered categories",
        "n_pairs": 0,
        "mean_kappa": None,
        "mean_kappa_reason": "no pair of annotators shares enough units",
        "pairs": [],
    }
    if n_annotators < 2 or n_values == 0:
        return result
    pair_a, pair_b = _eligible_pairs(data, min_shared_units)
    n_pairs = len(pair_a)
    if n_pairs == 0:
        return result
    weightings: list[str | None] = [None, *(_KAPPA_WEIGHTS if data.ordered else ())]
    statistics = _PairStatistics.empty(n_pairs, n_values, weightings)
    _add_co_ratings(data, pair_a, pair_b, statistics)

    kappas = {weights: statistics.kappa(weights) for weights in weightings}

    pairs = _pair_rows(data, pair_a, pair_b, statistics.n, kappas)
    defined = kappas[None][~np.isnan(kappas[None])]
    result.update(
        n_pairs=n_pairs,
        pairs=pairs,
        mean_kappa=float(defined.mean()) if len(defined) else None,
        mean_kappa_reason=None if len(defined) else _KAPPA_UNDEFINED,
    )
    return result


def _add_co_ratings(
    data: ReliabilityData, pair_a: np.ndarray, pair_b: np.ndarray, statistics: _PairStatistics
) -> None:
    """Add every eligible pair's co-ratings to ``statistics``, block by block of annotators
    (see :func:`cohen_kappa_pairs`)."""
    n_annotators, n_values = data.n_annotators, data.n_categories
    n_pairs = len(pair_a)
    if n_annotators * n_annotators <= _DENSE_PAIR_LOOKUP_MAX:
        slot_table = np.full(n_annotators * n_annotators, -1, dtype=np.int64)
        slot_table[pair_a * n_annotators + pair_b] = np.arange(n_pairs)

        def slot_of(keys: np.ndarray) -> np.ndarray:
            return slot_table[keys]
    else:
        sorted_keys = pair_a * n_annotators + pair_b

        def slot_of(keys: np.ndarray) -> np.ndarray:
            found = np.clip(np.searchsorted(sorted_keys, keys), 0, n_pairs - 1)
            return np.where(sorted_keys[found] == keys, found, -1)

    one_hot = sparse.csc_matrix(
        (
            np.ones(len(data.codes)),
            (data.unit_index, data.annotator_index * n_values + data.codes),
        ),
        shape=(data.n_units, n_annotators * n_values),
    )
    block = max(1, _CO_RATING_BLOCK_CELLS // (n_annotators * n_values * n_values))
    for first in range(0, n_annotators, block):
        last = min(n_annotators, first + block)
        # Only columns from `first` on: the pair (a, b) with a < b is met exactly once.
        left = one_hot[:, first * n_values : last * n_values]
        right = one_hot[:, first * n_values :]
        cells = (left.T @ right).tocoo()
        row_annotator, value_a = np.divmod(cells.row.astype(np.int64), n_values)
        col_annotator, value_b = np.divmod(cells.col.astype(np.int64), n_values)
        row_annotator += first
        col_annotator += first
        upper = row_annotator < col_annotator
        slot = np.full(len(upper), -1, dtype=np.int64)
        slot[upper] = slot_of(row_annotator[upper] * n_annotators + col_annotator[upper])
        wanted = slot >= 0
        statistics.add(slot[wanted], value_a[wanted], value_b[wanted], cells.data[wanted])


def _pair_rows(
    data: ReliabilityData,
    pair_a: np.ndarray,
    pair_b: np.ndarray,
    n_shared: np.ndarray,
    kappas: dict[str | None, np.ndarray],
) -> list[dict[str, Any]]:
    def as_value(weights: str | None, index: int) -> float | None:
        if weights not in kappas or np.isnan(kappas[weights][index]):
            return None
        return float(kappas[weights][index])

    pairs = []
    for index in range(len(pair_a)):
        kappa = as_value(None, index)
        pairs.append(
            {
                "a": str(data.annotator_ids[pair_a[index]]),
                "b": str(data.annotator_ids[pair_b[index]]),
                "n": int(n_shared[index]),
                "kappa": kappa,
                "kappa_linear": as_value("linear", index),
                "kappa_quadratic": as_value("quadratic", index),
                "reason": None if kappa is not None else _KAPPA_UNDEFINED,
            }
        )
    return pairs
