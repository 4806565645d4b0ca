"""One trained model turned into an `EvalRecord`: its samples' distances to the
held-out split (`scores`), its likelihood when it is a latent model
(`likelihood`), and its training estimate against the exact W1 along training.
"""

from __future__ import annotations

import math
import platform
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from pipeline.evaluation import features as feat
from pipeline.evaluation import metrics
from pipeline.config import EvalParams
from pipeline.data.datasets import DataMeta, Prepared, to_model_space, to_unit_interval
from pipeline.evaluation.likelihood import likelihood
from pipeline.models.core import Step
from pipeline.evaluation.real_stats import RealStats
from pipeline.records import EstimateVsW1, EvalRecord, SnapshotW1, TrainRecord
from pipeline.models.registry import MODELS
from pipeline.evaluation.scores import metric_space, n_generated, sample_scores, snapshot_reference, subset

PREVIEW = {"points": 2500, "images": 64}  # scatter points / grid cells in the figures


@torch.no_grad()
def generate(step: Step, n: int, seed: int) -> Tensor:
    """n samples in model space, from a seeded noise stream (the same z for every model)."""
    dev = next(step.generator().parameters()).device
    gen = torch.Generator(device=dev).manual_seed(seed)
    return torch.cat([step.sample(len(idx), gen) for idx in torch.arange(n).split(4096)]).cpu()


def preview_of(x: Tensor, meta: DataMeta) -> np.ndarray:
    """The first few samples, as the figures show them: points raw, images in [0, 1]."""
    x = x[: PREVIEW[meta.kind]].detach().float().cpu()
    return (to_unit_interval(x.clone()) if meta.kind == "images" else x).numpy()


def versions() -> dict[str, str]:
    import ot
    import scipy
    from importlib.metadata import version

    return {"python": platform.python_version(), "torch": torch.__version__, "pytorch-fid": version("pytorch-fid"),
            "POT": ot.__version__, "numpy": np.__version__, "scipy": scipy.__version__,
            "platform": platform.platform()}


# --- the training estimate against the exact W1 ---------------------------------------


def estimate_at(rows: list[dict], key: str, steps: list[int]) -> list[float]:
    """The training log's `key` averaged over a window before each step.

    Log rows are already means over `log_every` steps; each step's window is half its gap to the
    previous requested step (at least one log row), so that one noisy row cannot decide while
    log-spaced early snapshots, a few steps apart, still each get a value.
    """
    if not rows or key not in rows[0]:
        return [float("nan")] * len(steps)
    s = np.array([r["step"] for r in rows], float)
    v = np.array([r[key] for r in rows], float)
    row_gap = float(np.median(np.diff(s))) if len(s) > 1 else float(s[0])
    out = []
    for prev, t in zip([0, *steps[:-1]], steps):
        half = max((t - prev) / 2, row_gap)
        sel = (s > t - half) & (s <= t)
        out.append(float(v[sel].mean()) if sel.any() else float("nan"))
    return out


def _generator_w1(step: Step, real: np.ndarray, meta: DataMeta, n: int, noise_seed: int) -> float:
    """Exact W1 between n samples of the step's current generator (noise from `noise_seed`) and `real`;
    NaN when a sample is not finite."""
    fake = generate(step, n, noise_seed)
    return metrics.w1_exact(metric_space(fake, meta), real) if torch.isfinite(fake).all() else float("nan")


@torch.no_grad()
def w1_trajectory(step: Step, snapshots: list[dict], test: Tensor, meta: DataMeta, n: int, seed: int) -> list[dict]:
    """Exact W1 between n samples of each generator snapshot and the held-out split.

    Loads each snapshot into the step's generator: call it after every
    measurement of the final weights.
    """
    real = snapshot_reference(test, meta, n, seed)
    out = []
    for snap in snapshots:
        step.generator().load_state_dict(snap["state"])
        out.append({"step": snap["step"], "w1": _generator_w1(step, real, meta, n, seed)})
    return out


LATE = 0.1  # "late" snapshots: from this fraction of the run on (EstimateVsW1.spearman_late)


