"""Root command: `python -m stages --help` lists the stages."""

import typer

from . import bench, prepare, train

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
app.command("prepare", no_args_is_help=True)(prepare.main)
app.command("train", no_args_is_help=True)(train.main)
app.command("bench")(bench.main)
# evaluation, plots, report (issue 3)
from . import evaluate, plot, real_stats, report  # noqa: E402

app.command("real-stats", no_args_is_help=True)(real_stats.main)
app.command("evaluate", no_args_is_help=True)(evaluate.main)
app.command("plot")(plot.main)
app.command("report")(report.main)
# theory (issue 4)
from . import theory  # noqa: E402

app.add_typer(theory.app, name="theory")

if __name__ == "__main__":
    app()
