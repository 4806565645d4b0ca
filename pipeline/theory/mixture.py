"""The 2D mixture of parts 3-5 (the core's `make_mixture`), the core's WGAN and GAN trained on it by
the core loop (`pipeline.training.loop.fit`), and the exact W1 that judges them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
import torch
from torch import Tensor

from pipeline.config import GanParams, MixtureParams, TheoryWgan
from pipeline.data.datasets import DataMeta, make_mixture, mixture_log_density, sample_mixture
from pipeline.evaluation.metrics import w1_exact
from pipeline.models.core import GAN, WGAN, Step
from pipeline.training.loop import fit, spaced_steps

LOG_EVERY = 10  # generator steps per log row; an estimate at a checkpoint averages the last rows


def exact_w1(x: Tensor, y: Tensor) -> float:
    """Exact W1 between the empirical measures of x (n, d) and y (m, d): the evaluation's `w1_exact` (POT)."""
    return w1_exact(x.detach().double().cpu().numpy(), y.detach().double().cpu().numpy())


@dataclass
class Mixture:
    centers: Tensor  # (K, 2)
    std: float
    train: Tensor  # (toy_train, 2)
    test: Tensor  # (toy_test, 2): the real side of every exact W1
    meta: DataMeta

    def log_density(self, x: Tensor) -> Tensor:
        return mixture_log_density(x, self.centers, self.std)


def load_mixture(m: MixtureParams, seed: int) -> Mixture:
    d = make_mixture(m.dataset, m.data, seed)
    return Mixture(torch.tensor(d.meta.centers), d.meta.std, d.train_x, d.test_x, d.meta)


def make_wgan(m: MixtureParams, mix: Mixture, run: TheoryWgan) -> WGAN:
    return WGAN(m.net, mix.meta, run, run.clip)


def make_gan(m: MixtureParams, mix: Mixture, p: GanParams) -> GAN:
    return GAN(m.net, mix.meta, p)


def checkpoint_steps(total: int, n: int) -> list[int]:
    """n generator steps, log-spaced from step 10 (where a run changes fastest) to the last."""
    return spaced_steps(total, n, log=True, first=10)


def train_with_checkpoints(
    step: Step,
    data: Tensor,
    steps: int,
    checkpoints: list[int],
    seed: int,
    evaluate: Callable[[Step, int], dict],
) -> tuple[list[dict], list[dict], Optional[str]]:
    """Run the core loop in chunks that end at each checkpoint and call `evaluate(step, done)` there.

    Returns (log rows with `step` counted over the whole run, the evaluations,
    an error line if the run diverged). Each chunk is seeded with seed + its index;
    `start` keeps the step's schedule (the warm-up) counting over the whole run.
    """
    rows: list[dict] = []
    evals: list[dict] = []
    done = 0
    for i, stop in enumerate(c for c in checkpoints if c <= steps):
        result = fit(step, data, stop - done, log_every=LOG_EVERY, seed=seed + i, start=done, progress=False)
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
