"""The report's ``"expert_vs_crowd"`` section: for each question, the blocks of
:data:`BLOCKS` that apply to it, then the bias indices per pool."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from analysis.metrics.bias.common import DEFAULT_QUESTIONS, say, stable_rng, to_jsonable
from analysis.metrics.expert_vs_crowd.accuracy import annotator_accuracy
from analysis.metrics.expert_vs_crowd.common import (
    DEFAULT_SPECS,
    N_MIN_ANNOTATOR,
    encode_pool_labels,
)
from analysis.metrics.expert_vs_crowd.cross_pool import cross_pool_agreement
from analysis.metrics.expert_vs_crowd.crowd_size import majority_of_k_curve
from analysis.metrics.expert_vs_crowd.dawid_skene import DS_CAVEAT, dawid_skene_validation
from analysis.metrics.expert_vs_crowd.indices import bias_indices
from analysis.metrics.expert_vs_crowd.reference import (
    detection_against_experts,
    reference_summary,
)
from analysis.metrics.expert_vs_crowd.within_pool import within_pool_agreement


@dataclass(frozen=True)
class BlockContext:
    """What a block needs to know about the report and the question it runs for."""

    role: str
    question: str
    spec: Mapping[str, Any]
    pool_column: str
    crowd_pool: str
    expert_pool: str
    seed: int
    n_bootstrap: int
    alpha: float
    min_expert_labels: int
    n_min_annotator: int
    max_k: int | None
    include_injected_reference: bool
    two_way: str
    treated: str = "assertive"
    control: str = "hedged"

    def rng(self, name: str) -> np.random.Generator:
        """The block's own random stream for this question role (:func:`stable_rng`)."""
        return stable_rng(self.seed, self.role, name)


@dataclass(frozen=True)
class Block:
    """One block of a question's section.

    Attributes
    ----------
    name : str
        Its key in the section.
    estimate : callable
        ``estimate(table, **arguments)`` -> the block.
    settings : mapping
        Its keyword -> the :class:`BlockContext` field passed there.
    stream : str or None
        Name of its own random stream (passed as ``rng``), if it draws any.
    applies : callable
        ``applies(table, context)``: whether the question gets this block.
    derived : callable, optional
        ``derived(table, context)`` -> further arguments that depend on the data.
    """

    name: str
    estimate: Callable[..., dict[str, Any]]
    settings: Mapping[str, str]
    stream: str | None
    applies: Callable[[pd.DataFrame, BlockContext], bool]
    derived: Callable[[pd.DataFrame, BlockContext], dict[str, Any]] | None = None

    def run(self, table: pd.DataFrame, context: BlockContext) -> dict[str, Any]:
        arguments = {keyword: getattr(context, name) for keyword, name in self.settings.items()}
        if self.stream is not None:
            arguments["rng"] = context.rng(self.stream)
        if self.derived is not None:
            arguments.update(self.derived(table, context))
        return self.estimate(table, **arguments)


def _always(table: pd.DataFrame, ctx: BlockContext) -> bool:
    return True


def _nominal(table: pd.DataFrame, ctx: BlockContext) -> bool:
    # The crowd-size curve, accuracy and Dawid-Skene compare labels, not scale points.
    return ctx.spec.get("level") == "nominal"


def _error_flag(table: pd.DataFrame, ctx: BlockContext) -> bool:
    return _nominal(table, ctx) and ctx.role == "error_flag"


def _injected(table: pd.DataFrame, ctx: BlockContext) -> bool:
    return (
        _error_flag(table, ctx)
        and ctx.include_injected_reference
        and "n_known_errors" in table.columns
    )


def _injected_reference(table: pd.DataFrame, ctx: BlockContext) -> dict[str, Any]:
    """The design's known errors (n_known_errors > 0) as each unit's reference label."""
    rows = table.loc[(table["question"] == ctx.question) & table["n_known_errors"].notna()]
    injected = (
        rows.groupby("unit_id", observed=False)["n_known_errors"]
        .first()
        .astype(float)
        .gt(0)
        .astype(int)
    )
    return {"reference": injected}


def _curve_injected(table: pd.DataFrame, **arguments: Any) -> dict[str, Any]:
    block = majority_of_k_curve(table, **arguments)
    block["reference"] = "design n_known_errors > 0"
    return block


def _fields(*names: str) -> dict[str, str]:
    return {name: name for name in names}


