"""Statistics over seeds and the run-state rule at the budget, on numbers worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from pipeline.evaluation.convergence import fitted_change, run_state, tolerance
from pipeline.records import SnapshotFloor
from pipeline.reporting.seedstats import (Comparison, Paired, compare_family, holm, min_detectable_difference, paired_test,
                                power_of, spread)


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


def test_fitted_change_is_signed_over_the_budgets_second_half():
    gflop = [10, 100, 500, 600, 700, 800, 900, 1000]
    w1 = [9.0, 5.0, 1.0, 0.95, 0.9, 0.85, 0.8, 0.75]  # in [500, 1000]: slope -0.0005 per GFLOP, window 500
    change, points, se = fitted_change(gflop, w1, 1000)
    assert points == 6 and change == pytest.approx(-0.25)
    assert fitted_change(gflop, w1[:2] + w1[2:][::-1], 1000)[0] == pytest.approx(0.25)  # rising: positive
    # 500..1000 by 100: Sxx = 2 * (250^2 + 150^2 + 50^2) = 175000; SE of the change per unit sd = 500 / sqrt(Sxx)
    assert se == pytest.approx(500 / math.sqrt(175_000))
    assert math.isnan(fitted_change([10, 900, 1000], [1.0, 0.5, 0.4], 1000)[0])  # 2 points in the window


FLOOR = SnapshotFloor(n_samples=1000, draws=8, w1=0.3, w1_sd=0.01)


def test_tolerance_is_a_tenth_of_the_floor_or_what_sampling_noise_resolves():
    assert tolerance(FLOOR, 1.0, 0.1) == pytest.approx(0.03)  # 0.1 * 0.3 > 2 * 0.01 * 1.0
    assert tolerance(FLOOR, 5.0, 0.1) == pytest.approx(0.1)  # 2 * 0.01 * 5: few, close points resolve less
    assert tolerance(FLOOR, float("nan"), 0.1) == pytest.approx(0.03)


@pytest.mark.parametrize("w1, state", [
    ([0.80, 0.70, 0.60, 0.50, 0.40, 0.30], "improving"),  # falls 0.5 over the window
    ([0.30, 0.40, 0.50, 0.60, 0.70, 0.80], "worse"),  # rises 0.5: getting worse, not "not converged"
    ([0.50, 0.51, 0.49, 0.50, 0.51, 0.50], "settled"),
])
def test_run_state_tells_falling_from_rising_from_flat(w1, state):
    gflop = [500, 600, 700, 800, 900, 1000]
    c = run_state(gflop, w1, 1000, FLOOR, 0.1)
    assert c.state == state and c.window_from == 500 and c.points == 6
    assert run_state(gflop, w1, 1000, FLOOR, 0.1, ok=False).state == "diverged"


def test_the_tolerance_is_the_same_for_a_noisy_and_a_quiet_run():
    # the band comes from the data set's floor, never from the run: a noisier run gets no wider one
    gflop = [500, 600, 700, 800, 900, 1000]
    quiet = run_state(gflop, [0.50, 0.50, 0.50, 0.50, 0.50, 0.50], 1000, FLOOR, 0.1)
    noisy = run_state(gflop, [0.80, 0.20, 0.90, 0.10, 0.70, 0.30], 1000, FLOOR, 0.1)
    assert quiet.tolerance == noisy.tolerance and quiet.state == "settled"
    assert noisy.state == "improving"  # its fitted line falls by more than the band: that is what it shows
