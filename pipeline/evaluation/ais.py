"""Annealed importance sampling (AIS) estimate of log p(x) for a latent-variable model.

Neal 2001, "Annealed importance sampling"; used to evaluate decoder-based
generative models by Wu, Burda, Salakhutdinov & Grosse 2017, "On the
quantitative analysis of decoder-based generative models" (the evaluation the
AVB paper, Mescheder et al. 2017, reports).

The model: prior p(z) = N(0, I), a differentiable decoder density log p(x|z).
AIS walks K chains per data point from the prior to the posterior through

    f_t(z) = p(z) p(x|z)^beta_t,   0 = beta_0 < beta_1 < ... < beta_T = 1,

moving each chain by a Metropolis-corrected HMC transition that leaves f_t
invariant, and accumulating the log weight

    log w = sum_{t=1..T} (beta_t - beta_{t-1}) log p(x | z_{t-1}).

E[w] = p(x) exactly (Neal 2001), so log mean_k w_k is a stochastic
*lower bound* on log p(x) in expectation (Jensen), tight as T grows.
Nothing here knows the model classes: :func:`model_log_px_z` adapts a
`LatentModel`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Literal

import numpy as np
import torch
from torch import Tensor

from pipeline.models.losses import standard_normal_logpdf

if TYPE_CHECKING:  # models imports torch.nn stacks; AIS itself needs only the callable
    from pipeline.models.core import LatentModel

LogPxZ = Callable[[Tensor, Tensor], Tensor]  # (x (B, ...), z (K, B, z_dim)) -> log p(x|z) (K, B)
Schedule = Literal["sigmoid", "geometric", "linear"]

# Step-size adaptation as in Wu et al.'s code (tonywu95/eval_gen, hmc.py): multiply by 1.02 when the
# acceptance rate is above the target, by 0.98 below; 0.65 is the HMC optimum of Neal 2011 / Beskos et al. 2013.
TARGET_ACCEPTANCE = 0.65
STEP_UP, STEP_DOWN = 1.02, 0.98
STEP_MIN, STEP_MAX = 1e-4, 1.0  # above ~1 a leapfrog step overshoots even the N(0, I) prior (beta = 0)
SIGMOID_DELTA = 4.0  # steepness of the sigmoid schedule (as Wu et al. 2017 and Grosse's code)
GEOMETRIC_START = 1e-4  # first nonzero beta of the geometric schedule


@dataclass(frozen=True)
class AisResult:
    """An AIS estimate over B points: a stochastic lower bound on log p(x) in expectation."""

    per_point: np.ndarray  # (B,) log (1/K) sum_k w_k, nats
    mean: float  # average over the points
    stderr: float  # standard error of that average over the points (nan for one point)
    acceptance: float  # HMC acceptance probability averaged over transitions, chains and points
    ess: float  # effective sample size (sum w)^2 / sum w^2 of the final weights, mean over points: 1..K
    chains: int
    steps: int
    leapfrog: int

    @property
    def ess_fraction(self) -> float:
        """ESS / K: near 1/K means one chain carried the estimate (too few steps)."""
        return self.ess / self.chains


def beta_schedule(steps: int, kind: Schedule = "sigmoid") -> Tensor:
    """beta_0 = 0 < ... < beta_T = 1, shape (T + 1,), float64.

    sigmoid: beta_t proportional to sigmoid(delta (2t/T - 1)), shifted and scaled to [0, 1]
    (as Wu et al. 2017): small steps at both ends, where log p(x|z) changes fastest
    relative to f_t. geometric: log-spaced from 1e-4 (Neal 2001). linear: evenly spaced.
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    t = torch.arange(steps + 1, dtype=torch.float64)
    if kind == "sigmoid":
        s = torch.sigmoid(SIGMOID_DELTA * (2 * t / steps - 1))
        betas = (s - s[0]) / (s[-1] - s[0])
    elif kind == "geometric":
        betas = torch.cat([torch.zeros(1, dtype=torch.float64),
                           torch.logspace(math.log10(GEOMETRIC_START), 0, steps, dtype=torch.float64)])
    elif kind == "linear":
        betas = t / steps
    else:
        raise ValueError(f"unknown schedule {kind!r}; choose from sigmoid, geometric, linear")
    betas[0], betas[-1] = 0.0, 1.0  # exact ends, whatever the rounding
    return betas


def _log_px_and_grad(log_px_z: LogPxZ, x: Tensor, z: Tensor) -> tuple[Tensor, Tensor]:
    """log p(x|z) (K, B) and d/dz log p(x|z) (K, B, z_dim), both detached."""
    with torch.enable_grad():  # the caller may sit under torch.no_grad()
        z = z.detach().requires_grad_(True)
        lp = log_px_z(x, z)
        # the chains are independent, so the gradient of the sum is each chain's gradient
        (grad,) = torch.autograd.grad(lp.sum(), z)
    return lp.detach(), grad


