"""Loss values on known inputs."""

from __future__ import annotations

import math

import pytest
import torch

from pipeline.models import losses


def test_discriminator_at_chance_gives_log4_and_zero_js():
    # D = 1/2 everywhere: -V = 2 log 2 = log 4, so the JS estimate is 0.
    zero = torch.zeros(7)
    d = losses.gan_discriminator_loss(zero, zero)
    assert d.item() == pytest.approx(math.log(4))
    assert losses.js_from_discriminator_loss(d).item() == pytest.approx(0.0, abs=1e-7)


def test_perfect_discriminator_js_tends_to_log2():
    d = losses.gan_discriminator_loss(torch.full((5,), 30.0), torch.full((5,), -30.0))
    assert losses.js_from_discriminator_loss(d).item() == pytest.approx(math.log(2), abs=1e-6)


def test_generator_losses_values():
    logit = torch.tensor([0.3, -1.2])
    dg = torch.sigmoid(logit)
    assert losses.gan_generator_loss_nonsaturating(logit).item() == pytest.approx((-dg.log()).mean().item())
    assert losses.gan_generator_loss_minimax(logit).item() == pytest.approx((1 - dg).log().mean().item())


def test_minimax_gradient_vanishes_where_nonsaturating_does_not():
    # A confident discriminator (D(G(z)) ~ e^-10): Goodfellow et al. 2014, section 3.
    logit = torch.tensor([-10.0], requires_grad=True)
    (g_mm,) = torch.autograd.grad(losses.gan_generator_loss_minimax(logit), logit)
    (g_ns,) = torch.autograd.grad(losses.gan_generator_loss_nonsaturating(logit), logit)
    assert abs(g_mm.item()) == pytest.approx(torch.sigmoid(torch.tensor(-10.0)).item(), rel=1e-5)
    assert abs(g_ns.item()) == pytest.approx(1.0, abs=1e-4)
    assert abs(g_ns.item()) > 1e4 * abs(g_mm.item())


def test_critic_loss_sign_and_w_estimate():
    real, fake = torch.tensor([2.0, 4.0]), torch.tensor([0.5, 1.5])
    loss = losses.wgan_critic_loss(real, fake)
    assert loss.item() == pytest.approx(1.0 - 3.0)  # E f(fake) - E f(real)
    assert -loss.item() == pytest.approx(2.0)  # the W estimate is positive when the critic separates
    assert losses.wgan_generator_loss(fake).item() == pytest.approx(-1.0)


def test_clip_weights_bounds_every_tensor():
    ps = [torch.randn(10, 10) * 3, torch.randn(10)]
    losses.clip_weights_(ps, 0.05)
    c = torch.tensor(0.05)  # float32, as the parameters are
    for p in ps:
        assert (p.abs() <= c).all()
    assert (ps[0].abs() == c).any()  # values outside were clamped to the bound, not zeroed


def test_avb_adversary_loss_at_chance():
    zero = torch.zeros(3)
    assert losses.avb_adversary_loss(zero, zero).item() == pytest.approx(2 * math.log(2))


def test_gaussian_terms_against_torch_distributions():
    x, mean, log_std = torch.randn(4, 3), torch.randn(4, 3), torch.randn(4, 3) * 0.3
    ref = torch.distributions.Normal(mean, log_std.exp()).log_prob(x).sum(1)
    torch.testing.assert_close(-losses.gaussian_nll(x, mean, log_std), ref)
    z = torch.randn(6, 2)
    torch.testing.assert_close(losses.standard_normal_logpdf(z),
                               torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(1))
    mu, logvar = torch.randn(5, 2), torch.randn(5, 2)
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    p = torch.distributions.Normal(torch.zeros(2), torch.ones(2))
    torch.testing.assert_close(losses.gaussian_kl_to_standard(mu, logvar),
                               torch.distributions.kl_divergence(q, p).sum(1))
