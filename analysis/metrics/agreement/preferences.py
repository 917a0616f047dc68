"""Agreement on pairwise preference votes, with and without ties.

References
----------
.. [Z2023] Zheng, L. et al. (2023). Judging LLM-as-a-Judge with MT-Bench and Chatbot
   Arena. *NeurIPS Datasets and Benchmarks* (agreement setups S1 and S2).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from analysis.metrics.agreement.alpha import krippendorff_alpha
from analysis.metrics.agreement.categorical import percent_agreement
from analysis.metrics.agreement.data import TIE_LABEL, ReliabilityData


def preference_agreement(
    data: ReliabilityData,
    *,
    n_bootstrap: int = 0,
    rng: np.random.Generator | None = None,
    thresholds: Sequence[float] = (),
    confidence_level: float = 0.95,
) -> dict[str, dict[str, Any]]:
    """Agreement on system-level preference votes, with and without ties.

    Parameters
    ----------
    data : ReliabilityData
        A pairwise question built by :func:`reliability_data` (labels are system names
        then ``"tie"``).
    n_bootstrap, rng, thresholds, confidence_level
        As in :func:`krippendorff_alpha`.

    Returns
    -------
    dict
        ``with_ties``: percent agreement and nominal alpha with "tie" as a category
        (MT-Bench setup S1, [Z2023]_); ``without_ties``: the same on non-tie votes only
        (setup S2: a pair of votes counts only when both are non-tie).

    Raises
    ------
    ValueError
        If ``data`` has no "tie" label (it was not built from a pairwise question).
    """
    if not data.labels or data.labels[-1] != TIE_LABEL:
        raise ValueError("preference_agreement needs pairwise ReliabilityData ending in 'tie'")
    counts = data.value_counts()
    results: dict[str, dict[str, Any]] = {}
    for setup, table in (("with_ties", counts), ("without_ties", counts[:, :-1])):
        results[setup] = {
            "percent_agreement": percent_agreement(table, n_annotators=data.n_annotators).to_dict(),
            "krippendorff_alpha": krippendorff_alpha(
                table,
                None,
                "nominal",
                n_bootstrap=n_bootstrap,
                rng=rng,
                thresholds=thresholds,
                confidence_level=confidence_level,
                n_annotators=data.n_annotators,
            ).to_dict(),
        }
    return results
