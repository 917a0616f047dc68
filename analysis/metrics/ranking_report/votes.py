"""Votes from the report table: each A/B choice mapped back to the system behind it,
clustered by prompt, with the style covariates (length, tone, known errors) of each pair."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.metrics.rankings import (
    Battles,
    RankingError,
)

TIE_VALUES = {"A": 1.0, "B": 0.0, "tie": 0.5}


def battles_from_table(
    table: pd.DataFrame, question: str, *, pool_column: str | None = None
) -> tuple[Battles, np.ndarray | None]:
    """The votes on one pairwise question, and each vote's pool.

    Rows need ``shown_order`` (the two systems by position); gold units are left out,
    because they are chosen for their known answer, not to sample the systems. Votes
    cluster by prompt when ``prompt_id`` is known, else by unit. Length, tone and
    known-error covariates come from ``shown_lengths``/``shown_tones``/``shown_errors``.
    """
    rows = table[table["question"].astype(str) == question]
    if "is_gold" in rows.columns:
        rows = rows[~rows["is_gold"].fillna(False).astype(bool)]
    if "shown_order" not in rows.columns:
        raise RankingError("The votes carry no display order, so they cannot be mapped to systems.")
    shown = rows["shown_order"]
    usable = shown.map(lambda s: isinstance(s, tuple | list) and len(s) == 2).to_numpy()
    values = rows["value"].astype(object).map(TIE_VALUES)
    usable &= values.notna().to_numpy()
    rows, shown, values = rows[usable], shown[usable], values[usable]
    if rows.empty:
        raise RankingError(f"No pairwise votes with a recorded display order for '{question}'.")
    cluster_column = "prompt_id" if "prompt_id" in rows.columns else "unit_id"
    clusters = rows[cluster_column].astype(object)
    clusters = clusters.where(clusters.notna(), rows["unit_id"].astype(object)).astype(str)
    battles = Battles.from_arrays(
        [s[0] for s in shown],
        [s[1] for s in shown],
        values.to_numpy(dtype=np.float64),
        clusters.to_numpy(),
        annotator=rows["annotator_id"].astype(str).to_numpy(),
        covariates=_covariates(rows),
    )
    pools = None
    if pool_column and pool_column in rows.columns:
        pools = rows[pool_column].astype(object).where(rows[pool_column].notna(), None)
        pools = pools.to_numpy()
    return battles, pools


def _pair_feature(rows: pd.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray] | None:
    if column not in rows.columns:
        return None
    cells = rows[column].to_numpy()
    first = np.array([c[0] if isinstance(c, tuple | list) and len(c) == 2 else None for c in cells])
    second = np.array(
        [c[1] if isinstance(c, tuple | list) and len(c) == 2 else None for c in cells]
    )
    if any(v is None for v in first) or any(v is None for v in second):
        return None
    return first, second


def _covariates(rows: pd.DataFrame) -> pd.DataFrame | None:
    """Per-vote differences between the A and B outputs (methods.md C1, style control).

    Length enters as the normalised difference (a - b)/(a + b), the tone as the
    difference of "assertive" indicators and known errors as the plain difference; each
    is divided by its SD so coefficients read "per SD of the difference". A covariate
    that never varies is left out.
    """
    features: dict[str, np.ndarray] = {}
    lengths = _pair_feature(rows, "shown_lengths")
    if lengths is not None:
        a, b = lengths[0].astype(float), lengths[1].astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            features["length"] = np.where(a + b > 0, (a - b) / (a + b), 0.0)
    tones = _pair_feature(rows, "shown_tones")
    if tones is not None:
        labels = sorted({str(t) for t in np.concatenate(tones) if t not in (None, "")})
        if len(labels) >= 2:
            marked = "assertive" if "assertive" in labels else labels[-1]
            features[f"tone ({marked})"] = (tones[0].astype(str) == marked).astype(float) - (
                tones[1].astype(str) == marked
            ).astype(float)
    errors = _pair_feature(rows, "shown_errors")
    if errors is not None:
        a = pd.to_numeric(pd.Series(errors[0]), errors="coerce").to_numpy()
        b = pd.to_numeric(pd.Series(errors[1]), errors="coerce").to_numpy()
        if np.isfinite(a).all() and np.isfinite(b).all():
            features["known errors"] = a - b
    kept = {}
    for name, values in features.items():
        sd = float(np.std(values))
        if np.isfinite(sd) and sd > 1e-9:
            kept[name] = values / sd
    return pd.DataFrame(kept) if kept else None
