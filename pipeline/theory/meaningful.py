"""Part 3: a meaningful loss (Arjovsky, Chintala & Bottou 2017, Figures 3 and 4).

WGAN's critic loss, -L_critic = E f(x) - E f(g(z)), estimates K * W1(P_r, P_g)
and so should fall as the samples improve (Figure 3). The GAN discriminator's
JS estimate (log 4 - L_D) / 2 (Figure 4) need not: it stays near log 2 or
near 0 whatever the samples look like. Both are checked against the exact W1
of the generator's samples (POT), at checkpoints over one training run each
of the core's WGAN and GAN. FID does not apply: the data are 2-D points.
"""

from __future__ import annotations

import math

from pipeline.config import MeaningfulParams, MixtureParams, TheoryWgan
from pipeline.records import MeaningfulResult, RunTrace, W1Checkpoint
from pipeline.theory.mixture import (
    LOG_EVERY,
    Mixture,
    checkpoint_steps,
    load_mixture,
    make_gan,
    make_wgan,
    sample_w1,
    train_with_checkpoints,
    w1_floor,
    window_mean,
)
from pipeline.theory.stats import pearson, spearman


def _nan(v):
    return math.nan if v is None else v


def _trace(step, name: str, key: str, mix: Mixture, steps: int, n_checkpoints: int, seed: int) -> RunTrace:
    def evaluate(s, done: int) -> dict:
        return {"w1": sample_w1(s, mix, seed + done)}

    rows, evals, err = train_with_checkpoints(step, mix.train, steps, checkpoint_steps(steps, n_checkpoints), seed, evaluate)
    # the estimate at a checkpoint: the last log row, itself a mean over LOG_EVERY generator steps
    cps = [W1Checkpoint(e["step"], e["w1"], window_mean(rows, key, e["step"], LOG_EVERY)) for e in evals]
    w1, est = [c.w1 for c in cps], [c.estimate for c in cps]
    return RunTrace(name, key, rows, cps, _nan(pearson(est, w1)), _nan(spearman(est, w1)), err or "")


def run_meaningful(p: MeaningfulParams, wgan: TheoryWgan, m: MixtureParams, seed: int) -> MeaningfulResult:
    """`wgan`: the WGAN run's full settings (theory.wgan with theory.meaningful.wgan on top)."""
    mix = load_mixture(m, seed)
    # both nets drawn from the global RNG before either trains, as the stage seeded it
    w_step = make_wgan(m, mix, wgan)
    g_step = make_gan(m, mix, p.gan.model_copy(update={"steps": p.steps}))
    runs = {
        "wgan": _trace(w_step, "wgan", "w_estimate", mix, p.steps, p.checkpoints, seed),
        "gan": _trace(g_step, "gan", "js_estimate", mix, p.steps, p.checkpoints, seed),
    }
    return MeaningfulResult(runs, w1_floor(mix, seed + 1))
