"""Part 1: parallel lines (Arjovsky, Chintala & Bottou 2017, Example 1).

P_0 = (0, Z) and P_theta = (theta, Z) with Z ~ U[0, 1]: two segments in the
plane, disjoint for theta != 0. The distances between them:

    W1(P_0, P_theta) = |theta|                            continuous in theta
    JS(P_0, P_theta) = log 2 if theta != 0 else 0         a step
    KL(P_theta || P_0) = +inf if theta != 0 else 0        not even finite
    TV(P_0, P_theta) = 1 if theta != 0 else 0

so only W1 gives a generator g_theta(z) = (theta, z) a gradient towards 0.

Its own loops, not the core's `fit`: one critic per theta against a fixed
line (an ensemble, `updates`), and a generator with a single parameter theta
trained by plain SGD; the critic updates are the core's (`critic_step`,
losses, gradient penalty, optimiser factory).
"""

from __future__ import annotations

import math
import torch
from torch import Tensor, nn

from pipeline.models import losses
from pipeline.config import LinesParams
from pipeline.models.core import critic_step, make_optimizer, spectral_normalise_
from pipeline.models.nets import mlp
from pipeline.records import DemoRun, LinesResult
from pipeline.theory.nets import EnsembleMLP, Squeeze
from pipeline.theory.updates import discriminator_step, ensemble_critic_step, gan_optimizer

LOG2 = math.log(2.0)


def analytic_w1(theta: Tensor) -> Tensor:
    """W1(P_0, P_theta) = |theta|: move every point of one segment by |theta| (Example 1)."""
    return theta.abs()


def analytic_js(theta: Tensor) -> Tensor:
    """JS(P_0, P_theta) = log 2 for theta != 0 (disjoint supports), 0 at theta = 0 (nats)."""
    return torch.where(theta == 0, torch.zeros_like(theta), torch.full_like(theta, LOG2))


def analytic_kl(theta: Tensor) -> Tensor:
    """KL(P_theta || P_0) = KL(P_0 || P_theta) = +inf for theta != 0, 0 at theta = 0."""
    return torch.where(theta == 0, torch.zeros_like(theta), torch.full_like(theta, math.inf))


def analytic_tv(theta: Tensor) -> Tensor:
    """Total variation: 1 for theta != 0, 0 at theta = 0."""
    return (theta != 0).to(theta.dtype)


def theta_grid(n: int) -> Tensor:
    """n evenly spaced thetas over [-1, 1], rounded so that printed values are the exact grid points."""
    return torch.linspace(-1.0, 1.0, n, dtype=torch.float64).round(decimals=6).float()


def sample_line(theta: float | Tensor, n: int, gen: torch.Generator | None = None) -> Tensor:
    """n draws of (theta, Z), Z ~ U[0, 1]: shape (n, 2). Differentiable in a tensor theta."""
    z = torch.rand(n, generator=gen)
    theta = torch.as_tensor(theta, dtype=z.dtype)
    return torch.stack([theta.expand(n), z], 1)


def _scorer(hidden: list[int], spectral: bool = False) -> nn.Module:
    net = mlp([2, *hidden, 1])
    if spectral:
        spectral_normalise_(net)
    return Squeeze(net)


def sample_lines(thetas: Tensor, n: int, gen: torch.Generator | None = None) -> Tensor:
    """n draws of (theta_e, Z) for each theta_e: shape (E, n, 2), one line per ensemble member."""
    z = torch.rand(len(thetas), n, generator=gen)
    return torch.stack([thetas[:, None].expand(-1, n), z], -1)


def critic_w1_estimates(thetas: Tensor, constraint: str, p: LinesParams, gen: torch.Generator) -> Tensor:
    """One critic per theta, trained on P_0 (real) vs P_theta (fake); E_{P_0} f - E_{P_theta} f on fresh samples: (E,).

    By Kantorovich-Rubinstein duality (WGAN eq. 2) this is <= K * W1 for a
    K-Lipschitz f: ~|theta| with the gradient-penalty critic (K ~ 1),
    K(c) |theta| with clipping to [-c, c].
    """
    critic = EnsembleMLP(len(thetas), [2, *p.hidden, 1])
    cp = p.critic(constraint)
    opt = make_optimizer(critic.parameters(), cp)
    zeros = torch.zeros_like(thetas)
    for _ in range(p.critic_steps):
        ensemble_critic_step(critic, opt, sample_lines(zeros, p.batch_size, gen), sample_lines(thetas, p.batch_size, gen),
                             cp, p.clip)
    with torch.no_grad():
        return critic(sample_lines(zeros, p.n_eval, gen)).mean(-1) - critic(sample_lines(thetas, p.n_eval, gen)).mean(-1)


