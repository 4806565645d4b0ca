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

    def summary(self) -> dict:
        return {
            "status": self.status,
            "steps": self.steps_done,
            "inner_steps": self.inner_steps_done,
            "seconds": round(self.seconds, 3),
            "message": self.message,
        }


def _snapshot_steps(steps: int, n: int) -> set[int]:
    """n generator-step indices spread evenly over the run, the last one included."""
    if n <= 0:
        return set()
    return {max(1, round(steps * (i + 1) / n)) for i in range(n)}


def fit(
    step: Step,
    data: Tensor,
    steps: int,
    *,
    log_every: int = 10,
    n_snapshots: int = 0,
    seed: int = 0,
    progress: bool = True,
    desc: Optional[str] = None,
) -> TrainResult:
    """Train `step` for `steps` outer updates on `data` (already on the training device)."""
    gen = torch.Generator(device=data.device).manual_seed(seed)
    torch.manual_seed(seed)
    sample = BatchSampler(data, step.batch_size, gen)
    snap_at = _snapshot_steps(steps, n_snapshots)
    rows: list[dict] = []
    snapshots: list[dict] = []
    pending: list[tuple[int, dict[str, Tensor]]] = []  # steps since the last log row
    inner_done = 0
    step.train()
    bar = tqdm(total=steps, desc=desc or step.name, disable=not progress, mininterval=1.0, file=sys.stderr)
    t0 = time.perf_counter()

    def flush(upto: int) -> Optional[str]:
        """Check pending losses; append one averaged log row. Returns an error line on NaN/inf."""
        nonlocal pending
        if not pending:
            return None
        keys = pending[0][1].keys()
        stacked = {k: torch.stack([logs[k] for _, logs in pending]).float().cpu() for k in keys}
        for k, vals in stacked.items():
            bad = (~torch.isfinite(vals)).nonzero()
            if len(bad):
                at = pending[int(bad[0])][0]
                pending = []
                return f"{step.name}: {k} became {vals[int(bad[0])].item()} at generator step {at}"
        row = {"step": upto, "seconds": round(time.perf_counter() - t0, 4)}
        row |= {k: float(v.mean()) for k, v in stacked.items()}
        rows.append(row)
        bar.set_postfix({k: f"{v:.4g}" for k, v in row.items() if k not in ("step", "seconds")}, refresh=False)
        pending = []
        return None

    error = None
    done = 0
    for it in range(steps):
        logs: dict[str, Tensor] = {}
        for _ in range(step.inner_count(it)):
            logs |= step.inner(sample())
            inner_done += 1
        logs |= step.outer(sample())
        pending.append((it + 1, logs))
        if (it + 1) % log_every == 0 or it + 1 == steps:
            error = flush(it + 1)
            if error:
                break
        done = it + 1
        if done in snap_at:
            snapshots.append({"step": done, "state": copy.deepcopy(step.generator().state_dict())})
        bar.update(1)
    bar.close()
    if error is None:
        done = steps
    else:
        # `done` counts generator steps whose losses were all finite up to the last good row
        done = rows[-1]["step"] if rows else 0
        snapshots = [s for s in snapshots if s["step"] <= done]  # later ones may hold NaN weights
    return TrainResult(
        status="ok" if error is None else "diverged",
        steps_done=done,
        inner_steps_done=inner_done,
        seconds=time.perf_counter() - t0,
        message=error or "",
        rows=rows,
        snapshots=snapshots,
    )


def checkpoint(step: Step, result: TrainResult, config: dict) -> dict:
    """What a training stage saves: weights, the config to rebuild them, status and snapshots.

    Only tensors and plain types, so it loads with `torch.load(weights_only=True)`.
    """
    return {
        "model": step.name,
        "config": config,
        "meta": step.meta.to_dict(),
        "state": {k: v.detach().cpu() for k, v in step.state_dict().items()},
        "status": result.summary(),
        "snapshots": [
            {"step": s["step"], "state": {k: v.cpu() for k, v in s["state"].items()}} for s in result.snapshots
        ],
    }


def model_config(model: str, params) -> dict:
    """The params that determine a model's nets (enough to rebuild it for evaluation)."""
    cfg = {"net": params.net.model_dump(), model: getattr(params, model).model_dump()}
    if model == "wgan":
        cfg["clip"] = params.clip
    return cfg


def restore(ckpt: dict, device: torch.device | str = "cpu") -> Step:
    """Rebuild a trained step object from :func:`checkpoint`'s output (eval mode)."""
    from .config import Params
    from .data import DataMeta
    from .models import build

    params = Params.model_validate(ckpt["config"])
    step = build(ckpt["model"], params, DataMeta.from_dict(ckpt["meta"]))
    step.load_state_dict(ckpt["state"])
    return step.to(device).eval()
