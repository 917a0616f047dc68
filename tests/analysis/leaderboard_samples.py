"""Report `rankings`/`rank_stability` sections shaped like analysis.metrics.ranking_report's
output, built by hand for any number of systems, so the leaderboard page and figures
can be tested without a database of votes (one test also runs the real pipeline); and
the task and stored report the page tests hang them on."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import orjson

from analysis.models import AgreementReport, ReportSource, ReportStatus
from analysis.services import report_parameters
from annotation.models import Output, Prompt, System, TaskMode
from annotation.services.tasks import task_create
from tests.annotation.conftest import make_guideline

NOT_APPLICABLE = {
    "status": "not_applicable",
    "reason": "Rankings need pairwise-preference votes whose display order was recorded "
    "(a pairwise task).",
}


def _leaderboard(names: Sequence[str], *, shift: int, controlled: bool) -> dict[str, Any]:
    m = len(names)
    order = list(names[shift:]) + list(names[:shift])
    ratings = [1000 + 60 * (m / 2 - i) for i in range(m)]
    systems = []
    for i, name in enumerate(order):
        probabilities = [0.0] * m
        probabilities[i] = 0.8
        probabilities[min(i + 1, m - 1)] += 0.2
        systems.append(
            {
                "system": name,
                "rating": ratings[i],
                "ci": [ratings[i] - 35, ratings[i] + 35],
                "rank": i + 1,
                "rank_interval": [max(1, i), min(m, i + 2)],
                "tie_group": i // 2 + 1,
                "median_rank": float(i + 1),
                "bootstrap_rank_ci": [max(1, i), min(m, i + 2)],
                "p_rank_first": 0.8 if i == 0 else (0.2 if i == 1 else 0.0),
                "p_top": {"1": 0.8 if i == 0 else 0.0},
                "rank_probabilities": probabilities,
                "votes": 100 + i,
                "win_rate": round(0.7 - 0.4 * i / max(m - 1, 1), 4),
                "online_elo": {"mean": ratings[i] + 2.5, "sd": 11.5},
            }
        )
    win_rate = [
        [None if i == j else round(1 / (1 + math.exp((i - j) / 3)), 4) for j in range(m)]
        for i in range(m)
    ]
    # One pair that never met: its cells are null, as the metrics write them.
    if m > 3:
        win_rate[0][m - 1] = win_rate[m - 1][0] = None
    battles = [[0 if i == j else 40 + (i + j) % 7 for j in range(m)] for i in range(m)]
    board: dict[str, Any] = {
        "status": "computed",
        "n_votes": 50 * m,
        "n_ties": 7,
        "n_systems": m,
        "n_prompts": 40,
        "n_annotators": 12,
        "mle_exists": True,
        "warnings": [
            "2 bootstrap replicates had no MLE and were fitted with the small L2 penalty (0.01)."
        ],
        "systems": systems,
        "tie_groups": [order[k : k + 2] for k in range(0, m, 2)],
        "pairs": {"systems": order, "win_rate": win_rate, "battles": battles, "wins": battles},
        "online_elo": {
            "k": 4.0,
            "initial": 1000.0,
            "n_orderings": 100,
            "note": "Order-dependent; mean and SD over random orderings, for comparison only.",
        },
        "cross_check": {
            "status": "computed",
            "library": "evalica 0.4.2",
            "max_abs_difference_elo": 0.0,
            "agrees": True,
        },
    }
    if controlled:
        moved = list(range(m))
        if m >= 3:
            moved[0], moved[2] = moved[2], moved[0]
        board["controlled"] = {
            "status": "computed",
            "model": "logit P(A wins) = xi_A - xi_B + z'gamma, ties as y = 1/2; cluster-robust "
            "(by prompt) Wald intervals",
            "converged": True,
            "covariates": [
                {
                    "name": "length",
                    "coefficient": 0.2573,
                    "ci": [0.1211, 0.3357],
                    "elo_per_sd": 44.7,
                    "significant": True,
                },
                {
                    "name": "tone (assertive)",
                    "coefficient": -0.0766,
                    "ci": [-0.163, 0.0098],
                    "elo_per_sd": -13.31,
                    "significant": False,
                },
            ],
            "systems": [
                {
                    "system": order[i],
                    "rating": ratings[moved.index(i)] + 1.0,
                    "ci": [ratings[moved.index(i)] - 40, ratings[moved.index(i)] + 40],
                    "rank": moved.index(i) + 1,
                    "raw_rank": i + 1,
                    "rank_change": i - moved.index(i),
                }
                for i in sorted(range(m), key=moved.index)
            ],
            "max_rank_change": 2 if m >= 3 else 0,
        }
    else:
        board["controlled"] = {
            "status": "not_applicable",
            "reason": "The votes carry no length, tone or known-error differences to control for.",
        }
    return board


def _stability(names: Sequence[str], *, shift: int, verdict: str) -> dict[str, Any]:
    m = len(names)
    order = list(names[shift:]) + list(names[:shift])
    adjacent = []
    for i in range(m - 1):
        separated = i % 2 == 1
        adjacent.append(
            {
                "upper": order[i],
                "lower": order[i + 1],
                "elo_gap": 60.0,
                "gap_ci": [-5.5, 120.5],
                "p_swap": 0.01 if separated else 0.151,
                "separated": separated,
                "direct_votes": 45,
                "direct_win_rate": 0.5684,
                "more_votes_needed": None if separated else 2599,
                "head_to_head_votes_needed": 675,
                "verdict": "separated"
                if separated
                else "not separated, about 2,600 more votes needed",
            }
        )
    return {
        "status": "computed",
        "verdict": verdict,
        "verdict_reasons": ["every stability criterion met"]
        if verdict == "stable"
        else [f"{order[0]} and {order[1]} (top 3) swap in 39% of bootstrap replicates"],
        "tie_groups": [order[k : k + 2] for k in range(0, m, 2)],
        "kendall_tau": {
            "mean": 0.9723,
            "p05": 0.8667,
            "mean_between_replicates": 0.9539,
            "histogram": {
                "edges": [round(-1 + 0.1 * k, 1) for k in range(21)],
                "counts": [0] * 14 + [1, 0, 0, 4, 196, 799],
            },
        },
        "adjacent_pairs": adjacent,
        "unresolved_pairs": [
            {"upper": order[0], "lower": order[1], "p_swap": 0.151},
        ],
        "method_sensitivity": {
            "kendall_tau_bt_vs_online_elo": 1.0,
            "online_elo_by_k": {
                "4": {
                    "kendall_tau_vs_bt": 1.0,
                    "mean_sd": 12.1,
                    "max_abs_mean_difference_from_bt": 1.82,
                },
                "16": {
                    "kendall_tau_vs_bt": 1.0,
                    "mean_sd": 31.29,
                    "max_abs_mean_difference_from_bt": 11.82,
                },
            },
            "kendall_tau_ties_dropped_vs_half": 1.0,
        },
        "leave_one_out": []
        if m < 3
        else [
            {
                "removed": name,
                "kendall_tau": 1.0 - 0.05 * (k % 5),
                "max_rank_change": k % 2,
                "mle_exists": True,
            }
            for k, name in enumerate(order)
        ]
        + [
            {
                "removed": "ghost",
                "kendall_tau": None,
                "max_rank_change": None,
                "reason": "the rest never met",
            }
        ],
        "weak_competitor": {
            "scenario": "A weak system W is added for each adjacent pair (upper, lower) in turn.",
            "results": [
                {
                    "upper": order[i],
                    "lower": order[i + 1],
                    "votes_against_weak": 300,
                    "gap_before": 60.0,
                    "gap_after": -11.59 if i == 0 else 20.0,
                    "swapped": i == 0,
                    "kendall_tau": 0.8667,
                    "rank_changes": {order[i]: -1, order[i + 1]: 1} if i == 0 else {},
                    "max_rank_change_top5": 1 if i == 0 else 0,
                }
                for i in range(min(5, m - 1))
            ],
        },
        "intransitive_triads": {
            "count": 1 if m >= 3 else 0,
            "significant": 0,
            "triads": [
                {
                    "systems": list(order[:3]),
                    "win_rates": [0.55, 0.52, 0.51],
                    "p_values": [0.3, 0.6, 0.8],
                    "significant": False,
                }
            ]
            if m >= 3
            else [],
        },
        "votes_needed": {
            "curve": [
                {
                    "fraction": round(0.1 * k, 1),
                    "votes": 50 * m * k // 10,
                    "mean_kendall_tau": round(0.7 + 0.03 * k, 4),
                    "median_ci_half_width": round(100 / math.sqrt(k), 2),
                }
                for k in range(1, 11)
            ]
            + [
                {
                    "fraction": 1.1,
                    "votes": None,
                    "mean_kendall_tau": None,
                    "median_ci_half_width": None,
                }
            ],
            "votes_for_tau_0_9": 35 * m,
            "smallest_resolvable_gap": 36.78,
            "note": "Subsamples of the votes, stratified by pair.",
        },
    }


def ranking_sample(
    names: Sequence[str],
    *,
    pools: Sequence[str] = ("crowd", "expert"),
    controlled: bool = True,
) -> dict[str, Any]:
    """The two report sections for `names`: an overall board and one per pool (each
    pool's order rotated so a test can tell the boards apart)."""
    leaderboards = {"overall": _leaderboard(names, shift=0, controlled=controlled)}
    stabilities = {"overall": _stability(names, shift=0, verdict="stable")}
    for k, pool in enumerate(pools, start=1):
        leaderboards[pool] = _leaderboard(names, shift=k % len(names), controlled=controlled)
        stabilities[pool] = _stability(names, shift=k % len(names), verdict="unstable")
    return {
        "rankings": {
            "status": "computed",
            "question": "preference",
            "model": "Bradley–Terry maximum likelihood, ties as half a win",
            "scale": {"kind": "elo", "centre": 1000.0, "elo_per_logit": 173.7178},
            "bootstrap": {"n": 1000, "unit": "prompt", "confidence_level": 0.95, "seed": 0},
            "pool_column": "pool" if pools else None,
            "leaderboards": leaderboards,
            "pool_agreement": [
                {
                    "pools": [pools[0], pools[1]],
                    "systems": len(names),
                    "kendall_tau": 0.8667,
                    "ci": [0.4667, 1.0],
                }
            ]
            if len(pools) >= 2
            else [],
        },
        "rank_stability": {"status": "computed", "leaderboards": stabilities},
    }


def not_applicable_sections() -> dict[str, Any]:
    return {"rankings": dict(NOT_APPLICABLE), "rank_stability": dict(NOT_APPLICABLE)}


# -- database helpers ---------------------------------------------------------------------


def _outputs(project) -> None:
    """Two prompts answered by two systems: the least a task can be cut into units from."""
    for i in range(2):
        system, _ = System.objects.get_or_create(project=project, name=f"sys-{i}")
        for j in range(2):
            prompt, _ = Prompt.objects.get_or_create(
                project=project, external_id=f"p{j}", defaults={"text": f"Question {j}?"}
            )
            Output.objects.get_or_create(
                prompt=prompt, system=system, defaults={"text": f"Answer {j}-{i}."}
            )


def make_task(project_roles, *, mode=TaskMode.PAIRWISE, slug="arena"):
    """A task of `project_roles.project` (pairwise unless told), ready for reports."""
    _outputs(project_roles.project)
    version = make_guideline(
        project=project_roles.project, lead=project_roles.lead, mode=mode, name=f"Guide {slug}"
    )
    return task_create(
        actor=project_roles.lead,
        project=project_roles.project,
        title=f"Arena {slug}",
        guideline_version=version,
        mode=mode,
        slug=slug,
    )


def stored_report(project, *, task=None, sections=None, status=ReportStatus.DONE):
    """A finished report as the job would store it, with the given ranking sections."""
    result = {"schema_version": 1, "questions": {}, "annotators": [], **(sections or {})}
    return AgreementReport.objects.create(
        project=project,
        source_kind=ReportSource.TASK,
        source_ref=task.slug if task is not None else "imported",
        parameters=report_parameters({"n_bootstrap": 1000}),
        platform_version="test",
        status=status,
        result_json=orjson.dumps(result, option=orjson.OPT_SORT_KEYS).decode()
        if status == ReportStatus.DONE
        else "",
    )
