"""Coefficients on category counts: percent agreement, Fleiss' kappa and Gwet's AC1.

References
----------
.. [F1971] Fleiss, J. L. (1971). Measuring nominal scale agreement among many raters.
   *Psychological Bulletin*, 76(5), 378-382.
.. [G2008] Gwet, K. L. (2008). Computing inter-rater reliability and its variance in the
   presence of high agreement. *British Journal of Mathematical and Statistical
   Psychology*, 61(1), 29-48.
.. [G2014] Gwet, K. L. (2014). *Handbook of Inter-Rater Reliability*, 4th ed., ch. 2-4.
   Advanced Analytics. (Formulas as implemented in the irrCAC R package.)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from analysis.metrics.agreement.alpha import _validated_counts
from analysis.metrics.agreement.coefficient import _NO_PAIRS, Coefficient, _agreement_context


def _agreement_terms(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return per-unit observed agreement (pairable units), category shares ``pi_k`` and
    the ratings per unit, following [G2014]_ (irrCAC ``*.raw`` functions)."""
    m = counts.sum(axis=1)
    pairable = m >= 2
    per_unit = (counts[pairable] * (counts[pairable] - 1.0)).sum(axis=1) / (
        m[pairable] * (m[pairable] - 1.0)
    )
    rated = m > 0
    if rated.any():
        shares = (counts[rated] / m[rated, None]).mean(axis=0)
    else:
        shares = np.zeros(counts.shape[1])
    return per_unit, shares, m


def percent_agreement(value_counts: Any, *, n_annotators: int | None = None) -> Coefficient:
    """Observed pairwise agreement, averaged over units.

    Parameters
    ----------
    value_counts : array_like, shape (units, V)
        Ratings per unit and category.
    n_annotators : int, optional
        Passed through for reporting.

    Returns
    -------
    Coefficient
        ``p_a = mean_u sum_c n_uc (n_uc - 1) / (m_u (m_u - 1))`` over units with
        ``m_u >= 2``: the share of agreeing ordered pairs of ratings within a unit,
        averaged over units ([F1971]_ eq. 2; [G2014]_ §2.3). Exact-match agreement,
        whatever the level of measurement.
    """
    counts = _validated_counts(value_counts)
    per_unit, _, m = _agreement_terms(counts)
    context = _agreement_context(m, n_annotators)
    if len(per_unit) == 0:
        return Coefficient.undefined("percent_agreement", _NO_PAIRS, **context)
    return Coefficient(
        name="percent_agreement",
        value=float(per_unit.mean()),
        method="mean over units of the share of agreeing rating pairs (exact match)",
        **context,
    )


def fleiss_kappa(value_counts: Any, *, n_annotators: int | None = None) -> Coefficient:
    """Fleiss' kappa, generalised to a varying number of ratings per unit.

    Parameters
    ----------
    value_counts, n_annotators
        As in :func:`percent_agreement`.

    Returns
    -------
    Coefficient
        ``kappa = (p_a - p_e) / (1 - p_e)`` with ``p_a`` as in :func:`percent_agreement`
        and ``p_e = sum_k pi_k^2``, ``pi_k = mean_u n_uk / m_u`` over units with at
        least one rating. With the same number of ratings on every unit this is exactly
        Fleiss (1971) ([F1971]_); otherwise it is the missing-data generalisation of
        [G2014]_ §2.5 (irrCAC ``fleiss.kappa.raw``), which keeps all units rather than
        dropping those with fewer ratings. Undefined if no unit has two ratings or only
        one category was ever used (``p_e = 1``).
    """
    counts = _validated_counts(value_counts)
    per_unit, shares, m = _agreement_terms(counts)
    context = _agreement_context(m, n_annotators)
    if len(per_unit) == 0:
        return Coefficient.undefined("fleiss_kappa", _NO_PAIRS, **context)
    observed = float(per_unit.mean())
    chance = float((shares**2).sum())
    if chance >= 1.0 - 1e-12:
        return Coefficient.undefined(
            "fleiss_kappa",
            "only one category was used, so chance agreement is 1 and kappa is undefined",
            **context,
        )
    raters = np.unique(m[m > 0])
    method = (
        f"Fleiss (1971), {int(raters[0])} ratings on every unit"
        if len(raters) == 1
        else "Fleiss (1971) generalised to varying ratings per unit (Gwet 2014)"
    )
    return Coefficient(
        name="fleiss_kappa",
        value=(observed - chance) / (1.0 - chance),
        method=method,
        components=(("observed_agreement", observed), ("chance_agreement", chance)),
        **context,
    )


def gwet_ac1(
    value_counts: Any, *, n_categories: int | None = None, n_annotators: int | None = None
) -> Coefficient:
    """Gwet's first-order agreement coefficient AC1 for many raters and missing ratings.

    Parameters
    ----------
    value_counts : array_like, shape (units, V)
        Ratings per unit and category.
    n_categories : int, optional
        Size ``q`` of the category set; defaults to ``V``. Pass the full scale size when
        some categories were never used: ``q`` enters the chance term.
    n_annotators : int, optional
        Passed through for reporting.

    Returns
    -------
    Coefficient
        ``AC1 = (p_a - p_e) / (1 - p_e)`` with ``p_e = sum_k pi_k (1 - pi_k) / (q - 1)``
        and ``p_a``, ``pi_k`` as in :func:`fleiss_kappa` ([G2008]_; missing-data form of
        [G2014]_ §2.5 / irrCAC ``gwet.ac1.raw``). Defined even when everybody used one
        category (then ``p_e = 0``). Undefined with no pairable unit or ``q < 2``.
    """
    counts = _validated_counts(value_counts)
    q = counts.shape[1] if n_categories is None else int(n_categories)
    if q < counts.shape[1]:
        raise ValueError("n_categories cannot be smaller than the number of count columns")
    per_unit, shares, m = _agreement_terms(counts)
    context = _agreement_context(m, n_annotators)
    if len(per_unit) == 0:
        return Coefficient.undefined("gwet_ac1", _NO_PAIRS, **context)
    if q < 2:
        return Coefficient.undefined(
            "gwet_ac1", "the scale has fewer than two categories", **context
        )
    observed = float(per_unit.mean())
    chance = float((shares * (1.0 - shares)).sum() / (q - 1))
    return Coefficient(
        name="gwet_ac1",
        value=(observed - chance) / (1.0 - chance),
        method=f"Gwet (2008) AC1, missing-data form (Gwet 2014), q={q}",
        components=(("observed_agreement", observed), ("chance_agreement", chance)),
        **context,
    )
