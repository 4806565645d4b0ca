"""The four models as *step objects* over one training loop (`pipeline.train.fit`).

Each model owns its nets, its optimisers and two update rules: `inner` (the
discriminator / critic / adversary, run `inner_count(it)` times) and `outer`
(the generator, or encoder+decoder). The trainer knows nothing else about
them (the split Mimicry's `train_step` makes).
"""

from __future__ import annotations

from functools import cached_property
from typing import Optional

import torch
from torch import Tensor, nn

from . import losses
from .config import AvbParams, GanParams, NetParams, Params, ParamsError, VaeParams, WganParams
from .data import DataMeta
from .nets import GaussianDecoder, Generator, Scorer

Logs = dict[str, Tensor]  # scalar tensors; the trainer turns them into floats only when it logs


class Step(nn.Module):
    """Base: nets live in `self` (an nn.Module), so `state_dict()` is the checkpoint.

    Optimisers are `cached_property`s, made on first use: a model restored
    for evaluation never builds one (the first optimiser imports torch._dynamo,
    about 2 s per process), and one moved to a device before training gets
    them on that device.
    """

    name = ""
    batch_size = 64

    def __init__(self, net: NetParams, meta: DataMeta):
        super().__init__()
        self.net_params, self.meta = net, meta
        self.images = meta.kind == "images"
        self.shape = tuple(meta.shape)

    def inner_count(self, it: int) -> int:
        """Inner (discriminator-side) updates before generator update number `it`."""
        return 0

    def inner(self, x: Tensor) -> Logs:
        raise NotImplementedError

    def outer(self, x: Tensor) -> Logs:
        raise NotImplementedError

    def generator(self) -> nn.Module:
        """The network that maps noise to data; snapshotted during training."""
        raise NotImplementedError

    @torch.no_grad()
    def sample(self, n: int, generator: Optional[torch.Generator] = None) -> Tensor:
        """n samples in model space (images in [-1, 1]), in eval mode (BatchNorm running stats)."""
        g = self.generator()
        was_training = g.training
        g.eval()
        dev = next(g.parameters()).device
        z = torch.randn(n, self.net_params.z_dim, generator=generator, device=generator.device if generator else dev)
        x = g(z.to(dev))
        g.train(was_training)
        return x

    def _z(self, n: int, dev: torch.device) -> Tensor:
        return torch.randn(n, self.net_params.z_dim, device=dev)


class GAN(Step):
    """Goodfellow et al. 2014: D maximises V(D, G); G minimises log(1 - D(G(z))) or -log D(G(z))."""

    name = "gan"

    def __init__(self, net: NetParams, meta: DataMeta, p: GanParams):
        super().__init__(net, meta)
        self.p, self.batch_size = p, p.batch_size
        self.G = Generator(net, self.shape, self.images)
        self.D = Scorer(net, self.shape)
        self.g_loss_fn = losses.GENERATOR_LOSSES[p.g_loss]

    @cached_property
    def opt_g(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.G.parameters(), lr=self.p.lr, betas=(self.p.beta1, self.p.beta2))

    @cached_property
    def opt_d(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.D.parameters(), lr=self.p.lr, betas=(self.p.beta1, self.p.beta2))

    def inner_count(self, it: int) -> int:
        return self.p.d_steps

    def inner(self, x: Tensor) -> Logs:
        with torch.no_grad():
            fake = self.G(self._z(len(x), x.device))
        logits = self.D(torch.cat([x, fake]))  # one call: D has no BatchNorm
        loss = losses.gan_discriminator_loss(logits[: len(x)], logits[len(x):])
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_d.step()
        return {"d_loss": loss.detach(), "js_estimate": losses.js_from_discriminator_loss(loss.detach())}

    def outer(self, x: Tensor) -> Logs:
        self.D.requires_grad_(False)  # G's step needs dL/dx through D, not D's weight gradients
        loss = self.g_loss_fn(self.D(self.G(self._z(self.batch_size, x.device))))
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        self.D.requires_grad_(True)
        return {"g_loss": loss.detach()}

    def generator(self) -> nn.Module:
        return self.G


