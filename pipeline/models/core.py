"""The four models as *step objects* over one training loop (`pipeline.training.loop.fit`).

Each model owns its nets, its optimisers and two update rules: `inner` (the
discriminator / critic / adversary, run `inner_count(it)` times) and `outer`
(the generator, or encoder+decoder). The trainer knows nothing else about
them (the split Mimicry's `train_step` makes).
"""

from __future__ import annotations

from functools import cached_property
from typing import Callable, Optional

import torch
from torch import Tensor, nn

from pipeline.models import losses
from pipeline.config import AvbParams, GanParams, NetParams, Params, ParamsError, VaeParams, WganParams
from pipeline.data.datasets import DataMeta
from pipeline.models.nets import GaussianDecoder, Generator, ProductAdversary, Scorer
from pipeline.models.registry import MODELS, section

Logs = dict[str, Tensor]  # scalar tensors; the trainer turns them into floats only when it logs


class Step(nn.Module):
    """Base: nets live in `self` (an nn.Module), so `state_dict()` is the checkpoint.

    Optimisers are `cached_property`s, made on first use: a model restored
    for evaluation never builds one (the first optimiser imports torch._dynamo,
    about 2 s per process), and one moved to a device before training gets
    them on that device.
    """

    batch_size = 64

    def __init__(self, net: NetParams, meta: DataMeta):
        super().__init__()
        # in logs and messages; `build` gives it the model's registry name
        self.name = type(self).__name__.lower()
        self.net_params, self.meta = net, meta
        self.images = meta.kind == "images"
        self.shape = tuple(meta.shape)

    def inner_count(self, it: int) -> int:
        """Inner (discriminator-side) updates before generator update number `it`."""
        return 0

    def lr_scale(self, it: int) -> float:
        """Every optimiser's learning rate at generator step `it` (0-based), as a share of its initial one:
        1 (`lr_decay: constant`) or 1 - it / steps (`linear`: to 0 at the end of the run, as the WGAN-GP
        authors' gan_cifar_resnet.py). `self.p` is the model's params section."""
        return 1.0 if self.p.lr_decay == "constant" else max(0.0, 1.0 - it / self.p.steps)

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


class Adversarial(Step):
    """A generator G and a scorer D (discriminator or critic): GAN and WGAN differ in D's update
    and in `g_loss_fn`, the generator's loss on D's scores of its samples."""

    G: nn.Module
    D: nn.Module
    opt_g: torch.optim.Optimizer
    g_loss_fn: Callable[[Tensor], Tensor]

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


class GAN(Adversarial):
    """Goodfellow et al. 2014: D maximises V(D, G); G minimises log(1 - D(G(z))) or -log D(G(z))."""

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



def make_optimizer(params, p: WganParams) -> torch.optim.Optimizer:
    """A WGAN's optimiser: RMSProp (the paper's choice: momentum destabilised the critic, section 3)
    or Adam(lr, (beta1, beta2)); (0.5, 0.9) is WGAN-GP's (Gulrajani et al. 2017). Foreach: one fused
    update over all tensors (on CPU the same numbers as the per-tensor loop)."""
    if p.optimizer == "adam":
        return torch.optim.Adam(params, lr=p.lr, betas=(p.beta1, p.beta2), foreach=True)
    return torch.optim.RMSprop(params, lr=p.lr, foreach=True)


def spectral_normalise_(module: nn.Module) -> nn.Module:
    """Divide every Linear / Conv weight of `module` by its largest singular value, in place (Miyato et al. 2018).

    LeakyReLU is 1-Lipschitz, so the critic is then at most 1-Lipschitz (for a
    conv: the norm of the kernel reshaped to (out, in * k * k), as Miyato et al.).
    Build the optimiser *after* this call: the weights become `parametrizations.weight.original`.
    """
    for name, child in module.named_children():
        if isinstance(child, (nn.Linear, nn.Conv2d)):
            setattr(module, name, nn.utils.parametrizations.spectral_norm(child))
        else:
            spectral_normalise_(child)
    return module


