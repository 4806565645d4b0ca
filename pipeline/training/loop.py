"""The one training loop every model runs through.

    for it in range(steps):
        repeat step.inner_count(it) times: step.inner(next real batch)   # D / critic / adversary
        step.outer(next real batch)                                      # G / encoder+decoder

Losses stay tensors until a log row is due, so the loop never waits on
`.item()` between steps (it matters on a GPU). At each log row every step
since the last one is checked for NaN/inf, and so are the weights; a row that
passes is a *good state* (a copy of the weights is kept), and a divergence
rolls the step object back to the last good state: the weights, log rows and
snapshots a diverged run returns all stop at that row, and the message names
the first bad step.

Resume after a kill: every `checkpoint_every` generator steps (at the first
good log row on or after each multiple) `on_checkpoint` gets the whole state
of the run (nets, optimisers, the batch sampler, torch's RNG, the log rows and
snapshots so far); `fit(..., resume=that)` goes on from it and gives bitwise
the result of an uninterrupted run on CPU (on CUDA with deterministic
algorithms). Nothing else draws random numbers in the loop (no `random`, no
numpy), so torch's generators are all the RNG state there is.

On torchrun (`world`), each process trains on its slice of every global batch and the result is
that of one process up to float rounding: pipeline/training/distributed.py.
"""

from __future__ import annotations

import copy
import os
import platform
import sys
import time
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable, Optional

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from pipeline.perf import blas
from pipeline.training import distributed
from pipeline.data.datasets import BatchSampler
from pipeline.models.core import Step

RESUME_FORMAT = 1  # bump when the resume state's layout changes (an old one is then not resumed)


@dataclass
class TrainResult:
    status: str  # "ok" or "diverged"
    steps_done: int  # outer (generator) steps kept: all, or up to the last good log row
    inner_steps_done: int  # inner steps of those
    seconds: float  # summed over the runs of a resumed training
    message: str = ""  # "diverged at generator step N: <loss> became nan"
    rows: list[dict] = field(default_factory=list)  # the per-step log: step and the mean losses since the last row
    columns: list[str] = field(default_factory=list)  # the log's columns, known even when no row was kept
    snapshots: list[dict] = field(default_factory=list)  # {"step": s, "state": generator state_dict}
    resumed_from: Optional[int] = None  # the generator step a resume state started from

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
    row they are checked for NaN/inf (so a divergence is pinned to its exact step) and averaged.

    No wall-clock column: the log of a run is then the same bytes on every rerun and after a resume."""

    def __init__(self, reduce: Optional[Callable[[dict[str, Tensor]], dict[str, Tensor]]] = None):
        self.pending: list[tuple[int, dict[str, Tensor]]] = []  # (generator step, its losses)
        self.reduce = reduce  # on torchrun: the mean over ranks, so a row is the global batch's

    def add(self, at: int, logs: dict[str, Tensor]) -> None:
        self.pending.append((at, logs))

    def flush(self, upto: int) -> tuple[dict, Optional[str]]:
        """One averaged row for the steps up to `upto`, or an error line (and no row) on NaN/inf."""
        pending, self.pending = self.pending, []
        stacked = {k: torch.stack([logs[k] for _, logs in pending]).float() for k in pending[0][1]}
        stacked = {k: v.cpu() for k, v in (self.reduce(stacked) if self.reduce else stacked).items()}
        for k, vals in stacked.items():
            bad = (~torch.isfinite(vals)).nonzero()
            if len(bad):
                i = int(bad[0])
                return {}, f"diverged at generator step {pending[i][0]}: {k} became {vals[i].item()}"
        return {"step": upto} | {k: float(v.mean()) for k, v in stacked.items()}, None


def _finite_copy(step: Step) -> Optional[dict[str, Tensor]]:
    """A copy of the step's state_dict, or None when a weight or buffer is NaN/inf (one sync).

    Finite losses up to step s do not make the weights after step s finite (an inf gradient at s)."""
    state = {k: v.detach().clone() for k, v in step.state_dict().items()}
    floats = [v for v in state.values() if v.is_floating_point()]
    if floats and not bool(torch.stack([torch.isfinite(v).all() for v in floats]).all()):
        return None
    return state


def optimizers(step: Step) -> dict[str, torch.optim.Optimizer]:
    """Every optimiser of `step` by attribute name, built now: they are lazy `cached_property`s,
    and one that does not exist yet can neither be saved nor take a loaded state."""
    names = sorted(n for n in dir(type(step)) if isinstance(getattr(type(step), n, None), cached_property))
    return {n: o for n in names if isinstance(o := getattr(step, n), torch.optim.Optimizer)}


def _rng_state(device: torch.device) -> dict:
    return {"cpu": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state(device) if device.type == "cuda" else None}


def _set_rng_state(state: dict, device: torch.device) -> None:
    torch.set_rng_state(state["cpu"])
    if device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda"], device)


def _run_state(step: Step, sample: BatchSampler, done: int, inner_done: int, seconds: float, rows: list[dict],
               snapshots: list[dict]) -> dict:
    """Everything `fit(resume=...)` needs to go on as if never stopped; live tensors, plain types only."""
    return {
        "format": RESUME_FORMAT,
        "done": done,  # generator steps of this fit call
        "inner_done": inner_done,
        "seconds": seconds,
        "step": step.state_dict(),  # every net and buffer (spectral norm's u, v; BatchNorm's statistics)
        "optimizers": {n: o.state_dict() for n, o in optimizers(step).items()},
        "sampler": sample.state_dict(),
        "rng": _rng_state(sample.data.device),
        "rows": rows,
        "snapshots": snapshots,
    }


def pin_torch(threads: int, deterministic: bool) -> dict:
    """Fix what changes a run's numbers besides params and seed; call before CUDA starts.

    `threads`: CPU intra-op threads (reductions can split differently). `deterministic`:
    torch.use_deterministic_algorithms (an op without a deterministic kernel then raises rather
    than varying), cuDNN's deterministic kernels without autotuning, and cuBLAS's fixed workspace
    (CUBLAS_WORKSPACE_CONFIG, read when cuBLAS starts; a value already set is kept).
    Returns what is in force, for the record, with the CPU: the same params give the same bytes on one
    machine, but CPUs whose kernels differ (AVX2 against AVX-512) round differently, and adversarial
    training amplifies that into other runs."""
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(deterministic)
    torch.backends.cudnn.deterministic = deterministic
    torch.backends.cudnn.benchmark = False
    return {"threads": torch.get_num_threads(), "deterministic": torch.are_deterministic_algorithms_enabled(),
            "torch": torch.__version__, "cpu": cpu_name()}


def cpu_name() -> str:
    """'<model name>[, MKL's Intel path] (<kernel set torch dispatches to>)', e.g. 'AMD EPYC (AVX512)':
    what decides the bytes a run writes (the middle part when pipeline/perf/blas.py's shim runs)."""
    model = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:  # Linux: platform.processor() is often empty or just the arch
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), model)
    except OSError:
        pass
    shim = ", MKL's Intel path" if blas.loaded else ""
    return f"{model}{shim} ({torch.backends.cpu.get_cpu_capability()})"


