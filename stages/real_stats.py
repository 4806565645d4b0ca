"""real-stats: held-out features, mean and covariance, the domain classifier, and the real-data floor."""

from __future__ import annotations

from typing import Annotated

import typer

from .common import Dataset, fail, info, params_or_exit, prepared_dir
from .outputs import one_thread_on_cpu, real_metrics_path, real_stats_path


def main(dataset: Annotated[Dataset, typer.Option(help="Prepared data set.")]) -> None:
    """Compute DATASET's real statistics once, for every model's evaluation.

    Writes data/real_stats/DATASET/stats.pt (a DVC-cached output) and
    metrics/real/DATASET.json (classifier accuracy; the floor: the metrics of
    the real training split against the held-out split).
    """
    from pipeline import data as data_lib
    from pipeline import io
    from pipeline.config import ParamsError, resolve_device
    from pipeline.evaluate import real_statistics
    from pipeline.metrics import SampleSizeError

    params = params_or_exit()
    ep = params.eval
    try:
        device = resolve_device(params.device)
        one_thread_on_cpu(device)
        prepared = data_lib.load_prepared(prepared_dir(dataset.value))
        stats = real_statistics(prepared, ep, params.seed, device)
    except (ParamsError, data_lib.DataError, SampleSizeError) as e:
        raise fail(str(e)) from None
    io.save_torch(real_stats_path(dataset.value), stats.state)
    io.write_json(real_metrics_path(dataset.value), stats.metrics)
    inc = stats.state["inception"]
    if prepared.meta.kind == "images" and not inc["available"]:
        typer.secho(f"note: Inception FID unavailable for {dataset.value}: {inc['reason']}",
                    fg=typer.colors.YELLOW, err=True)
    info(f"real-stats/{dataset.value}: {stats.metrics}")
