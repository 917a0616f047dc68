"""Expert vs crowd: agreement, wisdom-of-crowds curve, annotator accuracy, Dawid-Skene check.

Implements methods.md spec B (B1-B6) on the platform's long annotation table (columns as in
:mod:`analysis.metrics.bias`; ``pool`` names the annotator pool). Pure numpy/pandas/scipy/
statsmodels plus ``crowd-kit`` for Dawid-Skene; no Django. Agreement coefficients come from
:mod:`analysis.metrics.agreement` (Krippendorff's alpha with its unit bootstrap, Gwet's AC1,
percent agreement, Cohen's kappa), so the numbers match the agreement report.

The *expert reference* of a unit is the plurality label of its expert ratings when it is
unique and the unit has at least ``min_expert_labels`` of them (default 1: real studies
often have one expert per output, whose label is the reference; methods.md s2 asks for
>= 2). Units where experts tie have no reference and are left out (their number is
reported). Each question's ``reference`` block says how reliable the reference is: the
experts' agreement with each other where units have two or more expert labels, "unknown,
single expert" where they have one; intervals hold the reference fixed and say so.

References
----------
Dawid, A. P. & Skene, A. M. (1979). Maximum likelihood estimation of observer error-rates
    using the EM algorithm. Applied Statistics 28:20-28.
Snow, R., O'Connor, B., Jurafsky, D. & Ng, A. (2008). Cheap and fast -- but is it good?
    EMNLP.
Lin, L. I. (1989). A concordance correlation coefficient to evaluate reproducibility.
    Biometrics 45:255-268.
Bland, J. M. & Altman, D. G. (1986). Statistical methods for assessing agreement between two
    methods of clinical measurement. Lancet 327:307-310.
Wilson, E. B. (1927). Probable inference, the law of succession, and statistical inference.
    JASA 22:209-212.
Gwet, K. L. (2008). Computing inter-rater reliability and its variance in the presence of
    high agreement. Br. J. Math. Stat. Psychol. 61:29-48.
Krippendorff, K. (2011). Computing Krippendorff's Alpha-Reliability.
Chiang, W.-L. et al. (2024). Chatbot Arena. ICML (crowd-expert vs expert-expert agreement).
Ustalov, D. et al. (2024). Learning from crowds with Crowd-Kit. JOSS 9(96):6227.

The package, by concern: :mod:`~analysis.metrics.expert_vs_crowd.common` (the encoding of a
question's ratings for all pools, consensus labels, unit-bootstrap summaries), one module
per block -- :mod:`~analysis.metrics.expert_vs_crowd.within_pool` (B1),
:mod:`~analysis.metrics.expert_vs_crowd.cross_pool` (B2),
:mod:`~analysis.metrics.expert_vs_crowd.crowd_size` (B3),
:mod:`~analysis.metrics.expert_vs_crowd.accuracy` (B4),
:mod:`~analysis.metrics.expert_vs_crowd.indices` (B5),
:mod:`~analysis.metrics.expert_vs_crowd.dawid_skene` (B6),
:mod:`~analysis.metrics.expert_vs_crowd.reference` (the reference's reliability, and the
crowd's hit rate, false alarms and under-reporting against it per tone) -- and
:mod:`~analysis.metrics.expert_vs_crowd.report`, whose table of blocks
(:data:`~analysis.metrics.expert_vs_crowd.report.BLOCKS`) makes each question's section.
Intervals come from the bias checks' bootstrap (:mod:`analysis.metrics.bias.bootstrap`).
"""

from __future__ import annotations

from analysis.metrics.expert_vs_crowd.accuracy import annotator_accuracy, beta_binomial_shrinkage
from analysis.metrics.expert_vs_crowd.common import (
    DEFAULT_SPECS,
    MIN_SHRINK_ANNOTATORS,
    MIN_UNITS,
    N_MIN_ANNOTATOR,
    PAIRWISE_LABELS,
    PoolLabels,
    encode_pool_labels,
)
from analysis.metrics.expert_vs_crowd.cross_pool import cross_pool_agreement
from analysis.metrics.expert_vs_crowd.crowd_size import (
    majority_of_k_curve,
    majority_of_k_exact,
    majority_of_k_monte_carlo,
)
from analysis.metrics.expert_vs_crowd.dawid_skene import DS_CAVEAT, dawid_skene_validation
from analysis.metrics.expert_vs_crowd.indices import (
    annotator_leniency_blups,
    bias_indices,
    leniency_msd,
    under_reporting,
)
from analysis.metrics.expert_vs_crowd.reference import (
    detection_against_experts,
    reference_summary,
)
from analysis.metrics.expert_vs_crowd.report import BLOCKS, expert_vs_crowd_report
from analysis.metrics.expert_vs_crowd.within_pool import within_pool_agreement

__all__ = [
    "BLOCKS",
    "DEFAULT_SPECS",
    "DS_CAVEAT",
    "MIN_SHRINK_ANNOTATORS",
    "MIN_UNITS",
    "N_MIN_ANNOTATOR",
    "PAIRWISE_LABELS",
    "PoolLabels",
    "annotator_accuracy",
    "annotator_leniency_blups",
    "beta_binomial_shrinkage",
    "bias_indices",
    "cross_pool_agreement",
    "dawid_skene_validation",
    "detection_against_experts",
    "encode_pool_labels",
    "expert_vs_crowd_report",
    "leniency_msd",
    "majority_of_k_curve",
    "majority_of_k_exact",
    "majority_of_k_monte_carlo",
    "reference_summary",
    "under_reporting",
    "within_pool_agreement",
]
