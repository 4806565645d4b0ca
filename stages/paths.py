"""Every file a stage reads or writes, in one place (dvc.yaml spells the same paths).

    data/sources/<ds>.json         sources      -> prepare (reruns it when files under data.root change)
    data/prepared/<ds>/            prepare      -> train, real_stats, evaluate, plot
    models/<model>/<ds>/seed<k>.pt train        -> evaluate          (one file per seed in params `seeds`)
    logs/<model>/<ds>/seed<k>.csv  train        -> evaluate, plot
    metrics/train/<model>/<ds>/seed<k>.json   TrainRecord     train    -> evaluate, report
    .resume/<model>/<ds>/seed<k>.pt   train     -> train after a kill (not a DVC output: DVC deletes those
                                                   before it reruns a stage; git- and dvc-ignored)
    data/real_stats/<ds>/stats.pt  real_stats   -> evaluate
    metrics/real/<ds>.json         RealRecord   real_stats -> summary, report
    metrics/eval/<model>/<ds>/seed<k>.json EvalRecord   evaluate -> summary, plot, report
    metrics/eval/<model>/<ds>/w1.csv            evaluate -> DVC plots (W1 and estimate, mean over seeds)
    data/samples/<model>/<ds>.npy  evaluate     -> plot (the first seed's samples)
    metrics/theory/<part>.json     theory records  theory <part> -> theory report (the first seed's run)
    metrics/theory/<part>_seeds.json  TheorySeeds  theory <part> -> summary, theory report (every seed)
    metrics/summary.json           summary      (the one DVC metrics file)
    reports/theory/<part>/*.png    theory <part>   -> theory report
    reports/                       plot, report, theory report

A model's runs sit under one folder per model (`models/<model>/`, ...), not per data set: one
`train` and one `evaluate` stage per model cover every data set in params `datasets`, so that all
their runs (3 seeds x 2 data sets by default) share the CPU's cores in one pool instead of leaving
one core idle for each data set's third seed; DVC cannot list one output per data set.
"""

from __future__ import annotations

from pathlib import Path

PARAMS = Path("params.yaml")
DOWNLOADS = Path("data/raw")  # torchvision's download cache (git-ignored, not a DVC output)
METRICS = Path("metrics")
REPORTS = Path("reports")
SUMMARY = METRICS / "summary.json"
FIGURES = REPORTS / "figures"  # per data set: FIGURE_NAMES
FIGURE_NAMES = ("w1_vs_compute", "samples", "curves", "estimate_vs_w1")  # what the plot stage draws, in report order
RESULTS = REPORTS / "results"
INDEX = REPORTS / "index.md"
THEORY_FIGURES = REPORTS / "theory"
THEORY_REPORT = REPORTS / "theory.md"


def sources_path(dataset: str) -> Path:
    """Content digests of the raw files under data.root that prepare reads (empty for built-in sets)."""
    return Path("data/sources") / f"{dataset}.json"


def prepared_dir(dataset: str) -> Path:
    return Path("data/prepared") / dataset


def seed_file(seed: int, suffix: str) -> str:
    return f"seed{seed}{suffix}"


def checkpoint_path(dataset: str, model: str, seed: int) -> Path:
    return Path("models") / model / dataset / seed_file(seed, ".pt")


def log_path(dataset: str, model: str, seed: int) -> Path:
    return Path("logs") / model / dataset / seed_file(seed, ".csv")


def train_record_path(dataset: str, model: str, seed: int) -> Path:
    return METRICS / "train" / model / dataset / seed_file(seed, ".json")


def resume_path(dataset: str, model: str, seed: int) -> Path:
    """The training state a killed `train` goes on from; deleted once the stage's outputs are written."""
    return Path(".resume") / model / dataset / seed_file(seed, ".pt")


def real_stats_path(dataset: str) -> Path:
    return Path("data/real_stats") / dataset / "stats.pt"


def real_record_path(dataset: str) -> Path:
    return METRICS / "real" / f"{dataset}.json"


def eval_record_path(dataset: str, model: str, seed: int) -> Path:
    return METRICS / "eval" / model / dataset / seed_file(seed, ".json")


def eval_trajectory_path(dataset: str, model: str) -> Path:
    return METRICS / "eval" / model / dataset / "w1.csv"


def samples_path(dataset: str, model: str) -> Path:
    return Path("data/samples") / model / f"{dataset}.npy"


def figure_path(dataset: str, name: str) -> Path:
    return FIGURES / dataset / f"{name}.png"


def theory_record_path(part: str) -> Path:
    return METRICS / "theory" / f"{part}.json"


def theory_seeds_path(part: str) -> Path:
    """The part's headline numbers for every seed (a TheorySeeds record)."""
    return METRICS / "theory" / f"{part}_seeds.json"


def theory_figure_path(part: str, name: str) -> Path:
    """One folder per part, so each theory stage declares exactly its own figures as an output."""
    return THEORY_FIGURES / part / f"{name}.png"
