"""The 2D mixture of parts 3-5 and WGAN variants trained on it by the core loop (`pipeline.train.fit`).

`ConstrainedWGAN` is the core WGAN step (Arjovsky et al. 2017, Algorithm 1)
with the critic update swapped for one of three Lipschitz constraints
(`lipschitz.critic_step`): the generator side, optimisers and loop are the core's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
import torch
from torch import Tensor

from ..config import GanParams, NetParams, WganParams
from ..data import DataMeta, grid25_centers, mixture_log_density, ring8_centers, sample_mixture
from ..models import GAN, WGAN, Step
from ..metrics import w1_exact
from ..train import fit
from .lipschitz import critic_step, spectral_normalise_
from ..config import MixtureParams, WganRun


def exact_w1(x: Tensor, y: Tensor) -> float:
    """Exact W1 between the empirical measures of x (n, d) and y (m, d): the evaluation's `w1_exact` (POT)."""
    return w1_exact(x.detach().double().cpu().numpy(), y.detach().double().cpu().numpy())


@dataclass
class Mixture:
    centers: Tensor  # (K, 2)
    std: float
    train: Tensor  # (n_train, 2)
    test: Tensor  # (n_eval, 2): the real side of every exact W1
    meta: DataMeta

    def log_density(self, x: Tensor) -> Tensor:
        return mixture_log_density(x, self.centers, self.std)


def make_mixture(m: MixtureParams, seed: int) -> Mixture:
    centers = ring8_centers(m.radius) if m.kind == "ring8" else grid25_centers(m.spacing)
    g = torch.Generator().manual_seed(seed)
    train = sample_mixture(centers, m.std, m.n_train, g)
    test = sample_mixture(centers, m.std, m.n_eval, g)
    meta = DataMeta(m.kind, "points", (2,), len(train), len(test), centers=centers.tolist(), std=m.std)
    return Mixture(centers, m.std, train, test, meta)


def net_params(m: MixtureParams) -> NetParams:
    return NetParams(z_dim=m.z_dim, g_hidden=m.g_hidden, d_hidden=m.d_hidden)


class ConstrainedWGAN(WGAN):
    """The core WGAN step with the critic kept Lipschitz by clipping, a gradient penalty or spectral norm."""

    def __init__(self, net: NetParams, meta: DataMeta, run: WganRun, batch_size: int):
        p = WganParams(batch_size=batch_size, lr=run.lr, optimizer=run.optimizer, beta1=run.beta1, n_critic=run.n_critic)
        super().__init__(net, meta, p, run.clip)
        self.run = run
        self.g_steps = 0  # over the whole run: the core loop restarts its counter at every chunk
        if run.constraint == "sn":
            spectral_normalise_(self.D)  # before the (lazy) optimiser first sees the new parameters
            self._critic_params = list(self.D.parameters())

    def inner_count(self, it: int) -> int:
        # martinarjovsky/WassersteinGAN main.py: a near-optimal critic for the first 25 generator steps
        return 100 if self.g_steps < self.run.warmup else self.run.n_critic

    def outer(self, x: Tensor) -> dict[str, Tensor]:
        self.g_steps += 1
        return super().outer(x)

    def inner(self, x: Tensor) -> dict[str, Tensor]:
        with torch.no_grad():
            fake = self.G(self._z(len(x), x.device))
        w = critic_step(self.D, self.opt_d, x, fake, self.run.constraint, clip=self.run.clip, gp_weight=self.run.gp_weight)
        return {"critic_loss": -w, "w_estimate": w}


def make_gan(m: MixtureParams, meta: DataMeta, lr: float, g_loss: str, batch_size: int) -> GAN:
    return GAN(net_params(m), meta, GanParams(lr=lr, g_loss=g_loss, batch_size=batch_size))


def checkpoint_steps(total: int, n: int, log: bool = False, first: int = 10) -> list[int]:
    """n generator steps over (0, total], the last one included: evenly spread, or
    evenly in log scale from `first` (where a run changes fastest)."""
    if log:
        return sorted({int(round(v)) for v in np.logspace(np.log10(min(first, total)), np.log10(total), n)})
    return sorted({max(1, round(total * (i + 1) / n)) for i in range(n)})


def train_with_checkpoints(
    step: Step,
    data: Tensor,
    steps: int,
    checkpoints: list[int],
    seed: int,
    evaluate: Callable[[Step, int], dict],
    log_every: int = 10,
) -> tuple[list[dict], list[dict], Optional[str]]:
    """Run the core loop in chunks that end at each checkpoint and call `evaluate(step, done)` there.

    Returns (log rows with `step` counted over the whole run, the evaluations,
    an error line if the run diverged). Each chunk is seeded with seed + its index.
    """
    rows: list[dict] = []
    evals: list[dict] = []
    done = 0
    for i, stop in enumerate(c for c in checkpoints if c <= steps):
        result = fit(step, data, stop - done, log_every=log_every, seed=seed + i, progress=False)
        rows += [r | {"step": r["step"] + done} for r in result.rows]
        if not result.ok:
            return rows, evals, result.message
        done = stop
        evals.append({"step": done} | evaluate(step, done))
    return rows, evals, None


def sample_w1(step: Step, mixture: Mixture, seed: int) -> float:
    """Exact W1 between len(test) generator samples and the held-out real samples."""
    g = torch.Generator().manual_seed(seed)
    return exact_w1(step.sample(len(mixture.test), g), mixture.test)


def w1_floor(mixture: Mixture, seed: int) -> float:
    """Exact W1 between two independent real samples of the evaluation size: what a perfect generator scores."""
    g = torch.Generator().manual_seed(seed)
    return exact_w1(sample_mixture(mixture.centers, mixture.std, len(mixture.test), g), mixture.test)


def window_mean(rows: list[dict], key: str, upto: int, width: int) -> float:
    """Mean of a logged quantity over the rows with upto - width < step <= upto."""
    vals = [r[key] for r in rows if upto - width < r["step"] <= upto]
    return float(np.mean(vals)) if vals else float("nan")
