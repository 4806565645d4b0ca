"""Statistics over seeds and the convergence criterion, on numbers worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from pipeline.convergence import tail_trend, tolerance
from pipeline.convergence import mark_convergence
from pipeline.records import EstimateVsW1, EvalRecord, SampleScores, SnapshotW1
from pipeline.seedstats import (Comparison, Paired, compare_family, holm, min_detectable_difference, paired_test,
                                power_of, spread)
from pipeline.train import snapshot_steps


def test_spread_is_mean_and_sample_std_of_the_finite_values():
    sp = spread([1.0, 2.0, 3.0, None, float("nan")])
    assert (sp.mean, sp.std, sp.n) == (2.0, 1.0, 3)  # sample std: sqrt(((1)^2 + 0 + 1^2) / 2) = 1
    assert spread([5.0]).std == 0.0 and spread([]).n == 0


def test_paired_t_test_on_known_differences():
    # differences 1, 2, 3: mean 2, sd 1, t = 2 / (1 / sqrt 3) = 3.4641, 2 df: two-sided p = 0.0742
    p = paired_test({0: 2.0, 1: 4.0, 2: 6.0}, {0: 1.0, 1: 2.0, 2: 3.0})
    assert p.n == 3 and p.mean_diff == 2.0 and p.std_diff == 1.0
    assert p.t == pytest.approx(2 * math.sqrt(3)) and p.p == pytest.approx(0.0742, abs=1e-4)
    assert not p.separates(0.05) and p.separates(0.1)
    # only the seeds both have (a diverged run has None) are paired
    assert paired_test({0: 1.0, 1: None, 2: 3.0}, {0: 0.0, 1: 5.0, 2: 1.0}).n == 2
    # equal differences (up to rounding): no test, so no verdict
    same = paired_test({0: 0.2, 1: 0.25, 2: 0.15}, {0: 0.7, 1: 0.75, 2: 0.65})
    assert same.p is None and not same.separates(0.05)



def test_paired_confidence_interval_of_the_mean_difference():
    # differences 1, 2, 3: mean 2, sd 1; t_{0.975, 2} = 4.302653, so 2 -/+ 4.302653 / sqrt 3 = 2 -/+ 2.484138
    p = paired_test({0: 2.0, 1: 4.0, 2: 6.0}, {0: 1.0, 1: 2.0, 2: 3.0})
    assert p.level == 0.95
    assert (p.ci_low, p.ci_high) == (pytest.approx(2 - 2.484138, abs=1e-6), pytest.approx(2 + 2.484138, abs=1e-6))
    # at 90 %: t_{0.95, 2} = 2.919986, half width 1.685855; p = 0.074 < 0.10, so the interval leaves out 0
    p90 = paired_test({0: 2.0, 1: 4.0, 2: 6.0}, {0: 1.0, 1: 2.0, 2: 3.0}, level=0.90)
    assert (p90.ci_low, p90.ci_high) == (pytest.approx(2 - 1.685855, abs=1e-6), pytest.approx(2 + 1.685855, abs=1e-6))
    assert p90.p == p.p and p90.separates(0.10) and p90.ci_low > 0 > p.ci_low
    # undefined test, undefined interval: one pair, or every difference equal
    assert paired_test({0: 1.0}, {0: 0.0}).ci_low is None
    same = paired_test({0: 0.2, 1: 0.25, 2: 0.15}, {0: 0.7, 1: 0.75, 2: 0.65})
    assert same.ci_low is None and same.ci_high is None
    # the fields added have defaults: the old five-field constructor still works
    old = Paired(1.0, 0.5, 3, 2.0, 0.1)
    assert old.ci_low is None and old.separates(0.2)
    with pytest.raises(ValueError):
        paired_test({0: 1.0}, {0: 0.0}, level=1.0)


def test_holm_adjusts_step_down_in_the_input_order():
    # sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04 -> running max 0.02, 0.03, 0.06, 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    # None is no test: kept in place and not counted, so m = 2 here
    assert holm([None, 0.02, 0.5, None]) == [None, pytest.approx(0.04), pytest.approx(0.5), None]
    assert holm([0.6, 0.7]) == [1.0, 1.0]  # 2 x 0.6 caps at 1, and the step-down max carries it on
    assert holm([0.01]) == [0.01] and holm([]) == [] and holm([None]) == [None]


def test_power_of_the_paired_t_test():
    assert power_of(5, 0.0) == pytest.approx(0.05)  # no effect: the test's own level
    assert power_of(1, 1.0) is None and power_of(5, float("nan")) is None
    assert power_of(8, -0.7) == power_of(8, 0.7)  # two-sided: the sign does not matter
    # large n: the normal approximation Phi(d sqrt(n) - z) + Phi(-d sqrt(n) - z), z = z_{0.975} = 1.959964
    z, d, n = 1.959964, 0.06, 2000
    normal = stats.norm.cdf(d * math.sqrt(n) - z) + stats.norm.cdf(-d * math.sqrt(n) - z)
    assert normal == pytest.approx(0.7653, abs=1e-4) and power_of(n, d) == pytest.approx(normal, rel=2e-3)


def _simulated_power(n: int, delta: float, t_crit: float, draws: int = 200_000) -> float:
    """Share of simulated paired t-tests (normal differences, sd 1, mean delta) with |t| > t_crit."""
    d = np.random.default_rng(20240607).normal(delta, 1.0, size=(draws, n))
    t = d.mean(axis=1) / (d.std(axis=1, ddof=1) / math.sqrt(n))
    return float(np.mean(np.abs(t) > t_crit))


def test_min_detectable_difference_checked_by_simulation_at_three_seeds():
    mdd = min_detectable_difference(1.0, 3)
    assert mdd == pytest.approx(3.2640, abs=1e-4)
    assert power_of(3, mdd) == pytest.approx(0.8)
    # 200 000 simulated tests at n = 3 (|t| > t_{0.975, 2} = 4.302653): the power is 0.8 at the mdd
    # (Monte Carlo SE 0.0009), and 5 % either side of it is visibly below or above
    assert _simulated_power(3, mdd, 4.302653) == pytest.approx(0.8, abs=0.005)
    assert _simulated_power(3, 0.95 * mdd, 4.302653) < 0.79 < 0.81 < _simulated_power(3, 1.05 * mdd, 4.302653)
    assert min_detectable_difference(0.5, 3) == pytest.approx(0.5 * mdd)  # in the units of sd


def test_min_detectable_difference_tends_to_the_normal_formula_and_is_monotone():
    # (z_{1 - alpha / 2m} + z_power) sd / sqrt(n): 2.801585 at alpha 0.05, m 1; (2.393980 + 0.841621) at m 3
    assert min_detectable_difference(1.0, 2000) == pytest.approx(2.801585 / math.sqrt(2000), rel=0.01)
    assert min_detectable_difference(2.0, 2000, m=3) == pytest.approx(2 * 3.235601 / math.sqrt(2000), rel=0.01)
    by_n = [min_detectable_difference(1.0, n) for n in range(2, 31)]
    assert all(a > b for a, b in zip(by_n, by_n[1:]))
    by_m = [min_detectable_difference(1.0, 5, m=m) for m in range(1, 6)]
    assert all(a < b for a, b in zip(by_m, by_m[1:]))
    assert min_detectable_difference(1.0, 5, power=0.9) > min_detectable_difference(1.0, 5)
    for sd, n in [(1.0, 1), (0.0, 5), (-1.0, 5), (float("nan"), 5), (float("inf"), 5)]:
        assert min_detectable_difference(sd, n) is None
    with pytest.raises(ValueError):
        min_detectable_difference(1.0, 5, alpha=0.05, power=0.01)


def _family() -> dict[str, dict[int, float | None]]:
    return {
        "b": {0: 11.0, 1: 13.0, 2: 15.0},  # a - b = -10, -11, -12: mean -11, sd 1 -> plainly worse
        "a": {0: 1.0, 1: 2.0, 2: 3.0},  # mean 2: the lowest
        "c": {0: 2.0, 1: 1.0, 2: 3.5},  # a - c = -1, 1, -0.5: mean -1/6, sd sqrt(39) / 6 -> not told apart
        "d": {0: None, 1: float("nan"), 2: None},  # never a finite value: not ranked
        "e": {0: 9.0, 7: 9.0},  # pairs with a at seed 0 only: no test
    }


def test_compare_family_best_against_every_other_with_holm():
    out = compare_family(_family(), lower_is_better=True, alpha=0.05)
    assert [(c.best, c.other) for c in out] == [("a", "b"), ("a", "c"), ("a", "d"), ("a", "e")]
    b, c, d, e = out
    assert isinstance(b, Comparison)
    p_b = 2 * stats.t.sf(11 * math.sqrt(3), 2)  # t = -11 / (1 / sqrt 3)
    t_c = (-1 / 6) / (math.sqrt(39) / 6 / math.sqrt(3))
    p_c = 2 * stats.t.sf(abs(t_c), 2)
    assert b.p == pytest.approx(p_b) and c.p == pytest.approx(p_c) and p_b < 0.003 and p_c > 0.8
    # two tests in the family (d and e have none): Holm multiplies the smaller by 2, the larger by 1
    assert b.p_holm == pytest.approx(2 * p_b) and c.p_holm == pytest.approx(p_c)
    assert b.separated and not c.separated
    assert b.mean_diff == pytest.approx(-11) and b.n == 3
    assert (b.ci_low, b.ci_high) == (pytest.approx(-11 - 2.484138, abs=1e-6), pytest.approx(-11 + 2.484138, abs=1e-6))
    assert c.ci_low < 0 < c.ci_high
    # the smallest difference the family resolves at alpha / 2 with power 0.8, in each pair's own sd
    assert b.mdd == pytest.approx(min_detectable_difference(1.0, 3, 0.05, 0.8, 2))
    assert c.mdd == pytest.approx(math.sqrt(39) / 6 * b.mdd) and b.mdd > min_detectable_difference(1.0, 3)
    assert d.n == 0 and d.p is None and d.p_holm is None and not d.separated and d.mdd is None
    assert math.isnan(d.mean_diff) and d.ci_low is None
    assert e.n == 1 and e.mean_diff == -8.0 and e.p is None and not e.separated and e.mdd is None


def test_compare_family_higher_is_better_and_edge_cases():
    flipped = {m: {s: (None if v is None else -v) for s, v in seeds.items()} for m, seeds in _family().items()}
    low, high = compare_family(_family(), True, 0.05), compare_family(flipped, False, 0.05)
    assert [c.best for c in high] == ["a"] * 4
    assert [c.p for c in high] == [c.p for c in low] and high[0].mean_diff == pytest.approx(11)
    assert compare_family({}, True, 0.05) == [] and compare_family({"x": {0: None}}, True, 0.05) == []
    assert compare_family({"x": {0: 1.0, 1: 2.0}}, True, 0.05) == []  # nobody to compare with
    # a tie in the mean goes to the first model in the dict
    tie = compare_family({"p": {0: 1.0, 1: 3.0}, "q": {0: 3.0, 1: 1.0}}, True, 0.05)
    assert [(c.best, c.other) for c in tie] == [("p", "q")]


def test_tail_trend_fits_a_line_over_the_last_third():
    steps = [10, 100, 600, 700, 800, 900]
    w1 = [9.0, 5.0, 1.0, 0.9, 0.8, 0.7]  # in [600, 900]: slope -0.001 per step, window 300 steps
    t = tail_trend(steps, w1, 900)
    assert t.points == 4 and t.change == pytest.approx(0.3) and not t.rising
    assert tail_trend(steps, [9.0, 5.0, 0.7, 0.8, 0.9, 1.0], 900).rising  # the same change, getting worse
    # steps 600..900: Sxx = 150^2 + 50^2 + 50^2 + 150^2 = 50000; SE of the change per unit sd = 300 / sqrt(50000)
    assert t.se_per_sd == pytest.approx(300 / math.sqrt(50_000))
    assert tail_trend([10, 850, 900], [1.0, 0.5, 0.4], 900) is None  # 2 points in the window: no fit


def test_tolerance_is_the_robust_seed_spread_or_a_tenth_of_the_way_to_the_floor():
    assert tolerance([1.0, 2.0, 3.0], 0.1, 0.0) == pytest.approx(1.4826)  # MAD 1 > 0.1 * (2 - 0)
    assert tolerance([1.7, 1.7, 1.7], 0.1, 1.3) == pytest.approx(0.04)  # 0.1 * (1.7 - 1.3), not 0.1 * 1.7
    # one collapsed seed does not widen it: median 0.15, MAD 0.02 -> 0.0297
    assert tolerance([0.13, 0.15, 0.69], 0.1, 0.05) == pytest.approx(1.4826 * 0.02)
    assert tolerance([0.5, 0.5], 0.1, 0.6) == 0.0  # at the floor: any trend is too much
    assert math.isnan(tolerance([float("nan")], 0.1, 0.0))


def _run(seed: int, w1: list[float], status: str = "ok", noise_sd: float | None = None) -> EvalRecord:
    steps = [600, 700, 800, 900]
    return EvalRecord(model="gan", dataset="ring8", kind="points", seed=seed, status=status, message="",
                      train_steps=900, estimate_vs_w1=EstimateVsW1("x", None, None, 0, 0), device="cpu",
                      versions={}, seconds=0.0, trajectory=[SnapshotW1(s, v, 0.0) for s, v in zip(steps, w1)],
                      scores=SampleScores(w1=w1[-1], w1_sliced=0.0, fid_domain=0.0) if status == "ok" else None,
                      snapshot_w1_sd=noise_sd)


def test_mark_convergence_flags_the_run_still_moving():
    flat, flat2, moving = _run(0, [0.50, 0.51, 0.50, 0.50]), _run(1, [0.52, 0.52, 0.51, 0.52]), \
        _run(2, [0.90, 0.80, 0.70, 0.60])
    diverged = _run(3, [0.5, 0.5, 0.5, 0.5], status="diverged")
    mark_convergence([flat, flat2, moving, diverged], rtol=0.1, floor_w1=0.3)
    # final W1 of the ok runs 0.50, 0.52, 0.60: median 0.52, MAD 0.02 -> 0.029652 > 0.1 * (0.52 - 0.3)
    assert flat.convergence.tolerance == pytest.approx(0.029652, abs=1e-6)
    assert flat.converged and flat2.converged
    assert not moving.converged and moving.convergence.change == pytest.approx(0.3)
    assert not diverged.converged and diverged.convergence.change is None
    assert moving.convergence.window_from == 600
    assert moving.convergence.direction == "falling" and diverged.convergence.direction is None
    worse = _run(4, [0.60, 0.70, 0.80, 0.90])
    mark_convergence([flat, flat2, worse], rtol=0.1, floor_w1=0.3)
    assert not worse.converged and worse.convergence.direction == "rising"


@pytest.mark.parametrize("noise_sd, converged, tol", [
    (None, False, 0.02),  # not measured: the shared tolerance alone
    (0.005, False, 0.02),  # 2 x 0.005 x 1.3416 = 0.0134 < 0.02: the shared tolerance still rules
    (0.02, True, 2 * 0.02 * 300 / math.sqrt(50_000)),  # 0.0537: a 0.03 drift is within what snapshots resolve
])
def test_a_trend_within_the_snapshots_noise_is_no_trend(noise_sd, converged, tol):
    # finals 0.50, 0.50, 0.50: spread 0, so the shared tolerance is 0.1 * (0.50 - 0.3) = 0.02
    drift = _run(0, [0.53, 0.52, 0.51, 0.50], noise_sd=noise_sd)  # change 0.0001/step * 300 = 0.03
    others = [_run(1, [0.50] * 4, noise_sd=noise_sd), _run(2, [0.51, 0.49, 0.50, 0.50], noise_sd=noise_sd)]
    mark_convergence([drift, *others], rtol=0.1, floor_w1=0.3)
    c = drift.convergence
    assert c.change == pytest.approx(0.03) and c.shared_tolerance == pytest.approx(0.02)
    assert drift.converged is converged and c.tolerance == pytest.approx(tol, abs=1e-6)
    assert (c.resolution is None) is (noise_sd is None)
    # a collapse-and-recover run moves far more than any snapshot noise: still not converged
    jump = _run(3, [1.2, 1.1, 0.4, 0.15], noise_sd=noise_sd)
    mark_convergence([jump, *others], rtol=0.1, floor_w1=0.3)
    assert not jump.converged


def test_snapshot_steps_log_spaced_plus_the_last_third():
    s = snapshot_steps(6000, 20, 5)
    assert s[0] == 10 and s[-1] == 6000 and s == sorted(set(s))
    assert {4000, 4500, 5000, 5500, 6000} <= set(s) and len(s) >= 20
    assert snapshot_steps(100, 0, 0) == []
