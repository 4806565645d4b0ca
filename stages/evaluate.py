"""evaluate: FID, W1, mode coverage and likelihood of one trained model on the held-out split."""

from __future__ import annotations

from typing import Annotated

import typer

from .common import Dataset, Model, checkpoint_path, fail, info, log_path, params_or_exit, prepared_dir
from .outputs import (
    eval_metrics_path,
    eval_record_path,
    eval_trajectory_path,
    one_thread_on_cpu,
    real_stats_path,
    samples_path,
)


def main(
    model: Annotated[Model, typer.Argument(help="Which trained model to evaluate.")],
    dataset: Annotated[Dataset, typer.Option(help="Prepared data set it was trained on.")],
) -> None:
    """Evaluate MODEL on DATASET against the cached real statistics.

    Writes metrics/eval/DATASET/MODEL.json (the DVC metrics), MODEL.record.json
    (how each number was made: sample counts, ground cost, what was
    unavailable and why) and MODEL_w1.csv (exact W1 at the generator
    snapshots next to the training log's own estimate), and data/samples/DATASET/MODEL.npy
    (a few samples for the figures).
    """
    import pandas as pd

    from pipeline import data as data_lib
    from pipeline import io
    from pipeline.config import ParamsError, resolve_device
    from pipeline.evaluate import evaluate_model
    from pipeline.metrics import SampleSizeError

    params = params_or_exit()
    ep = params.eval
    ds, m = dataset.value, model.value
    try:
        device = resolve_device(params.device)
        one_thread_on_cpu(device)
        prepared = data_lib.load_prepared(prepared_dir(ds))
        for need in (checkpoint_path(ds, m), real_stats_path(ds), log_path(ds, m)):
            if not need.exists():
                raise FileNotFoundError(f"{need} is missing (run `dvc repro` for the stages before evaluate)")
        ckpt = io.load_torch(checkpoint_path(ds, m))
        stats = io.load_torch(real_stats_path(ds))
        rows = pd.read_csv(log_path(ds, m)).to_dict("records")
        result = evaluate_model(ckpt, prepared, stats, rows, ep, params.seed, device)
    except (ParamsError, data_lib.DataError, SampleSizeError, FileNotFoundError) as e:
        raise fail(str(e)) from None
    io.write_json(eval_metrics_path(ds, m), result.metrics)
    io.write_json(eval_record_path(ds, m), result.record)
    columns = ["step", "w1", "estimate"]
    io.write_text(eval_trajectory_path(ds, m), pd.DataFrame(result.trajectory, columns=columns).to_csv(index=False))
    io.write_npy(samples_path(ds, m), result.preview)
    info(f"evaluate {m}/{ds} in {result.record['seconds']}s: {result.metrics}")
