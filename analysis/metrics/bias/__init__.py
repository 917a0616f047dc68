"""Tone-vs-factuality, position and length bias checks (methods.md, spec A and B5).

Pure numpy/pandas/scipy/statsmodels; no Django. Every public check takes the platform's
long-format annotation table (one row per annotation x question) and returns a
JSON-serialisable dict with the same core keys (see ``docs/bias-methods.md``)::

    check, computed, defined, reason, estimate, ci_low, ci_high, ci_level, ci_method,
    p_value, test, null_value, n_units, n_annotators, n_ratings, flagged, flags,
    verdict, warnings

Expected columns (extra columns are ignored):

=================  ======================================================================
unit_id            annotated unit (output for rubric questions, pair for preferences)
annotator_id       pseudonymous annotator id
pool               annotator pool ("crowd", "expert", ...), only for :func:`bias_report`
question           question key, e.g. "quality"
value              answer: Likert int for quality/assertiveness, 0/1 (or yes/no,
                   true/false) for error flags, "A"/"B"/"tie" for preferences
prompt_id          prompt; the first cluster dimension of the bootstrap (falls back to
                   unit_id when missing)
output_id          rated output (rubric rows)
system             generating system (rubric rows); part of the matched-variant key
tone               design tone condition, e.g. "assertive"/"hedged" (None if unknown)
n_known_errors     known/injected factual error count of the output (int)
output_length      output length in characters or tokens (> 0)
shown_order        pairwise rows: tuple of the ids shown in position A, B
=================  ======================================================================

The package, by concern:

* :mod:`~analysis.metrics.bias.common` -- question roles, thresholds, input handling and
  the common result shape;
* :mod:`~analysis.metrics.bias.bootstrap` -- the two-way (prompt x annotator) cluster
  bootstrap every interval comes from;
* :mod:`~analysis.metrics.bias.regression` -- MixedLM with crossed effects and
  cluster-robust OLS;
* one module per check -- :mod:`~analysis.metrics.bias.tone_premium`,
  :mod:`~analysis.metrics.bias.tone_model`, :mod:`~analysis.metrics.bias.assertiveness`,
  :mod:`~analysis.metrics.bias.detection`, :mod:`~analysis.metrics.bias.position`,
  :mod:`~analysis.metrics.bias.length` -- each estimating numbers, applying its flag rule
  and ending with its :class:`~analysis.metrics.bias.checks.Check` spec;
* :mod:`~analysis.metrics.bias.wording` -- every verdict sentence and number format;
* :mod:`~analysis.metrics.bias.report` -- :func:`bias_report`, which runs the table of
  checks per pool.

References
----------
Owen, A. B. (2007). The pigeonhole bootstrap. Annals of Applied Statistics 1(2):386-411.
Cameron, A. C., Gelbach, J. B. & Miller, D. L. (2011). Robust inference with multiway
    clustering. Journal of Business & Economic Statistics 29(2):238-249.
Hautus, M. J. (1995). Corrections for extreme proportions and their biasing effects on
    estimated values of d'. Behavior Research Methods 27:46-51.
Macmillan, N. A. & Creelman, C. D. (2005). Detection Theory: A User's Guide (2nd ed.).
Hosking, T., Blunsom, P. & Bartolo, M. (2024). Human Feedback is not Gold Standard. ICLR.
Wu, M. & Aji, A. F. (2025). Style Over Substance. COLING.
Zheng, L. et al. (2023). Judging LLM-as-a-Judge with MT-Bench and Chatbot Arena. NeurIPS.
Holm, S. (1979). A simple sequentially rejective multiple test procedure. Scand. J. Stat. 6.
"""

from __future__ import annotations

from analysis.metrics.bias import regression
from analysis.metrics.bias.assertiveness import perceived_assertiveness_check
from analysis.metrics.bias.bootstrap import (
    TWO_WAY_METHODS,
    _cluster_ci,
    _Clusters,
    _group_sum_matrix,
    _percentile_ci,
    _wsum,
)
from analysis.metrics.bias.checks import Check, CheckContext
from analysis.metrics.bias.common import (
    DEFAULT_QUESTIONS,
    _coerce_binary,
    _f,
    _not_defined,
    _question_rows,
    stable_rng,
    to_jsonable,
)
from analysis.metrics.bias.detection import _loglinear_dprime, error_detection_by_tone
from analysis.metrics.bias.length import length_bias
from analysis.metrics.bias.position import position_bias
from analysis.metrics.bias.report import CHECKS, _holm, bias_report, run_checks
from analysis.metrics.bias.tone_model import tone_mixed_model
from analysis.metrics.bias.tone_premium import paired_tone_premium
from analysis.metrics.bias.wording import _fmt_ci

# The underscored names were importable from the single module this package replaced;
# callers outside it (expert_vs_crowd, tests) still reach them here.
__all__ = [
    "CHECKS",
    "DEFAULT_QUESTIONS",
    "TWO_WAY_METHODS",
    "Check",
    "CheckContext",
    "_Clusters",
    "_cluster_ci",
    "_coerce_binary",
    "_f",
    "_fmt_ci",
    "_group_sum_matrix",
    "_holm",
    "_loglinear_dprime",
    "_not_defined",
    "_percentile_ci",
    "_question_rows",
    "_wsum",
    "bias_report",
    "error_detection_by_tone",
    "length_bias",
    "paired_tone_premium",
    "perceived_assertiveness_check",
    "position_bias",
    "regression",
    "run_checks",
    "stable_rng",
    "to_jsonable",
    "tone_mixed_model",
]
