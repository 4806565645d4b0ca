"""Part 5: the WGAN critic's optimiser and Lipschitz constraint, one row per setting of the core's WGAN.

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
from typing import Callable

import numpy as np
import torch
from torch import Tensor

from pipeline.config import AblationParams, MixtureParams, TheoryWgan
from pipeline.records import AblationResult, AblationRow, W1Checkpoint
from pipeline.theory.energy import agreement, grid_points, near_mask
from pipeline.theory.mixture import (
    LOG_EVERY,
    Mixture,
    checkpoint_steps,
    load_mixture,
    make_wgan,
    sample_w1,
    train_with_checkpoints,
    window_mean,
)
from pipeline.theory.stats import pearson


def input_gradient_norm(f: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    """||grad_x f(x)||_2 per sample: (B,). The local Lipschitz constant a critic shows at x."""
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(f(x).sum(), x)
    return grad.flatten(1).norm(dim=1)


def stability(values: list[float]) -> tuple[float, float]:
    """(std, std / |mean|) of a tail of W estimates; the relative spread is inf when the mean is 0."""
    v = np.asarray(values, float)
    std, mean = float(v.std()), float(abs(v.mean()))
    return std, (std / mean if mean > 0 else math.inf)


def critic_probes(step, mix: Mixture, seed: int) -> tuple[float, float]:
    """(largest input-gradient norm on real-fake interpolates, Spearman(f, log p_real) on a grid)."""
    g = torch.Generator().manual_seed(seed)
    real = mix.test
    fake = step.sample(len(real), g)
    u = torch.rand(len(real), 1, generator=g)
    lip = float(input_gradient_norm(step.D, u * real + (1 - u) * fake).max())
    _, _, pts = grid_points(mix.centers, mix.std, 0.5, 40)
    with torch.no_grad():
        f = step.D(pts)
    return lip, agreement(f, mix.log_density(pts), near_mask(pts, mix.centers, mix.std, 3.0))["all"]


def run_row(run: TheoryWgan, p: AblationParams, m: MixtureParams, seed: int) -> AblationRow:
    """Train one WGAN setting; every row starts from the same seed, so rows differ only by their setting."""
    mix = load_mixture(m, seed)
    torch.manual_seed(seed)  # the nets' initial weights: the same for every row, alone or in the table
    step = make_wgan(m, mix, run)

    def evaluate(s, done: int) -> dict:
        return {"w1": sample_w1(s, mix, seed + done)}

    rows, evals, err = train_with_checkpoints(step, mix.train, p.steps, checkpoint_steps(p.steps, p.checkpoints), seed,
                                              evaluate)
    if err or not evals:
        return AblationRow(run.model_dump(), "diverged" if err else "ok", err or "")
    tail = [r["w_estimate"] for r in rows if r["step"] > p.steps * (1 - p.last_fraction)]
    w_std, w_rel = stability(tail)
    cps = [W1Checkpoint(e["step"], e["w1"], window_mean(rows, "w_estimate", e["step"], LOG_EVERY)) for e in evals]
    corr = pearson([c.estimate for c in cps], [c.w1 for c in cps])
    lip, spear = critic_probes(step, mix, seed)
    return AblationRow(
        run.model_dump(), "ok",
        w1=cps[-1].w1,
        w_final=window_mean(rows, "w_estimate", p.steps, max(LOG_EVERY, int(p.steps * p.last_fraction))),
        w_std=w_std, w_rel_std=w_rel, corr_w_w1=math.nan if corr is None else corr,
        lipschitz=lip, energy_spearman=spear, checkpoints=cps,
    )


def run_ablation(p: AblationParams, runs: dict[str, TheoryWgan], m: MixtureParams, seed: int,
                 only: list[str] | None = None) -> AblationResult:
    """`runs`: each row's full WGAN settings (theory.wgan with the row's keys on top); `only`: these rows."""
    names = only or list(runs)
    unknown = [n for n in names if n not in runs]
    if unknown:
        raise KeyError(f"unknown ablation row(s) {unknown}; params.yaml theory.ablation.rows has {sorted(runs)}")
    return AblationResult(p.steps, p.last_fraction, {name: run_row(runs[name], p, m, seed) for name in names})
