"""Where evaluation, plot and report outputs go, and the `eval:` params at the edge.

The stage modules import their pipeline modules inside `main()`: the root
app imports every stage module, and no command should pay for matplotlib or
POT that it does not use.
"""

from __future__ import annotations

from pathlib import Path

from .common import METRICS

REAL_STATS = Path("data/real_stats")
SAMPLES = Path("data/samples")  # a few samples per model, for the figures
REPORTS = Path("reports")
FIGURES = REPORTS / "figures"
RESULTS = REPORTS / "results"


def real_stats_path(dataset: str) -> Path:
    return REAL_STATS / dataset / "stats.pt"


def real_metrics_path(dataset: str) -> Path:
    return METRICS / "real" / f"{dataset}.json"


def eval_metrics_path(dataset: str, model: str) -> Path:
    return METRICS / "eval" / dataset / f"{model}.json"


def eval_record_path(dataset: str, model: str) -> Path:
    return METRICS / "eval" / dataset / f"{model}.record.json"


def eval_trajectory_path(dataset: str, model: str) -> Path:
    return METRICS / "eval" / dataset / f"{model}_w1.csv"


def samples_path(dataset: str, model: str) -> Path:
    return SAMPLES / dataset / f"{model}.npy"


def figures_dir(dataset: str) -> Path:
    return FIGURES / dataset


def one_thread_on_cpu(device) -> None:
    """Our nets are tiny: on this shared 2-core CPU one intra-op thread trained the
    domain classifier 15x faster than two (measured); a GPU is unaffected."""
    import torch

    if device.type == "cpu":
        torch.set_num_threads(1)