class WGAN(Step):
    """Arjovsky, Chintala & Bottou 2017, Algorithm 1 (weight clipping to [-c, c] after every critic step)."""

    name = "wgan"

    def __init__(self, net: NetParams, meta: DataMeta, p: WganParams, clip: float):
        super().__init__(net, meta)
        self.p, self.clip, self.batch_size = p, clip, p.batch_size
        self.G = Generator(net, self.shape, self.images)
        self.D = Scorer(net, self.shape)
        self._critic_params = list(self.D.parameters())

    @cached_property
    def opt_g(self) -> torch.optim.Optimizer:
        return self._optimizer(self.G)

    @cached_property
    def opt_d(self) -> torch.optim.Optimizer:
        return self._optimizer(self.D)

    def _optimizer(self, m: nn.Module) -> torch.optim.Optimizer:
        if self.p.optimizer == "adam":
            return torch.optim.Adam(m.parameters(), lr=self.p.lr, betas=(self.p.beta1, 0.999), foreach=True)
        # The paper's choice: momentum-based optimisers destabilised the critic (section 3).
        return torch.optim.RMSprop(m.parameters(), lr=self.p.lr, foreach=True)

    def inner_count(self, it: int) -> int:
        # Reference code (martinarjovsky/WassersteinGAN main.py): a near-optimal critic
        # early on and every 500 generator steps.
        if self.p.reference_schedule and (it < 25 or it % 500 == 0):
            return 100
        return self.p.n_critic

    def inner(self, x: Tensor) -> Logs:
        with torch.no_grad():
            fake = self.G(self._z(len(x), x.device))
        scores = self.D(torch.cat([x, fake]))
        loss = losses.wgan_critic_loss(scores[: len(x)], scores[len(x):])
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_d.step()
        losses.clip_weights_(self._critic_params, self.clip)
        return {"critic_loss": loss.detach(), "w_estimate": -loss.detach()}

    def outer(self, x: Tensor) -> Logs:
        self.D.requires_grad_(False)
        loss = losses.wgan_generator_loss(self.D(self.G(self._z(self.batch_size, x.device))))
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        self.D.requires_grad_(True)
        return {"g_loss": loss.detach()}

    def generator(self) -> nn.Module:
        return self.G


class _LatentModel(Step):
    """Shared by AVB and the VAE: Gaussian decoder p(x|z), prior p(z) = N(0, I)."""

    def __init__(self, net: NetParams, meta: DataMeta, min_std: float):
        super().__init__(net, meta)
        self.decoder = GaussianDecoder(net, self.shape, self.images, min_std)

    def generator(self) -> nn.Module:
        return self.decoder.mean

    def posterior_samples(self, x: Tensor, k: int) -> Tensor:
        """k draws z ~ q(z|x) for each x: shape (k, B, z_dim)."""
        raise NotImplementedError

    def log_likelihood_terms(self, x: Tensor, z: Tensor) -> Tensor:
        """log p(x|z) + log p(z) for z of shape (k, B, z_dim): (k, B)."""
        k, b, _ = z.shape
        mean, log_std = self.decoder(z.reshape(k * b, -1))
        xk = x.unsqueeze(0).expand(k, *x.shape).reshape(k * b, *x.shape[1:])
        log_px = -losses.gaussian_nll(xk, mean, log_std.expand_as(mean))
        return log_px.view(k, b) + losses.standard_normal_logpdf(z)


