"""AIS log p(x) against a model whose log p(x) is known in closed form."""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import pytest
import torch

from pipeline.evaluation import metrics
from pipeline.evaluation.ais import AisResult, ais_log_likelihood, bdmc, beta_schedule, model_log_px_z
from pipeline.data.datasets import DataMeta
from pipeline.models.core import VAE

from .conftest import section_with

Z_DIM, X_DIM, POINTS = 2, 5, 20


@lru_cache
def linear_gaussian(sigma: float):
    """p(x|z) = N(x; W z + b, sigma^2 I), z ~ N(0, I_2): then p(x) = N(x; b, W W^T + sigma^2 I) exactly.

    Returns (x (20, 5), exact log p(x) (20,), log p(x|z) callable), float64.
    """
    g = torch.Generator().manual_seed(0)
    f64 = dict(generator=g, dtype=torch.float64)
    w, b = torch.randn(X_DIM, Z_DIM, **f64), torch.randn(X_DIM, **f64)
    x = torch.randn(POINTS, Z_DIM, **f64) @ w.T + b + sigma * torch.randn(POINTS, X_DIM, **f64)
    exact = torch.distributions.MultivariateNormal(b, w @ w.T + sigma**2 * torch.eye(X_DIM, dtype=torch.float64))

    def log_px_z(x, z):  # (K, B, 2) -> (K, B)
        return torch.distributions.Normal(z @ w.T + b, sigma).log_prob(x).sum(-1)

    return x, exact.log_prob(x).numpy(), log_px_z


@lru_cache
def run(sigma: float, **kw) -> AisResult:
    x, _, log_px_z = linear_gaussian(sigma)
    return ais_log_likelihood(log_px_z, x, Z_DIM, **kw)


def errors(sigma: float, **kw) -> np.ndarray:
    return run(sigma, **kw).per_point - linear_gaussian(sigma)[1]


# Default settings (K = 16, T = 500, L = 10). With K = 16 even *exact* transitions leave a
# per-point spread of ~0.06 nats (sigma 0.5) and ~0.15 (sigma 0.1) at T = 500: the estimator's own
# variance, not a bug. The bounds below sit just above what the seeded runs give.
MEAN_ABS_BOUND = {0.5: 0.2, 0.1: 0.4}


@pytest.mark.parametrize("sigma", [0.5, 0.1])
def test_ais_matches_the_closed_form_log_likelihood(sigma):
    err = errors(sigma)
    assert np.abs(err).mean() < MEAN_ABS_BOUND[sigma]
    # a lower bound in expectation: the average may sit above log p(x) only by Monte Carlo noise
    assert err.mean() <= 0.05
    assert err.mean() == pytest.approx(0.0, abs=0.25)
    r = run(sigma)
    assert 0.5 < r.acceptance < 0.9  # the step size adapted toward 0.65
    assert 1.0 <= r.ess <= r.chains
    assert r.stderr == pytest.approx(r.per_point.std(ddof=1) / math.sqrt(POINTS))


def test_longer_annealing_matches_the_closed_form_mean_within_005_nats():
    """K = 64 chains, T = 1000 steps: the average over the 20 points is within 0.05 nats of the exact
    average (seeds 0-3 gave +0.005, +0.007, +0.013, +0.027 at sigma 0.5). The sharper sigma = 0.1 decoder
    needs more: there the same settings gave -0.013 to +0.076, so it is not claimed. The pipeline's quick
    default (K 16, T 200, eval.ais) is off by -0.04 (sigma 0.5) and -0.39 (sigma 0.1) on these points."""
    err = errors(0.5, chains=64, steps=1000, leapfrog=5, seed=1)
    assert abs(err.mean()) < 0.05
    assert np.abs(err).mean() < 0.1  # per point: K = 64 still leaves ~0.05 nats of spread


def test_the_shipped_settings_on_the_closed_form_decoder():
    """params.yaml's eval.ais (on by default; the report's likelihood verdicts use it), as the pipeline runs
    it: below log p(x) on average by 0.04 nats for sigma 0.5 and by 0.39 for the sharper sigma 0.1 (20
    points; mean absolute errors 0.19 and 0.79). A lower bound in expectation, loose for sharp posteriors:
    the report states the gap it found against each model's ELBO."""
    from pathlib import Path

    from pipeline.config import load_params

    p = load_params(Path(__file__).parents[1] / "params.yaml").eval.ais
    kw = dict(chains=p.chains, steps=p.steps, leapfrog=p.leapfrog, step_size=p.step_size)
    wide, sharp = errors(0.5, **kw), errors(0.1, **kw)
    assert -0.1 < wide.mean() <= 0.05 and np.abs(wide).mean() < 0.25
    assert -0.5 < sharp.mean() <= 0.05 and np.abs(sharp).mean() < 1.0


def test_more_annealing_steps_reduce_the_error():
    short, long = np.abs(errors(0.1, steps=10)).mean(), np.abs(errors(0.1)).mean()
    assert long < short / 5  # 7.1 nats at T = 10, 0.33 at T = 500


