"""report: markdown in reports/, built only from other stages' records."""

from __future__ import annotations

from .common import info, params_or_exit
from .paths import FIGURE_NAMES, INDEX, RESULTS, eval_record_path, figure_path, real_record_path, train_record_path


def main() -> None:
    """Write reports/results/DATASET.md for every data set in params, and reports/index.md linking them."""
    from pipeline import io
    from pipeline.records import EvalRecord, RealRecord, TrainRecord
    from pipeline.registry import MODELS
    from pipeline.report import DatasetResults, ModelResult, render_dataset, render_index

    params = params_or_exit()
    shown = params.model_dump(exclude={"theory"})  # every section a result depends on, defaults filled in
    results = []
    for ds in params.datasets:
        models = [ModelResult([EvalRecord.read(eval_record_path(ds, m, s)) for s in params.seeds],
                              [TrainRecord.read(train_record_path(ds, m, s)) for s in params.seeds]) for m in MODELS]
        figures = [f"../figures/{ds}/{f}.png" for f in FIGURE_NAMES if figure_path(ds, f).exists()]
        d = DatasetResults(ds, models[0].eval.kind, models, RealRecord.read(real_record_path(ds)), figures,
                           alpha=params.eval.alpha, rtol=params.eval.converge_rtol)
        io.write_text(RESULTS / f"{ds}.md", render_dataset(d, shown))
        results.append(d)
    io.write_text(INDEX, render_index(results, {d.name: f"results/{d.name}.md" for d in results}))
    info(f"report: {INDEX} and {', '.join(str(RESULTS / f'{d.name}.md') for d in results)}")
