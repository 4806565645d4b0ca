"""Every file a stage reads or writes, in one place (dvc.yaml spells the same paths).

    data/sources/<ds>.json         sources      -> prepare (reruns it when files under data.root change)
    data/prepared/<ds>/            prepare      -> train, real_stats, evaluate, plot
    models/<ds>/<model>.pt         train        -> evaluate
    logs/<ds>/<model>.csv          train        -> evaluate, plot (DVC plots)
    metrics/train/<ds>/<model>.json   TrainRecord     train    -> evaluate, report
    .resume/<ds>/<model>.pt        train        -> train after a kill (not a DVC output: DVC deletes those
                                                   before it reruns a stage; git- and dvc-ignored)
    data/real_stats/<ds>/stats.pt  real_stats   -> evaluate
    metrics/real/<ds>.json         RealRecord   real_stats -> summary, report
    metrics/eval/<ds>/<model>.json EvalRecord   evaluate -> summary, plot, report
    metrics/eval/<ds>/<model>_w1.csv            evaluate -> plot (DVC plots)
    data/samples/<ds>/<model>.npy  evaluate     -> plot
    metrics/theory/<part>.json     theory records  theory <part> -> summary, theory report
    metrics/summary.json           summary      (the one DVC metrics file)
    reports/theory/<part>/*.png    theory <part>   -> theory report
    reports/                       plot, report, theory report
"""

from __future__ import annotations

from pathlib import Path

PARAMS = Path("params.yaml")
DOWNLOADS = Path("data/raw")  # torchvision's download cache (git-ignored, not a DVC output)
METRICS = Path("metrics")
REPORTS = Path("reports")
SUMMARY = METRICS / "summary.json"
FIGURES = REPORTS / "figures"  # per data set: FIGURE_NAMES
FIGURE_NAMES = ("samples", "curves", "estimate_vs_w1")  # what the plot stage draws, in report order
RESULTS = REPORTS / "results"
INDEX = REPORTS / "index.md"
THEORY_FIGURES = REPORTS / "theory"
THEORY_REPORT = REPORTS / "theory.md"


def sources_path(dataset: str) -> Path:
    """Content digests of the raw files under data.root that prepare reads (empty for built-in sets)."""
    return Path("data/sources") / f"{dataset}.json"


def prepared_dir(dataset: str) -> Path:
    return Path("data/prepared") / dataset


def checkpoint_path(dataset: str, model: str) -> Path:
    return Path("models") / dataset / f"{model}.pt"


def log_path(dataset: str, model: str) -> Path:
    return Path("logs") / dataset / f"{model}.csv"


def train_record_path(dataset: str, model: str) -> Path:
    return METRICS / "train" / dataset / f"{model}.json"


def resume_path(dataset: str, model: str) -> Path:
    """The training state a killed `train` goes on from; deleted once the stage's outputs are written."""
    return Path(".resume") / dataset / f"{model}.pt"


def real_stats_path(dataset: str) -> Path:
    return Path("data/real_stats") / dataset / "stats.pt"


def real_record_path(dataset: str) -> Path:
    return METRICS / "real" / f"{dataset}.json"


def eval_record_path(dataset: str, model: str) -> Path:
    return METRICS / "eval" / dataset / f"{model}.json"


def eval_trajectory_path(dataset: str, model: str) -> Path:
    return METRICS / "eval" / dataset / f"{model}_w1.csv"


def samples_path(dataset: str, model: str) -> Path:
    return Path("data/samples") / dataset / f"{model}.npy"


def figure_path(dataset: str, name: str) -> Path:
    return FIGURES / dataset / f"{name}.png"


def theory_record_path(part: str) -> Path:
    return METRICS / "theory" / f"{part}.json"


def theory_figure_path(part: str, name: str) -> Path:
    """One folder per part, so each theory stage declares exactly its own figures as an output."""
    return THEORY_FIGURES / part / f"{name}.png"
