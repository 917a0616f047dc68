"""Rankings and their stability on simulated votes with known true strengths.

Every calibration test runs on fixed seeds, so it is deterministic; the thresholds
leave room for the sampling noise of the seed count while still failing an interval
that is biased, too narrow or too wide. The published figures of methods.md C3 (the
weak-competitor shift, online Elo's order noise, the analytic votes-needed table) are
reproduced as they were computed there.
"""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.metrics.ranking_report import (
    Board,
    _adjacent_pairs,
    _leave_one_out,
    _weak_competitor,
    battles_from_table,
    head_to_head_votes,
    inject_weak_competitor,
    ranking_sections,
)
from analysis.metrics.rankings import (
    ELO_PER_LOGIT,
    Battles,
    RankingError,
    Resampler,
    _newton_batch,
    _online_elo,
    fit_bradley_terry,
    fit_bradley_terry_covariates,
    kendall_tau,
    pair_totals,
    ranks_of,
    to_elo,
)

TRUE_ELO = {"atlas": 1120, "borealis": 1075, "cirrus": 1065, "dune": 990, "ember": 930}


def simulate_votes(
    true_elo: dict[str, float],
    n_votes: int,
    *,
    seed: int,
    tie_rate: float = 0.08,
    n_prompts: int = 100,
    pair_weights: dict[tuple[str, str], float] | None = None,
) -> Battles:
    """Votes on random pairs (or pairs drawn by `pair_weights`); P(A beats B | no tie)
    follows Bradley–Terry on the Elo scale."""
    rng = np.random.default_rng(seed)
    names = list(true_elo)
    if pair_weights is None:
        first = rng.integers(0, len(names), n_votes)
        second = (first + rng.integers(1, len(names), n_votes)) % len(names)
        a = [names[i] for i in first]
        b = [names[j] for j in second]
    else:
        pairs = list(pair_weights)
        weights = np.array([pair_weights[p] for p in pairs], dtype=float)
        drawn = rng.choice(len(pairs), size=n_votes, p=weights / weights.sum())
        flip = rng.random(n_votes) < 0.5
        a = [pairs[k][1] if f else pairs[k][0] for k, f in zip(drawn, flip, strict=True)]
        b = [pairs[k][0] if f else pairs[k][1] for k, f in zip(drawn, flip, strict=True)]
    gap = np.array([true_elo[x] - true_elo[y] for x, y in zip(a, b, strict=True)])
    p_a = 1.0 / (1.0 + 10.0 ** (-gap / 400.0))
    tie = rng.random(n_votes) < tie_rate
    score = np.where(tie, 0.5, (rng.random(n_votes) < p_a).astype(float))
    return Battles.from_arrays(a, b, score, rng.integers(0, n_prompts, n_votes))


def centred(true_elo: dict[str, float], systems: tuple[str, ...]) -> np.ndarray:
    values = np.array([true_elo[s] for s in systems], dtype=float)
    return values - values.mean() + 1000.0


# -- the fit -------------------------------------------------------------------------------


def test_fit_recovers_the_true_strengths_with_many_votes() -> None:
    battles = simulate_votes(TRUE_ELO, 40_000, seed=1, tie_rate=0.0)
    fit = fit_bradley_terry(battles)
    assert fit.connected and not fit.warnings
    np.testing.assert_allclose(fit.ratings, centred(TRUE_ELO, battles.systems), atol=12)


def test_ties_count_as_half_a_win_to_each_side() -> None:
    # A tie between a and b is the same as one win each, at half the weight.
    tied = Battles.from_arrays(["a", "a", "b"], ["b", "c", "c"], [0.5, 1.0, 1.0])
    split = Battles.from_arrays(["a", "b", "a", "b"], ["b", "a", "c", "c"], [1.0, 1.0, 1.0, 1.0])
    fit_tied = fit_bradley_terry(tied, l2=0.1)
    fit_split = fit_bradley_terry(split, weights=np.array([0.5, 0.5, 1.0, 1.0]), l2=0.1)
    np.testing.assert_allclose(fit_tied.xi, fit_split.xi, atol=1e-8)


def test_model_standard_errors_match_the_bootstrap_spread() -> None:
    battles = simulate_votes(TRUE_ELO, 3000, seed=5)
    fit = fit_bradley_terry(battles)
    resampler = Resampler.draw(battles, n_bootstrap=400, seed=0, unit="vote")
    xi, _, _ = _newton_batch(resampler.totals(battles))
    np.testing.assert_allclose(xi.std(axis=0), fit.standard_errors(), rtol=0.2)