def critic_step(D: nn.Module, opt: torch.optim.Optimizer, real: Tensor, fake: Tensor, p: WganParams,
                clip: Optional[float], params: Optional[list[Tensor]] = None) -> tuple[Tensor, Tensor]:
    """One critic update under `p.constraint`; returns (loss, W estimate E f(real) - E f(fake)), detached.

    loss = E f(fake) - E f(real)  (Algorithm 1, line 5), + gp_weight * gradient penalty for `gp`
    (Gulrajani et al. 2017, eq. 3); `clip` clamps the weights after the step (line 7); for `sn`
    the constraint lives in the layers. `params`: the critic's parameters, if already listed.
    """
    scores = D(torch.cat([real, fake]))  # one call: a critic has no BatchNorm
    w_loss = losses.wgan_critic_loss(scores[: len(real)], scores[len(real):])
    loss = w_loss + p.gp_weight * losses.gradient_penalty(D, real, fake) if p.constraint == "gp" else w_loss
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    if p.constraint == "clip":
        losses.clip_weights_(params if params is not None else list(D.parameters()), clip)
    return loss.detach(), -w_loss.detach()


class WGAN(Adversarial):
    """Arjovsky, Chintala & Bottou 2017, Algorithm 1, the critic kept Lipschitz by `p.constraint`:
    weight clipping to [-clip, clip] after every critic step (the paper's), a gradient penalty
    (Gulrajani et al. 2017) or spectral normalisation (Miyato et al. 2018)."""

    def __init__(self, net: NetParams, meta: DataMeta, p: WganParams, clip: Optional[float] = None):
        super().__init__(net, meta)
        if p.constraint == "clip" and clip is None:
            raise ValueError("a weight-clipped WGAN needs its bound `clip`")
        self.p, self.clip, self.batch_size = p, clip, p.batch_size
        self.G = Generator(net, self.shape, self.images)
        self.D = Scorer(net, self.shape)
        self.g_loss_fn = losses.wgan_generator_loss
        if p.constraint == "sn":
            spectral_normalise_(self.D)  # before the (lazy) optimiser first sees the parameters
        self._critic_params = list(self.D.parameters())

    @cached_property
    def opt_g(self) -> torch.optim.Optimizer:
        return make_optimizer(self.G.parameters(), self.p)

    @cached_property
    def opt_d(self) -> torch.optim.Optimizer:
        return make_optimizer(self.D.parameters(), self.p)

    def inner_count(self, it: int) -> int:
        # Reference code (martinarjovsky/WassersteinGAN main.py): a near-optimal critic
        # early on (`warmup`), and in its schedule also every 500 generator steps.
        if it < self.p.warmup or (self.p.reference_schedule and (it < 25 or it % 500 == 0)):
            return 100
        return self.p.n_critic

    def inner(self, x: Tensor) -> Logs:
        with torch.no_grad():
            fake = self.G(self._z(len(x), x.device))
        loss, w = critic_step(self.D, self.opt_d, x, fake, self.p, self.clip, self._critic_params)
        return {"critic_loss": loss, "w_estimate": w}



