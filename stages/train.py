"""train: fit one model on one prepared data set, once per seed, through the shared training loop."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Annotated, Optional

import typer

from pipeline.registry import ModelName as Model

from .common import Dataset, fail, info, params_or_exit
from .paths import checkpoint_path, log_path, prepared_dir, resume_path, train_record_path


def main(
    model: Annotated[Model, typer.Argument(help="Which model to train.")],
    dataset: Annotated[Dataset, typer.Option(help="Prepared data set to train on.")],
    seed: Annotated[Optional[int], typer.Option(help="Train this one seed of params `seeds` only.")] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Train MODEL on DATASET once per seed in params `seeds`; write each run's checkpoint, per-step
    log and TrainRecord.

    Seeds train at once in `train.workers` processes (0: one per CPU core), each with `train.threads`
    threads: these nets are too small for one run to fill two cores, so two runs side by side do
    (README, "Seeds in parallel", has the measurement).

    A NaN/inf loss ends that run with one line saying where; its record then
    says "diverged", the checkpoint holds the last finite weights (the report
    shows it) and the stage still exits 0 so that the rest of the comparison
    is built. A run killed midway goes on from its last resume checkpoint
    (`train.checkpoint_every`) when rerun with the same configuration, to the
    same bytes as a run that was never stopped.
    """
    params = params_or_exit()
    seeds = params.seeds if seed is None else [seed]
    if seed is not None and seed not in params.seeds:
        raise fail(f"--seed {seed} is not in params.yaml seeds {params.seeds}")
    workers = min(len(seeds), params.train.workers or os.cpu_count() or 1)
    jobs = [(model.value, dataset.value, s, progress, i) for i, s in enumerate(seeds)]
    if workers == 1:
        failures = [_train_one(*job) for job in jobs]
    else:
        # spawn, not fork: a forked CUDA context is unusable, and each child pins its own threads
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            failures = list(pool.map(_train_one_safely, jobs))
    if errors := [f for f in failures if f]:
        raise fail("; ".join(errors))


def _train_one_safely(job: tuple) -> Optional[str]:
    """In a worker process: `_train_one`, its one-line failure returned rather than raised."""
    try:
        return _train_one(*job)
    except (typer.Exit, SystemExit) as e:  # `fail` has already printed the line
        return f"seed {job[2]}: exit {getattr(e, 'exit_code', getattr(e, 'code', 1))}"


def _train_one(m: str, ds: str, seed: int, progress: bool, position: int = 0) -> Optional[str]:
    """One seed's run, start (or resume) to written outputs."""
    from pipeline import io
    from pipeline.train import pin_torch

    params = params_or_exit()
    in_force = pin_torch(params.train.threads, params.deterministic)  # before anything touches CUDA
    for path in (checkpoint_path(ds, m, seed), log_path(ds, m, seed), train_record_path(ds, m, seed),
                 resume_path(ds, m, seed)):
        io.remove_stale_temps(path)  # a writer killed mid-write
    step, x, device = _built(m, ds, seed, params)
    result = _fitted(step, x, m, ds, seed, params, device, in_force["torch"], progress, position)
    record = _written(step, result, m, ds, seed, params, device, in_force)
    if record.ok:
        info(f"{m}/{ds} seed {seed}: {record.steps} steps in {record.seconds:.1f}s on {device}")
    else:
        typer.secho(f"warning: {m}/{ds} seed {seed}: {record.message}; recorded as diverged, the weights of "
                    f"generator step {record.steps} kept", fg=typer.colors.YELLOW, err=True)
    return None


def _built(m: str, ds: str, seed: int, params):
    """The step object on its device, and the training split in model space there."""
    import torch

    from pipeline import data as data_lib
    from pipeline.config import ParamsError, resolve_device
    from pipeline.models import build

    try:
        device = resolve_device(params.device)
        prepared = data_lib.load_prepared(prepared_dir(ds))
        torch.manual_seed(seed)  # weight init, so a rerun reproduces the same nets
        step = build(m, params, prepared.meta).to(device)
    except (ParamsError, data_lib.DataError) as e:
        raise fail(str(e)) from None
    return step, data_lib.to_model_space(prepared.train_x, prepared.meta).to(device), device