def test_covariate_model_recovers_a_planted_length_preference() -> None:
    rng = np.random.default_rng(3)
    n = 6000
    names = list(TRUE_ELO)
    first = rng.integers(0, 5, n)
    second = (first + rng.integers(1, 5, n)) % 5
    z = rng.normal(size=n)
    xi = np.array([TRUE_ELO[s] for s in names]) / ELO_PER_LOGIT
    p = 1 / (1 + np.exp(-(xi[first] - xi[second] + 0.4 * z)))
    score = (rng.random(n) < p).astype(float)
    battles = Battles.from_arrays(
        [names[i] for i in first], [names[j] for j in second], score, rng.integers(0, 200, n)
    )
    fit = fit_bradley_terry_covariates(battles, pd.DataFrame({"length": z}))
    assert abs(fit.gamma[0] - 0.4) < 3 * fit.gamma_se[0]
    assert fit.gamma_se[0] < 0.06
    np.testing.assert_allclose(
        to_elo(fit.xi), centred(TRUE_ELO, battles.systems), atol=4 * ELO_PER_LOGIT * 0.06
    )
    # Without the covariate the same votes give the same order: z is independent of the pair.
    plain = fit_bradley_terry(battles)
    assert list(ranks_of(plain.xi)) == list(ranks_of(fit.xi))


# -- clear messages instead of crashes ------------------------------------------------------


def test_disconnected_groups_are_named_and_still_rated() -> None:
    battles = Battles.from_arrays(
        ["a", "b", "a", "c", "d", "c"], ["b", "a", "b", "d", "c", "d"], [1, 1, 0.5, 1, 1, 0]
    )
    fit = fit_bradley_terry(battles)
    assert not fit.connected
    assert "2 groups that never met" in fit.warnings[0]
    assert "{a, b}" in fit.warnings[0] and "{c, d}" in fit.warnings[0]
    assert np.isfinite(fit.ratings).all()


def test_a_system_that_never_lost_is_reported_not_infinite() -> None:
    battles = Battles.from_arrays(["a", "a", "b", "c"], ["b", "c", "c", "b"], [1, 1, 1, 1])
    fit = fit_bradley_terry(battles)
    assert not fit.connected
    assert "'a' won every comparison" in fit.warnings[0]
    assert np.isfinite(fit.ratings).all() and fit.ratings[0] == fit.ratings.max()


def test_ties_only_rate_everyone_equal() -> None:
    battles = Battles.from_arrays(["a", "b", "c"], ["b", "c", "a"], [0.5, 0.5, 0.5])
    fit = fit_bradley_terry(battles)
    assert fit.connected
    np.testing.assert_allclose(fit.ratings, 1000.0, atol=1e-9)
    with pytest.raises(RankingError, match="not ties"):
        fit_bradley_terry(battles, drop_ties=True)


@pytest.mark.parametrize(
    ("a", "b", "score", "message"),
    [
        ([], [], [], "at least two systems"),
        (["a"], ["b"], [2.0], "must be 1"),
        (["a"], ["a"], [1.0], "with itself"),
    ],
)
def test_unrankable_votes_raise_a_clear_error(a, b, score, message) -> None:
    with pytest.raises(RankingError, match=message):
        fit_bradley_terry(Battles.from_arrays(a, b, score))


def test_report_sections_state_the_reason_when_the_graph_is_disconnected() -> None:
    table = pd.DataFrame(
        {
            "unit_id": [str(i) for i in range(8)],
            "annotator_id": ["x"] * 8,
            "question": ["preference"] * 8,
            "value": ["A", "B", "A", "tie", "A", "B", "B", "A"],
            "shown_order": [
                ("a", "b"),
                ("a", "b"),
                ("b", "a"),
                ("a", "b"),
                ("c", "d"),
                ("c", "d"),
                ("d", "c"),
                ("c", "d"),
            ],
        }
    )
    sections = ranking_sections(
        table, "preference", pool_column=None, n_bootstrap=50, seed=0, alpha=0.05
    )
    board = sections["rankings"]["leaderboards"]["overall"]
    assert board["mle_exists"] is False
    assert any("never met" in warning for warning in board["warnings"])
    json.dumps(sections)  # plain JSON all the way down


# -- calibration -------------------------------------------------------------------------------


