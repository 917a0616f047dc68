"""What the expert-vs-crowd blocks share: question specs, thresholds, one encoding of a
question's ratings for all pools, consensus labels and the unit-bootstrap summaries."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from analysis.metrics import agreement
from analysis.metrics.bias.bootstrap import _percentile_ci
from analysis.metrics.bias.common import _coerce_binary, _f, say, to_jsonable

DEFAULT_SPECS: dict[str, dict[str, Any]] = {
    "quality": {"level": "ordinal"},
    "error_flag": {"level": "nominal", "binary": True},
    "assertiveness": {"level": "ordinal"},
    "preference": {"level": "nominal", "type": "pairwise"},
}

N_MIN_ANNOTATOR = 10
MIN_UNITS = 10
MIN_SHRINK_ANNOTATORS = 5


@dataclass(frozen=True)
class PoolLabels:
    """One question's ratings encoded once for all pools.

    Attributes
    ----------
    labels : tuple
        Category labels (index = code).
    numeric : numpy.ndarray or None
        Numeric value of each label when all labels are numbers (for mean-based statistics).
    unit_ids : numpy.ndarray
        Unit id per unit index.
    unit_index, codes, annotator, pool, prompt : numpy.ndarray
        Per rating.
    """

    labels: tuple[Any, ...]
    numeric: np.ndarray | None
    level: str
    unit_ids: np.ndarray
    unit_index: np.ndarray
    codes: np.ndarray
    annotator: np.ndarray
    pool: np.ndarray
    prompt: np.ndarray

    @property
    def n_units(self) -> int:
        return len(self.unit_ids)

    @property
    def n_categories(self) -> int:
        return len(self.labels)

    def counts(self, pool: str) -> np.ndarray:
        """units x categories counts of one pool's ratings."""
        m = self.pool == pool
        return agreement.value_counts_table(
            self.unit_index[m], self.codes[m], self.n_units, self.n_categories
        )


def encode_pool_labels(
    table: pd.DataFrame,
    question: str,
    spec: Mapping[str, Any],
    *,
    pool_column: str = "pool",
) -> PoolLabels:
    """Encode one question for all pools with :func:`agreement.reliability_data`.

    Parameters
    ----------
    table : pandas.DataFrame
        Long annotation table.
    question : str
        Question key.
    spec : mapping
        ``level`` (nominal/ordinal/interval), optional ``order``, ``type="pairwise"`` for
        A/B/tie preferences (mapped to the winning output/system through ``shown_order``,
        because "A" means different things to raters who saw different orders), and
        ``binary=True`` to coerce yes/no, true/false, 1/0 answers to 0/1 first.

    Returns
    -------
    PoolLabels

    Raises
    ------
    ValueError
        On missing columns or invalid answers.
    """
    if pool_column not in table.columns:
        raise ValueError(f"the table needs a “{pool_column}” column")
    t = table
    if spec.get("binary"):
        t = table.copy()
        # Object cells take the 0/1 codes whatever the column held (booleans, text).
        t["value"] = t["value"].astype(object)
        rows = t["question"] == question
        vals = t.loc[rows, "value"]
        ok = vals.notna()
        t.loc[rows & ok.reindex(t.index, fill_value=False), "value"] = _coerce_binary(
            vals[ok], question
        ).to_numpy()
    rd_spec = {k: v for k, v in spec.items() if k in ("level", "order", "type")}
    if spec.get("type") == "pairwise":
        t = _canonical_pairwise(t, question)
        rd_spec = {"level": "nominal", "order": list(PAIRWISE_LABELS)}
    rd = agreement.reliability_data(t, question, rd_spec)
    src = t.iloc[rd.source_rows]
    try:
        numeric = np.array([float(v) for v in rd.labels])
    except (TypeError, ValueError):
        numeric = None
    prompt = (
        src["prompt_id"].where(src["prompt_id"].notna(), src["unit_id"])
        if "prompt_id" in src.columns
        else src["unit_id"]
    )
    return PoolLabels(
        labels=tuple(rd.labels),
        numeric=numeric,
        level=rd.level,
        unit_ids=np.asarray(rd.unit_ids),
        unit_index=rd.unit_index,
        codes=rd.codes,
        annotator=src["annotator_id"].astype(str).to_numpy(),
        pool=src[pool_column].astype(str).to_numpy(),
        prompt=prompt.astype(str).to_numpy(),
    )


PAIRWISE_LABELS: tuple[str, str, str] = ("lower_id_wins", "higher_id_wins", agreement.TIE_LABEL)


