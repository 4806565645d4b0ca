"""plot: sample panels, training curves, and training estimates against the exact W1, per data set."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from .common import Dataset, fail, info, params_or_exit
from .paths import eval_record_path, figure_path, log_path, prepared_dir, real_record_path, samples_path


def main(
    dataset: Annotated[Optional[Dataset], typer.Option(help="Only this data set (dvc.yaml: one stage each); "
                                                            "default: every data set in params.")] = None,
) -> None:
    """Draw reports/figures/DATASET/{w1_vs_compute,samples,curves,estimate_vs_w1}.png for every data set.

    Reads only other stages' outputs: the evaluation's samples, records and
    snapshot tables, and the training logs.
    """
    import numpy as np
    import pandas as pd

    from pipeline.data import datasets as data_lib
    from pipeline import io
    from pipeline.reporting import plots
    from pipeline.records import EvalRecord, RealRecord
    from pipeline.models.registry import MODELS

    params = params_or_exit()
    if dataset is not None and dataset.value not in params.datasets:
        raise fail(f"--dataset {dataset.value} is not in params.yaml datasets {params.datasets}")
    for ds in [dataset.value] if dataset else params.datasets:
        prepared = data_lib.load_prepared(prepared_dir(ds))
        meta = prepared.meta
        records = {m: [EvalRecord.read(eval_record_path(ds, m, s)) for s in params.seeds] for m in MODELS}
        first = {m: rs[0] for m, rs in records.items()}  # the samples panel shows the first seed's run
        notes = {m: f"seed {r.seed} diverged after {r.train_steps} steps\n{r.message}" for m, r in first.items()
                 if not r.ok}
        samples = {m: np.load(samples_path(ds, m)) for m in MODELS}
        if meta.kind == "images":
            real = data_lib.to_unit_interval(data_lib.to_model_space(prepared.test_x[:64], meta)).numpy()
            fig = plots.samples_figure(samples, notes, "images", real=real)
        else:
            real = prepared.test_x[: len(next(iter(samples.values())))].numpy()
            fig = plots.samples_figure(samples, notes, "points", plots.mixture_density_mesh(meta.centers, meta.std),
                                       real=real)
        io.write_png(figure_path(ds, "samples"), fig)
        logs = {m: [pd.read_csv(log_path(ds, m, s)) for s in params.seeds] for m in MODELS}
        all_diverged = {m: "every seed diverged" for m, rs in records.items() if not any(r.ok for r in rs)}
        io.write_png(figure_path(ds, "curves"), plots.curves_figure(logs, all_diverged))
        traj = {m: [pd.DataFrame([t.to_json() for t in r.trajectory], columns=["step", "w1", "estimate", "gflop"])
                    for r in rs] for m, rs in records.items()}
        fl = RealRecord.read(real_record_path(ds)).snapshot_floor
        secs = {m: float(np.mean([r.train_seconds for r in rs])) for m, rs in records.items()}
        budget = max(r.budget_gflop for rs in records.values() for r in rs)
        title = (f"{ds}: exact W1 against training compute, {budget:g} GFLOP for every model (thin lines: seeds)\n"
                 f"legend: training seconds per seed on {_machine(records)}")
        io.write_png(figure_path(ds, "w1_vs_compute"), plots.w1_vs_compute_figure(
            traj, fl.w1 if fl else None, fl.w1_sd if fl else None, fl.baselines if fl else {}, secs, title))
        # The claim under test (Arjovsky et al. 2017, section 4.2): WGAN's critic estimate tracks
        # sample quality; the GAN's JS estimate beside it does not have to. Latent models log an ELBO.
        est = {m: [(lg, tr, r.estimate_vs_w1, r.seed) for lg, tr, r in zip(logs[m], traj[m], records[m])]
               for m, spec in MODELS.items() if not spec.latent}
        io.write_png(figure_path(ds, "estimate_vs_w1"), plots.estimate_vs_w1_figure(est))
        info(f"plot/{ds}: {figure_path(ds, '*')}")


def _machine(records) -> str:
    """The CPU (or device) the training records name: the wall times are this machine's."""
    return ", ".join(sorted({r.train_cpu or r.device for rs in records.values() for r in rs}))