@pytest.mark.slow
def test_bootstrap_intervals_cover_the_true_ratings_at_about_the_nominal_rate() -> None:
    covered = total = 0
    for seed in range(60):
        battles = simulate_votes(TRUE_ELO, 1500, seed=seed)
        board = Board(battles, Resampler.draw(battles, n_bootstrap=300, seed=seed), alpha=0.05)
        truth = centred(TRUE_ELO, battles.systems)
        covered += int(((board.lower <= truth) & (truth <= board.upper)).sum())
        total += len(truth)
    coverage = covered / total
    assert 0.90 <= coverage <= 0.99, coverage


def test_prompt_cluster_bootstrap_widens_when_votes_share_a_prompt_effect() -> None:
    # Each prompt favours one side by a random amount: clustered votes. Resampling
    # prompts must give wider intervals than pretending the votes were independent.
    rng = np.random.default_rng(11)
    n, n_prompts = 3000, 60
    prompt = rng.integers(0, n_prompts, n)
    effect = rng.normal(0, 1.2, n_prompts)[prompt]
    names = list(TRUE_ELO)
    first = rng.integers(0, 5, n)
    second = (first + rng.integers(1, 5, n)) % 5
    xi = np.array([TRUE_ELO[s] for s in names]) / ELO_PER_LOGIT
    # The prompt effect favours whichever system has the lower index, a shared content effect.
    sign = np.where(first < second, 1.0, -1.0)
    p = 1 / (1 + np.exp(-(xi[first] - xi[second] + sign * effect)))
    score = (rng.random(n) < p).astype(float)
    a = [names[i] for i in first]
    b = [names[j] for j in second]
    clustered = Battles.from_arrays(a, b, score, prompt)
    independent = Battles.from_arrays(a, b, score)
    wide = Board(clustered, Resampler.draw(clustered, n_bootstrap=300, seed=0), alpha=0.05)
    narrow = Board(independent, Resampler.draw(independent, n_bootstrap=300, seed=0), alpha=0.05)
    assert (wide.upper - wide.lower).mean() > 1.3 * (narrow.upper - narrow.lower).mean()


@pytest.mark.slow
def test_a_planted_near_tie_is_not_separated_while_clear_gaps_are() -> None:
    not_separated = separated_clear = clear_pairs = 0
    seeds = range(20)
    for seed in seeds:
        battles = simulate_votes(TRUE_ELO, 2000, seed=100 + seed)
        board = Board(battles, Resampler.draw(battles, n_bootstrap=300, seed=seed), alpha=0.05)
        for pair in _adjacent_pairs(board, alpha=0.05):
            names = {pair["upper"], pair["lower"]}
            if names == {"borealis", "cirrus"}:
                not_separated += not pair["separated"]
                if not pair["separated"]:
                    assert pair["verdict"].startswith("not separated")
            elif abs(TRUE_ELO[pair["upper"]] - TRUE_ELO[pair["lower"]]) >= 60:
                clear_pairs += 1
                separated_clear += pair["separated"]
    assert not_separated >= 0.85 * len(seeds)
    assert separated_clear >= 0.85 * clear_pairs


@pytest.mark.slow
def test_more_votes_needed_matches_what_more_votes_deliver() -> None:
    # The projection from 1,500 votes should land near the votes at which the gap
    # actually separates in half or more of the simulations (power 0.8 by design).
    truth = {"a": 1030.0, "b": 1000.0, "c": 950.0}
    battles = simulate_votes(truth, 1500, seed=7, tie_rate=0.0)
    board = Board(battles, Resampler.draw(battles, n_bootstrap=400, seed=0), alpha=0.05)
    pair = next(
        p for p in _adjacent_pairs(board, alpha=0.05) if {p["upper"], p["lower"]} == {"a", "b"}
    )
    if pair["separated"]:
        pytest.skip("this seed separated the pair already")
    target = len(battles) + pair["more_votes_needed"]
    separated = 0
    for seed in range(20):
        bigger = simulate_votes(truth, target, seed=500 + seed, tie_rate=0.0)
        big_board = Board(bigger, Resampler.draw(bigger, n_bootstrap=200, seed=seed), alpha=0.05)
        big_pair = next(
            p
            for p in _adjacent_pairs(big_board, alpha=0.05)
            if {p["upper"], p["lower"]} == {"a", "b"}
        )
        separated += big_pair["separated"]
    # The projection uses the estimated gap, which is noisy: check the order of magnitude.
    assert separated >= 6, (target, separated)