def _hmc(log_px_z: LogPxZ, x: Tensor, z: Tensor, lp: Tensor, grad: Tensor, beta: float, eps: Tensor,
         leapfrog: int, randn, rand) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """One Metropolis-corrected HMC transition leaving f_t(z) = p(z) p(x|z)^beta invariant (Neal 2011).

    U(z) = -log f_t(z) = |z|^2 / 2 - beta log p(x|z) up to a constant. Returns the new
    (z, log p(x|z), its gradient) and the log acceptance probability (K, B).
    """
    grad_u = lambda zz, g: zz - beta * g  # noqa: E731
    energy = lambda zz, l, mom: 0.5 * (zz**2).sum(-1) - beta * l + 0.5 * (mom**2).sum(-1)  # noqa: E731
    p0 = randn(*z.shape)
    h0 = energy(z, lp, p0)
    z1, lp1, g1 = z, lp, grad
    p1 = p0 - 0.5 * eps * grad_u(z1, g1)
    for i in range(leapfrog):
        z1 = z1 + eps * p1
        lp1, g1 = _log_px_and_grad(log_px_z, x, z1)
        # a full momentum step between position steps, a half step at the end (leapfrog, Neal 2011)
        p1 = p1 - (eps if i < leapfrog - 1 else 0.5 * eps) * grad_u(z1, g1)
    h1 = energy(z1, lp1, p1)
    # nan or inf energy (a diverging trajectory) gives probability 0: rejected, the chain stays put
    log_accept = torch.nan_to_num(h0 - h1, nan=-math.inf).clamp(max=0.0)  # (K, B)
    accept = torch.log(rand(log_accept.shape)) < log_accept
    return (torch.where(accept[..., None], z1, z), torch.where(accept, lp1, lp),
            torch.where(accept[..., None], g1, grad), log_accept)


def ais_log_likelihood(log_px_z: LogPxZ, x: Tensor, z_dim: int, *, chains: int = 16, steps: int = 500,
                       leapfrog: int = 10, step_size: float = 0.05, seed: int = 0,
                       schedule: Schedule = "sigmoid", adapt: bool = True) -> AisResult:
    """AIS estimate of log p(x) for each of the B points in `x` (Neal 2001; Wu et al. 2017).

    `log_px_z(x, z)`: log p(x|z) only (not the prior), (K, B) for z (K, B, z_dim); it must be
    differentiable in z. K = `chains` independent chains per point start from p(z) = N(0, I);
    each of the T = `steps` transitions is one HMC proposal of `leapfrog` steps, accepted with
    probability min(1, exp(-dH)) so that it leaves f_t = p(z) p(x|z)^beta_t invariant.

    `adapt`: the step size, one per point shared by its K chains, is multiplied by 1.02 after a
    transition whose mean acceptance over those chains exceeds 0.65 and by 0.98 otherwise (Wu et
    al.'s rule, clamped to [1e-4, 1]). The kernel then depends on the chains' past, a departure from
    Neal's argument that Wu et al. also make; averaging over the K chains keeps each chain's own
    influence small, and the closed-form test bounds the effect. `adapt=False` keeps `step_size`
    fixed (exact AIS). Deterministic given `seed`. Cost: K * B * T * L decoder forward+backward rows.
    """
    if chains < 1 or leapfrog < 1:
        raise ValueError(f"chains and leapfrog must be >= 1, got {chains} and {leapfrog}")
    gen = torch.Generator(device=x.device).manual_seed(seed)
    z = torch.randn(chains, len(x), z_dim, generator=gen, device=x.device, dtype=_float(x))  # exact draws from f_0
    log_w, acceptance = _anneal(log_px_z, x, z, beta_schedule(steps, schedule).tolist(), leapfrog, step_size,
                                gen, adapt)
    return _result(log_w, acceptance, chains, steps, leapfrog)


def _float(x: Tensor) -> torch.dtype:
    return x.dtype if x.dtype.is_floating_point else torch.get_default_dtype()


def _anneal(log_px_z: LogPxZ, x: Tensor, z: Tensor, betas: list[float], leapfrog: int, step_size: float,
            gen: torch.Generator, adapt: bool) -> tuple[Tensor, float]:
    """Carry the chains z (K, B, z_dim), drawn from f_{betas[0]}, through f_{betas[1]}, ..., f_{betas[-1]}:
    (the log weights sum_t log f_t(z_{t-1}) / f_{t-1}(z_{t-1}), (K, B) float64; the mean acceptance).
    Either direction: betas rising from 0 is forward AIS, falling from 1 the reverse chain of BDMC."""
    b, dev, dtype = x.shape[0], x.device, z.dtype
    randn = lambda *shape: torch.randn(*shape, generator=gen, device=dev, dtype=dtype)  # noqa: E731
    rand = lambda shape: torch.rand(*shape, generator=gen, device=dev, dtype=dtype)  # noqa: E731
    lp, grad = _log_px_and_grad(log_px_z, x, z)
    log_w = torch.zeros(z.shape[:2], dtype=torch.float64, device=dev)  # float64: T terms are summed
    eps = torch.full((1, b, 1), step_size, dtype=dtype, device=dev)  # per point, shared by its chains
    acc_sum = torch.zeros((), dtype=torch.float64, device=dev)
    for t in range(1, len(betas)):
        # f_t / f_{t-1} = p(x|z)^(beta_t - beta_{t-1}) at z_{t-1}, a draw (in the weighted sense) from f_{t-1}
        log_w += (betas[t] - betas[t - 1]) * lp.double()
        z, lp, grad, log_accept = _hmc(log_px_z, x, z, lp, grad, betas[t], eps, leapfrog, randn, rand)
        rate = log_accept.exp()  # (K, B) Metropolis acceptance probability
        acc_sum += rate.double().mean()
        if adapt:
            up = rate.mean(0)[None, :, None] > TARGET_ACCEPTANCE  # (1, B, 1)
            eps = torch.where(up, eps * STEP_UP, eps * STEP_DOWN).clamp(STEP_MIN, STEP_MAX)
    return log_w, float(acc_sum / max(len(betas) - 1, 1))