def _fitted(step, x, m: str, ds: str, seed: int, params, device, torch_version: str, progress: bool, position: int):
    """`fit`, resumed from .resume/<ds>/<model>/seed<k>.pt when that holds this very run, saving it as it goes."""
    import torch

    from pipeline import io
    from pipeline.models import steps_of
    from pipeline.train import fit, snapshot_steps

    where = f"{device} ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else str(device)
    key = _run_key(m, ds, seed, params, where, torch_version)
    resume_file = resume_path(ds, m, seed)
    every, steps, t = params.train.checkpoint_every, steps_of(m, params, ds), params.train
    return fit(step, x, steps, log_every=t.log_every, snapshot_at=snapshot_steps(steps, t.snapshots, t.tail_snapshots),
               seed=seed, progress=progress, desc=f"{m}/{ds} seed {seed}", position=position, checkpoint_every=every,
               on_checkpoint=(lambda s: io.save_torch(resume_file, {"key": key, "state": s})) if every else None,
               resume=_resume_state(resume_file, key, f"{m}/{ds} seed {seed}"))


def _written(step, result, m: str, ds: str, seed: int, params, device, in_force: dict):
    """Checkpoint, log and TrainRecord; then the resume file goes (a kill before that resumes and
    rewrites the same outputs)."""
    import pandas as pd

    from pipeline import io
    from pipeline.models import model_config
    from pipeline.records import TrainRecord
    from pipeline.train import checkpoint

    io.save_torch(checkpoint_path(ds, m, seed), checkpoint(step, result, model_config(m, params, ds)))
    # the header even without rows (a divergence at the first steps): evaluate and plot read it with pandas
    io.write_text(log_path(ds, m, seed), pd.DataFrame(result.rows, columns=result.columns).to_csv(index=False))
    record = TrainRecord(model=m, dataset=ds, seed=seed, status=result.status, steps=result.steps_done,
                         inner_steps=result.inner_steps_done, seconds=round(result.seconds, 3), device=str(device),
                         message=result.message, **in_force)
    record.write(train_record_path(ds, m, seed))
    io.remove(resume_path(ds, m, seed))
    return record


def _run_key(model: str, dataset: str, seed: int, params, device: str, torch_version: str) -> str:
    """A digest of everything that decides the run's numbers: a resume checkpoint with another one
    would not continue *this* run. The params the stage reads (not train.checkpoint_every, which
    changes when, not what), the prepared data's bytes, the device and torch, and the code."""
    import pipeline
    from pipeline.models import model_config

    h = hashlib.sha256()
    what = {"model": model, "dataset": dataset, "seed": seed, "config": model_config(model, params, dataset),
            "train": params.train.model_dump(exclude={"checkpoint_every", "workers"}), "deterministic": params.deterministic,
            "device": device, "torch": torch_version}
    h.update(json.dumps(what, sort_keys=True).encode())
    code = [*Path(pipeline.__file__).parent.rglob("*.py"), *Path(__file__).parent.rglob("*.py")]
    for path in sorted(prepared_dir(dataset).glob("[!.]*")) + sorted(code):  # not a killed writer's .*.tmp
        if path.is_file():
            h.update(f"{path.parent.name}/{path.name}".encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def _resume_state(path: Path, key: str, what: str):
    """The saved training state at `path` if it belongs to this run (same key); any other is deleted."""
    from pipeline import io

    if not path.exists():
        return None
    try:
        saved = io.load_torch(path)
        ok = isinstance(saved, dict) and saved.get("key") == key
    except Exception:  # unreadable (another torch, a foreign file): not ours to go on from
        ok = False
    if ok:
        info(f"{what}: resuming from generator step {saved['state']['done']} ({path})")
        return saved["state"]
    io.remove(path)
    info(f"{what}: deleted {path}: a resume checkpoint of another configuration, code or data")
    return None
