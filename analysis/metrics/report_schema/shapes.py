"""The report JSON, typed: one TypedDict per object of docs/report-schema.md, named as
its heading there, and :func:`schema_problems`, which checks a report against them.

An object marked *open* may carry keys beyond its declared ones (a bias check's own
fields, listed per check in docs/bias-methods.md; an expert-vs-crowd question's
measures); every other object is closed: an undeclared key is a problem, so a key added
to the report without being declared and documented fails the test that runs this
(tests/analysis/test_report_schema.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, TypedDict, is_typeddict


class NotComputed(TypedDict):
    """A section that is absent, and why (``status``: ``not_applicable`` or
    ``not_computed``)."""

    status: str
    reason: str


class Parameters(TypedDict):
    thresholds: list[float]
    n_bootstrap: int
    seed: int
    confidence_level: float
    min_shared_units: int
    min_annotator_items: int
    top_contested: int
    breakdown_columns: list[str]


class Input(TypedDict):
    n_rows: int
    n_units: int
    n_annotators: int
    n_questions: int
    optional_columns: list[str]


class Coefficient(TypedDict):
    name: str
    value: float | None
    defined: bool
    reason: str | None
    method: str | None
    n_units: int
    n_pairable_units: int
    n_ratings: int
    n_annotators: int | None
    components: dict[str, float]
    ci_low: float | None
    ci_high: float | None
    confidence_level: float | None
    ci_method: str | None
    ci_reason: str | None
    n_bootstrap: int
    n_bootstrap_defined: int
    bootstrap_se: float | None
    p_below: list[dict[str, float]]


class Counts(TypedDict):
    n_units: int
    n_pairable_units: int
    n_annotators: int
    n_ratings: int
    ratings_per_unit: dict[str, float]
    categories: list[dict[str, Any]]


class CohenPair(TypedDict):
    a: str
    b: str
    n: int
    kappa: float | None
    kappa_linear: float | None
    kappa_quadratic: float | None
    reason: str | None


class CohenPairs(TypedDict):
    min_shared_units: int
    weighted: bool
    weights_reason: str | None
    n_pairs: int
    mean_kappa: float | None
    mean_kappa_reason: str | None
    pairs: list[CohenPair]


class CoefficientSet(TypedDict):
    counts: Counts
    krippendorff_alpha: Coefficient
    fleiss_kappa: Coefficient
    gwet_ac1: Coefficient
    percent_agreement: Coefficient
    cohen_kappa_pairs: CohenPairs


class Breakdown(TypedDict):
    n_ratings_without_group: int
    groups: dict[str, CoefficientSet]


class Preference(TypedDict):
    coding: str
    votes: dict[str, Any]
    with_ties: dict[str, Coefficient]
    without_ties: dict[str, Coefficient]


class AnnotatorRow(TypedDict):
    annotator_id: str
    pool: str | None
    n_items: int
    n_compared: int
    consensus_agreement: float | None
    pairwise_agreement_with_others: float | None
    mean_abs_deviation: float | None
    mean_signed_deviation: float | None
    gold: dict[str, Any] | None
    flag: dict[str, Any]


class AnnotatorSection(TypedDict):
    consensus: str
    score: str
    higher_is_better: bool
    min_annotator_items: int
    rule: str
    pools: dict[str, dict[str, Any]]
    annotators: list[AnnotatorRow]


class ContestedUnit(TypedDict):
    unit_id: str
    n_ratings: int
    disagreement: float
    disagreement_vs_chance: float | None
    ratings: list[dict[str, Any]]


class UnitSection(TypedDict):
    metric: str
    expected_disagreement: float | None
    expected_disagreement_reason: str | None
    n_units_scored: int
    summary: dict[str, float | None]
    most_contested: list[ContestedUnit]


class QuestionSection(TypedDict):
    question: str
    type: str | None
    level: str | None
    status: str
    reason: str | None
    n_rows: int
    n_missing_answers: int
    labels: list[Any] | None
    overall: CoefficientSet | None
    preference: Preference | None
    breakdowns: dict[str, Breakdown]
    annotators: AnnotatorSection | None
    units: UnitSection | None


class AnnotatorSummary(TypedDict):
    annotator_id: str
    pool: str | None
    n_units: int
    n_answers: int
    median_active_seconds: float | None
    gold: dict[str, Any] | None
    flagged: bool
    flagged_questions: list[str]


class BiasCheck(TypedDict):
    """Open: each check adds its own fields (docs/bias-methods.md)."""

    check: str
    defined: bool
    reason: str | None
    estimate: float | None
    ci_low: float | None
    ci_high: float | None
    ci_level: float
    ci_method: str | None
    null_value: float | None
    p_value: float | None
    p_value_holm: float | None
    test: str | None
    computed: str
    n_units: int
    n_annotators: int
    n_ratings: int
    flagged: bool
    flags: list[str]
    verdict: str | None
    warnings: list[str]


class BiasPool(TypedDict):
    checks: dict[str, BiasCheck]
    n_annotators: int
    n_ratings: int
    n_units: int
    pooled_over_pools: bool


class BiasFlag(TypedDict):
    pool: str
    check: str
    flags: list[str]
    verdict: str


class BiasSection(TypedDict):
    section: str
    schema_version: int
    parameters: dict[str, Any]
    n_annotators: int
    n_ratings: int
    n_units: int
    overall: BiasPool
    pools: dict[str, BiasPool]
    flagged: list[BiasFlag]
    notes: list[str]


class VersusQuestion(TypedDict):
    """Open: a question carries the measures its role supports."""

    question: str
    defined: bool
    reason: str | None
    spec: dict[str, Any]
    within_pool: dict[str, dict[str, Any]]
    cross_pool: dict[str, Any]
    crowd_size_curve: dict[str, Any]
    crowd_size_curve_injected: dict[str, Any]
    annotator_accuracy: dict[str, Any]
    dawid_skene: dict[str, Any]
    reference: dict[str, Any]
    detection_against_experts: dict[str, Any]


class BiasIndices(TypedDict):
    computed: str
    pools: dict[str, dict[str, Any]]


class ExpertVsCrowdSection(TypedDict):
    section: str
    schema_version: int
    defined: bool
    reason: str | None
    parameters: dict[str, Any]
    questions: dict[str, VersusQuestion]
    bias_indices: BiasIndices
    caveat_dawid_skene: str


class LeaderboardSystem(TypedDict):
    system: str
    rating: float | None
    ci: list[float | None]
    rank: int
    rank_interval: list[int]
    tie_group: int
    median_rank: float | None
    bootstrap_rank_ci: list[int]
    p_rank_first: float | None
    p_top: dict[str, float]
    rank_probabilities: list[float]
    votes: int
    win_rate: float | None
    online_elo: dict[str, float | None]


class Leaderboard(TypedDict):
    status: str
    n_votes: int
    n_ties: int
    n_systems: int
    n_prompts: int
    n_annotators: int
    mle_exists: bool
    warnings: list[str]
    systems: list[LeaderboardSystem]
    tie_groups: list[Any]
    pairs: dict[str, Any]
    online_elo: dict[str, Any]
    controlled: dict[str, Any]
    cross_check: dict[str, Any]


class Rankings(TypedDict):
    status: str
    question: str
    model: str
    scale: dict[str, Any]
    bootstrap: dict[str, Any]
    pool_column: str | None
    leaderboards: dict[str, Leaderboard]
    pool_agreement: list[dict[str, Any]]


class Stability(TypedDict):
    status: str
    verdict: str
    verdict_reasons: list[str]
    tie_groups: list[Any]
    kendall_tau: dict[str, Any]
    adjacent_pairs: list[dict[str, Any]]
    unresolved_pairs: list[Any]
    method_sensitivity: Any
    leave_one_out: list[dict[str, Any]]
    weak_competitor: dict[str, Any]
    intransitive_triads: dict[str, Any]
    votes_needed: dict[str, Any]


class RankStability(TypedDict):
    status: str
    leaderboards: dict[str, Stability]


class Report(TypedDict):
    schema_version: str
    parameters: Parameters
    input: Input
    methods: dict[str, str]
    questions: dict[str, QuestionSection]
    annotators: list[AnnotatorSummary]
    bias: BiasSection | NotComputed
    expert_vs_crowd: ExpertVsCrowdSection | NotComputed
    rankings: Rankings | NotComputed
    rank_stability: RankStability | NotComputed


# Keys an object may leave out (TypedDict's NotRequired does not survive the postponed
# annotations every module here uses, so they are listed apart).
OPTIONAL: dict[type, set[str]] = {
    AnnotatorRow: {"mean_abs_deviation", "mean_signed_deviation"},
    BiasCheck: {"p_value_holm"},
    VersusQuestion: {
        "reason",
        "spec",
        "within_pool",
        "cross_pool",
        "crowd_size_curve",
        "crowd_size_curve_injected",
        "annotator_accuracy",
        "dawid_skene",
        "reference",
        "detection_against_experts",
    },
    ExpertVsCrowdSection: {"bias_indices", "caveat_dawid_skene"},
    Report: {"bias", "expert_vs_crowd", "rankings", "rank_stability"},
}
OPEN = {BiasCheck, VersusQuestion}
TYPES = (
    NotComputed,
    Parameters,
    Input,
    Coefficient,
    Counts,
    CohenPair,
    CohenPairs,
    CoefficientSet,
    Breakdown,
    Preference,
    AnnotatorRow,
    AnnotatorSection,
    ContestedUnit,
    UnitSection,
    QuestionSection,
    AnnotatorSummary,
    BiasCheck,
    BiasPool,
    BiasFlag,
    BiasSection,
    VersusQuestion,
    BiasIndices,
    ExpertVsCrowdSection,
    LeaderboardSystem,
    Leaderboard,
    Rankings,
    Stability,
    RankStability,
    Report,
)


def declared_keys(kind: type) -> set[str]:
    return set(kind.__annotations__)


def required_keys(kind: type) -> set[str]:
    return declared_keys(kind) - OPTIONAL.get(kind, set())


def _object(value: Any, kind: type, path: str, problems: list[str]) -> bool:
    if not isinstance(value, Mapping):
        problems.append(f"{path}: expected an object ({kind.__name__})")
        return False
    missing = required_keys(kind) - set(value)
    extra = set() if kind in OPEN else set(value) - declared_keys(kind)
    problems += [f"{path}: missing key {k!r} ({kind.__name__})" for k in sorted(missing)]
    problems += [f"{path}: undeclared key {k!r} ({kind.__name__})" for k in sorted(extra)]
    return True


def _section(value: Any, kind: type, path: str, problems: list[str]) -> None:
    """A top-level section: either ``kind`` or NotComputed (its status says which)."""
    if isinstance(value, Mapping) and value.get("status") in ("not_applicable", "not_computed"):
        _object(value, NotComputed, path, problems)
    else:
        _walk(value, kind, path, problems)


def _walk(value: Any, kind: type, path: str, problems: list[str]) -> None:
    """Check ``value`` against ``kind`` and, through the typed fields, everything in it."""
    if value is None:
        return
    if not _object(value, kind, path, problems):
        return
    for key, annotation in kind.__annotations__.items():
        if key not in value or value[key] is None:
            continue
        _field(value[key], annotation, f"{path}.{key}", problems)


def _field(value: Any, annotation: Any, path: str, problems: list[str]) -> None:
    # TypedDict keeps postponed annotations as ForwardRef("list[CohenPair]") objects.
    text = str(getattr(annotation, "__forward_arg__", annotation))
    for name in _typed_names(text):
        kind = globals()[name]
        if text.startswith("dict[str, "):
            for key, item in value.items() if isinstance(value, Mapping) else []:
                _walk_any(item, kind, f"{path}.{key}", problems)
        elif text.startswith("list["):
            for index, item in enumerate(value if isinstance(value, list) else []):
                _walk_any(item, kind, f"{path}[{index}]", problems)
        else:
            _walk_any(value, kind, path, problems)
        return


def _walk_any(value: Any, kind: type, path: str, problems: list[str]) -> None:
    if kind in (Leaderboard, Stability):
        _section(value, kind, path, problems)
    else:
        _walk(value, kind, path, problems)


def _typed_names(text: str) -> list[str]:
    """The TypedDict names an annotation mentions (NotComputed aside: sections handle it)."""
    names = [t.__name__ for t in TYPES if t is not NotComputed]
    return [n for n in names if _mentions(text, n)][:1]


def _mentions(text: str, name: str) -> bool:
    return re.search(rf"\b{name}\b", text) is not None


def schema_problems(report: Any) -> list[str]:
    """Every way ``report`` departs from the typed schema (empty when it matches)."""
    problems: list[str] = []
    if not _object(report, Report, "report", problems):
        return problems
    kind: type
    for key, kind in (
        ("parameters", Parameters),
        ("input", Input),
    ):
        _walk(report.get(key), kind, key, problems)
    for name, section in (report.get("questions") or {}).items():
        _walk(section, QuestionSection, f"questions.{name}", problems)
    for index, row in enumerate(report.get("annotators") or []):
        _walk(row, AnnotatorSummary, f"annotators[{index}]", problems)
    for key, kind in (
        ("bias", BiasSection),
        ("expert_vs_crowd", ExpertVsCrowdSection),
        ("rankings", Rankings),
        ("rank_stability", RankStability),
    ):
        if key in report:
            _section(report[key], kind, key, problems)
    return problems


assert all(is_typeddict(t) for t in TYPES)