def _one_step(step: Step, sample: BatchSampler, it: int,
              noise: AbstractContextManager) -> tuple[dict[str, Tensor], int]:
    """Generator step number `it`: the inner (discriminator-side) updates, then the outer one; its
    random draws under `noise` (on torchrun: this rank's rows of the global batch's draws)."""
    logs: dict[str, Tensor] = {}
    n_inner = step.inner_count(it)
    with noise:
        for _ in range(n_inner):
            logs |= step.inner(sample())
        logs |= step.outer(sample())
    return logs, n_inner


def fit(
    step: Step,
    data: Tensor,
    steps: int,
    *,
    log_every: int = 10,
    n_snapshots: int = 0,
    snapshot_at: Optional[list[int]] = None,
    seed: int = 0,
    start: int = 0,
    progress: bool = True,
    desc: Optional[str] = None,
    position: int = 0,
    checkpoint_every: int = 0,
    on_checkpoint: Optional[Callable[[dict], None]] = None,
    resume: Optional[dict] = None,
    world: Optional[distributed.World] = None,
) -> TrainResult:
    """Train `step` for `steps` outer updates on `data` (already on the training device).

    `n_snapshots`: evenly spaced generator snapshots; `snapshot_at`: these steps instead.
    `start`: generator steps the step object has already done (a run continued in chunks), so
    that its schedule, `inner_count`, goes on where it stopped; the log still counts from 1.
    `on_checkpoint(state)`: called about every `checkpoint_every` generator steps (not after the
    last) with the run's whole state; save it before returning (its tensors are live).
    `resume`: such a state, from a run of the same step object, data and arguments.
    `world`: this process's rank in a torchrun group whose ranks all call `fit` alike: it trains on
    its slice of every global batch of `step.batch_size` rows (which the ranks must divide), with
    the gradients and logged losses averaged over the ranks (pipeline/training/distributed.py).
    On a divergence the step object is rolled back to the last good log row.
    """
    gen = torch.Generator(device=data.device).manual_seed(seed)
    torch.manual_seed(seed)
    sample = BatchSampler(data, step.batch_size, gen, rows=world.rows(step.batch_size) if world else slice(None))
    snap_at = set(spaced_steps(steps, n_snapshots) if snapshot_at is None else snapshot_at)
    step.train()
    # on torchrun: the step object replicated across the ranks until the loop ends
    with distributed.replicated(step, optimizers(step).values(), world) if world else nullcontext() as split:
        noise, reduce = (split, distributed.mean_over_ranks) if world else (nullcontext(), None)
        run = _Run() if resume is None else _restored(resume, step, sample, data.device)
        # a decaying lr: each param group keeps its initial lr (saved with the optimiser, so a resumed run
        # decays from the same value) and is set from the generator step alone, no scheduler state
        decaying = [] if step.p.lr_decay == "constant" else \
            [g for o in optimizers(step).values() for g in o.param_groups]
        for g in decaying:
            g.setdefault("initial_lr", g["lr"])
        good, good_at = _finite_copy(step), (run.done, run.inner)  # what a divergence rolls back to
        bar = tqdm(total=steps, initial=run.done, desc=desc or step.name, disable=not progress, mininterval=1.0,
                   position=position, file=sys.stderr)
        t0 = time.perf_counter()
        log, error = _LogRows(reduce), None
        for it in range(run.done, steps):
            if decaying:
                scale = step.lr_scale(start + it)
                for g in decaying:
                    g["lr"] = g["initial_lr"] * scale
            logs, n_inner = _one_step(step, sample, start + it, noise)
            run.columns = run.columns or ["step", *logs]
            run.inner += n_inner
            log.add(it + 1, logs)
            if it + 1 in snap_at:  # dropped below if a later check fails
                run.snapshots.append({"step": it + 1, "state": copy.deepcopy(step.generator().state_dict())})
            bar.update(1)
            if (it + 1) % log_every and it + 1 != steps:
                continue
            row, error = log.flush(it + 1)
            state = None if error else _finite_copy(step)
            if error is None and state is None:
                error = f"diverged at generator step {it + 1}: a weight became non-finite (the losses were finite)"
            if error:
                break
            prev, (good, good_at) = good_at[0], (state, (it + 1, run.inner))
            run.rows.append(row)
            bar.set_postfix({k: f"{v:.4g}" for k, v in row.items() if k != "step"}, refresh=False)
            # at a good row, so no unchecked losses are pending and the resumed run's good state is this one
            if on_checkpoint and checkpoint_every and (it + 1) // checkpoint_every > prev // checkpoint_every \
                    and it + 1 < steps:
                on_checkpoint(_run_state(step, sample, it + 1, run.inner, run.seconds + time.perf_counter() - t0,
                                         run.rows, run.snapshots))
        bar.close()
        if error is not None and good is not None:
            step.load_state_dict(good)  # the last finite weights, not the NaN ones
    return _result(run, good_at, error, run.seconds + time.perf_counter() - t0, resume)


