"""Golden reports: complete reports from fixed-seed data must not change by a single byte.

Each case builds a long table shaped like the loaders' (a task's de-blinded table or a
dataset's `long_table`) from seeded simulated annotations, composes the report exactly
as `analysis.services` does (agreement, then the bias and expert-vs-crowd sections,
then rankings) from the pure functions it calls, and compares the sha256 of
``json.dumps(report, sort_keys=True)`` -- per section and whole -- with the values
recorded here.

A refactor of `analysis.metrics` must leave every hash as it is. A deliberate change of
what a report says updates the hashes in the same commit, and its message says why.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from analysis.loaders import RAW_COLUMNS, long_table, report_questions
from analysis.metrics.bias import DEFAULT_QUESTIONS, bias_report
from analysis.metrics.expert_vs_crowd import expert_vs_crowd_report
from analysis.metrics.ranking_report import preference_question, ranking_sections
from analysis.metrics.rankings import RankingError
from analysis.metrics.report import agreement_report
from analysis.simulation import PoolBehaviour, SimulationConfig, simulate_study

# The report parameters, pinned here (not read from the services' defaults) so that the
# hashes guard the metrics alone; n_bootstrap is small to keep the test fast.
PARAMETERS: dict[str, Any] = {
    "thresholds": [0.667, 0.8],
    "n_bootstrap": 60,
    "seed": 11,
    "confidence_level": 0.95,
    "min_shared_units": 5,
    "min_annotator_items": 5,
    "top_contested": 5,
    "breakdown_columns": ["pool", "guideline_version", "system"],
    "ranking_resample": "prompt",
}
POOL_NAMES = {"crowd": "Study crowd (simulated)", "expert": "Study experts (simulated)"}
BIAS_COLUMNS = ("tone", "n_known_errors", "shown_order")


# -- composing a report as analysis.services._compute does --------------------------------


def _bias_sections(table: pd.DataFrame, questions: dict[str, dict[str, Any]]) -> dict[str, Any]:
    pool_column = "pool_kind" if "pool_kind" in table.columns else "pool"
    roles = {role: key for role, key in DEFAULT_QUESTIONS.items() if key in questions}
    specs = report_questions(questions)
    role_specs = {role: specs[key] for role, key in roles.items() if key in specs}
    common = {
        "pool_column": pool_column,
        "seed": PARAMETERS["seed"],
        "n_bootstrap": PARAMETERS["n_bootstrap"],
        "alpha": 1 - PARAMETERS["confidence_level"],
    }
    sections: dict[str, Any] = {}
    if not (set(BIAS_COLUMNS) & set(table.columns)) or pool_column not in table.columns:
        sections["bias"] = {"status": "not_applicable"}
    else:
        try:
            sections["bias"] = bias_report(table, roles, **common)
        except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
            sections["bias"] = {"status": "not_computed", "reason": str(exc)}
    pools = set(table[pool_column].dropna().astype(str)) if pool_column in table.columns else set()
    if not {"expert", "crowd"} <= pools:
        sections["expert_vs_crowd"] = {"status": "not_applicable"}
    else:
        computed_bias = sections["bias"] if "status" not in sections["bias"] else None
        try:
            sections["expert_vs_crowd"] = expert_vs_crowd_report(
                table, roles, specs=role_specs, bias_section=computed_bias, **common
            )
        except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
            sections["expert_vs_crowd"] = {"status": "not_computed", "reason": str(exc)}
    return sections


def _ranking_sections(table: pd.DataFrame, questions: dict[str, dict[str, Any]]) -> dict[str, Any]:
    roles = {role: key for role, key in DEFAULT_QUESTIONS.items() if key in questions}
    question = preference_question(report_questions(questions), roles.get("preference"))
    if question is None or "shown_order" not in table.columns:
        absent = {"status": "not_applicable"}
        return {"rankings": absent, "rank_stability": absent}
    pool_column = "pool_kind" if "pool_kind" in table.columns else "pool"
    try:
        return ranking_sections(
            table,
            question,
            pool_column=pool_column if pool_column in table.columns else None,
            n_bootstrap=PARAMETERS["n_bootstrap"],
            seed=PARAMETERS["seed"],
            alpha=1 - PARAMETERS["confidence_level"],
            resample=PARAMETERS["ranking_resample"],
        )
    except RankingError as exc:
        failed = {"status": "not_computed", "reason": str(exc)}
        return {"rankings": failed, "rank_stability": failed}


def compose_report(table: pd.DataFrame, questions: dict[str, dict[str, Any]]) -> dict[str, Any]:
    result = agreement_report(
        table,
        report_questions(questions),
        thresholds=tuple(PARAMETERS["thresholds"]),
        n_bootstrap=PARAMETERS["n_bootstrap"],
        seed=PARAMETERS["seed"],
        confidence_level=PARAMETERS["confidence_level"],
        min_shared_units=PARAMETERS["min_shared_units"],
        min_annotator_items=PARAMETERS["min_annotator_items"],
        top_contested=PARAMETERS["top_contested"],
        breakdown_columns=tuple(PARAMETERS["breakdown_columns"]),
    )
    result.update(_bias_sections(table, questions))
    result.update(_ranking_sections(table, questions))
    return result


# -- the cases ---------------------------------------------------------------------------


def _study(*, pairwise: bool, seed: int) -> Any:
    config = SimulationConfig(
        n_prompts=12,
        n_systems=3,
        error_probability=0.45,
        pairwise=pairwise,
        pools={
            "crowd": PoolBehaviour(
                n_annotators=8,
                ratings_per_unit=4,
                tone_bias=0.6,
                hit_rate_assertive=0.3,
                hit_rate_hedged=0.6,
                position_bias=0.12,
                length_bias=0.2,
            ),
            "expert": PoolBehaviour(
                n_annotators=5,
                ratings_per_unit=3,
                noise_sd=0.5,
                tone_bias=0.0,
                hit_rate_assertive=0.85,
                hit_rate_hedged=0.85,
                false_alarm_rate=0.05,
                length_bias=0.0,
            ),
        },
    )
    return simulate_study(config, rng=np.random.default_rng(seed))


def _task_shaped(rows: pd.DataFrame) -> pd.DataFrame:
    """Pool names and kinds, a guideline version, and the task table's sort order."""
    table = rows.drop(columns=["task"]).copy()
    table["pool_kind"] = table["pool"]
    table["pool"] = table["pool"].map(POOL_NAMES)
    table["guideline_version"] = "1"
    table = table.sort_values(["unit_id", "annotator_id", "question"], kind="stable")
    return table.reset_index(drop=True)


