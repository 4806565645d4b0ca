"""Part 6: the AVB toy example (Mescheder, Nowozin & Geiger 2017, section 6.1, Figure 2).

Four data points, the 2x2 binary images with one pixel on (flattened to 4
bits), a 2-D latent z ~ N(0, I) and a Bernoulli decoder p(x|z). A perfect
model puts mass 1/4 on each image, so the average log-likelihood is at most
-log 4 = -1.386 (Gibbs' inequality), with equality only there. The best
posteriors q(z|x) then split the latent plane into four regions; a Gaussian
q (the VAE) cannot take that shape, AVB's black-box q(z|x) = f(x, eps) can.

Training: the VAE maximises the ELBO with the analytic KL (Kingma & Welling
2014, Appendix B); AVB replaces log q(z|x) - log p(z) by an adversary
T(x, z) trained with `avb_adversary_loss` (AVB eq. 3.3, Proposition 1) and
maximises E_q[log p(x|z) - T(x, z)] (eq. 3.7).

Evaluation, model-only so both are judged alike: log p(x) by importance
sampling with the prior as proposal, log (1/K) sum_k p(x|z_k), z_k ~ N(0, I)
(unbiased for p(x), so the log is a lower bound in expectation), and a 2-D
quadrature of the same integral as a cross-check.

Its own small models and loop, not the core's AVB / VAE: the decoder here is
Bernoulli (the core's is Gaussian) and the data are four fixed points; the
losses are the core's (`avb_adversary_loss`, `avb_elbo_terms`, the analytic KL).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor, nn

from pipeline.models import losses
from pipeline.evaluation.metrics import importance_log_likelihood
from pipeline.config import AvbToyParams
from pipeline.models.nets import mlp
from pipeline.records import AvbToyResult, LogLik

OPTIMUM = -math.log(4.0)
Z_DIM = 2


def toy_data() -> Tensor:
    """The four 2x2 one-hot images, flattened: (4, 4)."""
    return torch.eye(4)


def bernoulli_log_lik(x: Tensor, logits: Tensor) -> Tensor:
    """log p(x|z) = sum_j x_j log s(l_j) + (1 - x_j) log(1 - s(l_j)): (..., ) over the last dim."""
    x, logits = torch.broadcast_tensors(x, logits)
    return -nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)


class ToyVAE(nn.Module):
    """Gaussian q(z|x) = N(mu(x), diag e^logvar(x)) with the reparameterisation trick."""

    def __init__(self, p: AvbToyParams):
        super().__init__()
        self.encoder = mlp([4, *p.hidden, 2 * Z_DIM])
        self.decoder = mlp([Z_DIM, *p.hidden, 4])
        self.opt = torch.optim.Adam(self.parameters(), lr=p.lr)

    def q(self, x: Tensor) -> tuple[Tensor, Tensor]:
        mu, logvar = self.encoder(x).chunk(2, -1)
        return mu, logvar

    def posterior(self, x: Tensor, k: int) -> Tensor:
        mu, logvar = self.q(x)
        return mu + (0.5 * logvar).exp() * torch.randn(k, *mu.shape)  # (k, B, 2)

    def train_step(self, x: Tensor) -> float:
        mu, logvar = self.q(x)
        z = mu + (0.5 * logvar).exp() * torch.randn_like(mu)
        neg_elbo = -bernoulli_log_lik(x, self.decoder(z)) + losses.gaussian_kl_to_standard(mu, logvar)
        loss = neg_elbo.mean()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return -float(loss.detach())


class ToyAVB(nn.Module):
    """Black-box q(z|x): z = f(x, eps), eps ~ N(0, I); adversary T(x, z) ~ log q(z|x) - log p(z)."""

    def __init__(self, p: AvbToyParams):
        super().__init__()
        self.p = p
        self.encoder = mlp([4 + p.eps_dim, *p.hidden, Z_DIM])
        self.decoder = mlp([Z_DIM, *p.hidden, 4])
        self.T = mlp([4 + Z_DIM, *p.hidden, 1])
        self.opt = torch.optim.Adam([*self.encoder.parameters(), *self.decoder.parameters()], lr=p.lr)
        self.opt_t = torch.optim.Adam(self.T.parameters(), lr=p.adversary_lr)

    def encode(self, x: Tensor) -> Tensor:
        return self.encoder(torch.cat([x, torch.randn(*x.shape[:-1], self.p.eps_dim)], -1))

    def t(self, x: Tensor, z: Tensor) -> Tensor:
        return self.T(torch.cat([x, z], -1)).squeeze(-1)

    def posterior(self, x: Tensor, k: int) -> Tensor:
        return self.encode(x.expand(k, *x.shape))  # (k, B, 2)

    def train_step(self, x: Tensor) -> float:
        ac, m = self.p.adaptive_contrast, self.p.contrast_samples
        for _ in range(self.p.adversary_steps):
            with torch.no_grad():  # adaptive contrast: T tells q's normalised draws from N(0, I)
                z_q = losses.adaptive_contrast(self.posterior(x, m))[0][0] if ac else self.encode(x)
            loss_t = losses.avb_adversary_loss(self.t(x, z_q), self.t(x, torch.randn_like(z_q)))
            self.opt_t.zero_grad(set_to_none=True)
            loss_t.backward()
            self.opt_t.step()
        self.T.requires_grad_(False)  # T held fixed: only dT/dz reaches the encoder
        if ac:  # -ELBO = E_q[T(x, z~) + log r(z|x) - log p(z) - log p(x|z)], as the core AVB
            z = self.posterior(x, m)
            z_t, log_r = losses.adaptive_contrast(z)
            xm = x.expand(m, *x.shape)
            t = self.t(xm, z_t) + log_r - losses.standard_normal_logpdf(z)
            neg_elbo, _ = losses.avb_elbo_terms(t, -bernoulli_log_lik(xm, self.decoder(z)))
        else:
            z = self.encode(x)
            neg_elbo, _ = losses.avb_elbo_terms(self.t(x, z), -bernoulli_log_lik(x, self.decoder(z)))
        loss = neg_elbo.mean()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.T.requires_grad_(True)
        return -float(loss.detach())


@torch.no_grad()
def log_likelihood(decoder: nn.Module, k: int, gen: torch.Generator, chunk: int = 20_000) -> LogLik:
    """log p(x) = log E_{z ~ N(0, I)} p(x|z) for each toy image, by importance sampling with the prior.

    Its Monte Carlo error for each image: sd(w) / (sqrt(K) mean(w)) (delta method), w_k = p(x|z_k).
    """
    x = toy_data()
    log_w = torch.cat([bernoulli_log_lik(x[None], decoder(torch.randn(min(chunk, k - i), 1, Z_DIM, generator=gen)))
                       for i in range(0, k, chunk)])  # (K, 4): z broadcast over the four images
    ll = importance_log_likelihood(log_w.double().numpy())
    w = np.exp(log_w.double().numpy() - log_w.double().numpy().max(0))
    se_each = w.std(0, ddof=1) / (math.sqrt(k) * w.mean(0))
    return LogLik(ll.mean, float(np.sqrt((se_each**2).sum()) / len(se_each)), ll.per_point.tolist(), ll.ess_fraction,
                  quadrature_log_likelihood(decoder))


@torch.no_grad()
def quadrature_log_likelihood(decoder: nn.Module, n: int = 301, half_width: float = 6.0) -> float:
    """Average log p(x) by the midpoint rule on an n x n grid over [-w, w]^2 (the prior's mass outside is < 1e-8)."""
    ticks = torch.linspace(-half_width, half_width, n, dtype=torch.float64)
    z = torch.cartesian_prod(ticks, ticks)
    log_cell = 2 * math.log(float(ticks[1] - ticks[0]))
    log_prior = losses.standard_normal_logpdf(z)
    log_px_z = bernoulli_log_lik(toy_data().double()[:, None], decoder.double()(z)[None])  # (4, n*n)
    decoder.float()
    return float((torch.logsumexp(log_px_z + log_prior + log_cell, 1)).mean())


def train(model: nn.Module, p: AvbToyParams, gen: torch.Generator) -> float:
    x = toy_data()
    elbos = []
    for _ in range(p.steps):
        elbos.append(model.train_step(x[torch.randint(4, (p.batch_size,), generator=gen)]))
    return float(np.mean(elbos[-max(1, p.steps // 10):]))


def run_avb_toy(p: AvbToyParams, seed: int) -> tuple[AvbToyResult, dict[str, list]]:
    """The record, and for the figure each model's (4, n_plot, 2) draws of q(z|x)."""
    out, elbo, post = {}, {}, {}
    for name, cls in (("avb", ToyAVB), ("vae", ToyVAE)):
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        model = cls(p)
        elbo[name] = train(model, p, gen)
        out[name] = log_likelihood(model.decoder, p.is_samples, gen)
        with torch.no_grad():
            post[name] = model.posterior(toy_data(), p.n_plot).transpose(0, 1).tolist()  # (4, n_plot, 2)
    return AvbToyResult(out["avb"], out["vae"], elbo, OPTIMUM), post
