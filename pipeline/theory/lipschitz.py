"""Three ways to keep a WGAN critic (approximately) K-Lipschitz, and a critic update that applies them.

    clip  weight clipping to [-c, c] (Arjovsky, Chintala & Bottou 2017, Algorithm 1):
          some K(c), unknown, so the estimate is K * W1
    gp    two-sided gradient penalty lambda * E[(||grad f(x_hat)||_2 - 1)^2] on
          random interpolates x_hat (Gulrajani et al. 2017, eq. 3): K ~ 1
    sn    spectral normalisation of every linear layer (Miyato et al. 2018): each
          layer's largest singular value is 1, LeakyReLU is 1-Lipschitz, so K <= 1
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn

from .. import losses


def gradient_penalty(critic: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor) -> Tensor:
    """E_{x_hat}[(||grad_x f(x_hat)||_2 - 1)^2], x_hat = u x + (1 - u) x~, u ~ U[0, 1]  (Gulrajani et al. 2017, eq. 3).

    Points of shape (B, d), or (E, B, d) for an ensemble of E critics (then
    the sum of the E members' penalties). The graph is kept (create_graph)
    so that the penalty's gradient reaches the critic's weights.
    """
    u = torch.rand(*real.shape[:-1], 1, device=real.device)
    x_hat = (u * real + (1 - u) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return ((grad.norm(dim=-1) - 1) ** 2).mean(-1).sum()


def spectral_normalise_(module: nn.Module) -> nn.Module:
    """Wrap every nn.Linear of `module` in spectral normalisation (Miyato et al. 2018), in place.

    Build the optimiser *after* this call: the weights become `parametrizations.weight.original`.
    """
    for name, child in module.named_children():
        if isinstance(child, nn.Linear):
            setattr(module, name, nn.utils.parametrizations.spectral_norm(child))
        else:
            spectral_normalise_(child)
    return module


def make_optimizer(params, optimizer: str, lr: float, beta1: float = 0.5) -> torch.optim.Optimizer:
    """RMSProp (the WGAN paper's choice, section 3) or Adam(beta1, 0.9) (WGAN-GP's choice)."""
    params = list(params)
    if optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, betas=(beta1, 0.9))
    if optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr)
    raise ValueError(f"unknown optimizer {optimizer!r}; choose from ['adam', 'rmsprop']")


def critic_step(
    critic: nn.Module,
    opt: torch.optim.Optimizer,
    real: Tensor,
    fake: Tensor,
    constraint: str,
    clip: float = 0.01,
    gp_weight: float = 10.0,
) -> Tensor:
    """One critic update on E f(fake) - E f(real) [+ lambda GP]; returns the W estimate E f(real) - E f(fake).

    Points (B, d), or (E, B, d) for an ensemble critic: then the members'
    losses are summed and the estimate has shape (E,). Clipping happens after
    the step (Algorithm 1, line 7); for `sn` the constraint lives in the layers.
    """
    n, members = real.shape[-2], real.shape[0] if real.dim() == 3 else 1
    scores = critic(torch.cat([real, fake], dim=-2))  # (..., 2B): one call, no BatchNorm in a critic
    real_s, fake_s = scores[..., :n], scores[..., n:]
    # wgan_critic_loss averages over members too; times E it is the sum of the members' losses
    loss = losses.wgan_critic_loss(real_s, fake_s) * members
    w_estimate = (real_s.mean(-1) - fake_s.mean(-1)).detach()
    if constraint == "gp":
        loss = loss + gp_weight * gradient_penalty(critic, real, fake)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    if constraint == "clip":
        losses.clip_weights_(list(critic.parameters()), clip)
    return w_estimate


def discriminator_step(disc: nn.Module, opt: torch.optim.Optimizer, real: Tensor, fake: Tensor) -> Tensor:
    """One GAN discriminator update on -V(D, G) (Goodfellow et al. 2014, eq. 1); returns the loss, (E,) for ensembles."""
    n, members = real.shape[-2], real.shape[0] if real.dim() == 3 else 1
    logits = disc(torch.cat([real, fake], dim=-2))
    loss = losses.gan_discriminator_loss(logits[..., :n], logits[..., n:]) * members
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.detach() / members


def critic_optimizer(critic: nn.Module, constraint: str, lr: float, optimizer: str | None = None) -> torch.optim.Optimizer:
    """The paper's pairing unless told otherwise: RMSProp for a clipped critic, Adam(0.5, 0.9) for GP / SN."""
    return make_optimizer(critic.parameters(), optimizer or ("rmsprop" if constraint == "clip" else "adam"), lr)


def input_gradient_norm(f: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    """||grad_x f(x)||_2 per sample: (B,). The local Lipschitz constant a critic shows at x."""
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(f(x).sum(), x)
    return grad.flatten(1).norm(dim=1)
