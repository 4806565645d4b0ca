"""Where evaluation, plot and report outputs go, and the `eval:` params at the edge.

The stage modules import their pipeline modules inside `main()`: the root
app imports every stage module, and no command should pay for matplotlib or
POT that it does not use.
"""

from __future__ import annotations

import io as _bytes_io
import os
import tempfile
from pathlib import Path

from pipeline.config import Params, ParamsError, validate_section

from .common import METRICS, fail

REAL_STATS = Path("data/real_stats")
SAMPLES = Path("data/samples")  # a few samples per model, for the figures
REPORTS = Path("reports")
FIGURES = REPORTS / "figures"
RESULTS = REPORTS / "results"


def eval_params_or_exit(params: Params):
    """The validated `eval:` section; a bad value exits 2 with one line."""
    from pipeline.evaluate import EvalParams

    try:
        return validate_section(EvalParams, params.eval, "eval")
    except ParamsError as e:
        raise fail(str(e)) from None


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


def write_bytes(path: Path, data: bytes) -> None:
    """Through a temp file and os.replace, like pipeline.io's writers (which have no bytes writer)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_npy(path: Path, array) -> None:
    import numpy as np

    buf = _bytes_io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    write_bytes(path, buf.getvalue())


def write_png(path: Path, fig) -> None:
    buf = _bytes_io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    write_bytes(path, buf.getvalue())


def one_thread_on_cpu(device) -> None:
    """Our nets are tiny: on this shared 2-core CPU one intra-op thread trained the
    domain classifier 15x faster than two (measured); a GPU is unaffected."""
    import torch

    if device.type == "cpu":
        torch.set_num_threads(1)
