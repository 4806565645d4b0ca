"""Part 2: vanishing gradients (Arjovsky & Bottou 2017, Theorem 2.4 and Figure 2; Arjovsky et al. 2017, Figure 2).

Real data N(m_r, s^2) and a fixed generator g(z) = m_g + s z, far apart, in 1-D.
As the discriminator D approaches the optimum D* (which is 1 on the real
support and 0 on the fake one),

    minimax   ||grad_theta E log(1 - D(g(z)))|| -> 0          (Theorem 2.4)
    -log D    ||grad_theta -E log D(g(z))||   does not vanish, but its
              expectation has growing variance (Theorem 2.5)
    WGAN      ||grad_theta -E f(g(z))||       stays ~ K: the critic is
              linear between the two bumps (WGAN Figure 2)

Its own loop, not the core's `fit`: the generator is fixed (only its gradient
is measured), so only D and the critic train; the critic update is the core's
`critic_step`, the discriminator's the core's loss (`updates`).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from pipeline.models import losses
from pipeline.config import VanishingParams
from pipeline.models.core import critic_step, make_optimizer, spectral_normalise_
from pipeline.models.nets import mlp
from pipeline.records import VanishingResult
from pipeline.training.loop import spaced_steps
from pipeline.theory.nets import Squeeze
from pipeline.theory.updates import discriminator_step, gan_optimizer

def generator_grad_norm(net: nn.Module, loss_fn, params: list[Tensor], z: Tensor) -> float:
    """||d loss_fn(net(g(z))) / d(m_g, s)||_2 for the affine generator g(z) = m_g + s z (params = [m_g, s])."""
    mean, std = params
    net.requires_grad_(False)
    loss = loss_fn(net((mean + std * z)[:, None]))
    grads = torch.autograd.grad(loss, params)
    net.requires_grad_(True)
    return float(torch.sqrt(sum(g.pow(2).sum() for g in grads)))


def run_vanishing(p: VanishingParams, seed: int) -> VanishingResult:
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    mean, std = torch.tensor(p.fake_mean, requires_grad=True), torch.tensor(p.std, requires_grad=True)

    def real_batch(n: int) -> Tensor:
        return (p.real_mean + p.std * torch.randn(n, generator=gen))[:, None]

    def fake_batch(n: int) -> Tensor:
        return (mean + std * torch.randn(n, generator=gen)).detach()[:, None]

    disc = Squeeze(mlp([1, *p.hidden, 1]))
    opt_d = gan_optimizer(disc.parameters(), p.d_lr, p.d_betas)
    critic = Squeeze(mlp([1, *p.hidden, 1]))
    cp = p.critic()
    if cp.constraint == "sn":
        spectral_normalise_(critic)
    opt_c = make_optimizer(critic.parameters(), cp)
    at = set(spaced_steps(p.d_steps, p.n_log_points, log=True))
    out = {k: [] for k in ("steps", "minimax", "nonsaturating", "wgan", "js")}
    for t in range(1, p.d_steps + 1):
        d_loss = discriminator_step(disc, opt_d, real_batch(p.batch_size), fake_batch(p.batch_size))
        critic_step(critic, opt_c, real_batch(p.batch_size), fake_batch(p.batch_size), cp, p.clip)
        if t in at:
            z = torch.randn(p.n_eval, generator=gen)
            out["steps"].append(t)
            for name, fn in losses.GENERATOR_LOSSES.items():
                out[name].append(generator_grad_norm(disc, fn, [mean, std], z))
            out["wgan"].append(generator_grad_norm(critic, losses.wgan_generator_loss, [mean, std], z))
            out["js"].append(float(losses.js_from_discriminator_loss(d_loss)))
    lo, hi = min(p.real_mean, p.fake_mean) - 4 * p.std, max(p.real_mean, p.fake_mean) + 4 * p.std
    x = torch.linspace(lo, hi, 200)
    with torch.no_grad():
        d_of_x, f_of_x = torch.sigmoid(disc(x[:, None])), critic(x[:, None])
    return VanishingResult(
        steps=out["steps"],
        grad_minimax=out["minimax"],
        grad_nonsaturating=out["nonsaturating"],
        grad_wgan=out["wgan"],
        js_estimate=out["js"],
        x=x.tolist(),
        d_of_x=d_of_x.tolist(),
        f_of_x=f_of_x.tolist(),
        real=(p.real_mean, p.std),
        fake=(p.fake_mean, p.std),
    )