class LatentModel(Step):
    """Shared by AVB and the VAE: Gaussian decoder p(x|z), prior p(z) = N(0, I)."""

    def __init__(self, net: NetParams, meta: DataMeta, min_std: float):
        super().__init__(net, meta)
        self.decoder = GaussianDecoder(net, self.shape, self.images, min_std)

    def generator(self) -> nn.Module:
        return self.decoder  # the mean net and the std: snapshots must sample like the final model

    @torch.no_grad()
    def sample(self, n: int, generator: Optional[torch.Generator] = None) -> Tensor:
        """n draws from the model, z ~ p(z) then x ~ p(x|z) = N(G(z), diag sigma^2): what a
        generated sample of a latent model is. The decoder means alone are smoother than any
        draw, and would flatter the model's W1 and FID."""
        return self.simulate(n, generator)[0]

    @torch.no_grad()
    def simulate(self, n: int, generator: Optional[torch.Generator] = None) -> tuple[Tensor, Tensor]:
        """n pairs (x, z) with z ~ p(z), x ~ p(x|z): each z an exact draw from its x's posterior (BDMC)."""
        dev = next(self.decoder.parameters()).device
        where = generator.device if generator else dev
        z = torch.randn(n, self.net_params.z_dim, generator=generator, device=where).to(dev)
        was_training = self.decoder.training
        self.decoder.eval()
        mean, log_std = self.decoder(z)
        self.decoder.train(was_training)
        eps = torch.randn(mean.shape, generator=generator, device=where).to(dev)
        return mean + log_std.exp() * eps, z

    def posterior_samples(self, x: Tensor, k: int) -> Tensor:
        """k draws z ~ q(z|x) for each x: shape (k, B, z_dim)."""
        raise NotImplementedError

    def elbo(self, x: Tensor, z: Tensor, log_px_z: Tensor) -> Tensor:
        """Per-point ELBO (B,) from K posterior draws z (K, B, z_dim) and log p(x|z) (K, B)."""
        raise NotImplementedError

    def log_likelihood_terms(self, x: Tensor, z: Tensor) -> Tensor:
        """log p(x|z) + log p(z) for z of shape (k, B, z_dim): (k, B)."""
        k, b, _ = z.shape
        mean, log_std = self.decoder(z.reshape(k * b, -1))
        xk = x.unsqueeze(0).expand(k, *x.shape).reshape(k * b, *x.shape[1:])
        log_px = -losses.gaussian_nll(xk, mean, log_std.expand_as(mean))
        return log_px.view(k, b) + losses.standard_normal_logpdf(z)


