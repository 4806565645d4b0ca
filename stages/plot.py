"""plot: sample panels, training curves, and training estimates against the exact W1, per data set."""

from __future__ import annotations

from .common import info, log_path, params_or_exit, prepared_dir
from .outputs import eval_metrics_path, eval_record_path, eval_trajectory_path, figures_dir, samples_path

# The claim under test (Arjovsky et al. 2017, section 4.2): WGAN's critic
# estimate tracks sample quality; the GAN's JS estimate beside it does not have to.
ESTIMATE_MODELS = ("wgan", "gan")


def main() -> None:
    """Draw reports/figures/DATASET/{samples,curves,estimate_vs_w1}.png for every data set in params.

    Reads only other stages' outputs: the evaluation's samples, records and
    snapshot tables, and the training logs.
    """
    import matplotlib.pyplot as plt
    import numpy as np
    import pandas as pd

    from pipeline import data as data_lib
    from pipeline import io, plots
    from pipeline.config import MODELS

    params = params_or_exit()
    for ds in params.datasets:
        prepared = data_lib.load_prepared(prepared_dir(ds))
        meta = prepared.meta
        records = {m: io.read_json(eval_record_path(ds, m)) for m in MODELS}
        notes = {}
        for m in MODELS:
            if io.read_json(eval_metrics_path(ds, m))["status"] != "ok":
                d = records[m].get("diverged", {})
                notes[m] = f"diverged after {d.get('steps', '?')} steps\n{d.get('message', '')}"
        samples = {m: np.load(samples_path(ds, m)) for m in MODELS}
        out = figures_dir(ds)
        if meta.kind == "images":
            real = data_lib.to_unit_interval(data_lib.to_model_space(prepared.test_x[:64], meta)).numpy()
            fig = plots.samples_figure(samples, notes, "images", real=real)
        else:
            real = prepared.test_x[: len(next(iter(samples.values())))].numpy()
            fig = plots.samples_figure(samples, notes, "points", plots.mixture_density_mesh(meta.centers, meta.std),
                                       real=real)
        io.write_png(out / "samples.png", fig)
        logs = {m: pd.read_csv(log_path(ds, m)) for m in MODELS}
        io.write_png(out / "curves.png", plots.curves_figure(logs, notes))
        est = {m: (logs[m], pd.read_csv(eval_trajectory_path(ds, m)), records[m]["estimate_vs_w1"])
               for m in ESTIMATE_MODELS}
        io.write_png(out / "estimate_vs_w1.png", plots.estimate_vs_w1_figure(est))
        plt.close("all")
        info(f"plot/{ds}: {out}/samples.png, curves.png, estimate_vs_w1.png")