def _canonical_pairwise(table: pd.DataFrame, question: str) -> pd.DataFrame:
    """Replace A/B/tie answers by labels relative to the unit's sorted pair of ids.

    "A" means different outputs to raters who saw different orders, so answers are first
    mapped to the winning id (:func:`agreement.canonical_preferences`) and then to
    "lower_id_wins" / "higher_id_wins" / "tie" with the two ids sorted as strings. Using the
    winning id itself as the label would give every unit its own label set (Dawid-Skene
    then fits a confusion matrix over hundreds of "classes").
    """
    if "shown_order" not in table.columns:
        raise ValueError(
            f"the pairwise question “{question}” needs the order the outputs were shown in"
        )
    t = table.copy()
    rows = np.flatnonzero((t["question"] == question).to_numpy())
    sub = t.iloc[rows]
    answered = sub["value"].notna().to_numpy()
    votes = agreement.canonical_preferences(sub["value"], sub["shown_order"])
    low = sub["shown_order"].map(
        lambda o: (
            min(str(o[0]), str(o[1])) if isinstance(o, (tuple, list)) and len(o) == 2 else None
        )
    )
    pair = sub["shown_order"].map(
        lambda o: tuple(sorted(map(str, o))) if isinstance(o, (tuple, list)) else None
    )
    # observed=False, the pandas default so far: unused units of a categorical column
    # give empty groups, which change nothing here.
    n_pairs = pair.groupby(sub["unit_id"], observed=False).nunique()
    if (n_pairs > 1).any():
        raise ValueError(
            f"pairwise question “{question}”: units shown with different pairs: "
            f"{say(n_pairs[n_pairs > 1].index[:5].tolist())}"
        )
    winner = pd.Series(votes.winner, index=sub.index, dtype=object)
    label = np.where(
        winner.eq(agreement.TIE_LABEL),
        agreement.TIE_LABEL,
        np.where(winner.astype(str).eq(low.astype(str)), PAIRWISE_LABELS[0], PAIRWISE_LABELS[1]),
    ).astype(object)
    label[~answered] = None
    col = t.columns.get_loc("value")
    t.iloc[rows, col] = label
    return t


def _plurality(counts: np.ndarray, min_labels: int = 1) -> np.ndarray:
    """Unique plurality code per unit, -1 when tied or fewer than ``min_labels`` labels."""
    m = counts.sum(axis=1)
    top = counts.max(axis=1, initial=0)
    n_top = (counts == top[:, None]).sum(axis=1)
    code = counts.argmax(axis=1)
    return np.where((m >= max(min_labels, 1)) & (n_top == 1), code, -1)


def _label(labels: Sequence[Any], code: int) -> Any:
    return to_jsonable(labels[code])


def _ci(reps: np.ndarray, alpha: float) -> tuple[float | None, float | None]:
    lo, hi, _ = _percentile_ci(reps, 1 - alpha)
    return lo, hi


def _est(est: float | None, reps: np.ndarray | None, alpha: float, **extra: Any) -> dict[str, Any]:
    lo, hi = _ci(reps, alpha) if reps is not None and est is not None else (None, None)
    return {"estimate": _f(est), "ci_low": lo, "ci_high": hi, **extra}


def _loo_expert(
    e_counts: np.ndarray, rating_units: np.ndarray, rating_codes: np.ndarray
) -> dict[str, Any]:
    """Each expert rating vs the plurality of the *other* experts on that unit."""
    rest = e_counts[rating_units].copy()
    rest[np.arange(len(rating_codes)), rating_codes] -= 1
    cons = _plurality(rest, min_labels=2)
    ok = cons >= 0
    return {"own": rating_codes[ok], "consensus": cons[ok], "units": rating_units[ok]}


def _reference_codes(
    enc: PoolLabels,
    expert_pool: str,
    min_expert_labels: int,
    reference: Mapping[Any, Any] | pd.Series | None,
) -> tuple[np.ndarray, str]:
    if reference is None:
        return _plurality(enc.counts(expert_pool), min_expert_labels), (
            f"expert consensus (unique plurality of >= {min_expert_labels} expert labels)"
        )
    ref = pd.Series(reference)
    ref.index = ref.index.astype(str)
    keys = [agreement.label_key(lab) for lab in enc.labels]
    code_of = {k: i for i, k in enumerate(keys)}
    codes = np.full(enc.n_units, -1)
    for i, u in enumerate(enc.unit_ids):
        if u in ref.index and pd.notna(ref[u]):
            key = agreement.label_key(ref[u])
            if key not in code_of:
                raise ValueError(
                    f"the reference label {say(ref[u])} is not one of the question's answers "
                    f"({say(list(enc.labels))})"
                )
            codes[i] = code_of[key]
    return codes, "supplied reference labels"
