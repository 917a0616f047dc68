"""Pure statistics for annotation agreement: no Django, no I/O, no global randomness.

:mod:`analysis.metrics.agreement` holds the coefficients (Krippendorff's alpha with a
unit bootstrap, Fleiss' kappa, Gwet's AC1, percent agreement, pairwise Cohen's kappa,
pairwise-preference agreement). :mod:`analysis.metrics.breakdowns` computes them per
subset, per annotator and per unit, and :mod:`analysis.metrics.report` assembles the
versioned JSON report documented in ``docs/report-schema.md``.
"""

from __future__ import annotations
