"""train: fit one model on one prepared data set through the shared training loop."""

from __future__ import annotations

from typing import Annotated

import pandas as pd
import torch
import typer

from pipeline import data as data_lib
from pipeline import io
from pipeline.config import ParamsError, resolve_device
from pipeline.models import build, steps_of
from pipeline.train import checkpoint, fit, model_config

from .common import (
    Dataset,
    Model,
    checkpoint_path,
    fail,
    info,
    log_path,
    params_or_exit,
    prepared_dir,
    train_metrics_path,
)


def main(
    model: Annotated[Model, typer.Argument(help="Which model to train.")],
    dataset: Annotated[Dataset, typer.Option(help="Prepared data set to train on.")],
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Train MODEL on DATASET; write its checkpoint, per-step log and a status JSON.

    A NaN/inf loss ends the run with one line saying where; the outputs then
    record status "diverged" (the report shows it) and the stage still exits 0
    so that the rest of the comparison is built.
    """
    params = params_or_exit()
    try:
        device = resolve_device(params.device)
        prepared = data_lib.load_prepared(prepared_dir(dataset.value))
        torch.manual_seed(params.seed)  # weight init, so a rerun reproduces the same nets
        step = build(model.value, params, prepared.meta).to(device)
    except (ParamsError, data_lib.DataError) as e:
        raise fail(str(e)) from None
    x = data_lib.to_model_space(prepared.train_x, prepared.meta).to(device)
    result = fit(
        step,
        x,
        steps_of(model.value, params),
        log_every=params.train.log_every,
        n_snapshots=params.train.snapshots,
        seed=params.seed,
        progress=progress,
        desc=f"{model.value}/{dataset.value}",
    )
    ds, m = dataset.value, model.value
    io.save_torch(checkpoint_path(ds, m), checkpoint(step, result, model_config(m, params)))
    io.write_text(log_path(ds, m), pd.DataFrame(result.rows).to_csv(index=False))
    summary = result.summary() | {"device": str(device), "dataset": ds, "model": m}
    io.write_json(train_metrics_path(ds, m), summary)
    if result.ok:
        info(f"{m}/{ds}: {result.steps_done} steps in {result.seconds:.1f}s on {device}")
    else:
        typer.secho(f"warning: {result.message}; recorded as diverged", fg=typer.colors.YELLOW, err=True)
