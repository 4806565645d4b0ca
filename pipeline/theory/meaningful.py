"""Part 3: a meaningful loss (Arjovsky, Chintala & Bottou 2017, Figures 3 and 4).

WGAN's critic loss, -L_critic = E f(x) - E f(g(z)), estimates K * W1(P_r, P_g)
and so should fall as the samples improve (Figure 3). The GAN discriminator's
JS estimate (log 4 - L_D) / 2 (Figure 4) need not: it stays near log 2 or
near 0 whatever the samples look like. Both are checked against the exact W1
of the generator's samples (POT), at checkpoints over one training run each.
FID does not apply: the data are 2-D points.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from .mixture import (
    ConstrainedWGAN,
    checkpoint_steps,
    make_gan,
    make_mixture,
    w1_floor,
    net_params,
    sample_w1,
    train_with_checkpoints,
    window_mean,
)
from ..config import MeaningfulParams, MixtureParams
from .stats import pearson, spearman

LOG_EVERY = 10  # generator steps per log row; the estimate at a checkpoint averages the last rows


@dataclass
class RunTrace:
    model: str  # wgan | gan
    estimate_key: str  # w_estimate | js_estimate
    rows: list[dict]  # per-10-step log of the core loop
    checkpoints: list[dict]  # {"step", "w1", "estimate"}
    pearson: float  # estimate vs exact W1 over the checkpoints
    spearman: float
    error: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def _trace(step, name: str, key: str, mix, p: MeaningfulParams, seed: int) -> RunTrace:
    width = LOG_EVERY  # the estimate at a checkpoint: the last log row, itself a mean over 10 generator steps

    def evaluate(s, done: int) -> dict:
        return {"w1": sample_w1(s, mix, seed + done)}

    rows, evals, err = train_with_checkpoints(step, mix.train, p.steps, checkpoint_steps(p.steps, p.checkpoints, log=True),
                                              seed, evaluate, log_every=LOG_EVERY)
    for e in evals:
        e["estimate"] = window_mean(rows, key, e["step"], width)
    w1, est = [e["w1"] for e in evals], [e["estimate"] for e in evals]
    return RunTrace(name, key, rows, evals, pearson(est, w1), spearman(est, w1), err or "")


@dataclass
class MeaningfulResult:
    runs: dict[str, RunTrace]
    w1_floor: float  # exact W1 between two real samples of the same size

    def to_dict(self) -> dict:
        return {"runs": {k: v.to_dict() for k, v in self.runs.items()}, "w1_floor": self.w1_floor}


def run_meaningful(p: MeaningfulParams, m: MixtureParams, seed: int) -> MeaningfulResult:
    mix = make_mixture(m, seed)
    net = net_params(m)
    wgan = ConstrainedWGAN(net, mix.meta, p.wgan, p.batch_size)
    gan = make_gan(m, mix.meta, p.gan_lr, p.gan_g_loss, p.batch_size)
    runs = {
        "wgan": _trace(wgan, "wgan", "w_estimate", mix, p, seed),
        "gan": _trace(gan, "gan", "js_estimate", mix, p, seed),
    }
    return MeaningfulResult(runs, w1_floor(mix, seed + 1))