RUBRIC_QUESTIONS: dict[str, dict[str, Any]] = {
    "quality": {"level": "ordinal", "order": None},
    "has_factual_error": {"level": "nominal", "order": None},
    "assertiveness": {"level": "ordinal", "order": None},
}


def single_output_tone_study() -> tuple[pd.DataFrame, dict[str, dict[str, Any]]]:
    study = _study(pairwise=False, seed=20231001)
    # Error flags stay 0/1 as simulated (a task's answers give booleans, which the
    # expert-vs-crowd injected-reference curve does not accept yet).
    return _task_shaped(study.rubric).drop(columns=["shown_order"]), RUBRIC_QUESTIONS


def pairwise_tone_study() -> tuple[pd.DataFrame, dict[str, dict[str, Any]]]:
    """Preferences between outputs of a prompt, with per-output error flags and
    assertiveness, as the demo's pairwise study asks."""
    study = _study(pairwise=True, seed=7)
    outputs = study.outputs.set_index("output_id")
    pairs = study.pairwise.copy()
    first = pairs["shown_order"].map(lambda s: s[0])
    second = pairs["shown_order"].map(lambda s: s[1])

    def by_position(column: str) -> list[tuple[Any, Any]]:
        a, b = outputs.loc[first, column].to_numpy(), outputs.loc[second, column].to_numpy()
        return [
            (x.item() if hasattr(x, "item") else x, y.item() if hasattr(y, "item") else y)
            for x, y in zip(a, b, strict=True)
        ]

    pairs["shown_order"] = by_position("system")
    pairs["shown_lengths"] = by_position("output_length")
    pairs["shown_tones"] = by_position("tone")
    pairs["shown_errors"] = by_position("n_known_errors")
    rubric = study.rubric[study.rubric["question"] != "quality"].copy()
    rubric["unit_id"] = "judged/" + rubric["unit_id"].astype(str)
    table = _task_shaped(pd.concat([pairs, rubric], ignore_index=True))
    questions = {
        "preference": {"level": "nominal", "order": None, "type": "pairwise"},
        "has_factual_error": RUBRIC_QUESTIONS["has_factual_error"],
        "assertiveness": RUBRIC_QUESTIONS["assertiveness"],
    }
    return table, questions