@pytest.mark.parametrize(("p", "votes"), [(0.52, 4904), (0.55, 783), (0.60, 194), (0.65, 85)])
def test_head_to_head_votes_reproduce_the_methods_table(p: float, votes: int) -> None:
    assert head_to_head_votes(p) == votes


# -- perturbations -------------------------------------------------------------------------------


def _three_close_systems_totals():
    # methods.md C3.5: A beats B 55%, A beats C 60%, B beats C 58%; 400 votes per pair,
    # entered as expected counts.
    battles = Battles.from_arrays(["A", "A", "B"], ["B", "C", "C"], [1.0, 1.0, 1.0])
    totals = pair_totals(battles)
    totals.games[:] = 400.0
    totals.wins[:] = [0.55 * 400, 0.60 * 400, 0.58 * 400]
    return totals


def test_a_weak_competitor_facing_one_system_leaves_the_others_exactly_unchanged() -> None:
    totals = _three_close_systems_totals()
    before, _, _ = _newton_batch(totals)
    injected = inject_weak_competitor(totals, opponents={1: (800.0, 0.9)})
    after, _, _ = _newton_batch(injected)
    # The likelihood factorises: differences among the original systems do not move.
    np.testing.assert_allclose(np.diff(after[0][:3]), np.diff(before[0]), atol=1e-8)


def test_a_weak_competitor_beating_one_system_more_than_another_swaps_them() -> None:
    totals = _three_close_systems_totals()
    before, _, _ = _newton_batch(totals)
    injected = inject_weak_competitor(totals, opponents={0: (800.0, 0.90), 1: (800.0, 0.98)})
    after, _, _ = _newton_batch(injected)
    shift = ((after[0][1] - after[0][0]) - (before[0][1] - before[0][0])) * ELO_PER_LOGIT
    assert before[0][0] > before[0][1] and after[0][1] > after[0][0]
    assert shift == pytest.approx(36, abs=6)  # methods.md: +36 Elo


def test_the_stability_report_detects_a_real_weak_competitor() -> None:
    # Real votes: W loses to A 90% and to B 98% of the time; A edges B head to head.
    rng = np.random.default_rng(4)
    rows: list[tuple[str, str, float]] = []

    def battle(x: str, y: str, p: float, n: int) -> None:
        rows.extend((x, y, float(rng.random() < p)) for _ in range(n))

    battle("A", "B", 0.55, 400)
    battle("A", "C", 0.60, 400)
    battle("B", "C", 0.58, 400)
    battle("A", "W", 0.90, 800)
    battle("B", "W", 0.98, 800)
    a, b, s = zip(*rows, strict=True)
    with_w = Battles.from_arrays(a, b, s)
    board = Board(with_w, Resampler.draw(with_w, n_bootstrap=200, seed=0), alpha=0.05)
    removing_w = next(row for row in _leave_one_out(board) if row["removed"] == "W")
    assert removing_w["max_rank_change"] >= 1 and removing_w["kendall_tau"] < 1.0

    # Without W's votes, injecting the same pattern is what the weak-competitor check does.
    keep = (np.asarray(a) != "W") & (np.asarray(b) != "W")
    without_w = with_w.subset(keep)
    clean = Board(without_w, Resampler.draw(without_w, n_bootstrap=200, seed=0), alpha=0.05)
    first_pair = _weak_competitor(clean)["results"][0]
    assert {first_pair["upper"], first_pair["lower"]} == {"A", "B"}
    assert first_pair["swapped"] is True


def test_online_elo_order_noise_matches_the_methods_simulation() -> None:
    # methods.md C3.5: 5 close models (~70 Elo spread), 3,000 votes, 200 orderings:
    # SD of rating differences ~22 at K=4, ~52 at K=16, ~78 at K=32.
    truth = {f"m{i}": 1000.0 + 17.5 * i for i in range(5)}
    battles = simulate_votes(truth, 3000, seed=2, tie_rate=0.0)
    rng = np.random.default_rng(0)
    orders = np.argsort(rng.random((200, len(battles))), axis=1)
    spreads = {}
    for k in (4.0, 16.0, 32.0):
        ratings = _online_elo(battles, orders, k=k, initial=1000.0)
        differences = ratings[:, :, None] - ratings[:, None, :]
        i, j = np.triu_indices(5, k=1)
        spreads[k] = float(differences[:, i, j].std(axis=0).mean())
    assert spreads[4.0] < spreads[16.0] < spreads[32.0]
    assert spreads[4.0] == pytest.approx(22, rel=0.35)
    assert spreads[16.0] == pytest.approx(52, rel=0.35)
    assert spreads[32.0] == pytest.approx(78, rel=0.35)
    # The mean over orderings stays close to the BT MLE.
    mean = _online_elo(battles, orders, k=4.0, initial=1000.0).mean(axis=0)
    np.testing.assert_allclose(
        mean - mean.mean(), fit_bradley_terry(battles).ratings - 1000, atol=15
    )