# Every block takes the question and its spec; those comparing the crowd with a reference
# also the pools and what makes an expert consensus.
_QUESTION = _fields("question", "spec", "pool_column")
_REFERENCE = {**_QUESTION, **_fields("expert_pool", "min_expert_labels")}
_BOOTSTRAP = _fields("n_bootstrap", "alpha")
_CURVE = {**_REFERENCE, **_BOOTSTRAP, **_fields("crowd_pool", "max_k", "two_way")}
_N_MIN = {"n_min": "n_min_annotator"}

# The blocks of a question's section, in the order the section lists them.
BLOCKS: tuple[Block, ...] = (
    Block("within_pool", within_pool_agreement, {**_QUESTION, **_BOOTSTRAP}, "within", _always),
    Block(
        "cross_pool",
        cross_pool_agreement,
        {**_REFERENCE, **_BOOTSTRAP, **_fields("crowd_pool")},
        "cross",
        _always,
    ),
    Block("crowd_size_curve", majority_of_k_curve, _CURVE, "curve", _nominal),
    Block(
        "annotator_accuracy",
        annotator_accuracy,
        {**_REFERENCE, **_N_MIN, "pool": "crowd_pool", "alpha": "alpha"},
        None,
        _nominal,
    ),
    Block(
        "dawid_skene",
        dawid_skene_validation,
        {**_REFERENCE, **_N_MIN, **_fields("crowd_pool")},
        None,
        _nominal,
    ),
    Block(
        "crowd_size_curve_injected",
        _curve_injected,
        _CURVE,
        "curve_injected",
        _injected,
        _injected_reference,
    ),
    Block(
        "detection_against_experts",
        detection_against_experts,
        {**_REFERENCE, **_BOOTSTRAP, **_fields("crowd_pool", "two_way", "treated", "control")},
        "against_experts",
        _error_flag,
    ),
)


def expert_vs_crowd_report(
    table: pd.DataFrame,
    questions: Mapping[str, str] | None = None,
    *,
    pool_column: str = "pool",
    crowd_pool: str = "crowd",
    expert_pool: str = "expert",
    seed: int = 0,
    n_bootstrap: int = 1000,
    alpha: float = 0.05,
    specs: Mapping[str, Mapping[str, Any]] | None = None,
    bias_section: Mapping[str, Any] | None = None,
    min_expert_labels: int = 1,
    n_min_annotator: int = N_MIN_ANNOTATOR,
    max_k: int | None = None,
    include_injected_reference: bool = True,
    include_blups: bool = True,
    two_way: str = "cgm",
    treated: str = "assertive",
    control: str = "hedged",
) -> dict[str, Any]:
    """The report's ``"expert_vs_crowd"`` section (methods.md spec B).

    Parameters
    ----------
    table : pandas.DataFrame
        Long annotation table with a pool column.
    questions : mapping, optional
        Role -> question key (roles as in :func:`analysis.metrics.bias.bias_report`).
    pool_column, crowd_pool, expert_pool : str
    seed : int
        Each block draws from its own :func:`stable_rng` stream.
    n_bootstrap : int
    alpha : float
    specs : mapping, optional
        Role -> question spec (level/order/type/binary); defaults :data:`DEFAULT_SPECS`.
    bias_section : mapping, optional
        A finished "bias" section to read tone/length/position indices from (saves time).
    min_expert_labels : int
        Expert labels a unit needs for an expert reference (default 1: one expert's label
        is a valid reference; each question's ``reference`` block says how reliable it is).
    n_min_annotator : int
        Reference items needed for per-annotator accuracy.
    max_k : int, optional
        Largest crowd size in the curve.
    include_injected_reference : bool
        For the error flag, also give the crowd-size curve against the design's known
        errors (n_known_errors > 0) when the column exists.
    include_blups : bool
        Per-annotator empirical-Bayes leniency intercepts.
    two_way : {"cgm", "pigeonhole"}
        Two-way cluster interval method (:func:`analysis.metrics.bias._cluster_ci`).
    treated, control : str
        The tones compared in the error flag's detection against the experts and in the
        under-reporting index (all tones are given too).

    Returns
    -------
    dict
        JSON-serialisable; structure in docs/bias-methods.md ("expert_vs_crowd" schema).

    Notes
    -----
    Longer than the house limit of 80 lines only by its nineteen documented parameters:
    the body checks them and runs :data:`BLOCKS` per question and the bias indices.
    """
    questions = dict(DEFAULT_QUESTIONS if questions is None else questions)
    _check_arguments(table, questions, pool_column, alpha)
    present_pools = set(table[pool_column].dropna().astype(str))
    base = BlockContext(
        role="",
        question="",
        spec={},
        pool_column=pool_column,
        crowd_pool=crowd_pool,
        expert_pool=expert_pool,
        seed=seed,
        n_bootstrap=n_bootstrap,
        alpha=alpha,
        min_expert_labels=min_expert_labels,
        n_min_annotator=n_min_annotator,
        max_k=max_k,
        include_injected_reference=include_injected_reference,
        two_way=two_way,
        treated=treated,
        control=control,
    )
    report: dict[str, Any] = {
        "section": "expert_vs_crowd",
        "schema_version": 1,
        "parameters": {"questions": questions, **_parameters(base)},
        "caveat_dawid_skene": DS_CAVEAT,
        "questions": {},
    }
    if crowd_pool not in present_pools or expert_pool not in present_pools:
        report["defined"] = False
        report["reason"] = (
            f"needs both an expert pool and a crowd pool (“{expert_pool}” and “{crowd_pool}”); "
            f"the data have {say(sorted(present_pools)) or 'no pools'}"
        )
        return to_jsonable(report)
    report["defined"] = True
    report["reason"] = None
    present_q = set(table["question"].unique())
    specs = role_specs(specs)
    for role, qkey in questions.items():
        if qkey not in present_q:
            report["questions"][role] = {"question": qkey, "defined": False, "reason": "no ratings"}
            continue
        ctx = replace(base, role=role, question=qkey, spec=specs[role])
        report["questions"][role] = question_blocks(table, ctx)
    report["bias_indices"] = bias_indices(
        table,
        {r: q for r, q in questions.items() if q in present_q},
        rng_seed=seed,
        crowd_pool=crowd_pool,
        expert_pool=expert_pool,
        pool_column=pool_column,
        bias_section=bias_section,
        n_bootstrap=n_bootstrap,
        alpha=alpha,
        treated=treated,
        control=control,
        include_blups=include_blups,
        two_way=two_way,
    )
    return to_jsonable(report)


