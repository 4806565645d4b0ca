"""report: markdown in reports/, built only from other stages' records."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from .common import Dataset, fail, info, params_or_exit
from .paths import FIGURE_NAMES, INDEX, RESULTS, eval_record_path, figure_path, real_record_path, train_record_path


def main(
    dataset: Annotated[Optional[Dataset], typer.Option(help="Write only this data set's page (dvc.yaml: one stage "
                                                            "each).")] = None,
    index: Annotated[bool, typer.Option("--index", help="Write only reports/index.md.")] = False,
) -> None:
    """Write reports/results/DATASET.md for every data set in params, and reports/index.md linking them
    (`--dataset` or `--index`: one of them). A page of a data set not in params (a committed MNIST run)
    is left alone."""
    from pipeline import io
    from pipeline.config import SHARED_KEYS
    from pipeline.models.registry import MODELS
    from pipeline.reporting.report import render_dataset, render_index

    params = params_or_exit()
    if index and dataset is not None:
        raise fail("--index writes the index of every data set: give it without --dataset")
    if dataset is not None and dataset.value not in params.datasets:
        raise fail(f"--dataset {dataset.value} is not in params.yaml datasets {params.datasets}")
    # every section a result depends on; a model's steps, batch size and lr schedule are set by the budget and
    # train.lr_schedule (shown there), not by its own section
    shown = params.model_dump(exclude={"theory": True} | {name: set(SHARED_KEYS) for name in MODELS})
    results = [_results(ds, params) for ds in ([dataset.value] if dataset else params.datasets)]
    if not index:
        for d in results:
            io.write_text(RESULTS / f"{d.name}.md", render_dataset(d, shown))
            info(f"report: {RESULTS / f'{d.name}.md'}")
    if index or dataset is None:
        # pages of data sets not in params (committed from their own runs, e.g. MNIST) are linked too
        others = {p.stem: (f"results/{p.name}", p.read_text().partition("\n")[0].lstrip("# "))
                  for p in sorted(RESULTS.glob("*.md")) if p.stem not in params.datasets}
        io.write_text(INDEX, render_index(results, {d.name: f"results/{d.name}.md" for d in results}, others))
        info(f"report: {INDEX}")


def _results(ds: str, params):
    """A data set's records, every model and seed, as the report reads them."""
    from pipeline.records import EvalRecord, RealRecord, TrainRecord
    from pipeline.models.registry import MODELS
    from pipeline.reporting.results import DatasetResults, ModelResult

    models = [ModelResult([EvalRecord.read(eval_record_path(ds, m, s)) for s in params.seeds],
                          [TrainRecord.read(train_record_path(ds, m, s)) for s in params.seeds]) for m in MODELS]
    figures = [f"../figures/{ds}/{f}.png" for f in FIGURE_NAMES if figure_path(ds, f).exists()]
    return DatasetResults(ds, models[0].eval.kind, models, RealRecord.read(real_record_path(ds)), figures,
                          alpha=params.eval.alpha, rtol=params.eval.settle_rtol, lr_schedule=params.train.lr_schedule)