def discriminator_js_estimates(thetas: Tensor, p: LinesParams, gen: torch.Generator) -> Tensor:
    """One GAN discriminator per theta on P_0 vs P_theta; (log 4 - L_D) / 2 on fresh samples: (E,).

    The bound of Goodfellow et al. 2014, Theorem 1 (WGAN Figure 4's (L(D) + log 4)/2):
    it climbs to log 2 for any theta != 0, however small, because the supports are disjoint.
    """
    disc = EnsembleMLP(len(thetas), [2, *p.hidden, 1])
    opt = gan_optimizer(disc.parameters(), p.critic_lr, p.d_betas)
    zeros = torch.zeros_like(thetas)
    for _ in range(p.critic_steps):
        discriminator_step(disc, opt, sample_lines(zeros, p.batch_size, gen), sample_lines(thetas, p.batch_size, gen))
    with torch.no_grad():
        real, fake = disc(sample_lines(zeros, p.n_eval, gen)), disc(sample_lines(thetas, p.n_eval, gen))
        # per member: softplus(-l_real).mean + softplus(l_fake).mean, as in gan_discriminator_loss
        d_loss = torch.stack([losses.gan_discriminator_loss(r, f) for r, f in zip(real, fake)])
    return losses.js_from_discriminator_loss(d_loss)


def learning_demo(loss: str, p: LinesParams, gen: torch.Generator, theta0: float = 1.0) -> DemoRun:
    """Alternate `demo_inner_steps` critic (or discriminator) updates with one SGD step on theta.

    Generator losses: WGAN -E f(g_theta(z)) (Algorithm 1, line 10); minimax
    E log(1 - D(g_theta(z))) (Goodfellow et al. 2014, eq. 1); nonsaturating
    -E log D(g_theta(z)). Plain SGD with a learning rate decaying linearly to 0,
    so the step is a multiple of the gradient and a vanishing gradient shows as
    a generator that stops moving (Adam or RMSProp would rescale it away).
    """
    wgan = loss == "wgan"
    g_loss = losses.wgan_generator_loss if wgan else losses.GENERATOR_LOSSES[loss]
    cp = p.critic(p.demo_constraint)
    net = _scorer(p.hidden, spectral=wgan and cp.constraint == "sn")
    opt_d = make_optimizer(net.parameters(), cp) if wgan else gan_optimizer(net.parameters(), p.critic_lr, p.d_betas)
    theta = torch.tensor(theta0, requires_grad=True)
    opt_g = torch.optim.SGD([theta], lr=p.demo_lr)
    # lr decays linearly to 0: the critic lags behind theta, so a constant step
    # keeps theta circling 0 (amplitude ~ lr * lag); a decaying one lets it settle.
    sched = torch.optim.lr_scheduler.LambdaLR(opt_g, lambda t: 1 - t / p.demo_steps)
    run = DemoRun(loss, thetas=[theta0])
    for it in range(p.demo_steps):
        # a critic trained near optimality first, as the reference code's 100 critic
        # steps before the first generator steps; same warm-up for the GAN's D
        for _ in range(p.demo_warmup if it == 0 else p.demo_inner_steps):
            real, fake = sample_line(0.0, p.batch_size, gen), sample_line(theta.detach(), p.batch_size, gen)
            if wgan:
                critic_step(net, opt_d, real, fake, cp, p.clip)
            else:
                discriminator_step(net, opt_d, real, fake)
        net.requires_grad_(False)  # the generator step needs df/dx at the fakes, not the net's weight gradients
        loss_g = g_loss(net(sample_line(theta, p.batch_size, gen)))
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        sched.step()
        net.requires_grad_(True)
        run.grad_norms.append(float(theta.grad.abs()))
        run.thetas.append(float(theta.detach()))
    return run


def relative_errors(estimates: Tensor, thetas: Tensor, scale: float = 1.0, min_abs: float = 0.2) -> Tensor:
    """|estimate - scale |theta|| / (scale |theta|) at the grid points with |theta| >= min_abs."""
    keep = thetas.abs() >= min_abs - 1e-9
    target = scale * thetas[keep].abs()
    return (estimates[keep] - target).abs() / target


def fit_scale(estimates: Tensor, thetas: Tensor) -> float:
    """Least-squares K in estimate ~ K |theta| (through the origin)."""
    a = thetas.abs()
    return float((estimates * a).sum() / (a * a).sum())


def run_lines(p: LinesParams, seed: int, demo_losses: tuple[str, ...] = ("wgan", "minimax", "nonsaturating")) -> LinesResult:
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    thetas = theta_grid(p.n_theta)
    gp = critic_w1_estimates(thetas, "gp", p, gen)
    clip = critic_w1_estimates(thetas, "clip", p, gen)
    js_gan = discriminator_js_estimates(thetas, p, gen)
    k = fit_scale(clip, thetas)
    demos = {name: learning_demo(name, p, gen) for name in demo_losses}
    return LinesResult(
        thetas=thetas.tolist(),
        w1_gp=gp.tolist(),
        w1_clip=clip.tolist(),
        js_gan=js_gan.tolist(),
        clip_scale=k,
        w1_rel_error_max=float(relative_errors(gp, thetas).max()),
        clip_rel_error_max=float(relative_errors(clip, thetas, scale=k).max()) if k > 0 else math.inf,
        js_min_nonzero=float(js_gan[thetas != 0].min()),
        demos=demos,
    )
