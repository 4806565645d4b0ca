"""train: fit one model on one prepared data set, once per seed, through the shared training loop."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from pipeline.models.registry import ModelName as Model

from .common import Dataset, Refused, chosen_datasets, fail, info, params_or_exit, run_jobs
from .paths import checkpoint_path, log_path, prepared_dir, resume_path, train_record_path


def main(
    model: Annotated[Model, typer.Argument(help="Which model to train.")],
    dataset: Annotated[Optional[list[Dataset]], typer.Option(
        help="Prepared data set to train on (repeat for several); default: every one in params `datasets`.")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Train this one seed of params `seeds` only.")] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Train MODEL on each data set once per seed in params `seeds`; write each run's checkpoint,
    per-step log and TrainRecord.

    The runs (data sets x seeds) share `train.workers` processes (0: one per CPU core), each with
    `train.threads` threads, the largest FLOP budget first: these nets are too small for one run to
    fill two cores, so two runs side by side do, and one pool over every data set keeps both cores
    busy where one data set's three seeds would leave one idle for the third (docs/performance.md).

    Every model gets the data set's FLOP budget (`budget.gflop`): its steps and snapshot steps follow
    from the FLOPs of its own step (pipeline/training/budget.py), and the record holds them.

    A NaN/inf loss ends that run with one line saying where; its record then
    says "diverged", the checkpoint holds the last finite weights (the report
    shows it) and the stage still exits 0 so that the rest of the comparison
    is built. A run killed midway goes on from its last resume checkpoint
    (`train.checkpoint_every`) when rerun with the same configuration, to the
    same bytes as a run that was never stopped.

    Under `torchrun --nproc_per_node N -m stages train ...` the N processes train each run together,
    one after another, each on its slice of every global batch (`batch_size`, which N must
    divide); rank 0 alone writes the outputs (pipeline/training/distributed.py).
    """
    params = params_or_exit()
    seeds = params.seeds if seed is None else [seed]
    if seed is not None and seed not in params.seeds:
        raise fail(f"--seed {seed} is not in params.yaml seeds {params.seeds}")
    datasets = chosen_datasets(dataset, params)
    runs = longest_first([(model.value, ds, s) for ds in datasets for s in seeds], params)
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:  # started by torchrun (torch is imported only then)
        from pipeline.training import distributed

        _train_together(runs, progress, params, distributed.from_env())
    else:
        run_jobs(_train_one, [(m, ds, s, progress, i) for i, (m, ds, s) in enumerate(runs)], params.train.workers)


def longest_first(runs: list[tuple[str, str, int]], params) -> list[tuple[str, str, int]]:
    """(model, data set, seed) runs, largest FLOP budget first (stable): a pool that starts the
    longest runs first ends with the short ones, so its cores finish close together (Graham's
    longest-processing-time rule; the budget stands in for the time)."""
    return sorted(runs, key=lambda r: -params.budget.flops(r[1]))


def _train_together(runs: list[tuple[str, str, int]], progress: bool, params, world) -> None:
    """The runs one after another, every torchrun process on each; a refusal is printed by rank 0 alone."""
    from pipeline.training import distributed
    from pipeline.config import ParamsError
    from pipeline.training.device import resolve_device
    from pipeline.models.registry import section
    from pipeline.training.loop import pin_torch

    def refuse(message: str) -> typer.Exit:
        return fail(message) if world.main else typer.Exit(2)

    for m, ds in dict.fromkeys((m, ds) for m, ds, _ in runs):
        try:
            world.local_batch(section(m, params, ds).batch_size)
        except ValueError as e:
            raise refuse(f"{m}/{ds}: {e}") from None
    try:
        device = resolve_device(params.device)
    except (ValueError, ParamsError) as e:
        raise refuse(str(e)) from None
    pin_torch(params.train.threads, params.deterministic)  # before the process group touches CUDA
    refused = []
    with distributed.process_group(world, device):
        for m, ds, s in runs:
            try:
                _train_one(m, ds, s, progress and world.main, 0, world)
            except Refused as e:  # the same on every rank: each goes on to the next run
                refused.append(str(e))
    if refused:
        raise refuse("\n".join(refused))


def _train_one(m: str, ds: str, seed: int, progress: bool, position: int = 0, world=None):
    """One seed's run, start (or resume) to written outputs; its TrainRecord (on torchrun: rank 0's;
    the other ranks train alike, write nothing and return None once rank 0 has written)."""
    from pipeline.training import distributed
    from pipeline import io
    from pipeline.training.loop import pin_torch

    params = params_or_exit()
    in_force = pin_torch(params.train.threads, params.deterministic)  # before anything touches CUDA
    main = world is None or world.main
    if main:  # a writer killed mid-write left a temp file beside each output
        for path in (checkpoint_path(ds, m, seed), log_path(ds, m, seed), train_record_path(ds, m, seed),
                     resume_path(ds, m, seed)):
            io.remove_stale_temps(path)
    step, x, device = _built(m, ds, seed, params, world)
    plan = _planned(step, x, params, ds)
    result = _fitted(step, x, plan, m, ds, seed, params, device, in_force, progress, position, world)
    record = _written(step, result, plan, m, ds, seed, params, device, in_force, world) if main else None
    if world is not None:
        distributed.barrier()  # the outputs are written before any rank goes on
    if record is None:
        return None
    if record.ok:
        info(f"{m}/{ds} seed {seed}: {record.steps} steps, {record.flops / 1e9:.4g} GFLOP, in {record.seconds:.1f}s "
             f"on {device}")
    else:
        typer.secho(f"warning: {m}/{ds} seed {seed}: {record.message}; recorded as diverged, the weights of "
                    f"generator step {record.steps} kept", fg=typer.colors.YELLOW, err=True)
    return record