ARENA_ELO = {"atlas": 1200.0, "borealis": 1100.0, "cirrus": 1090.0, "dune": 1000.0, "ember": 900.0}


def arena() -> tuple[pd.DataFrame, dict[str, dict[str, Any]]]:
    """Blind A/B votes over five systems: 30 prompts x 3 battles, crowd and experts,
    the crowd pulled towards longer and first-shown answers; three gold battles."""
    rng = np.random.default_rng(20240612)
    systems = list(ARENA_ELO)
    columns: dict[str, list[Any]] = {
        name: []
        for name in (
            "unit_id",
            "annotator_id",
            "question",
            "value",
            "pool",
            "pool_kind",
            "guideline_version",
            "shown_order",
            "active_seconds",
            "is_gold",
            "gold_value",
            "prompt_id",
            "shown_lengths",
        )
    }
    unit = 0
    for prompt in range(30):
        lengths = {s: int(rng.integers(300, 1500)) for s in systems}
        for _ in range(3):
            i, j = rng.choice(len(systems), size=2, replace=False)
            x, y = systems[i], systems[j]
            unit += 1
            gold = unit in (4, 40, 77)
            for kind, n_votes, n_pool in (("crowd", 6, 9), ("expert", 3, 5)):
                voters = rng.choice(n_pool, size=n_votes, replace=False)
                for v, voter in enumerate(voters):
                    first, second = (x, y) if v % 2 == 0 else (y, x)
                    logit = (ARENA_ELO[first] - ARENA_ELO[second]) / (400 / np.log(10))
                    if kind == "crowd":
                        logit += 0.4 * np.log(lengths[first] / lengths[second]) + 0.3
                    roll = rng.random()
                    won = rng.random() < 1 / (1 + np.exp(-logit))
                    value = "tie" if roll < 0.08 else ("A" if won else "B")
                    columns["unit_id"].append(str(unit))
                    columns["annotator_id"].append(f"{kind}-{voter:02d}")
                    columns["question"].append("preference")
                    columns["value"].append(value)
                    columns["pool"].append(POOL_NAMES[kind])
                    columns["pool_kind"].append(kind)
                    columns["guideline_version"].append("2")
                    columns["shown_order"].append((first, second))
                    columns["active_seconds"].append(float(rng.uniform(12, 60)))
                    columns["is_gold"].append(gold)
                    columns["gold_value"].append(
                        (x if ARENA_ELO[x] > ARENA_ELO[y] else y) if gold else None
                    )
                    columns["prompt_id"].append(f"arena-{prompt:02d}")
                    columns["shown_lengths"].append((lengths[first], lengths[second]))
    table = pd.DataFrame(columns)
    table = table.sort_values(["unit_id", "annotator_id", "question"], kind="stable")
    questions = {"preference": {"level": "nominal", "order": None, "type": "pairwise"}}
    return table.reset_index(drop=True), questions


