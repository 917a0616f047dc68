"""A study shaped like a published crowd-plus-expert one: the report finds what was planted.

The synthetic bundle of ``analysis.simulation_bundle`` (1,500 outputs in five tone
conditions, planted factual errors, 3-8 crowd ratings per output from 400 workers, one
expert label per output on a 300-output subset) goes through the bundle's own parsing and
loader (``bundle_table``, as ``dataset_import`` builds it, without the database), then
through the report's bias and expert-vs-crowd functions. Over several seeds the per-tone
hit rates and false alarms (against the planted errors) and the crowd's under-reporting
(against the expert labels) lie within their intervals about as often as a 95% interval
should; with a handful of outputs per tone the report says "insufficient data" and claims
nothing.
"""

from __future__ import annotations

import tempfile
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.importing import parse_annotations_file
from analysis.importing_bundle import check_bundle, parse_annotators_file, parse_units_file
from analysis.loaders import bundle_table, report_questions
from analysis.metrics.bias import bias_report, stable_rng
from analysis.metrics.expert_vs_crowd import detection_against_experts, expert_vs_crowd_report
from analysis.services import _bundle_design, _raw_columns
from analysis.simulation_bundle import (
    ERROR_FLAG,
    TONES,
    BundleConfig,
    SyntheticBundle,
    generate_study,
    write_bundle,
)

B, PERMS = 200, 200
SEEDS = range(11, 17)
ROLES = {"error_flag": ERROR_FLAG}
PUBLISHED = BundleConfig()
# At most 6 outputs per tone, so no tone reaches 5 with planted errors (with this seed).
TINY = BundleConfig(n_prompts=6, n_crowd=40, expert_outputs=5)


def long_table(study: SyntheticBundle, directory: Path) -> tuple[pd.DataFrame, dict]:
    """The bundle as the import builds its table: files written, parsed, checked, loaded."""
    paths = write_bundle(study, directory, fmt="csv")
    with paths.annotations.open("rb") as stream:
        parsed = parse_annotations_file(stream, "csv")
    with paths.units.open("rb") as stream:
        units = parse_units_file(stream, "csv")
    with paths.annotators.open("rb") as stream:
        annotators = parse_annotators_file(stream, "csv")
    errors = parsed.errors + units.errors + annotators.errors
    errors += check_bundle(parsed, units, annotators)
    assert not errors, errors[:3]
    table = bundle_table(
        _raw_columns(parsed.rows), parsed.questions, _bundle_design(units, annotators)
    )
    return table, parsed.questions


def _flag_only(study: SyntheticBundle) -> SyntheticBundle:
    """The study with its factual-error flag alone (the other answers do not enter the
    checks tested here and would only slow the test)."""
    annotations = study.annotations[study.annotations["question"] == ERROR_FLAG]
    declarations = {ERROR_FLAG: study.declarations[ERROR_FLAG]}
    return SyntheticBundle(
        study.config, annotations, study.units, study.annotators, declarations, study.truth
    )


@cache
def _run(config_name: str, seed: int) -> tuple[dict, dict, dict]:
    config = {"published": PUBLISHED, "tiny": TINY}[config_name]
    study = generate_study(config, rng=np.random.default_rng(seed))
    with tempfile.TemporaryDirectory() as tmp:
        table, _ = long_table(_flag_only(study), Path(tmp))
    bias = bias_report(
        table,
        ROLES,
        pool_column="pool_kind",
        seed=seed,
        n_bootstrap=B,
        n_permutations=PERMS,
        include_mixed_model=False,
    )
    against = detection_against_experts(
        table,
        question=ERROR_FLAG,
        spec={"level": "nominal", "binary": True},
        rng=stable_rng(seed, "error_flag", "against_experts"),
        pool_column="pool_kind",
        n_bootstrap=B,
    )
    return bias, against, study.truth