def test_kendall_tau_matches_scipy() -> None:
    rng = np.random.default_rng(0)
    reference = rng.normal(size=9)
    others = rng.normal(size=(20, 9))
    ours = kendall_tau(reference, others)
    theirs = [stats.kendalltau(reference, row).statistic for row in others]
    np.testing.assert_allclose(ours, theirs, atol=1e-12)


# -- the report sections ---------------------------------------------------------------------------


def _table(battles: Battles, pools: list[str] | None = None) -> pd.DataFrame:
    names = np.asarray(battles.systems)
    value = np.where(battles.score == 1, "A", np.where(battles.score == 0, "B", "tie"))
    return pd.DataFrame(
        {
            "unit_id": [str(i) for i in range(len(battles))],
            "annotator_id": [f"ann{i % 30}" for i in range(len(battles))],
            "question": "preference",
            "value": value,
            "pool": pools if pools is not None else ["crowd"] * len(battles),
            "shown_order": list(zip(names[battles.a], names[battles.b], strict=True)),
            "prompt_id": [f"p{c}" for c in battles.cluster],
        }
    )


def test_sections_rank_overall_and_per_pool_and_compare_pools() -> None:
    battles = simulate_votes(TRUE_ELO, 2400, seed=21)
    pools = ["expert" if i % 3 == 0 else "crowd" for i in range(len(battles))]
    sections = ranking_sections(
        _table(battles, pools),
        "preference",
        pool_column="pool",
        n_bootstrap=200,
        seed=0,
        alpha=0.05,
    )
    rankings, stability = sections["rankings"], sections["rank_stability"]
    assert set(rankings["leaderboards"]) == {"overall", "crowd", "expert"}
    overall = rankings["leaderboards"]["overall"]
    assert next(row["system"] for row in overall["systems"]) == "atlas"
    assert rankings["bootstrap"]["unit"] == "prompt"
    assert overall["cross_check"]["agrees"] is True
    assert sum(row["p_rank_first"] for row in overall["systems"]) == pytest.approx(1.0)
    agreement = rankings["pool_agreement"][0]
    assert agreement["pools"] == ["crowd", "expert"]
    assert agreement["ci"][0] <= agreement["kendall_tau"] <= agreement["ci"][1]
    verdicts = stability["leaderboards"]["overall"]
    assert verdicts["verdict"] in {"stable", "fragile", "unstable"}
    for pair in verdicts["adjacent_pairs"]:
        assert pair["separated"] == (pair["verdict"] == "separated")
        assert pair["separated"] == (pair["gap_ci"][0] > 0)
    # Deterministic for a seed: byte-identical JSON on recomputation.
    again = ranking_sections(
        _table(battles, pools),
        "preference",
        pool_column="pool",
        n_bootstrap=200,
        seed=0,
        alpha=0.05,
    )
    assert json.dumps(again, sort_keys=True) == json.dumps(sections, sort_keys=True)


def test_gold_units_and_votes_without_display_order_are_left_out() -> None:
    battles = simulate_votes(TRUE_ELO, 300, seed=3)
    table = _table(battles)
    table["is_gold"] = [i < 50 for i in range(len(table))]
    table.loc[60:69, "shown_order"] = None
    votes, _ = battles_from_table(table, "preference")
    assert len(votes) == len(table) - 50 - 10


