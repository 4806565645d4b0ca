"""The one training loop every model runs through.

    for it in range(steps):
        repeat step.inner_count(it) times: step.inner(next real batch)   # D / critic / adversary
        step.outer(next real batch)                                      # G / encoder+decoder

Losses stay tensors until a log row is due, so the loop never waits on
`.item()` between steps (it matters on a GPU); at each log row every step
since the last one is checked for NaN/inf, so a divergence is pinned to its
exact step.
"""

from __future__ import annotations

import copy
import sys
import time
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from .data import BatchSampler
from .models import Step


@dataclass
class TrainResult:
    status: str  # "ok" or "diverged"
    steps_done: int  # outer (generator) steps completed without a non-finite loss
    inner_steps_done: int
    seconds: float
    message: str = ""
    rows: list[dict] = field(default_factory=list)  # the per-step log
    snapshots: list[dict] = field(default_factory=list)  # {"step": s, "state": generator state_dict}

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def spaced_steps(total: int, n: int, log: bool = False, first: int = 1) -> list[int]:
    """About n distinct steps in [1, total], the last one included, sorted: evenly spread, or evenly
    in log scale from `first` (where a run changes fastest). Fewer than n when steps coincide."""
    if n <= 0:
        return []
    if log:
        return sorted({int(round(v)) for v in np.logspace(np.log10(min(first, total)), np.log10(total), n)})
    return sorted({max(1, round(total * (i + 1) / n)) for i in range(n)})


class _LogRows:
    """Losses since the last log row, kept as tensors so the loop never waits on `.item()`; at each
    row they are checked for NaN/inf (so a divergence is pinned to its exact step) and averaged."""

    def __init__(self, name: str, t0: float):
        self.name, self.t0 = name, t0
        self.rows: list[dict] = []
        self.pending: list[tuple[int, dict[str, Tensor]]] = []  # (generator step, its losses)

    def add(self, at: int, logs: dict[str, Tensor]) -> None:
        self.pending.append((at, logs))

    def flush(self, upto: int) -> Optional[str]:
        """Append one averaged row for the steps up to `upto`; an error line instead on NaN/inf."""
        pending, self.pending = self.pending, []
        if not pending:
            return None
        stacked = {k: torch.stack([logs[k] for _, logs in pending]).float().cpu() for k in pending[0][1]}
        for k, vals in stacked.items():
            bad = (~torch.isfinite(vals)).nonzero()
            if len(bad):
                at = pending[int(bad[0])][0]
                return f"{self.name}: {k} became {vals[int(bad[0])].item()} at generator step {at}"
        row = {"step": upto, "seconds": round(time.perf_counter() - self.t0, 4)}
        self.rows.append(row | {k: float(v.mean()) for k, v in stacked.items()})
        return None


def _one_step(step: Step, sample: BatchSampler, it: int) -> tuple[dict[str, Tensor], int]:
    """Generator step number `it`: the inner (discriminator-side) updates, then the outer one."""
    logs: dict[str, Tensor] = {}
    n_inner = step.inner_count(it)
    for _ in range(n_inner):
        logs |= step.inner(sample())
    return logs | step.outer(sample()), n_inner


def fit(
    step: Step,
    data: Tensor,
    steps: int,
    *,
    log_every: int = 10,
    n_snapshots: int = 0,
    seed: int = 0,
    start: int = 0,
    progress: bool = True,
    desc: Optional[str] = None,
) -> TrainResult:
    """Train `step` for `steps` outer updates on `data` (already on the training device).

    `start`: generator steps the step object has already done (a run continued in chunks), so
    that its schedule, `inner_count`, goes on where it stopped; the log still counts from 1.
    """
    gen = torch.Generator(device=data.device).manual_seed(seed)
    torch.manual_seed(seed)
    sample = BatchSampler(data, step.batch_size, gen)
    snap_at = set(spaced_steps(steps, n_snapshots))
    snapshots: list[dict] = []
    step.train()
    bar = tqdm(total=steps, desc=desc or step.name, disable=not progress, mininterval=1.0, file=sys.stderr)
    t0 = time.perf_counter()
    log, error, inner_done = _LogRows(step.name, t0), None, 0
    for it in range(steps):
        logs, n_inner = _one_step(step, sample, start + it)
        inner_done += n_inner
        log.add(it + 1, logs)
        if (it + 1) % log_every == 0 or it + 1 == steps:
            error = log.flush(it + 1)
            if error:
                break
            bar.set_postfix({k: f"{v:.4g}" for k, v in log.rows[-1].items() if k not in ("step", "seconds")},
                            refresh=False)
        if it + 1 in snap_at:
            snapshots.append({"step": it + 1, "state": copy.deepcopy(step.generator().state_dict())})
        bar.update(1)
    bar.close()
    # a divergence counts the generator steps whose losses were all finite up to the last good row
    done = steps if error is None else (log.rows[-1]["step"] if log.rows else 0)
    return TrainResult(
        status="ok" if error is None else "diverged",
        steps_done=done,
        inner_steps_done=inner_done,
        seconds=time.perf_counter() - t0,
        message=error or "",
        rows=log.rows,
        snapshots=[s for s in snapshots if s["step"] <= done],  # later ones may hold NaN weights
    )


def checkpoint(step: Step, result: TrainResult, config: dict) -> dict:
    """What a training stage saves: weights, the config to rebuild them, and the generator snapshots.

    Only tensors and plain types, so it loads with `torch.load(weights_only=True)`.
    """
    return {
        "model": step.name,
        "config": config,
        "meta": step.meta.to_dict(),
        "state": {k: v.detach().cpu() for k, v in step.state_dict().items()},
        "snapshots": [
            {"step": s["step"], "state": {k: v.cpu() for k, v in s["state"].items()}} for s in result.snapshots
        ],
    }


def restore(ckpt: dict, device: torch.device | str = "cpu") -> Step:
    """Rebuild a trained step object from :func:`checkpoint`'s output (eval mode)."""
    from .config import Params
    from .data import DataMeta
    from .models import build

    params = Params.model_validate(ckpt["config"])
    step = build(ckpt["model"], params, DataMeta.from_dict(ckpt["meta"]))
    step.load_state_dict(ckpt["state"])
    return step.to(device).eval()
