"""report: markdown in reports/, built only from other stages' outputs."""

from __future__ import annotations

from .common import info, params_or_exit, train_metrics_path
from .outputs import REPORTS, RESULTS, eval_metrics_path, eval_record_path, figures_dir, real_metrics_path

FIGURES = ("samples.png", "estimate_vs_w1.png", "curves.png")  # as the plot stage names them


def main() -> None:
    """Write reports/results/DATASET.md for every data set in params, and reports/index.md linking them."""
    from pipeline import io
    from pipeline.config import MODELS
    from pipeline.report import DatasetResults, ModelResult, render_dataset, render_index

    params = params_or_exit()
    shown = params.model_dump(exclude={"theory"})  # every section a result depends on, defaults filled in
    results = []
    for ds in params.datasets:
        models = [ModelResult(m, io.read_json(eval_metrics_path(ds, m)), io.read_json(eval_record_path(ds, m)),
                              io.read_json(train_metrics_path(ds, m))) for m in MODELS]
        figures = [f"../figures/{ds}/{f}" for f in FIGURES if (figures_dir(ds) / f).exists()]
        d = DatasetResults(ds, models[0].record["kind"], models, io.read_json(real_metrics_path(ds)), figures)
        io.write_text(RESULTS / f"{ds}.md", render_dataset(d, shown))
        results.append(d)
    io.write_text(REPORTS / "index.md", render_index(results, {d.name: f"results/{d.name}.md" for d in results}))
    info(f"report: {REPORTS / 'index.md'} and {', '.join(str(RESULTS / f'{d.name}.md') for d in results)}")
