"""evaluate: FID, W1, mode coverage and likelihood of one trained model on the held-out split."""

from __future__ import annotations

from typing import Annotated

import typer

from pipeline.registry import ModelName as Model

from .common import Dataset, fail, info, one_thread_on_cpu, params_or_exit
from .paths import (
    checkpoint_path,
    eval_record_path,
    eval_trajectory_path,
    log_path,
    prepared_dir,
    real_stats_path,
    samples_path,
    train_record_path,
)


def main(
    model: Annotated[Model, typer.Argument(help="Which trained model to evaluate.")],
    dataset: Annotated[Dataset, typer.Option(help="Prepared data set it was trained on.")],
) -> None:
    """Evaluate MODEL on DATASET against the cached real statistics.

    Writes metrics/eval/DATASET/MODEL.json (an EvalRecord: every number and how
    it was made), MODEL_w1.csv (exact W1 at the generator snapshots next to the
    training log's own estimate) and data/samples/DATASET/MODEL.npy (a few
    samples for the figures).
    """
    import pandas as pd

    from pipeline import data as data_lib
    from pipeline import io
    from pipeline.config import ParamsError, resolve_device
    from pipeline.evaluate import evaluate_model
    from pipeline.metrics import SampleSizeError
    from pipeline.real_stats import RealStats
    from pipeline.records import RecordError, TrainRecord

    params = params_or_exit()
    ds, m = dataset.value, model.value
    try:
        device = resolve_device(params.device)
        one_thread_on_cpu(device)
        prepared = data_lib.load_prepared(prepared_dir(ds))
        for need in (checkpoint_path(ds, m), real_stats_path(ds), log_path(ds, m)):
            if not need.exists():
                raise FileNotFoundError(f"{need} is missing (run `dvc repro` for the stages before evaluate)")
        train = TrainRecord.read(train_record_path(ds, m))
        ckpt = io.load_torch(checkpoint_path(ds, m))
        stats = RealStats.from_state(io.load_torch(real_stats_path(ds)))
        rows = pd.read_csv(log_path(ds, m)).to_dict("records")
        result = evaluate_model(ckpt, train, prepared, stats, rows, params.eval, params.seed, device)
    except (ParamsError, data_lib.DataError, SampleSizeError, FileNotFoundError, RecordError) as e:
        raise fail(str(e)) from None
    result.record.write(eval_record_path(ds, m))
    columns = ["step", "w1", "estimate"]
    io.write_text(eval_trajectory_path(ds, m), pd.DataFrame(result.trajectory, columns=columns).to_csv(index=False))
    io.write_npy(samples_path(ds, m), result.preview)
    info(f"evaluate {m}/{ds} in {result.record.seconds}s: {result.record.metrics()}")