@dataclass
class _Run:
    """What the loop carries from step to step, and what a resume state gives back."""

    done: int = 0  # generator steps done
    inner: int = 0  # inner steps done
    seconds: float = 0.0  # training time before this process
    rows: list[dict] = field(default_factory=list)
    snapshots: list[dict] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)


def _restored(resume: dict, step: Step, sample: BatchSampler, device: torch.device) -> _Run:
    """Put a saved run state back: weights, optimisers, the batch sampler, every RNG, the log so far."""
    if resume["format"] != RESUME_FORMAT:
        raise ValueError(f"resume state format {resume['format']}, expected {RESUME_FORMAT}")
    step.load_state_dict(resume["step"])
    for name, opt in optimizers(step).items():
        opt.load_state_dict(resume["optimizers"][name])
    sample.load_state_dict(resume["sampler"])
    _set_rng_state(resume["rng"], device)
    rows = list(resume["rows"])
    return _Run(resume["done"], resume["inner_done"], resume["seconds"], rows, list(resume["snapshots"]),
                list(rows[0]) if rows else [])


def _result(run: _Run, good_at: tuple[int, int], error: Optional[str], seconds: float,
            resume: Optional[dict]) -> TrainResult:
    done, inner_done = good_at
    return TrainResult(
        status="ok" if error is None else "diverged",
        steps_done=done,
        inner_steps_done=inner_done,
        seconds=seconds,
        message=error or "",
        rows=run.rows,
        columns=run.columns,
        snapshots=[s for s in run.snapshots if s["step"] <= done],  # later ones may hold NaN weights
        resumed_from=None if resume is None else resume["done"],
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
    from pipeline.data.datasets import DataMeta
    from pipeline.models.core import from_config

    step = from_config(ckpt["model"], ckpt["config"], DataMeta.from_dict(ckpt["meta"]))
    step.load_state_dict(ckpt["state"])
    return step.to(device).eval()
