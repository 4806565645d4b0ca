"""train: fit one model on one prepared data set through the shared training loop."""

from __future__ import annotations

from typing import Annotated

import typer

from pipeline.registry import ModelName as Model

from .common import Dataset, fail, info, params_or_exit
from .paths import checkpoint_path, log_path, prepared_dir, train_record_path


def main(
    model: Annotated[Model, typer.Argument(help="Which model to train.")],
    dataset: Annotated[Dataset, typer.Option(help="Prepared data set to train on.")],
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Train MODEL on DATASET; write its checkpoint, per-step log and a TrainRecord.

    A NaN/inf loss ends the run with one line saying where; the record then
    says "diverged" (the report shows it) and the stage still exits 0 so that
    the rest of the comparison is built.
    """
    import pandas as pd
    import torch

    from pipeline import data as data_lib
    from pipeline import io
    from pipeline.config import ParamsError, resolve_device
    from pipeline.models import build, model_config, steps_of
    from pipeline.records import TrainRecord
    from pipeline.train import checkpoint, fit

    params = params_or_exit()
    ds, m = dataset.value, model.value
    try:
        device = resolve_device(params.device)
        prepared = data_lib.load_prepared(prepared_dir(ds))
        torch.manual_seed(params.seed)  # weight init, so a rerun reproduces the same nets
        step = build(m, params, prepared.meta).to(device)
    except (ParamsError, data_lib.DataError) as e:
        raise fail(str(e)) from None
    x = data_lib.to_model_space(prepared.train_x, prepared.meta).to(device)
    result = fit(step, x, steps_of(m, params), log_every=params.train.log_every, n_snapshots=params.train.snapshots,
                 seed=params.seed, progress=progress, desc=f"{m}/{ds}")
    io.save_torch(checkpoint_path(ds, m), checkpoint(step, result, model_config(m, params)))
    io.write_text(log_path(ds, m), pd.DataFrame(result.rows).to_csv(index=False))
    record = TrainRecord(model=m, dataset=ds, seed=params.seed, status=result.status, steps=result.steps_done,
                         inner_steps=result.inner_steps_done, seconds=round(result.seconds, 3), device=str(device),
                         message=result.message)
    record.write(train_record_path(ds, m))
    if record.ok:
        info(f"{m}/{ds}: {record.steps} steps in {record.seconds:.1f}s on {device}")
    else:
        typer.secho(f"warning: {record.message}; recorded as diverged", fg=typer.colors.YELLOW, err=True)
