"""Metrics on cases with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pipeline.evaluation import metrics


def test_fid_of_a_set_with_itself_is_zero():
    x = np.random.default_rng(0).normal(size=(500, 8))
    assert metrics.fid_from_features(x, x) == pytest.approx(0.0, abs=1e-6)


def test_frechet_distance_of_gaussians_with_known_answer():
    # Same covariance: only the mean term survives, ||mu1 - mu2||^2.
    mu = np.array([3.0, 4.0])
    assert metrics.frechet_distance(mu, np.eye(2), np.zeros(2), np.eye(2)) == pytest.approx(25.0)
    # Scaled identity: Tr(a I + b I - 2 sqrt(ab) I) = d (sqrt(a) - sqrt(b))^2.
    assert metrics.frechet_distance(np.zeros(3), 4 * np.eye(3), np.zeros(3), np.eye(3)) == pytest.approx(3.0)


def test_frechet_refuses_fewer_samples_than_dimensions():
    with pytest.raises(metrics.SampleSizeError, match="more samples than feature dimensions"):
        metrics.gaussian_stats(np.zeros((64, 64)))


def test_w1_of_a_shifted_copy_is_the_shift_length():
    x = np.random.default_rng(1).normal(size=(300, 2))
    shift = np.array([0.3, -0.4])  # length 0.5
    assert metrics.w1_exact(x, x + shift) == pytest.approx(0.5, rel=1e-9)


def test_w1_uses_the_euclidean_not_the_squared_cost():
    # A shift of length 2: the Euclidean cost gives 2; POT's default squared cost would give 4.
    x = np.random.default_rng(2).normal(size=(100, 3))
    assert metrics.w1_exact(x, x + np.array([0.0, 2.0, 0.0])) == pytest.approx(2.0, rel=1e-9)


@pytest.mark.parametrize("theta", [-0.7, 0.25, 1.0])
def test_w1_between_parallel_lines_is_theta(theta):
    # Arjovsky et al. 2017, Example 1: P0 on {0} x [0, 1], P_theta on {theta} x [0, 1]; W1 = |theta|.
    z = np.linspace(0, 1, 200)
    p0 = np.stack([np.zeros_like(z), z], 1)
    assert metrics.w1_exact(p0, p0 + np.array([theta, 0.0])) == pytest.approx(abs(theta), rel=1e-9)


def test_w1_with_different_sample_counts():
    # Two points at 0 and 1 against one point at 0.5: every unit of mass moves 0.5.
    assert metrics.w1_exact(np.array([[0.0], [1.0]]), np.array([[0.5]])) == pytest.approx(0.5)


def test_sliced_w1_of_a_shift():
    # For a shift v, each projection is shifted by theta . v, so its 1D W1 is |theta . v|
    # whatever the points; E|theta . v| over the circle is 2|v|/pi in 2D.
    x = np.random.default_rng(3).normal(size=(100, 2))
    v = np.array([1.0, 0.0])
    sw = metrics.w1_sliced(x, x + v, projections=2000, seed=0)
    assert sw == pytest.approx(2 / math.pi, rel=0.05)  # Monte Carlo over directions: SE ~1.5%
    assert sw <= metrics.w1_exact(x[:300], x[:300] + v) + 1e-9


def _ring(n_per_mode: list[int], std: float, rng) -> tuple[np.ndarray, np.ndarray]:
    centers = np.array([[math.cos(a), math.sin(a)] for a in np.arange(8) * 2 * math.pi / 8])
    x = np.concatenate([c + std * rng.normal(size=(k, 2)) for c, k in zip(centers, n_per_mode)])
    return x, centers


def test_mode_coverage_counts_modes_and_quality():
    rng = np.random.default_rng(4)
    std = 0.01
    # 6 modes well fed, one with 5 samples (below 20% of its expected share), one empty.
    x, centers = _ring([100, 100, 100, 100, 100, 100, 5, 0], std / 10, rng)  # all within 3 std
    far = np.full((95, 2), 5.0)  # nowhere near a mode: low quality
    cov = metrics.mode_coverage(np.concatenate([x, far]), centers, std)
    assert cov.modes_covered == 6
    assert cov.counts[6] == 5 and cov.counts[7] == 0
    assert cov.high_quality_share == pytest.approx(605 / 700)
    assert cov.min_count == math.ceil(0.2 * 700 / 8)


def test_mode_coverage_all_modes_from_the_true_distribution():
    x, centers = _ring([250] * 8, 0.05, np.random.default_rng(5))
    cov = metrics.mode_coverage(x, centers, 0.05)
    assert cov.modes_covered == 8
    # within 3 std in 2D: P(chi2_2 <= 9) = 1 - exp(-4.5)
    assert cov.high_quality_share == pytest.approx(1 - math.exp(-4.5), abs=0.01)


def test_importance_log_likelihood_with_exact_weights():
    # Every weight equal to p(x): the estimate is exact and the ESS is K.
    log_p = np.log(np.array([0.1, 0.2, 0.3]))
    ll = metrics.importance_log_likelihood(np.tile(log_p, (16, 1)))
    np.testing.assert_allclose(ll.per_point, log_p)
    assert ll.ess_fraction == pytest.approx(1.0)


def test_importance_log_likelihood_of_a_gaussian():
    # x = z + noise, z ~ N(0,1), noise ~ N(0,1): p(x) = N(x; 0, 2). Proposal r = prior.
    g = torch.Generator().manual_seed(0)
    x = torch.tensor([0.0, 1.0, -2.0])
    z = torch.randn(20000, 3, generator=g)
    log_w = torch.distributions.Normal(z, 1.0).log_prob(x)  # log p(x|z) + log p(z) - log p(z)
    ll = metrics.importance_log_likelihood(log_w.numpy())
    exact = torch.distributions.Normal(0.0, math.sqrt(2)).log_prob(x).numpy()
    np.testing.assert_allclose(ll.per_point, exact, atol=0.02)


def test_correlation():
    a = np.arange(10.0)
    c = metrics.correlation(a, 2 * a + 1)
    assert c.pearson == pytest.approx(1.0) and c.spearman == pytest.approx(1.0) and c.n == 10
    assert metrics.correlation(a, -a ** 3).spearman == pytest.approx(-1.0)
    assert metrics.correlation([1.0, 2.0], [1.0, 2.0]).pearson is None  # too few pairs
    assert metrics.correlation(a, np.ones(10)).pearson is None  # constant series


def test_mode_kl_known_answers():
    from pipeline.evaluation.metrics import mode_kl

    assert mode_kl([10] * 8) == pytest.approx(0.0)  # perfectly balanced: the uniform histogram itself
    assert mode_kl([50, 0, 0, 0, 0, 0, 0, 0]) == pytest.approx(math.log(8))  # one mode: log K
    assert mode_kl([1, 1, 0, 0]) == pytest.approx(math.log(2))  # half the modes, evenly: log(K / 2)
    assert math.isnan(mode_kl([0, 0, 0]))  # no high-quality sample: undefined, not 0


# --- precision and recall (Kynkaanniemi et al. 2019) -------------------------------


def test_precision_recall_of_a_set_with_itself_is_one():
    x = np.random.default_rng(6).normal(size=(300, 5))
    pr = metrics.precision_recall(x, x, k=3)
    assert (pr.precision, pr.recall, pr.k) == (1.0, 1.0, 3)  # every point lies in its own ball


def test_precision_recall_of_far_apart_sets_is_zero():
    rng = np.random.default_rng(7)
    real = rng.normal(size=(200, 4))
    pr = metrics.precision_recall(real, rng.normal(size=(150, 4)) + 100.0, k=3)
    assert (pr.precision, pr.recall) == (0.0, 0.0)


def test_precision_recall_by_hand():
    """1-D, k = 1. Real {0, 1, 2, 10}: balls of radius 1, 1, 1 and 8 (the outlier 10's nearest
    neighbour is 2). Generated {0.5, 2.5, 5, 20}: radii 2, 2, 2.5 and 15.
    Precision: 0.5 (within 1 of 0), 2.5 (of 2) and 5 (within 8 of 10) are inside, 20 is not (10 > 8): 3/4.
    Recall: 0, 1 and 2 are within 2 of 0.5 or 2.5, and 10 is within 15 of the generated outlier 20: 4/4."""
    real = np.array([[0.0], [1.0], [2.0], [10.0]])
    fake = np.array([[0.5], [2.5], [5.0], [20.0]])
    np.testing.assert_array_equal(metrics.knn_radii(real, 1), [1.0, 1.0, 1.0, 8.0])
    np.testing.assert_array_equal(metrics.knn_radii(fake, 1), [2.0, 2.0, 2.5, 15.0])
    pr = metrics.precision_recall(real, fake, k=1)
    assert (pr.precision, pr.recall) == (0.75, 1.0)
    # k = 2 on the real side: radii 2, 1, 2, 9 (10's second neighbour is 1): 20 is still outside (10 > 9)
    np.testing.assert_array_equal(metrics.knn_radii(real, 2), [2.0, 1.0, 2.0, 9.0])
    assert metrics.precision_recall(real, fake, k=2).precision == 0.75
    # the ball is closed: a point at exactly the radius is inside
    two = np.array([[0.0], [1.0]])  # radii 1 and 1
    assert metrics.precision_recall(two, np.array([[2.0], [2.5]]), k=1).precision == 0.5


def test_precision_recall_when_half_the_modes_are_generated():
    """Four well separated modes; the generator draws faithfully from two of them, as many per mode as the
    real set. A second real sample of the same size is the reference: finite samples leave a few draws in
    the tails outside every k-NN ball (about 2% here), so it scores just below 1 on both."""
    rng = np.random.default_rng(8)
    centers = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    draw = lambda cs: np.concatenate([c + 0.5 * rng.normal(size=(500, 2)) for c in cs])  # noqa: E731
    real, fake, real2 = draw(centers), draw(centers[:2]), draw(centers)
    ref = metrics.precision_recall(real, real2, k=3)
    assert ref.precision > 0.95 and ref.recall > 0.95
    pr = metrics.precision_recall(real, fake, k=3)
    assert pr.precision == pytest.approx(ref.precision, abs=0.02)  # every generated mode is a real one
    assert pr.recall == pytest.approx(0.5 * ref.recall, abs=0.02)  # half of the real modes are generated
    swapped = metrics.precision_recall(fake, real, k=3)  # the roles exchanged: precision and recall exchange
    assert swapped.precision == pytest.approx(0.5 * ref.precision, abs=0.02)
    assert swapped.recall == pytest.approx(ref.recall, abs=0.02)


def test_precision_recall_takes_the_real_sets_radii_when_given():
    """One held-out set scored against several generated ones: its k-NN radii are passed in, not recomputed;
    wrong radii change precision (so they are used) and radii of the wrong length are refused."""
    rng = np.random.default_rng(10)
    real, fake = rng.normal(size=(300, 3)), rng.normal(size=(200, 3)) + 0.5
    radii = metrics.knn_radii(real, 3)
    assert metrics.precision_recall(real, fake, 3, real_radii=radii) == metrics.precision_recall(real, fake, 3)
    assert metrics.precision_recall(real, fake, 3, real_radii=radii / 10).precision < \
        metrics.precision_recall(real, fake, 3).precision
    with pytest.raises(ValueError, match="real_radii"):
        metrics.precision_recall(real, fake, 3, real_radii=radii[:10])


def test_precision_recall_does_not_depend_on_the_chunk_size():
    rng = np.random.default_rng(9)
    real, fake = rng.normal(size=(103, 3)), 0.5 + rng.normal(size=(97, 3))
    whole = metrics.precision_recall(real, fake, k=3, chunk=10_000)
    assert 0 < whole.precision < 1 and 0 < whole.recall < 1
    assert metrics.precision_recall(real, fake, k=3, chunk=7) == whole


def test_precision_recall_refuses_too_few_samples_and_mismatched_features():
    with pytest.raises(metrics.SampleSizeError, match=r"3 real samples for k = 3: .* at least k \+ 1"):
        metrics.precision_recall(np.zeros((3, 2)), np.zeros((10, 2)), k=3)
    with pytest.raises(ValueError, match="differ in dimension: 2 vs 3"):
        metrics.precision_recall(np.zeros((10, 2)), np.zeros((10, 3)), k=3)
