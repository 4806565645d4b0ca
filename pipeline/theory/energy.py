"""Part 4: the energy view. Is a trained WGAN critic f an (unnormalised) log-density of the data?

The optimal critic of W1 solves Kantorovich-Rubinstein duality (WGAN eq. 2):
it is high where P_r puts mass and low where P_g does, with slope at most K
everywhere. Reading f as a negative energy, exp(f) ~ p_real, is therefore a
claim about ranks near the data: f should order points as log p_real does.
It cannot hold everywhere: log p_real falls quadratically away from the
modes while f is Lipschitz (at most linear); and once P_g = P_r the optimal
critic is any constant, so the agreement should fade as the generator
converges. Measured here with Spearman's rank correlation on a grid.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import Tensor

from .mixture import (
    ConstrainedWGAN,
    Mixture,
    checkpoint_steps,
    make_mixture,
    net_params,
    sample_w1,
    train_with_checkpoints,
)
from ..config import EnergyParams, MixtureParams
from .stats import spearman


def grid_points(centers: Tensor, std: float, margin: float, n: int) -> tuple[Tensor, Tensor, Tensor]:
    """An n x n grid over the modes' bounding box widened by 3 std + margin: (xs (n,), ys (n,), points (n*n, 2))."""
    lo = centers.min(0).values - 3 * std - margin
    hi = centers.max(0).values + 3 * std + margin
    xs, ys = torch.linspace(lo[0], hi[0], n), torch.linspace(lo[1], hi[1], n)
    gx, gy = torch.meshgrid(xs, ys, indexing="xy")  # row i: y = ys[i]
    return xs, ys, torch.stack([gx.flatten(), gy.flatten()], 1)


def near_mask(points: Tensor, centers: Tensor, std: float, k: float) -> Tensor:
    """True where a point lies within k std of some mode centre: (N,)."""
    return torch.cdist(points, centers).min(1).values <= k * std


def agreement(critic_values: Tensor, log_p: Tensor, near: Tensor) -> dict[str, float]:
    """Spearman(f, log p) over the whole grid, near the modes, and far from them."""
    f, lp = critic_values.double().numpy(), log_p.double().numpy()
    m = near.numpy()
    return {"all": spearman(f, lp), "near": spearman(f[m], lp[m]), "far": spearman(f[~m], lp[~m])}


@dataclass
class EnergyRun:
    name: str
    checkpoints: list[dict]  # {"step", "all", "near", "far", "w1"}
    critic: list[list[float]]  # final f on the grid, (n, n)
    error: str = ""

    @property
    def final(self) -> dict:
        return self.checkpoints[-1] if self.checkpoints else {}


@dataclass
class EnergyResult:
    xs: list[float]
    ys: list[float]
    log_p: list[list[float]]  # (n, n)
    near_fraction: float  # share of grid points counted as "near"
    runs: dict[str, EnergyRun]
    main: str

    def to_dict(self) -> dict:
        return asdict(self)


def run_energy(p: EnergyParams, m: MixtureParams, seed: int) -> EnergyResult:
    mix: Mixture = make_mixture(m, seed)
    xs, ys, pts = grid_points(mix.centers, mix.std, p.margin, p.grid)
    log_p = mix.log_density(pts)
    near = near_mask(pts, mix.centers, mix.std, p.near_stds)
    runs = {}
    for name, run in p.runs.items():
        step = ConstrainedWGAN(net_params(m), mix.meta, run, p.batch_size)

        def evaluate(s, done: int) -> dict:
            with torch.no_grad():
                f = s.D(pts)
            return agreement(f, log_p, near) | {"w1": sample_w1(s, mix, seed + done)}

        _, evals, err = train_with_checkpoints(step, mix.train, p.steps, checkpoint_steps(p.steps, p.checkpoints, log=True),
                                               seed, evaluate)
        with torch.no_grad():
            critic = step.D(pts).view(p.grid, p.grid)
        runs[name] = EnergyRun(name, evals, critic.tolist(), err or "")
    return EnergyResult(xs.tolist(), ys.tolist(), log_p.view(p.grid, p.grid).tolist(),
                        float(near.float().mean()), runs, p.main)