def role_specs(specs: Mapping[str, Mapping[str, Any]] | None) -> dict[str, dict[str, Any]]:
    """Each role's question spec over the role's defaults.

    A role's defaults say what the role is: an error flag is a yes/no answer whatever its
    question declares, so its answers (true/false, yes/no, 1/0) are coded 0/1 like the
    design's known errors it is compared with. Without that, a task's boolean answers and
    the 0/1 reference were two label sets and the comparison could not be made.
    """
    given = specs or {}
    return {role: {**DEFAULT_SPECS[role], **given.get(role, {})} for role in DEFAULT_SPECS}


def _check_arguments(
    table: pd.DataFrame, questions: Mapping[str, str], pool_column: str, alpha: float
) -> None:
    unknown = set(questions) - set(DEFAULT_QUESTIONS)
    if unknown:
        raise ValueError(f"unknown question roles {say(sorted(unknown))}")
    if pool_column not in table.columns:
        raise ValueError(f"the table needs a “{pool_column}” column")
    if not 0 < alpha < 1:
        raise ValueError("alpha must be in (0, 1)")


def question_blocks(table: pd.DataFrame, ctx: BlockContext) -> dict[str, Any]:
    """One question's section: every block of :data:`BLOCKS` that applies to it."""
    block: dict[str, Any] = {"question": ctx.question, "spec": dict(ctx.spec), "defined": True}
    for entry in BLOCKS:
        if entry.applies(table, ctx):
            block[entry.name] = entry.run(table, ctx)
    block["reference"] = reference_summary(
        encode_pool_labels(table, ctx.question, ctx.spec, pool_column=ctx.pool_column),
        expert_pool=ctx.expert_pool,
        min_expert_labels=ctx.min_expert_labels,
        within_expert=block["within_pool"].get(ctx.expert_pool),
        ceiling=block["cross_pool"].get("expert_ceiling"),
    )
    return block


def _parameters(ctx: BlockContext) -> dict[str, Any]:
    return {
        "pool_column": ctx.pool_column,
        "crowd_pool": ctx.crowd_pool,
        "expert_pool": ctx.expert_pool,
        "seed": ctx.seed,
        "n_bootstrap": ctx.n_bootstrap,
        "alpha": ctx.alpha,
        "min_expert_labels": ctx.min_expert_labels,
        "n_min_annotator": ctx.n_min_annotator,
        "two_way": ctx.two_way,
        "treated_tone": ctx.treated,
        "control_tone": ctx.control,
    }