def test_prior_importance_sampling_fails_where_ais_does_not():
    """With a sharp decoder (sigma 0.1) the posterior is ~20x narrower than the prior in each of 2
    dims: K = 16 prior draws rarely land in it, so plain importance sampling is off by tens of nats."""
    x, exact, log_px_z = linear_gaussian(0.1)
    z = torch.randn(16, POINTS, Z_DIM, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    prior_is = metrics.importance_log_likelihood(log_px_z(x, z).numpy())
    is_err, ais_err = np.abs(prior_is.per_point - exact).mean(), np.abs(errors(0.1)).mean()
    assert is_err > 10.0
    assert ais_err < is_err / 20


@pytest.mark.parametrize("kind", ["sigmoid", "geometric", "linear"])
def test_schedules_rise_from_zero_to_one(kind):
    betas = beta_schedule(50, kind)
    assert betas.shape == (51,)
    assert betas[0] == 0.0 and betas[-1] == 1.0
    assert (betas.diff() > 0).all()


def test_one_annealing_step_is_importance_sampling_from_the_prior():
    """T = 1: log w = (1 - 0) log p(x|z_0), z_0 the first prior draw; the HMC move after it does not count."""
    x, _, log_px_z = linear_gaussian(0.5)
    r = ais_log_likelihood(log_px_z, x, Z_DIM, steps=1, seed=7)
    z0 = torch.randn(16, POINTS, Z_DIM, dtype=torch.float64, generator=torch.Generator().manual_seed(7))
    expected = metrics.importance_log_likelihood(log_px_z(x, z0).numpy())
    np.testing.assert_allclose(r.per_point, expected.per_point, rtol=1e-12)
    assert r.ess / r.chains == pytest.approx(expected.ess_fraction)


def test_same_seed_same_estimate():
    a, b = run(0.5, steps=20, seed=3), run(0.5, steps=20, seed=4)
    again = ais_log_likelihood(linear_gaussian(0.5)[2], linear_gaussian(0.5)[0], Z_DIM, steps=20, seed=3)
    np.testing.assert_array_equal(a.per_point, again.per_point)
    assert not np.array_equal(a.per_point, b.per_point)


def test_adapter_on_an_untrained_vae():
    meta = DataMeta("digits", "images", (1, 8, 8), 64, 64, levels=16, num_classes=10)
    torch.manual_seed(0)
    vae = VAE(section_with("net", z_dim=4, g_hidden=[16], d_hidden=[16]), meta, section_with("vae")).eval()
    x = torch.rand(6, 1, 8, 8) * 2 - 1
    with torch.no_grad():  # AIS turns gradients back on for z only
        r = ais_log_likelihood(model_log_px_z(vae), x, 4, chains=3, steps=5, leapfrog=2)
    assert r.per_point.shape == (6,)
    assert np.isfinite(r.per_point).all() and math.isfinite(r.mean)
    assert 0.0 <= r.acceptance <= 1.0 and 1.0 <= r.ess <= 3.0


def simulated(sigma: float, n: int = 20):
    """n pairs z ~ N(0, I), x ~ p(x|z) of the linear-Gaussian model above (the same seed draws the same W
    and b first), and their exact log p(x)."""
    _, _, log_px_z = linear_gaussian(sigma)
    g = torch.Generator().manual_seed(0)
    w, b = torch.randn(X_DIM, Z_DIM, generator=g, dtype=torch.float64), torch.randn(X_DIM, generator=g, dtype=torch.float64)
    z = torch.randn(n, Z_DIM, generator=g, dtype=torch.float64)
    x = z @ w.T + b + sigma * torch.randn(n, X_DIM, generator=g, dtype=torch.float64)
    exact = torch.distributions.MultivariateNormal(b, w @ w.T + sigma**2 * torch.eye(X_DIM, dtype=torch.float64))
    return x, z, exact.log_prob(x).numpy(), log_px_z


@pytest.mark.parametrize("sigma", [0.5, 0.1])
def test_bdmc_brackets_the_closed_form_log_likelihood(sigma):
    """Forward AIS from the prior lies below log p(x), reverse AIS from the exact posterior draw above
    (Grosse et al. 2015), on average over the points; more annealing closes the gap. Measured here
    (K 16, L 5, 20 points): sigma 0.5 lower -0.20 / upper +0.24 at T 50, -0.04 / +0.10 at T 200;
    sigma 0.1 -0.82 / +1.06 at T 50, -0.39 / +0.31 at T 200."""
    x, z, exact, log_px_z = simulated(sigma)
    kw = dict(chains=16, leapfrog=5, step_size=0.05, seed=0)
    short, long = bdmc(log_px_z, x, z, steps=50, **kw), bdmc(log_px_z, x, z, steps=200, **kw)
    for r in (short, long):
        assert (r.lower.per_point - exact).mean() < 0 < (r.upper - exact).mean()
    assert 0 < long.gap < short.gap
    # the forward half is ais_log_likelihood itself, same seed, same numbers
    np.testing.assert_array_equal(long.lower.per_point, ais_log_likelihood(log_px_z, x, Z_DIM, steps=200, **kw).per_point)