def agreement_dataset() -> tuple[pd.DataFrame, dict[str, dict[str, Any]]]:
    """An imported dataset (no design, no pairwise questions) through `long_table`:
    labels, a numeric scale, an ordered word scale and a ratio question, with gaps."""
    rng = np.random.default_rng(5)
    questions: dict[str, dict[str, Any]] = {
        "topic": {"level": "nominal", "order": None},
        "score": {"level": "ordinal", "order": None},
        "grade": {"level": "ordinal", "order": ["low", "mid", "high"]},
        "minutes": {"level": "ratio", "order": None},
    }
    raw: dict[str, list[Any]] = {name: [] for name in RAW_COLUMNS}
    for u in range(36):
        truth = rng.integers(0, 3)
        annotators = rng.choice(7, size=int(rng.integers(2, 5)), replace=False)
        for a in annotators:
            for question in questions:
                if rng.random() < 0.07:
                    continue
                agree = rng.random() < 0.7
                level = int(truth if agree else rng.integers(0, 3))
                text, number = "", float("nan")
                if question == "topic":
                    text = ("cats", "dogs", "birds")[level]
                elif question == "score":
                    number = float(level + 1 + rng.integers(0, 3))
                elif question == "grade":
                    text = ("low", "mid", "high")[level]
                else:
                    number = float(np.round(5 + 10 * level + rng.normal(0, 2), 1))
                raw["unit"].append(f"item-{u:03d}")
                raw["annotator"].append(f"rater-{a}")
                raw["question"].append(question)
                raw["value_text"].append(text)
                raw["value_number"].append(number)
                raw["pool"].append("team-a" if a < 4 else "team-b")
                raw["guideline_version"].append("v1" if u < 20 else "v2")
    return long_table(raw, questions), questions


def expert_crowd_dataset() -> tuple[pd.DataFrame, dict[str, dict[str, Any]]]:
    """An imported expert-vs-crowd study like the demo's dataset: rubric answers with
    pools and guideline versions but no design columns, as `long_table` builds it (every
    column categorical), so expert-vs-crowd runs and computes its own bias indices."""
    config = SimulationConfig(
        n_prompts=14,
        n_systems=2,
        pairwise=False,
        pools={
            "expert": PoolBehaviour(n_annotators=4, ratings_per_unit=2, noise_sd=0.45),
            "crowd": PoolBehaviour(
                n_annotators=9,
                ratings_per_unit=3,
                noise_sd=0.95,
                leniency_mean=0.2,
                tone_bias=0.4,
                hit_rate_assertive=0.3,
                hit_rate_hedged=0.5,
            ),
        },
    )
    rubric = simulate_study(config, rng=np.random.default_rng(2024)).rubric
    version = np.where(rubric["prompt_id"].str.slice(1).astype(int) < 7, "v1", "v2")
    raw = {
        "unit": rubric["unit_id"].tolist(),
        "annotator": rubric["annotator_id"].tolist(),
        "question": rubric["question"].tolist(),
        "value_text": [str(int(v)) for v in rubric["value"]],
        "value_number": rubric["value"].astype(float).tolist(),
        "pool": rubric["pool"].tolist(),
        "guideline_version": version.tolist(),
    }
    return long_table(raw, RUBRIC_QUESTIONS), RUBRIC_QUESTIONS


def options() -> dict[str, Any]:
    """The options a report does not use by default: Owen's pigeonhole intervals and
    the bias checks without the mixed models; rankings resampling single votes."""
    table, _ = single_output_tone_study()
    votes, _ = arena()
    return {
        "bias_pigeonhole": bias_report(
            table,
            pool_column="pool_kind",
            seed=3,
            n_bootstrap=60,
            n_permutations=200,
            include_mixed_model=False,
            two_way="pigeonhole",
        ),
        "rankings_by_vote": ranking_sections(
            votes,
            "preference",
            pool_column=None,
            n_bootstrap=40,
            seed=3,
            alpha=0.1,
            resample="vote",
        ),
    }


CASES = {
    "single_output_tone_study": lambda: compose_report(*single_output_tone_study()),
    "pairwise_tone_study": lambda: compose_report(*pairwise_tone_study()),
    "arena": lambda: compose_report(*arena()),
    "agreement_dataset": lambda: compose_report(*agreement_dataset()),
    "expert_crowd_dataset": lambda: compose_report(*expert_crowd_dataset()),
    "options": options,
}