class AVB(_LatentModel):
    """Mescheder, Nowozin & Geiger 2017, Algorithm 1.

    Encoder z = f(x, eps), a black box with noise as input; adversary T(x, z)
    learns log q(z|x) - log p(z) by telling (x, z ~ q(z|x)) from (x, z ~ p(z));
    encoder and decoder minimise E_q[T(x, z) - log p(x|z)] = -ELBO.
    """

    name = "avb"

    def __init__(self, net: NetParams, meta: DataMeta, p: AvbParams):
        super().__init__(net, meta, p.min_std)
        self.p, self.batch_size = p, p.batch_size
        self.encoder = Scorer(net, self.shape, extra_dim=p.eps_dim, out_dim=net.z_dim)
        self.T = Scorer(net, self.shape, extra_dim=net.z_dim)

    @cached_property
    def opt_vae(self) -> torch.optim.Optimizer:
        return torch.optim.Adam([*self.encoder.parameters(), *self.decoder.parameters()], lr=self.p.lr)

    @cached_property
    def opt_t(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.T.parameters(), lr=self.p.adversary_lr)

    def encode(self, x: Tensor) -> Tensor:
        eps = torch.randn(len(x), self.p.eps_dim, device=x.device)
        return self.encoder(x, eps)

    def posterior_samples(self, x: Tensor, k: int) -> Tensor:
        xk = x.unsqueeze(0).expand(k, *x.shape).reshape(k * len(x), *x.shape[1:])
        return self.encode(xk).view(k, len(x), -1)

    def inner_count(self, it: int) -> int:
        return self.p.adversary_steps

    def inner(self, x: Tensor) -> Logs:
        with torch.no_grad():
            z_q = self.encode(x)
        z_p = self._z(len(x), x.device)
        t = self.T(torch.cat([x, x]), torch.cat([z_q, z_p]))
        loss = losses.avb_adversary_loss(t[: len(x)], t[len(x):])
        self.opt_t.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_t.step()
        return {"adversary_loss": loss.detach()}

    def outer(self, x: Tensor) -> Logs:
        self.T.requires_grad_(False)  # T is held fixed; only dT/dz flows back to the encoder
        z = self.encode(x)
        mean, log_std = self.decoder(z)
        nll = losses.gaussian_nll(x, mean, log_std.expand_as(mean))
        neg_elbo, kl = losses.avb_elbo_terms(self.T(x, z), nll)
        loss = neg_elbo.mean()
        self.opt_vae.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_vae.step()
        self.T.requires_grad_(True)
        return {"elbo": -loss.detach(), "kl": kl.mean().detach(), "recon_nll": nll.mean().detach()}


class VAE(_LatentModel):
    """Kingma & Welling 2014: Gaussian q(z|x) = N(mu(x), diag sigma(x)^2), analytic KL."""

    name = "vae"

    def __init__(self, net: NetParams, meta: DataMeta, p: VaeParams):
        super().__init__(net, meta, p.min_std)
        self.p, self.batch_size = p, p.batch_size
        self.encoder = Scorer(net, self.shape, out_dim=2 * net.z_dim)  # -> (mu, logvar)

    @cached_property
    def opt(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.p.lr)

    def q_params(self, x: Tensor) -> tuple[Tensor, Tensor]:
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar

    def posterior_samples(self, x: Tensor, k: int) -> Tensor:
        mu, logvar = self.q_params(x)
        return mu + (0.5 * logvar).exp() * torch.randn(k, *mu.shape, device=x.device)

    def outer(self, x: Tensor) -> Logs:
        mu, logvar = self.q_params(x)
        z = mu + (0.5 * logvar).exp() * torch.randn_like(mu)  # reparameterisation trick
        mean, log_std = self.decoder(z)
        nll = losses.gaussian_nll(x, mean, log_std.expand_as(mean))
        kl = losses.gaussian_kl_to_standard(mu, logvar)
        loss = (nll + kl).mean()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return {"elbo": -loss.detach(), "kl": kl.mean().detach(), "recon_nll": nll.mean().detach()}


def build(model: str, params: Params, meta: DataMeta) -> Step:
    """The step object for `model`, configured from validated params."""
    builders = {
        "gan": lambda: GAN(params.net, meta, params.gan),
        "wgan": lambda: WGAN(params.net, meta, params.wgan, params.clip),
        "avb": lambda: AVB(params.net, meta, params.avb),
        "vae": lambda: VAE(params.net, meta, params.vae),
    }
    if model not in builders:
        raise ValueError(f"unknown model {model!r}; choose from {sorted(builders)}")
    if params.net.arch == "dcgan" and tuple(meta.shape) != (1, 28, 28):
        raise ParamsError(f"params.yaml: net.arch = 'dcgan' needs 28x28 images; {meta.name} has shape {meta.shape}")
    return builders[model]()


def steps_of(model: str, params: Params) -> int:
    return getattr(params, model).steps
