"""evaluate: FID, W1, mode coverage and likelihood of one trained model on the held-out split."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from pipeline.models.registry import ModelName as Model

from .common import Dataset, Refused, chosen_datasets, fail, info, one_thread_on_cpu, params_or_exit, run_jobs
from .paths import (
    checkpoint_path,
    eval_record_path,
    eval_trajectory_path,
    log_path,
    prepared_dir,
    real_record_path,
    real_stats_path,
    samples_path,
    train_record_path,
)


def main(
    model: Annotated[Model, typer.Argument(help="Which trained model to evaluate.")],
    dataset: Annotated[Optional[list[Dataset]], typer.Option(
        help="Prepared data set it was trained on (repeat for several); default: every one in params `datasets`.")] = None,
) -> None:
    """Evaluate every seed's run of MODEL on each data set against the cached real statistics.

    Writes metrics/eval/MODEL/DATASET/seed<k>.json (an EvalRecord per seed:
    every number, how it was made, the exact W1 at the generator snapshots and
    whether the run converged), metrics/eval/MODEL/DATASET/w1.csv (the snapshots'
    W1 and the training estimate, mean and std over seeds, for `dvc plots`) and
    data/samples/MODEL/DATASET.npy (samples of the first seed, for the figures).
    The runs (data sets x seeds) share `train.workers` processes, as in training.
    """
    from pipeline import io
    from pipeline.evaluation.convergence import STATES, run_state
    from pipeline.records import RealRecord

    params = params_or_exit()
    m = model.value
    datasets = chosen_datasets(dataset, params)
    needs = [p for ds in datasets for p in (real_stats_path(ds), real_record_path(ds))] + [
        p for ds in datasets for seed in params.seeds
        for p in (checkpoint_path(ds, m, seed), log_path(ds, m, seed), train_record_path(ds, m, seed))]
    if missing := [str(p) for p in needs if not p.exists()]:
        raise fail(f"missing {', '.join(missing)} (run `dvc repro` for the stages before evaluate)")
    # every run side by side like training (train.workers); each evaluation pins one thread
    results = run_jobs(_evaluate_one, [(m, ds, seed) for ds in datasets for seed in params.seeds],
                       params.train.workers)
    for ds in datasets:
        mine = [r for r in results if r.record.dataset == ds]
        records = [r.record for r in mine]
        floor = RealRecord.read(real_record_path(ds)).snapshot_floor
        for r in records:
            r.convergence = run_state([t.gflop for t in r.trajectory], [t.w1 for t in r.trajectory],
                                      r.budget_gflop, floor, params.eval.settle_rtol, r.ok)
            r.write(eval_record_path(ds, m, r.seed))
            info(f"evaluate {m}/{ds} seed {r.seed} in {r.seconds}s: {r.metrics()}")
        io.write_text(eval_trajectory_path(ds, m), _mean_trajectory(records).to_csv(index=False))
        io.write_npy(samples_path(ds, m), mine[0].preview)
        info(f"evaluate {m}/{ds} at the budget: " + ", ".join(f"seed {r.seed} {STATES[r.state]}" for r in records))


def _evaluate_one(m: str, ds: str, seed: int):
    """One seed's run -> an `Evaluation` (record, trajectory, preview); a bad input raises `Refused`."""
    import pandas as pd

    from pipeline.data import datasets as data_lib
    from pipeline import io
    from pipeline.config import ParamsError
    from pipeline.training.device import resolve_device
    from pipeline.evaluation.evaluate import evaluate_model
    from pipeline.evaluation.metrics import SampleSizeError
    from pipeline.evaluation.real_stats import RealStats
    from pipeline.records import RecordError, TrainRecord

    params = params_or_exit()
    try:
        device = resolve_device(params.device)
        one_thread_on_cpu(device)
        prepared = data_lib.load_prepared(prepared_dir(ds))
        stats = RealStats.from_state(io.load_torch(real_stats_path(ds)))
        train = TrainRecord.read(train_record_path(ds, m, seed))
        ckpt = io.load_torch(checkpoint_path(ds, m, seed))
        rows = pd.read_csv(log_path(ds, m, seed)).to_dict("records")
        return evaluate_model(ckpt, train, prepared, stats, rows, params.eval, params.seed, device)
    except (ParamsError, data_lib.DataError, SampleSizeError, FileNotFoundError, RecordError) as e:
        raise Refused(f"{m}/{ds} seed {seed}: {e}") from None


def _mean_trajectory(records):
    """gflop (the shared compute points), w1 and estimate: mean and std over the seeds that reached each."""
    import pandas as pd

    rows = [{"gflop": t.gflop, "w1": t.w1, "estimate": t.estimate} for r in records for t in r.trajectory]
    frame = pd.DataFrame(rows, columns=["gflop", "w1", "estimate"])
    g = frame.groupby("gflop")
    out = pd.DataFrame({"w1": g.w1.mean(), "w1_std": g.w1.std(ddof=1), "estimate": g.estimate.mean(),
                        "estimate_std": g.estimate.std(ddof=1), "seeds": g.w1.count()}).reset_index()
    return out.round(6)
