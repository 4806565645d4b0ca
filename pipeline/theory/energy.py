"""Part 4: the energy view. Is a trained WGAN critic f an (unnormalised) log-density of the data?

The optimal critic of W1 solves Kantorovich-Rubinstein duality (WGAN eq. 2):
it is high where P_r puts mass and low where P_g does, with slope at most K
everywhere. Reading f as a negative energy, exp(f) ~ p_real, is therefore a
claim about ranks near the data: f should order points as log p_real does.
It cannot hold everywhere: log p_real falls quadratically away from the
modes while f is Lipschitz (at most linear); and once P_g = P_r the optimal
critic is any constant, so the agreement should fade as the generator
converges. Measured here with Spearman's rank correlation on a grid, for
critics of the core's WGAN trained with their generators by the core loop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from pipeline.config import EnergyParams, MixtureParams, TheoryWgan
from pipeline.records import EnergyCheckpoint, EnergyResult, EnergyRun
from pipeline.theory.mixture import checkpoint_steps, load_mixture, make_wgan, sample_w1, train_with_checkpoints
from pipeline.theory.stats import spearman


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
    """Spearman(f, log p) over the whole grid, near the modes, and far from them (NaN where undefined)."""
    f, lp = critic_values.double().numpy(), log_p.double().numpy()
    m = near.numpy()
    rho = {"all": spearman(f, lp), "near": spearman(f[m], lp[m]), "far": spearman(f[~m], lp[~m])}
    return {k: math.nan if v is None else v for k, v in rho.items()}


@dataclass
class EnergyMaps:
    """What the figure draws and the record leaves out: log p_real and each final critic on the grid, (n, n)."""

    xs: list[float]
    ys: list[float]
    log_p: list[list[float]]
    critics: dict[str, list[list[float]]]


def run_energy(p: EnergyParams, runs: dict[str, TheoryWgan], m: MixtureParams, seed: int) -> tuple[EnergyResult, EnergyMaps]:
    """`runs`: each run's full WGAN settings (theory.wgan with its keys on top)."""
    mix = load_mixture(m, seed)
    xs, ys, pts = grid_points(mix.centers, mix.std, p.margin, p.grid)
    log_p = mix.log_density(pts)
    near = near_mask(pts, mix.centers, mix.std, p.near_stds)
    out, critics = {}, {}
    for name, run in runs.items():
        step = make_wgan(m, mix, run)  # nets from the global RNG, one run after the other

        def evaluate(s, done: int) -> dict:
            with torch.no_grad():
                f = s.D(pts)
            return agreement(f, log_p, near) | {"w1": sample_w1(s, mix, seed + done)}

        _, evals, err = train_with_checkpoints(step, mix.train, p.steps, checkpoint_steps(p.steps, p.checkpoints),
                                               seed, evaluate)
        with torch.no_grad():
            critics[name] = step.D(pts).view(p.grid, p.grid).tolist()
        out[name] = EnergyRun([EnergyCheckpoint(**e) for e in evals], err or "")
    maps = EnergyMaps(xs.tolist(), ys.tolist(), log_p.view(p.grid, p.grid).tolist(), critics)
    return EnergyResult(p.grid, float(near.float().mean()), p.main, out), maps