def estimate_vs_w1(step: Step, ckpt: dict, log_rows: list[dict], test: Tensor, meta: DataMeta, p: EvalParams,
                   seed: int) -> tuple[list[dict], EstimateVsW1]:
    """Per snapshot {"step", "w1", "estimate"}, and the correlation of the two columns."""
    traj = w1_trajectory(step, ckpt.get("snapshots", []), test, meta, p.snapshot_samples, seed)
    key = MODELS[step.name].estimate
    for row, est in zip(traj, estimate_at(log_rows, key, [r["step"] for r in traj])):
        row["estimate"] = est
    corr = metrics.correlation([r["estimate"] for r in traj], [r["w1"] for r in traj])
    late_from = int(math.ceil(LATE * traj[-1]["step"])) if traj else 0
    late = [r for r in traj if r["step"] >= late_from]
    corr_late = metrics.correlation([r["estimate"] for r in late], [r["w1"] for r in late])
    rnd = lambda v: None if v is None else round(v, 4)  # noqa: E731
    return traj, EstimateVsW1(key, rnd(corr.pearson), rnd(corr.spearman), corr.n, p.snapshot_samples,
                              rnd(corr_late.spearman), corr_late.n, late_from)


# --- one model --------------------------------------------------------------------------


@dataclass
class Evaluation:
    record: EvalRecord
    trajectory: list[dict]  # {"step", "w1", "estimate"} per generator snapshot
    preview: np.ndarray  # samples for the figures: points (N, 2), images in [0, 1]; empty if diverged


def _inception_net(stats: RealStats, p: EvalParams, device: torch.device):
    """The Inception net when the real statistics have it; else None and, if the weights vanished, why."""
    if not stats.inception.available:
        return None, stats.inception
    lookup = feat.find_inception_weights(p.inception.weights, download=False)
    if lookup.path is None:
        return None, type(stats.inception)(False, lookup.reason, stats.inception.dims)
    return feat.load_inception(lookup.path, p.inception.dims, device), stats.inception


def evaluate_model(ckpt: dict, train: TrainRecord, prepared: Prepared, stats: RealStats, log_rows: list[dict],
                   p: EvalParams, seed: int, device: torch.device) -> Evaluation:
    """Every number about one trained run, measured against the held-out split.

    `seed` drives the evaluation's draws (test subsets, generator noise): the same for every run, so
    that two runs' numbers differ by what they learned and pair up across models."""
    from pipeline.training.loop import restore

    t0 = time.perf_counter()
    meta = prepared.meta
    test = to_model_space(prepared.test_x, meta)
    step = restore(ckpt, device)
    record = EvalRecord(model=train.model, dataset=meta.name, kind=meta.kind, seed=train.seed, status=train.status,
                        message=train.message, train_steps=train.steps, estimate_vs_w1=EstimateVsW1("", None, None, 0, 0),
                        device=str(device), versions=versions(), seconds=0.0)
    preview = np.zeros((0, *meta.shape), np.float32)
    n = n_generated(p, meta)
    if record.ok:
        fake = generate(step, max(n, p.sliced_samples), seed)
        if not torch.isfinite(fake).all():
            record.status, record.message = "diverged", "generated samples are not finite"
    if record.ok:
        net, inception = _inception_net(stats, p, device)
        stats.inception = inception
        ref = stats.reference(test, device, net)
        record.scores, record.how = sample_scores(fake[:n], fake[: p.sliced_samples], ref, meta, p, seed)
        preview = preview_of(fake[:n], meta)
        if MODELS[train.model].latent:
            x = test[subset(len(test), p.loglik.max_points, seed + 3)].to(device)
            record.likelihood = likelihood(step, x, p.loglik, seed, p.ais)
    traj, record.estimate_vs_w1 = estimate_vs_w1(step, ckpt, log_rows, test, meta, p, seed)  # loads the snapshots
    # every compute point names the snapshot step that reached it (a step may stand for two close points)
    # (a run trained without a FLOP plan keeps its snapshots by step alone, their compute unknown)
    by_step = {r["step"]: r for r in traj}
    traj = [by_step[s] | {"gflop": g} for g, s in zip(train.points_gflop, train.snapshot_steps) if s in by_step] \
        if train.snapshot_steps else [r | {"gflop": math.nan} for r in traj]
    record.trajectory = [SnapshotW1(r["step"], r["w1"], r["estimate"], r["gflop"]) for r in traj]
    record.flops, record.budget_gflop, record.train_seconds = train.flops, train.budget_gflop, train.seconds
    record.train_cpu = train.cpu if train.device == "cpu" else train.device
    record.seconds = round(time.perf_counter() - t0, 2)
    return Evaluation(record, traj, preview)
