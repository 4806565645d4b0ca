"""real-stats: held-out features, mean and covariance, the domain classifier, and the real-data floor."""

from __future__ import annotations

from typing import Annotated

import typer

from .common import Dataset, fail, info, one_thread_on_cpu, params_or_exit
from .paths import prepared_dir, real_record_path, real_stats_path


def main(dataset: Annotated[Dataset, typer.Option(help="Prepared data set.")]) -> None:
    """Compute DATASET's real statistics once, for every model's evaluation.

    Writes data/real_stats/DATASET/stats.pt (a DVC-cached output) and
    metrics/real/DATASET.json (a RealRecord: the floor, i.e. the metrics of the
    real training split against the held-out split, and how they were made).
    """
    from pipeline.data import datasets as data_lib
    from pipeline import io
    from pipeline.config import ParamsError
    from pipeline.training.device import resolve_device
    from pipeline.evaluation.metrics import SampleSizeError
    from pipeline.evaluation.real_stats import real_statistics

    params = params_or_exit()
    try:
        device = resolve_device(params.device)
        one_thread_on_cpu(device)
        prepared = data_lib.load_prepared(prepared_dir(dataset.value))
        stats, record = real_statistics(prepared, params.eval, params.seed, device)
    except (ParamsError, data_lib.DataError, SampleSizeError) as e:
        raise fail(str(e)) from None
    io.save_torch(real_stats_path(dataset.value), stats.to_state())
    record.write(real_record_path(dataset.value))
    if prepared.meta.kind == "images" and not stats.inception.available:
        typer.secho(f"note: Inception FID unavailable for {dataset.value}: {stats.inception.reason}",
                    fg=typer.colors.YELLOW, err=True)
    if stats.classifier:  # the domain FID's features mean something only if this is high (MNIST: 99%)
        c = stats.classifier
        info(f"real-stats/{dataset.value}: {c['arch']} domain classifier, {100 * c['test_accuracy']:.2f}% "
             f"held-out accuracy after {c['epochs']} epochs ({c['seconds']:.0f} s)")
    info(f"real-stats/{dataset.value}: floor {record.floor.metrics()}")