# Recorded from the code before the analysis.metrics packages were split (issue 20).
GOLDEN: dict[str, dict[str, str]] = {
    "agreement_dataset": {
        "annotators": "3b929eeba71f83014dbab1a99d893da75cf9860761ea479aefc098c0f7fa6cbe",
        "bias": "99c9a779c37f6126f7e886b59239b75b4ea8a3732a039c23ff7437e066cf34cc",
        "expert_vs_crowd": "99c9a779c37f6126f7e886b59239b75b4ea8a3732a039c23ff7437e066cf34cc",
        "input": "b061bdd0471db3e8ead736cb1dd19889ceb0098b02a830a80b63af86905e9afb",
        "methods": "29702f496664bce9363f66080141d7258494a5f8026663effc19b5f6b5ef6577",
        "parameters": "c0a3b4951286e04deccc58d62d3a62c637f250900efd2283c56bb8f7bceb2a30",
        "questions": "6f0785d9c6fe7608ad51055991769c79067780a02813a5d9c283eb4c1950bc2c",
        "rank_stability": "99c9a779c37f6126f7e886b59239b75b4ea8a3732a039c23ff7437e066cf34cc",
        "rankings": "99c9a779c37f6126f7e886b59239b75b4ea8a3732a039c23ff7437e066cf34cc",
        "report": "3d962290425f4bd5de2e6a3fb6f3c8d69d1e39d2d58b701fae8965adeb7b0212",
        "schema_version": "a51162aeeb057ca4e3df627977231de20b581f0d0d418ca3a111bc0e408ac6cc",
    },
    "arena": {
        "annotators": "dd93bc8cc1e778c75fdb8b82da1bf42532461e1d0121442b48f419fe8aedfe31",
        "bias": "6635d5c119f69df89d52efae01e0a1a6f751a30377ee25411304af4955450ee0",
        "expert_vs_crowd": "efca7e765e720dbb027c66bbfea23c8d99cccea0402be4b9de319b0b240ab55e",
        "input": "3cf86cb78760bed4bf4f91f16bf130f4d20615b8ad7ef72b5fe1a1b441925ce2",
        "methods": "29702f496664bce9363f66080141d7258494a5f8026663effc19b5f6b5ef6577",
        "parameters": "c0a3b4951286e04deccc58d62d3a62c637f250900efd2283c56bb8f7bceb2a30",
        "questions": "3903b3608d92af3388990f1c3cb2a2f32752021927a351647db0809f11b1fa38",
        "rank_stability": "449fa30964dbe0d5f1226ed2979add4fd57b2a3f60da6f3a03dcf4c70557ab9a",
        "rankings": "d148a7cb09d2f8bb988040511c3dd813d9c14d5f0c437da7b720f0925916ecb6",
        "report": "6b6c4bb3a22bc7a466d5ff5bee3048ca8bfb3c2568ee5071b8e4dbeb417a2b43",
        "schema_version": "a51162aeeb057ca4e3df627977231de20b581f0d0d418ca3a111bc0e408ac6cc",
    },
    "expert_crowd_dataset": {
        "annotators": "6fd94afc94e75dc00c4fbde8609442d26827bb36453f9b0a7068a5c83b8790a1",
        "bias": "99c9a779c37f6126f7e886b59239b75b4ea8a3732a039c23ff7437e066cf34cc",
        "expert_vs_crowd": "ce4a3e3e3d403b7052f802b27f1a27a7b0b8e97c2058c391cb567031b5e64630",
        "input": "b33c79c0cff5885a51e304a2a073a4d50aa8e901b4b2f20d4254aca4108e8f8f",
        "methods": "29702f496664bce9363f66080141d7258494a5f8026663effc19b5f6b5ef6577",
        "parameters": "c0a3b4951286e04deccc58d62d3a62c637f250900efd2283c56bb8f7bceb2a30",
        "questions": "c0fc3c21a300c6b046d80212675ff3e74f51b550cc785a028e9ed327fecd17a2",
        "rank_stability": "99c9a779c37f6126f7e886b59239b75b4ea8a3732a039c23ff7437e066cf34cc",
        "rankings": "99c9a779c37f6126f7e886b59239b75b4ea8a3732a039c23ff7437e066cf34cc",
        "report": "723bba8fbfc4fe499410174b352fd1864a8221ac399208a598933b43b7537152",
        "schema_version": "a51162aeeb057ca4e3df627977231de20b581f0d0d418ca3a111bc0e408ac6cc",
    },
    "options": {
        "bias_pigeonhole": "1af3e64ebf4fb960b37bb76d0c74852d836eee8461ca0f6bb4dcb7209ea830e8",
        "rankings_by_vote": "aecb67f5a8997752fab7f5edcb6f1c6969556bed415578cde35448155a951471",
        "report": "493055f0d95a7d317542d3cc1d327aa726b56109a8a19a1ba40edd9c65e600d3",
    },
    "pairwise_tone_study": {
        "annotators": "f2df128158dbc12499f2a352a8283ca15019d10c6cdccbdd6ceda3ece9f3a193",
        "bias": "c2dee1bbe0b65977ff226c611164a0df7cc036050e9950c04e6311eb95d533b2",
        "expert_vs_crowd": "7e9e79d3643d96999566dbb6022cf6a80f5af3a373def3d5b65948c1e43174c2",
        "input": "7f6d92453db61b512548bfe10deb18b608e7e9233a082bea6379f1d5c3d3e758",
        "methods": "29702f496664bce9363f66080141d7258494a5f8026663effc19b5f6b5ef6577",
        "parameters": "c0a3b4951286e04deccc58d62d3a62c637f250900efd2283c56bb8f7bceb2a30",
        "questions": "c2c2d0e59035ae809d57ea2a8ad85d7f4d2b76f40daba485291a4e19753f3507",
        "rank_stability": "366c50d847f50eab15c32f8aca789ae39075de09c295273c996a855d2db663c7",
        "rankings": "a0ae4f7a922fe8b12b89b4d36ec7ff9db6bcd234839a8a0694aa675aae303741",
        "report": "d39c17a255d320750dc549c4d3319b3baa05acafa17915361a0f8d40ef8976b5",
        "schema_version": "a51162aeeb057ca4e3df627977231de20b581f0d0d418ca3a111bc0e408ac6cc",
    },
    "single_output_tone_study": {
        "annotators": "3b5d0c71bdf909a0d9a61489e2fae1e1bdde9dd2238d1e12bcf482b813c76a87",
        "bias": "d03818f8f45b0102dcae8cd56d7e3730ade8fe5c9f84763c361efdca4514e1c7",
        "expert_vs_crowd": "2abcbf0675e543f025c1c5905d02d4142a02aced5419644969f45beb60256306",
        "input": "dc3aab96773f426f02867539cebbff7f1f5ce22c1938daa1c72c08dea025a32e",
        "methods": "29702f496664bce9363f66080141d7258494a5f8026663effc19b5f6b5ef6577",
        "parameters": "c0a3b4951286e04deccc58d62d3a62c637f250900efd2283c56bb8f7bceb2a30",
        "questions": "8cafe95201ace577a8f29890f91ea751a21d1fb75038d9b90e71b8648e417bf4",
        "rank_stability": "99c9a779c37f6126f7e886b59239b75b4ea8a3732a039c23ff7437e066cf34cc",
        "rankings": "99c9a779c37f6126f7e886b59239b75b4ea8a3732a039c23ff7437e066cf34cc",
        "report": "a07c0afcc15b96c88cd65ba9b96a5fa5620d860787173aabecdf547453826842",
        "schema_version": "a51162aeeb057ca4e3df627977231de20b581f0d0d418ca3a111bc0e408ac6cc",
    },
}


def _sha(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode("utf-8")).hexdigest()


def report_hashes(report: dict[str, Any]) -> dict[str, str]:
    hashes = {section: _sha(value) for section, value in sorted(report.items())}
    hashes["report"] = _sha(report)
    return hashes


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(case, marks=[] if case == "agreement_dataset" else [pytest.mark.slow])
        for case in sorted(CASES)
    ],
)
def test_report_is_byte_identical_to_the_recorded_one(case: str) -> None:
    assert report_hashes(CASES[case]()) == GOLDEN[case]
