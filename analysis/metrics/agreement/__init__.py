"""Inter-annotator agreement coefficients computed from long-format annotation tables.

Everything here is pure numpy/pandas/scipy (plus the ``krippendorff`` package for the
reference point estimate of alpha). Randomness is only ever drawn from an
:class:`numpy.random.Generator` passed in by the caller.

Notation used throughout (after Krippendorff 2011 and Gwet 2014):

* a *unit* is one item that was annotated (an LLM output, or a pair of outputs);
* ``value_counts`` is a ``units x categories`` array: ``value_counts[u, c]`` is the number
  of annotators who gave unit ``u`` the value ``c`` (``n_uc``); ``m_u`` is its row sum;
* a unit is *pairable* when ``m_u >= 2``: only pairable units carry information about
  agreement;
* ``value_domain`` gives each category's numeric position, used by the distance functions
  (ranks for ordinal data, the numbers themselves for interval and ratio data).

Coefficients that are not defined for the data at hand (no pairable unit, no variation,
...) are returned as a :class:`Coefficient` whose ``value`` is ``None`` and whose
``reason`` says why; nothing here returns NaN or a silent zero.

The package, by concern: :mod:`~analysis.metrics.agreement.coefficient` (the result type),
:mod:`~analysis.metrics.agreement.data` (label encoding, preference votes, reliability
data), :mod:`~analysis.metrics.agreement.alpha` (Krippendorff's alpha and its bootstrap),
:mod:`~analysis.metrics.agreement.categorical` (percent agreement, Fleiss' kappa, Gwet's
AC1), :mod:`~analysis.metrics.agreement.kappa` (Cohen's kappa, per pair) and
:mod:`~analysis.metrics.agreement.preferences` (pairwise votes with and without ties).
Each module lists the papers its formulas come from.
"""

from __future__ import annotations

from analysis.metrics.agreement import alpha, data, kappa
from analysis.metrics.agreement.alpha import (
    bootstrap_alpha,
    coincidence_alpha,
    coincidence_matrix,
    distance_matrix,
    krippendorff_alpha,
)
from analysis.metrics.agreement.categorical import fleiss_kappa, gwet_ac1, percent_agreement
from analysis.metrics.agreement.coefficient import LEVELS, Coefficient, Level
from analysis.metrics.agreement.data import (
    PREFERENCE_ANSWERS,
    TIE_LABEL,
    EncodedValues,
    PreferenceVotes,
    ReliabilityData,
    canonical_preferences,
    encode_values,
    json_label,
    label_key,
    reliability_data,
    value_counts_from_matrix,
    value_counts_table,
)
from analysis.metrics.agreement.kappa import cohen_kappa, cohen_kappa_pairs
from analysis.metrics.agreement.preferences import preference_agreement

__all__ = [
    "LEVELS",
    "PREFERENCE_ANSWERS",
    "TIE_LABEL",
    "Coefficient",
    "EncodedValues",
    "Level",
    "PreferenceVotes",
    "ReliabilityData",
    "alpha",
    "bootstrap_alpha",
    "canonical_preferences",
    "cohen_kappa",
    "cohen_kappa_pairs",
    "coincidence_alpha",
    "coincidence_matrix",
    "data",
    "distance_matrix",
    "encode_values",
    "fleiss_kappa",
    "gwet_ac1",
    "json_label",
    "kappa",
    "krippendorff_alpha",
    "label_key",
    "percent_agreement",
    "preference_agreement",
    "reliability_data",
    "value_counts_from_matrix",
    "value_counts_table",
]