def _result(log_w: Tensor, acceptance: float, chains: int, steps: int, leapfrog: int) -> AisResult:
    per_point_t = torch.logsumexp(log_w, 0) - math.log(chains)
    ess = torch.exp(2 * torch.logsumexp(log_w, 0) - torch.logsumexp(2 * log_w, 0))  # Kong 1992
    per_point = per_point_t.cpu().numpy()
    b = len(per_point)
    stderr = float(per_point.std(ddof=1) / math.sqrt(b)) if b > 1 else float("nan")
    return AisResult(per_point=per_point, mean=float(per_point.mean()), stderr=stderr, acceptance=acceptance,
                     ess=float(ess.mean()), chains=chains, steps=steps, leapfrog=leapfrog)


@dataclass(frozen=True)
class BdmcResult:
    """Bidirectional Monte Carlo on points simulated from the model (Grosse, Ghahramani & Adams 2015;
    Wu et al. 2017, section 5): log p(x) of each lies, in expectation, between the two."""

    lower: AisResult  # forward AIS from the prior: a stochastic lower bound
    upper: np.ndarray  # (B,) reverse AIS from the exact posterior draw: a stochastic upper bound

    @property
    def gap(self) -> float:
        """Mean upper - lower over the points: a bound on the forward estimate's error, on such points."""
        return float(np.mean(self.upper - self.lower.per_point))


def bdmc(log_px_z: LogPxZ, x: Tensor, z: Tensor, *, chains: int = 16, steps: int = 500, leapfrog: int = 10,
         step_size: float = 0.05, seed: int = 0, schedule: Schedule = "sigmoid", adapt: bool = True) -> BdmcResult:
    """Forward and reverse AIS on simulated pairs: z (B, z_dim) ~ p(z), then x (B, ...) ~ p(x|z).

    Each z is an exact draw from its x's posterior p(z|x), so a chain started there and annealed
    from beta = 1 down to 0 has E[w] = p(z)-normaliser / p(x) = 1 / p(x) (Neal 2001, run backwards):
    -log mean_k w_k is a stochastic upper bound on log p(x), as the forward run is a lower one. The
    gap between them bounds the forward estimate's error on data like the model's own samples;
    it says nothing about data the model fits badly, and (as for the forward run) the step-size
    adaptation is outside Neal's argument. Both runs use the same settings as
    :func:`ais_log_likelihood`; all K reverse chains of a point start from its one exact draw.
    """
    lower = ais_log_likelihood(log_px_z, x, z.shape[-1], chains=chains, steps=steps, leapfrog=leapfrog,
                               step_size=step_size, seed=seed, schedule=schedule, adapt=adapt)
    gen = torch.Generator(device=x.device).manual_seed(seed + 1)  # not the forward run's stream
    start = z.to(_float(x)).unsqueeze(0).expand(chains, *z.shape).contiguous()
    log_w, _ = _anneal(log_px_z, x, start, beta_schedule(steps, schedule).flip(0).tolist(), leapfrog, step_size,
                       gen, adapt)
    # log_w estimates log (1 / p(x)): its log-mean-exp, negated, is the upper bound
    upper = -(torch.logsumexp(log_w, 0) - math.log(chains))
    return BdmcResult(lower=lower, upper=upper.cpu().numpy())


def model_log_px_z(step: LatentModel) -> LogPxZ:
    """log p(x|z) of a `pipeline.models.core.LatentModel` (AVB, VAE) as the callable AIS takes.

    `log_likelihood_terms` gives log p(x|z) + log p(z); the prior is taken off again, as in
    `pipeline.evaluation.likelihood`, so AIS adds it back through f_t alone. Put the model in eval mode
    first if its decoder has BatchNorm (`net.g_batchnorm`): train mode would mix the chains.
    """
    def log_px_z(x: Tensor, z: Tensor) -> Tensor:
        return step.log_likelihood_terms(x, z) - standard_normal_logpdf(z)

    return log_px_z
