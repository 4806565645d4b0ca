"""train: fit one model on one prepared data set through the shared training loop."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated

import typer

from pipeline.registry import ModelName as Model

from .common import Dataset, fail, info, params_or_exit
from .paths import checkpoint_path, log_path, prepared_dir, resume_path, train_record_path


def main(
    model: Annotated[Model, typer.Argument(help="Which model to train.")],
    dataset: Annotated[Dataset, typer.Option(help="Prepared data set to train on.")],
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Train MODEL on DATASET; write its checkpoint, per-step log and a TrainRecord.

    A NaN/inf loss ends the run with one line saying where; the record then
    says "diverged", the checkpoint holds the last finite weights (the report
    shows it) and the stage still exits 0 so that the rest of the comparison
    is built. A run killed midway goes on from its last resume checkpoint
    (`train.checkpoint_every`) when rerun with the same configuration, to the
    same bytes as a run that was never stopped.
    """
    from pipeline import io
    from pipeline.train import pin_torch

    params = params_or_exit()
    ds, m = dataset.value, model.value
    in_force = pin_torch(params.train.threads, params.deterministic)  # before anything touches CUDA
    for path in (checkpoint_path(ds, m), log_path(ds, m), train_record_path(ds, m), resume_path(ds, m)):
        io.remove_stale_temps(path)  # a writer killed mid-write
    step, x, device = _built(m, ds, params)
    result = _fitted(step, x, m, ds, params, device, in_force["torch"], progress)
    record = _written(step, result, m, ds, params, device, in_force)
    if record.ok:
        info(f"{m}/{ds}: {record.steps} steps in {record.seconds:.1f}s on {device}")
    else:
        typer.secho(f"warning: {m}/{ds}: {record.message}; recorded as diverged, the weights of generator step "
                    f"{record.steps} kept", fg=typer.colors.YELLOW, err=True)


def _built(m: str, ds: str, params):
    """The step object on its device, and the training split in model space there."""
    import torch

    from pipeline import data as data_lib
    from pipeline.config import ParamsError, resolve_device
    from pipeline.models import build

    try:
        device = resolve_device(params.device)
        prepared = data_lib.load_prepared(prepared_dir(ds))
        torch.manual_seed(params.seed)  # weight init, so a rerun reproduces the same nets
        step = build(m, params, prepared.meta).to(device)
    except (ParamsError, data_lib.DataError) as e:
        raise fail(str(e)) from None
    return step, data_lib.to_model_space(prepared.train_x, prepared.meta).to(device), device


def _fitted(step, x, m: str, ds: str, params, device, torch_version: str, progress: bool):
    """`fit`, resumed from .resume/<ds>/<model>.pt when that holds this very run, saving it as it goes."""
    import torch

    from pipeline import io
    from pipeline.models import steps_of
    from pipeline.train import fit

    where = f"{device} ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else str(device)
    key = _run_key(m, ds, params, where, torch_version)
    resume_file = resume_path(ds, m)
    every = params.train.checkpoint_every
    return fit(step, x, steps_of(m, params, ds), log_every=params.train.log_every, n_snapshots=params.train.snapshots,
               seed=params.seed, progress=progress, desc=f"{m}/{ds}", checkpoint_every=every,
               on_checkpoint=(lambda s: io.save_torch(resume_file, {"key": key, "state": s})) if every else None,
               resume=_resume_state(resume_file, key, f"{m}/{ds}"))


def _written(step, result, m: str, ds: str, params, device, in_force: dict):
    """Checkpoint, log and TrainRecord; then the resume file goes (a kill before that resumes and
    rewrites the same outputs)."""
    import pandas as pd

    from pipeline import io
    from pipeline.models import model_config
    from pipeline.records import TrainRecord
    from pipeline.train import checkpoint

    io.save_torch(checkpoint_path(ds, m), checkpoint(step, result, model_config(m, params, ds)))
    # the header even without rows (a divergence at the first steps): evaluate and plot read it with pandas
    io.write_text(log_path(ds, m), pd.DataFrame(result.rows, columns=result.columns).to_csv(index=False))
    record = TrainRecord(model=m, dataset=ds, seed=params.seed, status=result.status, steps=result.steps_done,
                         inner_steps=result.inner_steps_done, seconds=round(result.seconds, 3), device=str(device),
                         message=result.message, **in_force)
    record.write(train_record_path(ds, m))
    io.remove(resume_path(ds, m))
    return record


def _run_key(model: str, dataset: str, params, device: str, torch_version: str) -> str:
    """A digest of everything that decides the run's numbers: a resume checkpoint with another one
    would not continue *this* run. The params the stage reads (not train.checkpoint_every, which
    changes when, not what), the prepared data's bytes, the device and torch, and the code."""
    import pipeline
    from pipeline.models import model_config

    h = hashlib.sha256()
    what = {"model": model, "dataset": dataset, "seed": params.seed, "config": model_config(model, params, dataset),
            "train": params.train.model_dump(exclude={"checkpoint_every"}), "deterministic": params.deterministic,
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