def _built(m: str, ds: str, seed: int, params, world=None):
    """The step object on its device (on torchrun: this rank's), and the training split in model space there."""
    import torch

    from pipeline.data import datasets as data_lib
    from pipeline.config import ParamsError
    from pipeline.training.device import resolve_device
    from pipeline.models.core import build

    try:
        device = resolve_device(params.device)
        device = world.device(device) if world else device
        prepared = data_lib.load_prepared(prepared_dir(ds))
        torch.manual_seed(seed)  # weight init, so a rerun reproduces the same nets
        step = build(m, params, prepared.meta).to(device)
    except (ParamsError, data_lib.DataError) as e:
        raise Refused(f"{m}/{ds} seed {seed}: {e}") from None
    return step, data_lib.to_model_space(prepared.train_x, prepared.meta).to(device), device


def _planned(step, x, params, ds: str):
    """The run's FLOP budget as steps and snapshot steps (pipeline/training/budget.py), counted on the model's own
    nets and first batch; the step object's `steps` set to it (a linear lr schedule reads it)."""
    from pipeline.training.budget import compute_points, plan, step_cost

    b = params.budget
    total = b.flops(ds)
    run = plan(step_cost(step, x[: step.batch_size]), step.inner_count, total,
               compute_points(total, b.octaves, b.per_octave))
    step.p = step.p.model_copy(update={"steps": run.steps})
    return run


def _fitted(step, x, plan, m: str, ds: str, seed: int, params, device, in_force: dict, progress: bool, position: int,
            world=None):
    """`fit`, resumed from .resume/<model>/<ds>/seed<k>.pt when that holds this very run, saving it as it goes.

    On torchrun rank 0 alone reads and writes that file; the other ranks get its resume state from rank 0."""
    import torch

    from pipeline.training import distributed
    from pipeline import io
    from pipeline.training.loop import fit

    main = world is None or world.main
    where = f"{device} ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else str(device)
    key = _run_key(m, ds, seed, params, where, in_force, world.size if world else 1) if main else None
    resume_file = resume_path(ds, m, seed)
    resume = _resume_state(resume_file, key, f"{m}/{ds} seed {seed}") if main else None
    every, t = params.train.checkpoint_every, params.train
    save = (lambda s: io.save_torch(resume_file, {"key": key, "state": s})) if every and main else None
    return fit(step, x, plan.steps, log_every=t.log_every, snapshot_at=plan.snapshot_steps,
               seed=seed, progress=progress, desc=f"{m}/{ds} seed {seed}", position=position, checkpoint_every=every,
               on_checkpoint=save, resume=distributed.from_main(resume) if world else resume, world=world)


def _written(step, result, plan, m: str, ds: str, seed: int, params, device, in_force: dict, world=None):
    """Checkpoint, log and TrainRecord; then the resume file goes (a kill before that resumes and
    rewrites the same outputs). On torchrun the record's device says how many processes trained."""
    import pandas as pd

    from pipeline import io
    from pipeline.models.core import model_config
    from pipeline.records import TrainRecord
    from pipeline.training.loop import checkpoint

    io.save_torch(checkpoint_path(ds, m, seed), checkpoint(step, result, model_config(m, params, ds)))
    # the header even without rows (a divergence at the first steps): evaluate and plot read it with pandas
    io.write_text(log_path(ds, m, seed), pd.DataFrame(result.rows, columns=result.columns).to_csv(index=False))
    record = TrainRecord(model=m, dataset=ds, seed=seed, status=result.status, steps=result.steps_done,
                         inner_steps=result.inner_steps_done, seconds=round(result.seconds, 3),
                         flops=plan.flops if result.steps_done == plan.steps else
                         plan.flops_at(result.steps_done, step.inner_count),
                         budget_gflop=plan.budget / 1e9, planned_steps=plan.steps,
                         flops_inner=plan.cost.inner, flops_outer=plan.cost.outer,
                         points_gflop=[p / 1e9 for p in plan.points], snapshot_steps=plan.snapshot_steps,
                         device=f"{device.type} x {world.size} (torchrun)" if world else str(device),
                         message=result.message, **in_force)
    record.write(train_record_path(ds, m, seed))
    io.remove(resume_path(ds, m, seed))
    return record


def _run_key(model: str, dataset: str, seed: int, params, device: str, in_force: dict, processes: int = 1) -> str:
    """A digest of everything that decides the run's numbers: a resume checkpoint with another one
    would not continue *this* run. The params the stage reads (not train.checkpoint_every, which
    changes when, not what), the prepared data's bytes, the device, torch and the CPU's kernels, the
    torchrun processes (they sum in another order), and the code."""
    import pipeline
    from pipeline.models.core import model_config

    h = hashlib.sha256()
    what = {"model": model, "dataset": dataset, "seed": seed, "config": model_config(model, params, dataset),
            "train": params.train.model_dump(exclude={"checkpoint_every", "workers"}), "deterministic": params.deterministic,
            "budget": params.budget.model_dump(),
            "device": device, "torch": in_force["torch"], "cpu": in_force["cpu"], "processes": processes}
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