def _majority(p: float, config: BundleConfig) -> float:
    """P(more than half of k independent flags), averaged over k uniform on the range."""
    low, high = config.crowd_ratings
    return float(np.mean([stats.binom.sf(k // 2, k, p) for k in range(low, high + 1)]))


def under_reporting_truth(truth: dict, config: BundleConfig) -> dict[str, float]:
    """Expert share of erroneous outputs minus the crowd majority's, per tone: every tone
    has planted errors with the same probability (the rewrites copy the baseline's)."""
    pi = config.error_probability
    expert = pi * config.expert_hit_rate + (1 - pi) * config.expert_false_alarm_rate
    return {
        t: expert
        - pi * _majority(truth["crowd_hit_rate"][t], config)
        - (1 - pi) * _majority(truth["crowd_false_alarm_rate"][t], config)
        for t in TONES
    }


def _covered(block: dict, truth: float) -> bool:
    return block["ci_low"] <= truth <= block["ci_high"]


@pytest.mark.slow
def test_planted_rates_and_under_reporting_are_within_their_intervals():
    hits, false_alarms, under = [], [], []
    for seed in SEEDS:
        bias, against, truth = _run("published", seed)
        detection = bias["pools"]["crowd"]["checks"]["error_detection_by_tone"]
        assert detection["defined"] and set(detection["by_tone"]) == set(TONES)
        assert len(detection["contrasts"]) == 10
        ur_truth = under_reporting_truth(truth, PUBLISHED)
        for tone in TONES:
            block = detection["by_tone"][tone]
            low, high = block["hit_rate_ci"]
            hits.append(low <= truth["crowd_hit_rate"][tone] <= high)
            low, high = block["false_alarm_rate_ci"]
            false_alarms.append(low <= truth["crowd_false_alarm_rate"][tone] <= high)
            against_tone = against["by_tone"][tone]
            assert against_tone["defined"], against_tone.get("reason")
            under.append(_covered(against_tone["under_reporting"], ur_truth[tone]))
    # 6 seeds x 5 tones at a nominal 95% each.
    for name, covered in (("hit rate", hits), ("false alarms", false_alarms), ("UR", under)):
        assert np.mean(covered) >= 0.8, (name, np.mean(covered))


@pytest.mark.slow
def test_the_planted_tone_effect_on_detection_is_found():
    bias, against, _ = _run("published", SEEDS[0])
    detection = bias["pools"]["crowd"]["checks"]["error_detection_by_tone"]
    # Hit rate 0.40 assertive vs 0.65 hedged, on ~135 known-error outputs per tone.
    assert "tone_masks_errors" in detection["flags"]
    assert detection["flagged"] is True
    assert detection["ci_low"] > 0
    # The crowd misses more errors the experts find in assertive answers than in hedged.
    gap = against["tone_gap"]["under_reporting_gap"]
    assert gap["estimate"] > 0
    assert against["by_tone"]["assertive"]["under_reporting"]["estimate"] > 0.1


def test_tiny_per_tone_counts_say_insufficient_data():
    bias, against, truth = _run("tiny", 3)
    assert max(truth["outputs_with_errors_per_tone"].values()) < 5
    for pool in ("crowd", "expert"):
        detection = bias["pools"][pool]["checks"]["error_detection_by_tone"]
        assert detection["defined"] is False, pool
        assert detection["flags"] == ["insufficient_data"] and detection["flagged"] is False
        assert detection["verdict"].startswith("not computed: too few outputs with known errors")
    assert all(f["flags"] == ["insufficient_data"] for f in bias["flagged"])
    for tone in TONES:
        block = against["by_tone"][tone]
        assert block["defined"] is False and block["insufficient_data"] is True
        assert "need at least 5" in block["reason"]


@pytest.mark.slow
def test_the_report_sections_carry_these_numbers(tmp_path):
    """The full report composition (every question, as the services run it) gives the
    numbers the coverage test checks."""
    seed = SEEDS[0]
    study = generate_study(PUBLISHED, rng=np.random.default_rng(seed))
    table, questions = long_table(study, tmp_path / "full")
    roles = {spec["role"]: key for key, spec in questions.items() if spec.get("role")}
    specs = report_questions(questions)
    role_specs = {role: specs[key] for role, key in roles.items()}
    common = {"pool_column": "pool_kind", "seed": seed, "n_bootstrap": B}
    bias = bias_report(table, roles, n_permutations=PERMS, include_mixed_model=False, **common)
    section = expert_vs_crowd_report(
        table, {"error_flag": ERROR_FLAG}, specs=role_specs, bias_section=bias, **common
    )
    flag = section["questions"]["error_flag"]
    assert flag["reference"]["reliability"].startswith("unknown, single expert")
    assert flag["reference"]["n_units_with_reference"] == PUBLISHED.expert_outputs
    for block in ("cross_pool", "crowd_size_curve", "crowd_size_curve_injected"):
        assert flag[block]["defined"] is True, (block, flag[block].get("reason"))
    expected_bias, expected_against, _ = _run("published", seed)
    assert flag["detection_against_experts"] == expected_against
    crowd = bias["pools"]["crowd"]["checks"]["error_detection_by_tone"]
    expected = expected_bias["pools"]["crowd"]["checks"]["error_detection_by_tone"]
    assert crowd["by_tone"] == expected["by_tone"]
