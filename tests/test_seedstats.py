"""Statistics over seeds and the convergence criterion, on numbers worked out by hand."""

from __future__ import annotations

import math

import pytest

from pipeline.convergence import tail_trend, tolerance
from pipeline.convergence import mark_convergence
from pipeline.records import EstimateVsW1, EvalRecord, SampleScores, SnapshotW1
from pipeline.seedstats import paired_test, spread
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