def test_controlled_ranking_shows_a_planted_length_bias() -> None:
    # Longer answers win more often regardless of the system: the controlled model
    # finds a positive length coefficient.
    rng = np.random.default_rng(8)
    battles = simulate_votes(TRUE_ELO, 3000, seed=8, tie_rate=0.0)
    table = _table(battles)
    lengths_a = rng.integers(100, 1000, len(table))
    lengths_b = rng.integers(100, 1000, len(table))
    favour_a = (lengths_a - lengths_b) / (lengths_a + lengths_b)
    flip = rng.random(len(table)) < np.clip(np.abs(favour_a), 0, 1) * 0.8
    winner_is_longer = np.where(favour_a > 0, "A", "B")
    table["value"] = np.where(flip, winner_is_longer, table["value"])
    table["shown_lengths"] = list(zip(lengths_a, lengths_b, strict=True))
    sections = ranking_sections(
        table, "preference", pool_column=None, n_bootstrap=100, seed=0, alpha=0.05
    )
    controlled = sections["rankings"]["leaderboards"]["overall"]["controlled"]
    assert controlled["status"] == "computed"
    length = next(c for c in controlled["covariates"] if c["name"] == "length")
    assert length["significant"] and length["coefficient"] > 0
    assert math.isfinite(length["elo_per_sd"])


def test_votes_without_a_prompt_are_clusters_of_their_own() -> None:
    battles = Battles.from_arrays(
        ["x", "y", "x", "y"], ["y", "x", "y", "x"], [1.0, 1.0, 0.5, 0.0], ["p1", None, "p1", None]
    )
    assert list(battles.cluster) == [0, 1, 0, 2]
    resampler = Resampler.draw(battles, n_bootstrap=5, seed=0)
    totals = resampler.totals(battles)
    # Each replicate holds as many votes as its drawn clusters do: 2, 1 and 1 votes.
    counts = np.vstack(list(resampler.cluster_counts()))
    np.testing.assert_allclose(totals.games.sum(axis=1), counts @ [2.0, 1.0, 1.0])


@pytest.mark.parametrize(
    ("weights", "l2", "message"),
    [
        ([1.0, 2.0], 0.0, "one weight per vote"),
        ([1.0, -1.0, 1.0], 0.0, "not negative"),
        ([float("nan"), 1.0, 1.0], 0.0, "finite"),
        (None, -1.0, "L2 penalty"),
    ],
)
def test_bad_weights_and_penalties_are_refused(weights, l2, message) -> None:
    battles = Battles.from_arrays(["x", "y", "x"], ["y", "x", "y"], [1.0, 1.0, 0.0])
    with pytest.raises(RankingError, match=message):
        fit_bradley_terry(battles, weights=None if weights is None else np.asarray(weights), l2=l2)


def test_votes_needed_curve_firms_up_with_votes() -> None:
    from analysis.metrics.ranking_report import _votes_needed

    battles = simulate_votes(TRUE_ELO, 2000, seed=31)
    board = Board(battles, Resampler.draw(battles, n_bootstrap=200, seed=0), alpha=0.05)
    curve = _votes_needed(board, seed=0, n_replicates=50, alpha=0.05)
    rows = curve["curve"]
    assert [row["fraction"] for row in rows] == [round(0.1 * i, 1) for i in range(1, 11)]
    assert rows[-1]["votes"] == len(battles) and rows[-1]["mean_kendall_tau"] == 1.0
    widths = [row["median_ci_half_width"] for row in rows]
    assert all(a > b for a, b in itertools.pairwise(widths))
    # Half-widths shrink as 1/sqrt(n): a tenth of the votes, about sqrt(10) times wider.
    assert widths[0] / widths[-1] == pytest.approx(math.sqrt(10), rel=0.15)
    assert rows[0]["mean_kendall_tau"] < rows[-1]["mean_kendall_tau"]
    assert curve["votes_for_tau_0_9"] is not None
    assert curve["smallest_resolvable_gap"] > 0


def test_vote_and_prompt_replicates_keep_every_vote_on_average() -> None:
    battles = simulate_votes(TRUE_ELO, 1200, seed=9)
    observed = pair_totals(battles)
    for unit in ("vote", "prompt"):
        totals = Resampler.draw(battles, n_bootstrap=400, seed=1, unit=unit).totals(battles)
        assert totals.games.shape == (400, len(observed.games))
        # Bootstrap replicates are unbiased for the observed pair totals.
        np.testing.assert_allclose(totals.games.mean(axis=0), observed.games, rtol=0.1)
        np.testing.assert_allclose(totals.wins.mean(axis=0), observed.wins, rtol=0.12)
        if unit == "vote":
            np.testing.assert_allclose(totals.games.sum(axis=1), len(battles))
    # The same seed redraws the same replicates.
    again = Resampler.draw(battles, n_bootstrap=400, seed=1).totals(battles)
    np.testing.assert_array_equal(again.games, totals.games)
