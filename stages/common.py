"""What every stage shares: params loading at the edge, and where outputs go."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path

import typer

from pipeline.config import Params, ParamsError, load_params

PARAMS = Path("params.yaml")
PREPARED = Path("data/prepared")
DOWNLOADS = Path("data/raw")  # torchvision's download cache (git-ignored, not a DVC output)
MODELS = Path("models")
LOGS = Path("logs")
METRICS = Path("metrics")


class Dataset(str, Enum):
    ring8 = "ring8"
    grid25 = "grid25"
    digits = "digits"
    mnist = "mnist"
    fashion_mnist = "fashion_mnist"


class Model(str, Enum):
    gan = "gan"
    wgan = "wgan"
    avb = "avb"
    vae = "vae"


def fail(message: str, code: int = 2) -> "typer.Exit":
    """One line on stderr and a non-zero exit."""
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code)


def params_or_exit(path: Path = PARAMS) -> Params:
    """Validate params.yaml before any work; a bad value exits 2 with one line."""
    try:
        return load_params(path)
    except ParamsError as e:
        raise fail(str(e)) from None


def prepared_dir(dataset: str) -> Path:
    return PREPARED / dataset


def checkpoint_path(dataset: str, model: str) -> Path:
    return MODELS / dataset / f"{model}.pt"


def log_path(dataset: str, model: str) -> Path:
    return LOGS / dataset / f"{model}.csv"


def train_metrics_path(dataset: str, model: str) -> Path:
    return METRICS / "train" / dataset / f"{model}.json"


def info(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
