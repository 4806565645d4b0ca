"""Updates for the theory parts that cannot use the core's step objects, built from the core's pieces.

The core's WGAN and GAN (`pipeline.models.core`) train one critic against one
generator net through `pipeline.training.loop.fit`. Parts 1 and 2 instead train E
critics at once, one per fixed theta (an ensemble in one batched call), and
discriminators against a fixed or one-parameter generator. Their updates
here use the core's losses, gradient penalty and optimiser factory; a single
WGAN critic uses the core's `critic_step` itself.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from pipeline.models import losses
from pipeline.config import CriticUpdate


def gan_optimizer(params, lr: float, betas: tuple[float, float]) -> torch.optim.Optimizer:
    """The core GAN's optimiser, Adam (DCGAN's), at learning rate `lr` with the part's `betas`."""
    return torch.optim.Adam(params, lr=lr, betas=tuple(betas))


def _split(net: nn.Module, real: Tensor, fake: Tensor) -> tuple[Tensor, Tensor]:
    """net on real and fake in one call (no BatchNorm): points (B, d), or (E, B, d) for an ensemble."""
    n = real.shape[-2]
    out = net(torch.cat([real, fake], dim=-2))
    return out[..., :n], out[..., n:]


def discriminator_step(disc: nn.Module, opt: torch.optim.Optimizer, real: Tensor, fake: Tensor) -> Tensor:
    """One GAN discriminator update on -V(D, G) (Goodfellow et al. 2014, eq. 1); returns the loss.

    Points (B, d), or (E, B, d) for an ensemble: the mean loss over members
    times E is the sum of their losses, so each member trains as alone.
    """
    members = real.shape[0] if real.dim() == 3 else 1
    real_l, fake_l = _split(disc, real, fake)
    loss = losses.gan_discriminator_loss(real_l, fake_l) * members
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.detach() / members


def ensemble_critic_step(critic: nn.Module, opt: torch.optim.Optimizer, real: Tensor, fake: Tensor,
                         p: CriticUpdate, clip: float) -> None:
    """`pipeline.models.core.critic_step` for E critics on (E, B, d): the sum of the members' losses
    E f(fake) - E f(real) [+ gp_weight * penalty], clipping after the step for `clip`."""
    members = real.shape[0]
    real_s, fake_s = _split(critic, real, fake)
    loss = losses.wgan_critic_loss(real_s, fake_s) * members
    if p.constraint == "gp":
        loss = loss + p.gp_weight * losses.gradient_penalty(critic, real, fake, batch_dims=2)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    if p.constraint == "clip":
        losses.clip_weights_(list(critic.parameters()), clip)
