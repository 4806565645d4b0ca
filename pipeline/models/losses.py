"""Losses as small pure functions, each with its formula and paper.

Conventions: a discriminator returns *logits* l (D = sigmoid(l)); a WGAN
critic returns an unbounded score f(x). Every function returns the scalar
that the corresponding player *minimises*. ``softplus(-l) = -log sigmoid(l)``
and ``softplus(l) = -log(1 - sigmoid(l))`` keep the logs finite.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

LOG4 = math.log(4.0)


# --- GAN: Goodfellow et al. 2014 -------------------------------------------------


def gan_discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """-V(D, G) = -E_x[log D(x)] - E_z[log(1 - D(G(z)))]   (Goodfellow et al. 2014, eq. 1).

    At the optimal discriminator, V = -log 4 + 2 JSD(P_r || P_g) (Theorem 1),
    so this loss is ``log 4 - 2 JSD`` and :func:`js_from_discriminator_loss`
    inverts it.
    """
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def gan_generator_loss_minimax(fake_logits: Tensor) -> Tensor:
    """E_z[log(1 - D(G(z)))]: the generator's side of the minimax game (eq. 1).

    Saturates when D rejects the samples confidently: its gradient vanishes
    (Goodfellow et al. 2014, section 3; Arjovsky & Bottou 2017, Theorem 2.4).
    """
    return -F.softplus(fake_logits).mean()


def gan_generator_loss_nonsaturating(fake_logits: Tensor) -> Tensor:
    """-E_z[log D(G(z))]: the "-log D trick" (Goodfellow et al. 2014, section 3)."""
    return F.softplus(-fake_logits).mean()


GENERATOR_LOSSES: dict[str, Callable[[Tensor], Tensor]] = {
    "nonsaturating": gan_generator_loss_nonsaturating,
    "minimax": gan_generator_loss_minimax,
}


def js_from_discriminator_loss(d_loss: float | Tensor) -> float | Tensor:
    """JSD estimate (nats) from the discriminator loss: JSD = (log 4 - L_D) / 2.

    With L(D) = V(D, G) = -L_D this is the ``(L(D) + log 4) / 2`` of
    Arjovsky, Chintala & Bottou 2017, Figure 4; it is a lower bound that is
    tight only for the optimal discriminator, and lies in [0, log 2].
    """
    return (LOG4 - d_loss) / 2


# --- WGAN: Arjovsky, Chintala & Bottou 2017 ------------------------------------


def wgan_critic_loss(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """E_z[f(G(z))] - E_x[f(x)]   (Algorithm 1, line 5, as a loss to minimise).

    For a K-Lipschitz critic f, ``-loss`` is a lower bound on K * W1(P_r, P_g)
    that is tight at the optimal critic (Kantorovich-Rubinstein duality, eq. 2).
    """
    return fake_scores.mean() - real_scores.mean()


def wgan_generator_loss(fake_scores: Tensor) -> Tensor:
    """-E_z[f(G(z))]   (Algorithm 1, line 10)."""
    return -fake_scores.mean()


@torch.no_grad()
def clip_weights_(params: list[Tensor], c: float) -> None:
    """Clamp every critic parameter to [-c, c] in place (Algorithm 1, line 7).

    One fused foreach call instead of a Python loop over the tensors.
    """
    torch._foreach_clamp_min_(params, -c)
    torch._foreach_clamp_max_(params, c)


def gradient_penalty(critic: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor, batch_dims: int = 1) -> Tensor:
    """E_{x_hat}[(||grad_x f(x_hat)||_2 - 1)^2], x_hat = u x + (1 - u) x~, u ~ U[0, 1]  (Gulrajani et al. 2017, eq. 3).

    The two-sided penalty that keeps the critic near 1-Lipschitz along lines
    between real and fake samples; the norm is over every non-batch dim.
    `batch_dims` = 2 for an ensemble of E critics on (E, B, ...): the sum of
    the members' penalties. The graph is kept (create_graph) so that the
    penalty's gradient reaches the critic's weights.
    """
    lead = real.shape[:batch_dims]
    u = torch.rand(*lead, *[1] * (real.dim() - batch_dims), device=real.device)  # one u per sample
    x_hat = (u * real + (1 - u) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    norm = grad.flatten(batch_dims).norm(dim=-1)  # (*lead,)
    return ((norm - 1) ** 2).mean(-1).sum()


# --- AVB: Mescheder, Nowozin & Geiger 2017; VAE: Kingma & Welling 2014 ------------


def avb_adversary_loss(t_posterior: Tensor, t_prior: Tensor) -> Tensor:
    """Sigmoid cross entropy of T(x, z):  -E_{q(z|x)}[log s(T)] - E_{p(z)}[log(1 - s(T))]

    (AVB, eq. 3.3). Its minimiser is T*(x, z) = log q(z|x) - log p(z)
    (Proposition 1), so E_q[T*] = KL(q(z|x) || p(z)).
    """
    return F.softplus(-t_posterior).mean() + F.softplus(t_prior).mean()


def gaussian_nll(x: Tensor, mean: Tensor, log_std: Tensor) -> Tensor:
    """-log N(x; mean, diag(exp(log_std))^2), summed over every non-batch dim: shape (B,)."""
    per_dim = 0.5 * ((x - mean) / log_std.exp()) ** 2 + log_std + 0.5 * math.log(2 * math.pi)
    return per_dim.flatten(1).sum(1)


def standard_normal_logpdf(z: Tensor) -> Tensor:
    """log N(z; 0, I), summed over the last dim: shape (B,)."""
    return -0.5 * (z**2).sum(-1) - 0.5 * z.shape[-1] * math.log(2 * math.pi)


def gaussian_kl_to_standard(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu, diag e^logvar) || N(0, I)) = 1/2 sum(mu^2 + e^logvar - 1 - logvar)  (VAE, Appendix B): (B,)."""
    return 0.5 * (mu**2 + logvar.exp() - 1.0 - logvar).sum(-1)


def avb_elbo_terms(t_posterior: Tensor, nll: Tensor) -> tuple[Tensor, Tensor]:
    """Per-sample (-ELBO, KL estimate) with T standing in for log q(z|x) - log p(z).

    -ELBO = E_q[T(x, z) - log p(x|z)]  (AVB, eq. 3.7): the loss the encoder
    and decoder minimise.
    """
    return t_posterior + nll, t_posterior


def adaptive_contrast(z: Tensor) -> tuple[Tensor, Tensor]:
    """AVB's adaptive contrast (Mescheder et al. 2017, section 3.3), from m draws of q(z|x) per x.

    z: (m, B, d). The auxiliary r(z|x) = N(mu(x), diag sigma(x)^2) has the draws' mean and std
    (a Monte Carlo estimate, as the paper does for a black-box encoder). Returns the normalised draws
    z~ = (z - mu) / sigma (m, B, d), which the adversary tells from N(0, I), and log r(z|x) (m, B).
    Then T*(x, z~) = log q(z|x) - log r(z|x), and
        -ELBO = E_q[T(x, z~) + log r(z|x) - log p(z) - log p(x|z)]     (eq. 3.13 with 3.10),
    an adversary that only has to learn how far q is from a Gaussian, not from the prior.
    """
    mu = z.mean(0, keepdim=True)
    sigma = z.std(0, keepdim=True).clamp_min(1e-4)  # a collapsed dimension must not divide by zero
    z_t = (z - mu) / sigma
    log_r = standard_normal_logpdf(z_t) - sigma.log().sum(-1)
    return z_t, log_r

