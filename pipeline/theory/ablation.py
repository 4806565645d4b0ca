"""Part 5: the WGAN critic's optimiser and Lipschitz constraint, one row per setting.

The paper's choices (Arjovsky et al. 2017, section 3): RMSProp, because
momentum (Adam, beta1 = 0.5) made training unstable, and clipping with c = 0.01,
too large a c being slow to train the critic and too small one vanishing its
gradients. Beyond the paper: the gradient penalty (Gulrajani et al. 2017) and
spectral normalisation (Miyato et al. 2018) as other ways to bound K.

Each row: exact W1 of the final generator; stability, the spread (std) of the
critic's W estimate over the last `last_fraction` of the run, alone and
relative to its mean (the estimate's scale is K, which the constraint sets);
corr(W estimate, exact W1) along the run; the critic's largest input-gradient
norm on real/fake interpolates (its effective K); Spearman(f, log p_real).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .energy import agreement, grid_points, near_mask
from .lipschitz import input_gradient_norm
from .mixture import (
    ConstrainedWGAN,
    checkpoint_steps,
    make_mixture,
    net_params,
    sample_w1,
    train_with_checkpoints,
    window_mean,
)
from ..config import AblationParams, MixtureParams, WganRun
from .stats import pearson

LOG_EVERY = 10


def stability(values: list[float]) -> tuple[float, float]:
    """(std, std / |mean|) of a tail of W estimates; the relative spread is inf when the mean is 0."""
    v = np.asarray(values, float)
    std, mean = float(v.std()), float(abs(v.mean()))
    return std, (std / mean if mean > 0 else math.inf)


def run_row(run: WganRun, p: AblationParams, m: MixtureParams, seed: int) -> dict:
    """Train one WGAN variant; every row starts from the same seed, so rows differ only by their setting."""
    mix = make_mixture(m, seed)
    torch.manual_seed(seed)  # the nets' initial weights: the same for every row, alone or in the table
    step = ConstrainedWGAN(net_params(m), mix.meta, run, p.batch_size)

    def evaluate(s, done: int) -> dict:
        return {"w1": sample_w1(s, mix, seed + done)}

    rows, evals, err = train_with_checkpoints(step, mix.train, p.steps, checkpoint_steps(p.steps, p.checkpoints, log=True),
                                              seed, evaluate, log_every=LOG_EVERY)
    out: dict = {"status": "diverged" if err else "ok", "message": err or ""}
    if err or not evals:
        return out | {"w1": math.nan, "w_std": math.nan, "w_rel_std": math.nan, "corr_w_w1": math.nan,
                      "lipschitz": math.nan, "energy_spearman": math.nan}
    tail = [r["w_estimate"] for r in rows if r["step"] > p.steps * (1 - p.last_fraction)]
    w_std, w_rel = stability(tail)
    est = [window_mean(rows, "w_estimate", e["step"], LOG_EVERY) for e in evals]
    g = torch.Generator().manual_seed(seed)
    real = mix.test
    fake = step.sample(len(real), g)
    u = torch.rand(len(real), 1, generator=g)
    lip = float(input_gradient_norm(step.D, u * real + (1 - u) * fake).max())
    _, _, pts = grid_points(mix.centers, mix.std, 0.5, 40)
    with torch.no_grad():
        f = step.D(pts)
    spear = agreement(f, mix.log_density(pts), near_mask(pts, mix.centers, mix.std, 3.0))["all"]
    return out | {
        "w1": evals[-1]["w1"],
        "w_final": window_mean(rows, "w_estimate", p.steps, max(LOG_EVERY, int(p.steps * p.last_fraction))),
        "w_std": w_std,
        "w_rel_std": w_rel,
        "corr_w_w1": pearson(est, [e["w1"] for e in evals]),
        "lipschitz": lip,
        "energy_spearman": spear,
        "checkpoints": [e | {"estimate": w} for e, w in zip(evals, est)],
    }


def run_ablation(p: AblationParams, m: MixtureParams, seed: int, only: list[str] | None = None) -> dict[str, dict]:
    names = only or list(p.rows)
    unknown = [n for n in names if n not in p.rows]
    if unknown:
        raise KeyError(f"unknown ablation row(s) {unknown}; params.yaml theory.ablation.rows has {sorted(p.rows)}")
    return {name: p.rows[name].model_dump() | run_row(p.rows[name], p, m, seed) for name in names}