class AVB(LatentModel):
    """Mescheder, Nowozin & Geiger 2017, Algorithm 1.

    Encoder z = f(x, eps), a black box with noise as input; adversary T(x, z)
    learns log q(z|x) - log p(z) by telling (x, z ~ q(z|x)) from (x, z ~ p(z));
    encoder and decoder minimise E_q[T(x, z) - log p(x|z)] = -ELBO.
    """

    def __init__(self, net: NetParams, meta: DataMeta, p: AvbParams):
        super().__init__(net, meta, p.min_std)
        self.p, self.batch_size = p, p.batch_size
        self.encoder = Scorer(net, self.shape, extra_dim=p.eps_dim, out_dim=net.z_dim)
        self.T = ProductAdversary(net, self.shape, net.z_dim) if p.adversary == "product" \
            else Scorer(net, self.shape, extra_dim=net.z_dim)

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

    def elbo(self, x: Tensor, z: Tensor, log_px_z: Tensor) -> Tensor:
        """E_q[log p(x|z) - T(x, z)] (AVB, eq. 3.7): T stands in for log q(z|x) - log p(z), so this is
        an *estimate* of the ELBO, exact only for the optimal adversary T*; it is not a bound.
        With adaptive contrast the K draws z also give r(z|x)'s moments (`losses.adaptive_contrast`)."""
        k, b, zd = z.shape
        xk = x.unsqueeze(0).expand(k, *x.shape).reshape(k * b, *x.shape[1:])
        if not self.p.adaptive_contrast:
            return (log_px_z - self.T(xk, z.reshape(k * b, zd)).view(k, b)).mean(0)
        z_t, log_r = losses.adaptive_contrast(z)
        kl = self.T(xk, z_t.reshape(k * b, zd)).view(k, b) + log_r - losses.standard_normal_logpdf(z)
        return (log_px_z - kl).mean(0)

    def _contrasted(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Adaptive contrast: m = contrast_samples draws z (m, B, d) per x, their normalised z~ and log r."""
        z = self.posterior_samples(x, self.p.contrast_samples)
        return (z, *losses.adaptive_contrast(z))

    def inner(self, x: Tensor) -> Logs:
        with torch.no_grad():
            z_q = self._contrasted(x)[1][0] if self.p.adaptive_contrast else self.encode(x)
        z_p = self._z(len(x), x.device)  # with adaptive contrast: r(z|x) normalised is N(0, I) too
        t = self.T(torch.cat([x, x]), torch.cat([z_q, z_p]))
        loss = losses.avb_adversary_loss(t[: len(x)], t[len(x):])
        self.opt_t.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_t.step()
        return {"adversary_loss": loss.detach()}

    def outer(self, x: Tensor) -> Logs:
        self.T.requires_grad_(False)  # T is held fixed; only dT/dz flows back to the encoder
        if self.p.adaptive_contrast:
            z, z_t, log_r = self._contrasted(x)
            m, b, zd = z.shape
            xk = x.unsqueeze(0).expand(m, *x.shape).reshape(m * b, *x.shape[1:])
            mean, log_std = self.decoder(z.reshape(m * b, zd))
            nll = losses.gaussian_nll(xk, mean, log_std.expand_as(mean))
            # T estimates log q - log r; log r - log p(z) is exact: together log q - log p (eq. 3.13)
            t = self.T(xk, z_t.reshape(m * b, zd)) + (log_r - losses.standard_normal_logpdf(z)).reshape(-1)
        else:
            z = self.encode(x)
            mean, log_std = self.decoder(z)
            nll = losses.gaussian_nll(x, mean, log_std.expand_as(mean))
            t = self.T(x, z)
        neg_elbo, kl = losses.avb_elbo_terms(t, nll)
        loss = neg_elbo.mean()
        self.opt_vae.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_vae.step()
        self.T.requires_grad_(True)
        return {"elbo": -loss.detach(), "kl": kl.mean().detach(), "recon_nll": nll.mean().detach()}


class VAE(LatentModel):
    """Kingma & Welling 2014: Gaussian q(z|x) = N(mu(x), diag sigma(x)^2), analytic KL."""

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

    def elbo(self, x: Tensor, z: Tensor, log_px_z: Tensor) -> Tensor:
        """E_q[log p(x|z)] - KL(q(z|x) || p(z)), the KL analytic (Kingma & Welling 2014, eq. 10): a lower bound."""
        mu, logvar = self.q_params(x)
        return log_px_z.mean(0) - losses.gaussian_kl_to_standard(mu, logvar)

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
    """The step object for `model` (a `pipeline.models.registry` name), configured from validated params."""
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; choose from {sorted(MODELS)}")
    return _step(model, params.net, section(model, params, meta.name),
                 {k: getattr(params, k) for k in MODELS[model].top_level}, meta)


def from_config(model: str, config: dict, meta: DataMeta) -> Step:
    """The step object `build` made, from :func:`model_config`'s output (a checkpoint's `config`). That
    holds only the keys that decide the nets, not a whole params.yaml, so each section is validated alone."""
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; choose from {sorted(MODELS)}")
    spec = MODELS[model]
    own = Params.model_fields[spec.section].annotation.model_validate(config[spec.section])
    p = own.model_copy(update={"batch_size": config["budget"]["batch_size"], "lr_decay": config["train"]["lr_schedule"]})
    net = NetParams.model_validate(_NET_KEYS_ADDED | config["net"])
    return _step(model, net, p, {k: config[k] for k in spec.top_level}, meta)


# `net:` keys younger than some checkpoints, as those were trained (float32, NCHW). Neither changes the
# weights' names or shapes, and evaluation runs float32 whatever they say.
_NET_KEYS_ADDED = {"autocast": "none", "channels_last": False}


def _step(model: str, net: NetParams, p, top_level: dict, meta: DataMeta) -> Step:
    if net.arch == "dcgan" and tuple(meta.shape) != (1, 28, 28):
        raise ParamsError(f"params.yaml: net.arch = 'dcgan' needs 28x28 images; {meta.name} has shape {meta.shape}")
    spec = MODELS[model]
    step = globals()[spec.step](net, meta, p, **top_level)
    step.name = spec.name
    return step


def model_config(model: str, params: Params, dataset: str) -> dict:
    """The params that determine a model's nets on `dataset` (enough to rebuild it for evaluation).

    `net` whole, `net.autocast` and `net.channels_last` included: they do not change the weights' names
    or shapes, so the weights load whatever they say. `datasets`: the one it was trained on, without
    which a `net.arch: dcgan` config would not validate (the default datasets are not 28x28)."""
    spec = MODELS[model]
    return {"datasets": [dataset], "net": params.net.model_dump(),
            # the keys every model shares come from `budget` and `train`, not from the section
            spec.section: section(model, params, dataset).model_dump(exclude={"steps", "batch_size", "lr_decay"}),
            "budget": {"batch_size": params.budget.batch_size},
            "train": {"lr_schedule": params.train.lr_schedule}} | {
        k: getattr(params, k) for k in spec.top_level}
